//! Locking the std mutexes that hold plain maps and tallies.
//!
//! A leaf module: it imports nothing of the crate, so every layer can use it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, also when a holder panicked: every mutex locked this way
/// guards data written in single calls (a map insert, a counter step), so a
/// panic elsewhere never leaves it half-written, and one panicked request
/// must not turn every later one into a panic too.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
