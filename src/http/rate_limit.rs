//! Token buckets: one per (tenant, agent) for authenticated calls and one per
//! client address for the rest, over both faces and the WebSocket.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

use crate::auth::Actor;
use crate::error::{Error, Result};

/// Whose bucket a call takes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// An authenticated caller: its tenant and agent.
    Token(String, String),
    /// A caller without a valid token: its address.
    Address(IpAddr),
}

/// Checks between stale buckets are dropped (they refill anyway).
const SWEEP_EVERY: u64 = 4096;

/// The server's rate limiter (`CLIENTELA_RATE_LIMIT`); cheap to clone.
#[derive(Clone)]
pub struct RateLimiter(Option<Arc<Inner>>);

struct Inner {
    buckets: Governor<Key, DefaultKeyedStateStore<Key>, DefaultClock>,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("on", &self.0.is_some())
            .finish()
    }
}

impl RateLimiter {
    /// `per_second` calls a second per key, in bursts of twice that; 0 turns it off.
    pub fn new(per_second: u32) -> Self {
        let Some(rate) = NonZeroU32::new(per_second) else {
            return Self(None);
        };
        let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        let quota = Quota::per_second(rate).allow_burst(burst);
        Self(Some(Arc::new(Inner {
            buckets: Governor::keyed(quota),
            checks: AtomicU64::new(0),
        })))
    }

    /// Takes one call from an authenticated caller's bucket.
    pub fn check_actor(&self, actor: &Actor) -> Result<()> {
        self.check(|| Key::Token(actor.tenant.clone(), actor.agent.clone()))
    }

    /// Takes one call from an unauthenticated client address's bucket.
    pub fn check_address(&self, ip: IpAddr) -> Result<()> {
        self.check(|| Key::Address(ip))
    }

    fn check(&self, key: impl FnOnce() -> Key) -> Result<()> {
        let Some(inner) = &self.0 else {
            return Ok(());
        };
        if inner.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            inner.buckets.retain_recent();
            inner.buckets.shrink_to_fit();
        }
        inner.buckets.check_key(&key()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::RateLimited {
                what: "too many requests",
                retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn actor(agent: &str, tenant: &str) -> Actor {
        Actor {
            agent: agent.into(),
            role: Role::Agent,
            tenant: tenant.into(),
        }
    }

    #[test]
    fn a_burst_of_twice_the_rate_passes_then_the_caller_waits() {
        let limiter = RateLimiter::new(5);
        let a = actor("a", "t1");
        for _ in 0..10 {
            limiter.check_actor(&a).expect("within the burst");
        }
        match limiter.check_actor(&a) {
            Err(Error::RateLimited { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        // Buckets are per (tenant, agent) and per address.
        limiter
            .check_actor(&actor("a", "t2"))
            .expect("same agent, other tenant");
        limiter.check_actor(&actor("b", "t1")).expect("other agent");
        limiter
            .check_address("127.0.0.1".parse().expect("ip"))
            .expect("an address has its own bucket");
    }

    #[test]
    fn zero_turns_rate_limiting_off() {
        let limiter = RateLimiter::new(0);
        let a = actor("a", "t");
        for _ in 0..10_000 {
            limiter.check_actor(&a).expect("never limited");
        }
    }
}
