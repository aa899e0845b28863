//! Authentication: a JWT in, an [`Actor`] out. The algorithm is pinned by
//! configuration, `exp` is required, and the claims name the agent, the role
//! and the tenant. What each role may do is decided in the service layer.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::{Config, JwtAlgorithm};
use crate::error::{Error, Result};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Role {
    /// Everything, including hard delete and bulk import.
    Admin,
    /// Reads and writes.
    Agent,
    /// Reads only.
    Viewer,
}

impl Role {
    /// The claim spelling of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    pub(crate) fn parse(claim: Option<&str>) -> Option<Self> {
        match claim {
            None | Some("agent") => Some(Role::Agent),
            Some("admin") => Some(Role::Admin),
            Some("viewer") => Some(Role::Viewer),
            Some(_) => None,
        }
    }
}

/// The authenticated caller: every service function takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The agent id (`sub`).
    pub agent: String,
    pub role: Role,
    pub tenant: String,
}

impl Actor {
    /// Fails with 403 unless the caller may write.
    pub fn require_writer(&self) -> Result<()> {
        match self.role {
            Role::Admin | Role::Agent => Ok(()),
            Role::Viewer => Err(Error::Forbidden("viewers may only read")),
        }
    }

    /// Fails with 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<()> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(Error::Forbidden("this needs the admin role")),
        }
    }
}

/// The claims Clientela reads and writes.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    /// Set on single-purpose tokens (export links): never a login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<serde_json::Value>,
}

/// The keys of export links: HS256 with a key of their own, no leeway.
#[derive(Clone)]
struct LinkKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// Verifies tokens (and, with a secret, mints them).
#[derive(Clone)]
pub struct Keys {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    link: Option<LinkKeys>,
    link_ttl: Duration,
    verified: Verified,
}

/// Tokens these keys verified, by their exact text, with their caller and
/// `exp`: a caller sends the same token with every request, and verifying
/// it (signature, header and claims) cost about 26,000 instructions each
/// time with HS256 (a tenth of a customer's detail; `callgrind`,
/// `bench/RESULTS.md`, session 19), far more with RS256 or ES256. A token
/// found here is only checked against the clock: what else verification
/// checks is in its text and these keys, which do not change, and a token
/// once valid stays so until `exp`. Only tokens that passed are kept (a
/// forged one costs a full verification every time, as before), at most
/// [`VERIFIED_TOKENS`] of them, least recently used dropped first, none
/// longer than [`VERIFIED_TOKEN_BYTES`].
#[derive(Clone)]
struct Verified(Arc<Mutex<Tokens>>);

/// Verified tokens' callers and `exp`, by the tokens' text.
type Tokens = lru::LruCache<Box<str>, (Actor, u64)>;

/// Tokens kept verified: about a desk's agents.
const VERIFIED_TOKENS: NonZeroUsize = match NonZeroUsize::new(1024) {
    Some(n) => n,
    None => panic!("not zero"),
};

/// Longest token kept verified (a login token is a few hundred bytes).
const VERIFIED_TOKEN_BYTES: usize = 2048;

