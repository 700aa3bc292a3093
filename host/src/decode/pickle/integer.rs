//! Integers larger than 64 bits, which pickles write as little-endian two's
//! complement, turned into decimal digits for JSON.

/// The largest integer, in bytes of two's complement.
pub(super) const MAX_INT_BYTES: usize = 128;

/// The most decimal digits of an integer of [`MAX_INT_BYTES`]: 2^1023 has 308 (and
/// any number of 308 digits is below the largest double, about 1.8 × 10^308).
pub(super) const MAX_INT_DIGITS: usize = 308;

/// Decimal digits of a little-endian two's-complement integer. Each step divides the
/// magnitude, in 32-bit limbs, by 10^9, so the work is quadratic in the length, which
/// [`MAX_INT_BYTES`] keeps small (a few thousand divisions).
pub(super) fn little_endian_decimal(bytes: &[u8]) -> String {
    const BILLION: u64 = 1_000_000_000;
    let negative = bytes.last().is_some_and(|byte| byte & 0x80 != 0);
    let mut magnitude = bytes.to_vec();
    if negative {
        // Two's complement negation: invert, then add one.
        let mut carry = true;
        for byte in &mut magnitude {
            *byte = !*byte;
            if carry {
                let (sum, overflow) = byte.overflowing_add(1);
                *byte = sum;
                carry = overflow;
            }
        }
    }
    // Most significant limb first.
    let mut limbs: Vec<u32> = magnitude
        .chunks(4)
        .rev()
        .map(|chunk| {
            chunk
                .iter()
                .rev()
                .fold(0, |limb, &byte| limb << 8 | u32::from(byte))
        })
        .collect();
    // Groups of nine digits, least significant first.
    let mut groups = Vec::new();
    let mut start = 0;
    loop {
        while limbs.get(start) == Some(&0) {
            start += 1;
        }
        if start == limbs.len() {
            break;
        }
        let mut remainder = 0u64;
        for limb in &mut limbs[start..] {
            let value = remainder << 32 | u64::from(*limb);
            *limb = (value / BILLION) as u32;
            remainder = value % BILLION;
        }
        groups.push(remainder as u32);
    }
    let mut text = String::with_capacity(groups.len() * 9 + 1);
    if negative {
        text.push('-');
    }
    let mut groups = groups.iter().rev();
    text.push_str(&groups.next().copied().unwrap_or(0).to_string());
    for group in groups {
        text.push_str(&format!("{group:09}"));
    }
    text
}
