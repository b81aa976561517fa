//! The cache of what a reader makes on demand (pages, empty calendars, cards), bounded in
//! entries and in bytes, keys included (SPEC §5): a stream of requests that each name a new key
//! evicts older entries instead of growing memory, however long its keys or short its bodies.
//!
//! moka holds one capacity, a total weight. An entry weighs its key's and body's bytes plus
//! what an entry costs beside them, and never less than `max_bytes / max_entries`: a total
//! weight within `max_bytes` is then within both bounds at once.

use std::hash::Hash;
use std::sync::Arc;

use super::body::CachedBody;

/// Bytes a worker keeps of what it made on demand.
pub const MADE_BYTES: u64 = 8 * 1024 * 1024;
/// Entries a worker keeps of what it made on demand.
pub const MADE_ENTRIES: u64 = 4_096;
/// What an entry costs beside its key's and body's bytes: moka's node and its bookkeeping, the
/// `Arc`, the body's ETag and header values.
const ENTRY_OVERHEAD: usize = 256;

/// A key that knows what it holds on the heap.
pub trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

impl HeapSize for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_bytes)
    }
}

/// The bytes an entry holds: its key, its body (and gzip form), and the entry's own cost.
pub fn entry_bytes<K: HeapSize>(key: &K, body: &CachedBody) -> usize {
    let gzip = body.gzip.as_ref().map_or(0, |g| g.body.len());
    ENTRY_OVERHEAD
        + std::mem::size_of::<K>()
        + key.heap_bytes()
        + body.body.len()
        + gzip
        + body.etag.len()
}

/// A cache of at most `max_entries` entries and `max_bytes` bytes (as [`entry_bytes`] counts
/// them).
pub fn cache<K>(max_bytes: u64, max_entries: u64) -> moka::sync::Cache<K, Arc<CachedBody>>
where
    K: HeapSize + Hash + Eq + Send + Sync + 'static,
{
    let least = max_bytes / max_entries.max(1);
    moka::sync::Cache::builder()
        .weigher(move |key: &K, body: &Arc<CachedBody>| {
            let weight = u64::try_from(entry_bytes(key, body))
                .unwrap_or(u64::MAX)
                .max(least);
            u32::try_from(weight).unwrap_or(u32::MAX)
        })
        .max_capacity(max_bytes)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const BYTES: u64 = 256 * 1024;
    const ENTRIES: u64 = 64;

    fn body(len: usize) -> Arc<CachedBody> {
        Arc::new(CachedBody::new(Bytes::from(vec![b'x'; len])))
    }

    /// Inserts `count` entries with keys of `key_len` bytes and bodies of `body_len`; the
    /// entries held then, and their bytes as counted from the keys and bodies themselves.
    fn fill(count: usize, key_len: usize, body_len: usize) -> (u64, usize) {
        let cache = cache::<String>(BYTES, ENTRIES);
        for i in 0..count {
            let key = format!("{i:0key_len$}");
            cache.insert(key, body(body_len));
            cache.run_pending_tasks();
        }
        cache.run_pending_tasks();
        let held: usize = cache
            .iter()
            .map(|(key, body)| key.len() + body.body.len())
            .sum();
        (cache.entry_count(), held)
    }

    #[test]
    fn long_keys_with_short_bodies_stay_within_the_bytes() {
        let (entries, held) = fill(2_000, 4_096, 50);
        assert!(held as u64 <= BYTES, "{held} bytes in {entries} entries");
        assert!(entries > 0);
    }

    #[test]
    fn short_keys_with_short_bodies_stay_within_the_entries() {
        let (entries, held) = fill(2_000, 8, 50);
        assert!(entries <= ENTRIES, "{entries} entries of {held} bytes");
    }

    #[test]
    fn large_bodies_stay_within_the_bytes() {
        let (entries, held) = fill(200, 8, 16 * 1024);
        assert!(held as u64 <= BYTES, "{held} bytes in {entries} entries");
        assert!(entries > 0);
    }

    #[test]
    fn an_entry_counts_its_key() {
        let key = "k".repeat(4_096);
        let small = entry_bytes(&String::from("k"), &body(50));
        assert!(entry_bytes(&key, &body(50)) >= small + 4_000);
    }
}