impl Verified {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(lru::LruCache::new(VERIFIED_TOKENS))))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The caller and `exp` of `token` if it was verified and has not
    /// expired by `now` (seconds) with `leeway`; an expired one is dropped.
    fn get(&self, token: &str, now: u64, leeway: u64) -> Option<(Actor, u64)> {
        let mut cache = self.cache();
        let (actor, exp) = cache.get(token)?;
        if exp.saturating_add(leeway) < now {
            cache.pop(token);
            return None;
        }
        Some((actor.clone(), *exp))
    }

    fn put(&self, token: &str, actor: &Actor, exp: u64) {
        if token.len() <= VERIFIED_TOKEN_BYTES {
            self.cache().put(token.into(), (actor.clone(), exp));
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

/// Longest tenant id accepted from a token.
const MAX_TENANT_LEN: usize = 64;

/// Latest `exp` taken at its word (9999-12-31T23:59:59Z); later ones are
/// read as this, which no connection lives to see.
const MAX_EXP: u64 = 253_402_300_799;

impl Keys {
    /// Builds the keys from configuration; `secret` is the HS256 secret in force
    /// (configured or generated for the process).
    pub fn new(config: &Config, secret: Option<&str>) -> anyhow::Result<Self> {
        let (algorithm, decoding, encoding) = match config.jwt_algorithm {
            JwtAlgorithm::Hs256 => {
                let secret =
                    secret.ok_or_else(|| anyhow::anyhow!("HS256 needs CLIENTELA_JWT_SECRET"))?;
                anyhow::ensure!(
                    secret.len() >= 32,
                    "CLIENTELA_JWT_SECRET must be at least 32 bytes"
                );
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                    Some(EncodingKey::from_secret(secret.as_bytes())),
                )
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::Es256 => {
                let path = config.jwt_public_key_file.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("RS256/ES256 need CLIENTELA_JWT_PUBLIC_KEY_FILE")
                })?;
                let pem = std::fs::read(path)?;
                if config.jwt_algorithm == JwtAlgorithm::Rs256 {
                    (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)?, None)
                } else {
                    (Algorithm::ES256, DecodingKey::from_ec_pem(&pem)?, None)
                }
            }
        };
        // Validation::new pins the one algorithm: a token whose header names
        // another (or `none`) is refused before its signature is looked at.
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 30;
        match &config.jwt_audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &config.jwt_issuer {
            validation.set_issuer(&[iss]);
        }
        let link_secret = match (&config.export_link.export_link_secret, config.jwt_algorithm) {
            (Some(configured), _) => {
                let configured = configured.expose_secret();
                anyhow::ensure!(
                    configured.len() >= 32,
                    "CLIENTELA_EXPORT_LINK_SECRET must be at least 32 bytes"
                );
                Some(configured)
            }
            (None, JwtAlgorithm::Hs256) => secret,
            (None, _) => None,
        };
        Ok(Self {
            decoding,
            encoding,
            validation,
            link: link_secret.map(LinkKeys::new),
            link_ttl: Duration::from_secs(config.export_link.export_link_ttl),
            verified: Verified::new(),
        })
    }

    /// Verifies a token and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Actor> {
        self.verify_until(token).map(|(actor, _)| actor)
    }

    /// Verifies a token and returns its caller and when the token expires
    /// (its `exp`). [`Keys::verify`] accepts a token for a leeway after
    /// `exp` (clock skew between issuer and server); a connection that
    /// outlives its token should end at `exp` itself.
    pub fn verify_until(&self, token: &str) -> Result<(Actor, SystemTime)> {
        // As jsonwebtoken reads the clock: whole seconds.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (actor, exp) = match self.verified.get(token, now, self.validation.leeway) {
            Some(known) => known,
            None => {
                let (actor, exp) = self.verify_in_full(token)?;
                self.verified.put(token, &actor, exp);
                (actor, exp)
            }
        };
        // Clamped so that any `exp` a token may carry is a representable time.
        Ok((actor, UNIX_EPOCH + Duration::from_secs(exp.min(MAX_EXP))))
    }

    /// [`Self::verify_until`] without [`Verified`]: the caller and `exp`.
    fn verify_in_full(&self, token: &str) -> Result<(Actor, u64)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| {
                use jsonwebtoken::errors::ErrorKind;
                Error::Unauthenticated(match err.kind() {
                    ErrorKind::ExpiredSignature => "token has expired",
                    ErrorKind::ImmatureSignature => "token is not valid yet",
                    ErrorKind::InvalidSignature => "token signature is invalid",
                    ErrorKind::InvalidAlgorithm => "token algorithm is not accepted",
                    ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
                    _ => "token is invalid",
                })
            })?;
        let claims = data.claims;
        if claims.purpose.is_some() {
            return Err(Error::Unauthenticated(
                "this token is for one purpose only and is not a login",
            ));
        }
        let agent = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or(Error::Unauthenticated("token has no subject"))?;
        let role = Role::parse(claims.role.as_deref())
            .ok_or(Error::Unauthenticated("token has an unknown role"))?;
        let tenant = claims.tenant.unwrap_or_else(|| "default".to_owned());
        if tenant.is_empty() || tenant.len() > MAX_TENANT_LEN {
            return Err(Error::Unauthenticated("token has an invalid tenant"));
        }
        Ok((
            Actor {
                agent,
                role,
                tenant,
            },
            claims.exp,
        ))
    }

    /// Mints a token for `actor` that lives `ttl` (HS256 only).
    pub fn mint(&self, actor: &Actor, ttl: Duration) -> anyhow::Result<String> {
        let key = self
            .encoding
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("tokens can only be minted with an HS256 secret"))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = Claims {
            sub: Some(actor.agent.clone()),
            role: Some(actor.role.as_str().to_owned()),
            tenant: Some(actor.tenant.clone()),
            exp: now + ttl.as_secs(),
            iat: Some(now),
            purpose: None,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            key,
        )?)
    }
}

