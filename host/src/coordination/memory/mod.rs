//! The state in this process: right for one host, kept bounded.

mod counts;
mod nonces;
mod windows;

pub use self::counts::Counts;
pub use self::nonces::Nonces;
pub use self::windows::Windows;

use dashmap::DashMap;

/// Everything the memory backend keeps.
pub struct Memory {
    /// OAuth nonces.
    pub nonces: Nonces,
    /// Digest nonce counts.
    pub counts: Counts,
    /// Failed logins.
    pub windows: Windows,
}

impl Memory {
    /// Nothing seen yet, by a process that starts now.
    pub fn new() -> Memory {
        Memory {
            nonces: Nonces::new(i64::try_from(super::unix_now()).unwrap_or(i64::MAX)),
            counts: Counts::new(),
            windows: Windows::default(),
        }
    }
}

/// Shrinks `map` to its `room` entries with the largest `rank` (ties broken
/// arbitrarily, so that it always shrinks): how a full table makes room.
pub fn keep_largest<K, V, T>(map: &DashMap<K, V>, room: usize, rank: impl Fn(&V) -> T)
where
    K: Eq + std::hash::Hash,
    T: Ord + Copy,
{
    if map.len() <= room {
        return;
    }
    let mut ranks: Vec<T> = map.iter().map(|entry| rank(entry.value())).collect();
    ranks.sort_unstable_by(|one, other| other.cmp(one));
    let Some(&cutoff) = ranks.get(room.saturating_sub(1)) else {
        return;
    };
    // Above the cutoff everything stays; at it, only as many as there is room for.
    let above = ranks.partition_point(|value| *value > cutoff);
    let mut equal_room = room - above;
    map.retain(|_, value| match rank(value).cmp(&cutoff) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal if equal_room > 0 => {
            equal_room -= 1;
            true
        }
        _ => false,
    });
}
