//! Figures updated on every request, without the threads that update them fighting over one
//! cache line. A plain atomic counter that two HTTP workers bump is a line that moves between
//! their cores on every bump; here each thread bumps its own shard (its own line), and reading
//! the figure sums the shards. prometheus-client's `Counter` and `Gauge` take any
//! [`Atomic`](counter::Atomic), so [`HotCounter`] and [`HotGauge`] encode like any other.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use prometheus_client::metrics::counter::{self, Counter};
use prometheus_client::metrics::gauge::{self, Gauge};

/// Shards per figure: more than the threads that touch hot figures (the HTTP workers).
pub const SHARDS: usize = 8;

/// This thread's shard: threads take them in turn as they first touch a figure.
pub fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

/// A value alone on its cache line (128 bytes: adjacent-line prefetching pairs lines).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Padded<T>(pub T);

/// A counter each thread adds to in its own shard.
#[derive(Debug, Default)]
pub struct ShardedU64([Padded<AtomicU64>; SHARDS]);

impl ShardedU64 {
    fn mine(&self) -> &AtomicU64 {
        &self.0[shard()].0
    }
}

impl counter::Atomic<u64> for ShardedU64 {
    fn inc(&self) -> u64 {
        self.inc_by(1)
    }

    fn inc_by(&self, v: u64) -> u64 {
        self.mine().fetch_add(v, Ordering::Relaxed)
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// A gauge moved up and down in per-thread shards (a message counted in flight on one thread
/// and out on another sums right).
#[derive(Debug, Default)]
pub struct ShardedI64([Padded<AtomicI64>; SHARDS]);

impl ShardedI64 {
    fn mine(&self) -> &AtomicI64 {
        &self.0[shard()].0
    }
}

impl gauge::Atomic<i64> for ShardedI64 {
    fn inc(&self) -> i64 {
        self.inc_by(1)
    }

    fn inc_by(&self, v: i64) -> i64 {
        self.mine().fetch_add(v, Ordering::Relaxed)
    }

    fn dec(&self) -> i64 {
        self.dec_by(1)
    }

    fn dec_by(&self, v: i64) -> i64 {
        self.mine().fetch_sub(v, Ordering::Relaxed)
    }

    /// Sets the sum: this shard takes the value, the others are cleared (not atomic as a
    /// whole; hot gauges are only moved up and down).
    fn set(&self, v: i64) -> i64 {
        let mine = shard();
        let mut old = 0;
        for (i, s) in self.0.iter().enumerate() {
            old += s.0.swap(if i == mine { v } else { 0 }, Ordering::Relaxed);
        }
        old
    }

    fn get(&self) -> i64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// A counter bumped on every request.
pub type HotCounter = Counter<u64, ShardedU64>;
/// A gauge moved on every request.
pub type HotGauge = Gauge<i64, ShardedI64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_sum_across_threads() {
        let counter = HotCounter::default();
        let gauge = HotGauge::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counter.inc();
                        gauge.inc();
                    }
                    gauge.dec_by(400);
                });
            }
        });
        assert_eq!(counter.get(), 4000);
        assert_eq!(gauge.get(), 2400);
        gauge.set(7);
        assert_eq!(gauge.get(), 7);
    }

    #[test]
    fn a_thread_keeps_its_shard() {
        let first = shard();
        assert!(first < SHARDS);
        assert_eq!(shard(), first);
    }
}