impl LinkKeys {
    /// Link keys from a secret. The key is derived, never the secret itself,
    /// so a link is no valid login token even when the secrets are the same.
    fn new(secret: &str) -> Self {
        let key = format!("clientela export link\n{secret}");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        validation.validate_aud = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
            validation,
        }
    }
}

impl Keys {
    /// How long export links live (`CLIENTELA_EXPORT_LINK_TTL`).
    pub fn link_ttl(&self) -> Duration {
        self.link_ttl
    }

    /// Whether export links can be minted and checked here.
    pub fn can_sign_links(&self) -> bool {
        self.link.is_some()
    }

    /// Signs single-purpose link claims (they must carry `exp`).
    pub fn sign_link<C: Serialize>(&self, claims: &C) -> Result<String> {
        let keys = self.link.as_ref().ok_or(Error::Disabled(
            "export links need CLIENTELA_EXPORT_LINK_SECRET (or an HS256 CLIENTELA_JWT_SECRET)",
        ))?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &keys.encoding)
            .map_err(Error::internal)
    }

    /// Checks a link's signature and expiry and returns its claims.
    pub fn verify_link<C: DeserializeOwned>(&self, token: &str) -> Result<C> {
        let keys = self.link.as_ref().ok_or(Error::Disabled(
            "export links need CLIENTELA_EXPORT_LINK_SECRET (or an HS256 CLIENTELA_JWT_SECRET)",
        ))?;
        jsonwebtoken::decode::<C>(token, &keys.decoding, &keys.validation)
            .map(|data| data.claims)
            .map_err(|err| {
                use jsonwebtoken::errors::ErrorKind;
                Error::Unauthenticated(match err.kind() {
                    ErrorKind::ExpiredSignature => "export link has expired",
                    ErrorKind::InvalidSignature => "export link signature is invalid",
                    _ => "export link is invalid",
                })
            })
    }
}

