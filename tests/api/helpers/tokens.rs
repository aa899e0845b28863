//! Tokens as tests need them: minted by the server's own keys per role,
//! tenant and lifetime, or built by hand (any claims, algorithm and secret)
//! so that each token rule can be tested on exactly one defect.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clientela::auth::{Actor, Role};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{TestApp, SECRET};

/// A secret the server does not know, long enough for HS256.
pub const FOREIGN_SECRET: &str = "another-secret-that-is-also-long-enough!!";

impl TestApp {
    /// A token for `role` in `tenant` (agent `<role>-agent`), valid an hour.
    pub fn token(&self, role: Role, tenant: &str) -> String {
        self.token_for(role, tenant, Duration::from_secs(3600))
    }

    /// A token for `role` in `tenant` (agent `<role>-agent`), valid for `ttl`.
    pub fn token_for(&self, role: Role, tenant: &str, ttl: Duration) -> String {
        let actor = Actor {
            agent: format!("{}-agent", role.as_str()),
            role,
            tenant: tenant.to_owned(),
        };
        self.keys.mint(&actor, ttl).expect("mint")
    }

    /// An admin token of the `default` tenant.
    pub fn admin(&self) -> String {
        self.token(Role::Admin, "default")
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Claims of agent `agent-1` with `role` in the default tenant, expiring at `exp`.
pub fn claims(role: &str, exp: u64) -> Value {
    json!({ "sub": "agent-1", "role": role, "tenant": "default", "exp": exp })
}

/// Claims of a valid admin token of the default tenant, valid an hour.
pub fn valid_claims() -> Value {
    claims("admin", now() + 3600)
}

/// `claims` signed with `algorithm` and `secret`.
pub fn sign_with(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// `claims` signed as the server expects (HS256 with its secret).
pub fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, SECRET, claims)
}

/// A `Bearer` header for `claims` signed as the server expects.
pub fn bearer(claims: &Value) -> String {
    format!("Bearer {}", sign(claims))
}
