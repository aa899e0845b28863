//! Counted slots per key with a cap: open connections per client address,
//! running exports per tenant, open WebSockets per token. A slot is taken
//! by [`Slots::take`] and given back when its [`Slot`] drops, however the
//! work holding it ends.
//!
//! A leaf module: it imports only the crate's leaf `sync`, so every layer
//! (the service among them) can use it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Slots per key, at most `max` held at once for any one key; cheap to
/// clone (clones share the counts).
pub struct Slots<K> {
    inner: Arc<Inner<K>>,
}

struct Inner<K> {
    max: usize,
    /// Slots held per key; a key holding none has no entry, so the map
    /// grows with the keys holding slots, never with every key seen.
    held: Mutex<HashMap<K, usize>>,
}

impl<K> Clone for Slots<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K> fmt::Debug for Slots<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys (addresses, tenants, agents) are not printed.
        f.debug_struct("Slots")
            .field("max", &self.inner.max)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone> Slots<K> {
    /// At most `max` slots per key (0 admits nothing).
    pub fn new(max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                max,
                held: Mutex::default(),
            }),
        }
    }

    /// The most slots one key may hold.
    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// A slot for `key`, or `None` when it already holds [`Slots::max`].
    pub fn take(&self, key: K) -> Option<Slot<K>> {
        let mut held = self.lock();
        let count = held.get(&key).copied().unwrap_or(0);
        if count >= self.inner.max {
            return None;
        }
        held.insert(key.clone(), count + 1);
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }

    /// How many slots `key` holds now.
    pub fn held<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().get(key).copied().unwrap_or(0)
    }

    /// How many slots are held in all.
    pub fn total(&self) -> usize {
        self.lock().values().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, usize>> {
        crate::sync::lock(&self.inner.held)
    }

    fn give_back(&self, key: &K) {
        let mut held = self.lock();
        if let Some(count) = held.get_mut(key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(key);
            }
        }
    }
}

/// One held slot of [`Slots`]; given back when dropped.
pub struct Slot<K: Eq + Hash + Clone> {
    slots: Slots<K>,
    key: K,
}

impl<K: Eq + Hash + Clone> fmt::Debug for Slot<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        self.slots.give_back(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_holds_at_most_its_cap_and_a_dropped_slot_is_free_again() {
        let slots = Slots::new(2);
        let first = slots.take("a").expect("first");
        let second = slots.take("a").expect("second");
        assert!(slots.take("a").is_none(), "a third is over the cap");
        let other = slots.take("b").expect("another key has its own cap");
        assert_eq!(
            (slots.held(&"a"), slots.held(&"b"), slots.total()),
            (2, 1, 3)
        );
        drop(first);
        assert_eq!(slots.held(&"a"), 1);
        let third = slots.take("a").expect("a freed slot is taken again");
        drop((second, third, other));
        assert_eq!(slots.total(), 0);
        assert!(slots.lock().is_empty(), "no entry is left behind");
    }

    #[test]
    fn a_cap_of_zero_admits_nothing_and_leaves_no_entry() {
        let slots = Slots::new(0);
        assert!(slots.take(1).is_none());
        assert!(slots.lock().is_empty());
    }

    #[test]
    fn clones_share_the_counts() {
        let slots = Slots::new(1);
        let clone = slots.clone();
        let held = clone.take(()).expect("free");
        assert!(slots.take(()).is_none(), "the clone's slot counts here");
        drop(held);
        assert!(slots.take(()).is_some());
    }

    #[test]
    fn slots_dropped_on_other_threads_are_all_given_back() {
        let slots = Slots::new(1000);
        let held: Vec<_> = (0..100).map(|i| slots.take(i % 7).expect("free")).collect();
        let threads: Vec<_> = held
            .into_iter()
            .map(|slot| std::thread::spawn(move || drop(slot)))
            .collect();
        for thread in threads {
            thread.join().expect("joined");
        }
        assert_eq!(slots.total(), 0);
    }
}
