//! Knowing the caller once per request: the `Authorization: Bearer` header
//! read here for both faces, the token verified by [`crate::auth`], and the
//! call taken from the caller's rate-limit bucket. Imports no face.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::{client_ip, metrics, Faces, RateLimiter};
use crate::auth::{Actor, Keys};
use crate::error::{Error, Result};

/// The caller of a request, verified once by [`identify`] before any
/// handler runs: the actor, or why the request carries none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(pub Result<Actor, &'static str>);

impl Identity {
    /// The caller named by a request's `Authorization: Bearer` header.
    pub fn of(keys: &Keys, headers: &HeaderMap) -> Self {
        let verified = bearer_token(headers)
            .and_then(|token| token.ok_or(Error::Unauthenticated("missing bearer token")))
            .and_then(|token| keys.verify(token));
        Identity(verified.map_err(|e| match e {
            Error::Unauthenticated(why) => why,
            _ => "invalid credentials",
        }))
    }

    /// The request's identity as [`identify`] left it (or, for a request
    /// that did not pass through it, as its headers say).
    pub fn from_parts(parts: &axum::http::request::Parts, keys: &Keys) -> Self {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .unwrap_or_else(|| Identity::of(keys, &parts.headers))
    }

    /// The actor, or UNAUTHENTICATED saying why there is none.
    pub fn actor(self) -> Result<Actor> {
        self.0.map_err(Error::Unauthenticated)
    }
}

/// The bearer token of a request, if it carries an Authorization header.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| Error::Unauthenticated("malformed Authorization header"))?;
            bearer(value).map(Some)
        }
    }
}

/// Takes the token out of an `Authorization: Bearer ...` header value (or
/// the same text sent another way, as a WebSocket's `connection_init` does).
pub fn bearer(header: &str) -> Result<&str> {
    let (scheme, token) = header
        .split_once(' ')
        .ok_or(Error::Unauthenticated("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Error::Unauthenticated("malformed Authorization header"));
    }
    Ok(token.trim())
}

/// What [`identify`] needs: the keys, the rate limiter, and the faces that
/// shape a 429.
#[derive(Clone)]
pub struct Gate {
    /// Verify each request's token.
    pub keys: Arc<Keys>,
    /// The buckets each call is taken from.
    pub rate_limiter: RateLimiter,
    /// Render a refusal for the face of the request's path.
    pub faces: Faces,
}

/// Paths that are never rate limited: the load balancer's probes.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Middleware: verifies the caller's token once and takes the call from its
/// rate-limit bucket (its token's, or its address's without a valid token).
/// Over the limit, the request is answered 429 before anything else of it
/// is read.
pub async fn identify(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    if is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let identity = Identity::of(&gate.keys, req.headers());
    let allowed = match (&identity.0, client_ip(&req)) {
        (Ok(actor), _) => gate.rate_limiter.check_actor(actor),
        (Err(_), Some(ip)) => gate.rate_limiter.check_address(ip),
        (Err(_), None) => Ok(()),
    };
    if let Ok(actor) = &identity.0 {
        tracing::Span::current().record("tenant", actor.tenant.as_str());
    }
    if let Err(refusal) = allowed {
        metrics::rate_limited(if identity.0.is_ok() {
            "token"
        } else {
            "address"
        });
        return gate
            .faces
            .error_response(req.uri().path(), req.headers(), &refusal);
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_must_name_the_scheme_and_a_token() {
        assert_eq!(bearer("Bearer abc").ok(), Some("abc"));
        assert_eq!(bearer("bearer abc").ok(), Some("abc"));
        for bad in ["Basic abc", "Bearer", "Bearer   ", "abc"] {
            assert!(bearer(bad).is_err(), "{bad}");
        }
    }

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::bearer;
        use crate::error::Error;

        proptest! {
            #[test]
            fn any_authorization_header_gives_its_trimmed_token_or_is_unauthenticated(
                header in prop_oneof![
                    any::<String>(),
                    "(Bearer|bearer|BEARER|Basic|)[ \t]{0,2}\\PC{0,20}",
                ],
            ) {
                match bearer(&header) {
                    Ok(token) => {
                        prop_assert!(!token.is_empty());
                        prop_assert_eq!(token, token.trim());
                        prop_assert!(header.to_ascii_lowercase().starts_with("bearer "));
                        prop_assert!(header.ends_with(token) || header.trim_end().ends_with(token));
                    }
                    Err(Error::Unauthenticated(_)) => {}
                    Err(other) => prop_assert!(false, "{header:?}: {other:?}"),
                }
            }

            #[test]
            fn a_bearer_header_gives_back_its_token(token in "[!-~]{1,200}", spaces in " {0,3}") {
                let header = format!("Bearer {spaces}{token}{spaces}");
                prop_assert_eq!(bearer(&header).ok(), Some(token.as_str()));
            }
        }
    }
}
