//! Values an isolate keeps for a few seconds (site configs, their renderings,
//! number owners, Graph tokens), each with the time it was read: one rule for
//! "still current" and one for "full, start again".

use std::{borrow::Borrow, cell::RefCell, collections::BTreeMap};

/// One isolate-wide map of kept values: key → (read at, value), Unix ms.
pub type Kept<K, V> = RefCell<BTreeMap<K, (f64, V)>>;

/// The value under `key` and when it was read, if younger than `ttl_ms` at `now`.
pub fn current<K, Q, V>(kept: &Kept<K, V>, key: &Q, now: f64, ttl_ms: f64) -> Option<(f64, V)>
where
    K: Borrow<Q> + Ord,
    Q: Ord + ?Sized,
    V: Clone,
{
    kept.borrow()
        .get(key)
        .filter(|(at, _)| now - at < ttl_ms)
        .map(|(at, v)| (*at, v.clone()))
}

/// Keeps `value` under `key` as read at `at`; a map at `max` entries starts again.
pub fn keep<K: Ord, V>(kept: &Kept<K, V>, key: K, at: f64, value: V, max: usize) {
    let mut kept = kept.borrow_mut();
    if kept.len() >= max {
        kept.clear();
    }
    kept.insert(key, (at, value));
}
