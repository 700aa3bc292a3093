//! SQLite from the async server: reads on several connections at once, and every call
//! off the async workers.
//!
//! Both of the host's databases (plugin data, credentials) are in WAL mode, where
//! readers wait neither for the writer nor for each other, but a connection serves one
//! thread at a time. [`Readers`] keeps a few connections and hands each read a free one,
//! so that reads from different plugins and requests run side by side; a read waits
//! only while every connection is busy, and then for one of them rather than for a lock
//! over the whole database. Writes do not go through it: SQLite lets one connection
//! write at a time, so each database keeps a single writer.
//!
//! A SQLite call may wait on the disk or on the writer for longer than an async worker
//! may be held up, so async callers run it on a [`Lane`]: threads of the database's
//! own, fed through a channel, one lane for its reads and one for its writes. A lane
//! has as many threads as the database has connections for its kind of call, so a
//! burst of calls queues in the lane rather than in threads that would only wait for a
//! connection (as tokio's blocking pool would, spawning up to hundreds), and reads
//! never queue behind writes. The hop is not free: a call costs a message and a
//! wake-up on each side, about as much as a blocking-pool task (measured in
//! `docs/benchmarks.md`).

use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// A few read connections to one database.
pub struct Readers {
    connections: Box<[Mutex<Connection>]>,
    /// Where the next read starts looking for a free connection, so that reads spread
    /// over all of them.
    next: AtomicUsize,
}

impl Readers {
    /// How many connections a database gets: one per core, at least two so that a slow
    /// read never holds up every other, at most eight.
    pub fn count() -> usize {
        std::thread::available_parallelism().map_or(2, |cores| cores.get().clamp(2, 8))
    }

    /// `count` connections (at least one), each made by `open`.
    pub fn open(
        count: usize,
        open: impl Fn() -> rusqlite::Result<Connection>,
    ) -> rusqlite::Result<Readers> {
        let connections = (0..count.max(1))
            .map(|_| open().map(Mutex::new))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Readers {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `read` on a free connection, waiting for one if all are busy.
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> T) -> T {
        read(&self.free())
    }

    fn free(&self) -> MutexGuard<'_, Connection> {
        let count = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            match self.connections[(start + offset) % count].try_lock() {
                Ok(connection) => return connection,
                // A read that panicked cannot have changed its connection: its
                // statement is reset when dropped.
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.connections[start]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Threads dedicated to one kind of a database's calls, taking them from a channel.
/// They end when the lane is dropped, after the calls already sent.
///
/// The channel needs no bound of its own: every caller waits for its call's answer, so
/// it holds at most one call per waiting task, which the connection cap and the
/// per-plugin concurrency caps already bound.
pub struct Lane {
    calls: crossbeam_channel::Sender<Call>,
}

type Call = Box<dyn FnOnce() + Send>;

impl Lane {
    /// A lane of `threads` threads (at least one) called `name`.
    pub fn start(name: &str, threads: usize) -> std::io::Result<Lane> {
        let (calls, queue) = crossbeam_channel::unbounded::<Call>();
        for _ in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || queue.iter().for_each(|call| call()))?;
        }
        Ok(Lane { calls })
    }

    /// Runs `call` on one of the lane's threads and waits for it without holding up
    /// the async worker. A panic in `call` is resumed here. If the caller stops
    /// waiting, `call` still runs to its end: a write is never cut in two.
    pub async fn run<T: Send + 'static>(&self, call: impl FnOnce() -> T + Send + 'static) -> T {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move || {
            // Caught so that the thread lives on; the caller gets the panic.
            let _ = reply.send(catch_unwind(AssertUnwindSafe(call)));
        });
        // The threads end only once the channel is closed, which `self` keeps open, and
        // every call replies, even one that panics.
        self.calls.send(call).expect("a lane's threads outlive it");
        match answer.await.expect("a lane's calls always reply") {
            Ok(value) => value,
            Err(panic) => resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn readers(count: usize) -> (tempfile::TempDir, Readers) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("readers.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7);",
            )
            .unwrap();
        let readers = Readers::open(count, || Connection::open(&path)).unwrap();
        (dir, readers)
    }

    fn seven(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT n FROM t", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn reads_run_side_by_side() {
        // Every thread reaches the barrier only from inside a read: it opens only if
        // all the reads are under way at once.
        let (_dir, readers) = readers(4);
        let inside = Barrier::new(4);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    readers.read(|connection| {
                        inside.wait();
                        assert_eq!(seven(connection), 7);
                    })
                });
            }
        });
    }

    #[test]
    fn a_read_waits_for_a_connection_when_all_are_busy() {
        let (_dir, readers) = readers(1);
        let inside = Barrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                readers.read(|connection| {
                    inside.wait();
                    seven(connection)
                })
            });
            inside.wait();
            // The only connection is busy (or just freed): this read waits for it.
            assert_eq!(readers.read(seven), 7);
        });
    }

    #[tokio::test]
    async fn a_lane_runs_calls_on_its_threads_and_resumes_their_panics() {
        let lane = Lane::start("test-lane", 2).unwrap();
        let caller = std::thread::current().id();
        let ran_on = lane.run(|| std::thread::current().id()).await;
        assert_ne!(ran_on, caller);
        let lane = std::sync::Arc::new(lane);
        let panicking = lane.clone();
        let panicked = tokio::spawn(async move { panicking.run(|| panic!("in the call")).await });
        assert!(panicked.await.unwrap_err().is_panic());
        // The thread that ran it lives on.
        assert_eq!(lane.run(|| 7).await, 7);
        assert_eq!(lane.run(|| 8).await, 8);
    }
}