/// A random secret for a process started without one: no default secret exists.
pub fn random_secret() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    fn es256_config() -> Config {
        Config {
            database_url: None,
            db_max_connections: Some(1),
            jwt_secret: None,
            jwt_algorithm: JwtAlgorithm::Es256,
            jwt_public_key_file: Some(fixture("es256-public.pem")),
            jwt_issuer: Some("https://id.example".into()),
            jwt_audience: Some("clientela".into()),
            default_region: "MX".into(),
            export_link: Default::default(),
            graphql: Default::default(),
            limits: Default::default(),
        }
    }

    fn claims(iss: &str, aud: &str) -> serde_json::Value {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            + 600;
        serde_json::json!({"sub": "a1", "role": "viewer", "tenant": "acme", "exp": exp, "iss": iss, "aud": aud})
    }

    #[test]
    fn es256_tokens_verify_with_the_configured_public_key_and_claims() {
        let keys = Keys::new(&es256_config(), None).expect("keys");
        let pem = std::fs::read(fixture("es256-private.pem")).expect("private key");
        let signer = EncodingKey::from_ec_pem(&pem).expect("signing key");
        let sign = |claims: &serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &signer).expect("sign")
        };
        let actor = keys
            .verify(&sign(&claims("https://id.example", "clientela")))
            .expect("valid");
        assert_eq!((actor.role, actor.tenant.as_str()), (Role::Viewer, "acme"));
        assert!(
            keys.verify(&sign(&claims("https://evil.example", "clientela")))
                .is_err(),
            "issuer is checked"
        );
        assert!(
            keys.verify(&sign(&claims("https://id.example", "other")))
                .is_err(),
            "audience is checked"
        );
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_refused() {
        // The classic algorithm-confusion attack: the public key is no secret.
        let keys = Keys::new(&es256_config(), None).expect("keys");
        let public = std::fs::read(fixture("es256-public.pem")).expect("public key");
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("https://id.example", "clientela"),
            &EncodingKey::from_secret(&public),
        )
        .expect("sign");
        assert!(matches!(
            keys.verify(&forged),
            Err(Error::Unauthenticated(_))
        ));
    }

    #[test]
    fn short_secrets_and_missing_keys_are_configuration_errors() {
        let mut config = es256_config();
        config.jwt_algorithm = JwtAlgorithm::Hs256;
        assert!(Keys::new(&config, Some("short")).is_err());
        assert!(Keys::new(&config, None).is_err());
        config.jwt_algorithm = JwtAlgorithm::Rs256;
        config.jwt_public_key_file = None;
        assert!(Keys::new(&config, None).is_err());
    }

    /// HS256 keys with no issuer or audience, and their secret.
    fn hs256_keys() -> (Keys, &'static str) {
        let mut config = es256_config();
        config.jwt_algorithm = JwtAlgorithm::Hs256;
        config.jwt_issuer = None;
        config.jwt_audience = None;
        let secret = "a-secret-that-is-long-enough-for-hs256-tokens";
        (Keys::new(&config, Some(secret)).expect("keys"), secret)
    }

    /// `claims` signed with HS256 and `secret`.
    fn hs256_sign(secret: &str, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign")
    }

    /// Seconds since the epoch, as `exp` counts them.
    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    #[test]
    fn tokens_that_carry_a_purpose_are_no_login() {
        let (keys, secret) = hs256_keys();
        let mut claims = claims("x", "y");
        claims["purpose"] = "export".into();
        let token = hs256_sign(secret, &claims);
        assert!(matches!(
            keys.verify(&token),
            Err(Error::Unauthenticated(_))
        ));
        // A link signed by the server is no login either, and a login is no link.
        let link = keys.sign_link(&claims).expect("link");
        assert!(keys.verify(&link).is_err());
        let login = keys
            .mint(
                &Actor {
                    agent: "a".into(),
                    role: Role::Agent,
                    tenant: "t".into(),
                },
                Duration::from_secs(60),
            )
            .expect("mint");
        assert!(keys.verify_link::<serde_json::Value>(&login).is_err());
        assert!(keys.verify_link::<serde_json::Value>(&link).is_ok());
    }

    #[test]
    fn verify_until_gives_the_tokens_own_exp_without_the_leeway() {
        let (keys, secret) = hs256_keys();
        let sign = |exp: u64| {
            let claims =
                serde_json::json!({"sub": "a1", "role": "agent", "tenant": "acme", "exp": exp});
            hs256_sign(secret, &claims)
        };
        let now = now_secs();
        // Ten seconds past exp: still within verify's leeway, but the exp
        // returned is the token's own, in the past.
        let (actor, expires) = keys
            .verify_until(&sign(now - 10))
            .expect("within the leeway");
        assert_eq!(actor, keys.verify(&sign(now - 10)).expect("verify agrees"));
        assert_eq!(expires, UNIX_EPOCH + Duration::from_secs(now - 10));
        assert!(expires < SystemTime::now());
        // An exp no clock reaches is clamped, not a panic.
        let (_, expires) = keys.verify_until(&sign(u64::MAX)).expect("valid");
        assert_eq!(expires, UNIX_EPOCH + Duration::from_secs(MAX_EXP));
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let (mut keys, secret) = hs256_keys();
        keys.validation.leeway = 0;
        let sign = |claims: serde_json::Value| hs256_sign(secret, &claims);
        let now = now_secs();
        let token = sign(
            serde_json::json!({"sub": "a1", "role": "agent", "tenant": "acme", "exp": now + 1}),
        );
        let first = keys.verify_until(&token).expect("valid");
        assert_eq!(keys.verified.cache().len(), 1);
        assert_eq!(keys.verify_until(&token).expect("remembered"), first);
        assert_eq!(keys.verified.cache().len(), 1, "kept once");

        // Only tokens that pass are kept.
        let forged = format!("{token}A");
        let stale = sign(serde_json::json!({"sub": "a1", "role": "agent", "exp": now - 5}));
        let link = sign(
            serde_json::json!({"sub": "a1", "role": "agent", "exp": now + 60, "purpose": "export"}),
        );
        for refused in [&forged, &stale, &link] {
            for _ in 0..2 {
                assert!(keys.verify(refused).is_err(), "{refused}");
            }
        }
        let long = sign(
            serde_json::json!({"sub": "a".repeat(VERIFIED_TOKEN_BYTES), "role": "agent", "exp": now + 60}),
        );
        assert!(keys.verify(&long).is_ok());
        assert_eq!(keys.verified.cache().len(), 1, "none of those kept");

        // Its `exp` passed, the remembered token is refused as any expired
        // one, and forgotten.
        std::thread::sleep(Duration::from_millis(2100));
        let err = keys.verify(&token).expect_err("expired");
        assert!(
            matches!(err, Error::Unauthenticated("token has expired")),
            "{err:?}"
        );
        assert_eq!(keys.verified.cache().len(), 0);
    }

    #[test]
    fn remembered_tokens_are_checked_against_the_clock_with_the_leeway() {
        let verified = Verified::new();
        let actor = Actor {
            agent: "a1".into(),
            role: Role::Agent,
            tenant: "acme".into(),
        };
        verified.put("t", &actor, 100);
        assert_eq!(verified.get("t", 100, 30), Some((actor.clone(), 100)));
        assert!(verified.get("t", 130, 30).is_some(), "within the leeway");
        assert!(verified.get("t", 131, 30).is_none(), "past it");
        assert!(verified.get("t", 100, 30).is_none(), "and forgotten");
        assert!(verified.get("other", 0, 30).is_none());
    }

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use base64::Engine;
        use proptest::prelude::*;

        use super::*;

        const SECRET: &str = "a-secret-that-is-long-enough-for-hs256-tokens";

        fn hs256_keys() -> Keys {
            let mut config = es256_config();
            config.jwt_algorithm = JwtAlgorithm::Hs256;
            config.jwt_issuer = None;
            config.jwt_audience = None;
            Keys::new(&config, Some(SECRET)).expect("keys")
        }

        fn actor() -> impl Strategy<Value = Actor> {
            (
                "\\PC{1,40}",
                prop::sample::select(vec![Role::Admin, Role::Agent, Role::Viewer]),
                // A tenant is 1 to 64 bytes.
                "\\PC{1,16}",
            )
                .prop_map(|(agent, role, tenant)| Actor {
                    agent,
                    role,
                    tenant,
                })
        }

        fn b64(bytes: &[u8]) -> String {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }

        /// Arbitrary strings, and JWT-shaped ones: three base64url parts
        /// carrying JSON headers (any `alg`, `none` included) and claims.
        fn token() -> impl Strategy<Value = String> {
            let header = prop_oneof![
                prop::sample::select(vec!["HS256", "none", "RS256", "ES256", "HS512", ""])
                    .prop_map(|alg| serde_json::json!({"alg": alg, "typ": "JWT"}).to_string()),
                any::<String>(),
            ];
            let claims = prop_oneof![
                (
                    any::<Option<String>>(),
                    any::<Option<String>>(),
                    any::<u64>()
                )
                    .prop_map(|(sub, role, exp)| {
                        serde_json::json!({"sub": sub, "role": role, "tenant": "t", "exp": exp})
                            .to_string()
                    }),
                any::<String>(),
            ];
            let signature = prop::collection::vec(any::<u8>(), 0..64);
            prop_oneof![
                any::<String>(),
                "[A-Za-z0-9_\\-.=+/ ]{0,120}",
                (header, claims, signature).prop_map(|(h, c, s)| {
                    format!("{}.{}.{}", b64(h.as_bytes()), b64(c.as_bytes()), b64(&s))
                }),
            ]
        }

        proptest! {
            #[test]
            fn any_token_that_is_not_minted_here_is_unauthenticated(token in token()) {
                let keys = hs256_keys();
                prop_assert!(matches!(keys.verify(&token), Err(Error::Unauthenticated(_))));
                prop_assert!(matches!(
                    keys.verify_link::<serde_json::Value>(&token),
                    Err(Error::Unauthenticated(_))
                ));
            }

            #[test]
            fn a_minted_token_verifies_as_its_actor_and_any_changed_byte_is_refused(
                actor in actor(),
                position in any::<prop::sample::Index>(),
                byte in 0x20u8..0x7f,
            ) {
                let keys = hs256_keys();
                let token = keys.mint(&actor, Duration::from_secs(600)).expect("mint");
                prop_assert_eq!(keys.verify(&token).expect("valid"), actor);
                let mut changed = token.clone().into_bytes();
                let at = position.index(changed.len());
                prop_assume!(changed[at] != byte);
                changed[at] = byte;
                let changed = String::from_utf8(changed).expect("ASCII");
                let result = keys.verify(&changed);
                prop_assert!(matches!(result, Err(Error::Unauthenticated(_))), "{changed}: {result:?}");
            }

            #[test]
            fn a_signed_link_verifies_as_its_claims_and_any_changed_byte_is_refused(
                filter in "\\PC{0,40}",
                position in any::<prop::sample::Index>(),
                byte in 0x20u8..0x7f,
            ) {
                let keys = hs256_keys();
                let exp = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() + 600;
                let claims = serde_json::json!({"purpose": "export", "filter": filter, "exp": exp});
                let link = keys.sign_link(&claims).expect("signs");
                prop_assert_eq!(keys.verify_link::<serde_json::Value>(&link).expect("valid"), claims);
                let mut changed = link.into_bytes();
                let at = position.index(changed.len());
                prop_assume!(changed[at] != byte);
                changed[at] = byte;
                let changed = String::from_utf8(changed).expect("ASCII");
                let result = keys.verify_link::<serde_json::Value>(&changed);
                prop_assert!(matches!(result, Err(Error::Unauthenticated(_))), "{changed}: {result:?}");
            }
        }
    }
}
