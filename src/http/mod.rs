//! The HTTP layer under both faces: serving connections within bounds
//! ([`serve`]), knowing the caller once per request ([`identify`]), rate
//! limits, and errors shaped for the face a path belongs to. The faces
//! (`graphql/`, `rest/`) build on this module; it imports neither's
//! handlers.

pub mod metrics;
mod rate_limit;
mod serve;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use rate_limit::RateLimiter;
pub use serve::{client_ip, serve};

use crate::auth::{self, Actor, Keys};
use crate::error::Error;
use crate::AppState;

/// The server's shutdown, as every long-lived connection (a WebSocket, say)
/// sees it: begun once a stop signal arrived. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self(std::sync::Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Shutdown {
    /// Tells everyone waiting in [`Shutdown::begun`] that the server is stopping.
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once [`Shutdown::begin`] was called (at once if it was already).
    pub async fn begun(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await.map(|_| ());
    }
}

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
    pub fn actor(self) -> Result<Actor, Error> {
        self.0.map_err(Error::Unauthenticated)
    }
}

/// The bearer token of a request, if it carries an Authorization header.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| Error::Unauthenticated("malformed Authorization header"))?;
            auth::bearer(value).map(Some)
        }
    }
}

/// Paths that are never rate limited: the load balancer's probes.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Middleware: verifies the caller's token once and takes the call from its
/// rate-limit bucket (its token's, or its address's without a valid token).
/// Over the limit, the request is answered 429 before anything else of it
/// is read.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let identity = Identity::of(&state.keys, req.headers());
    let allowed = match (&identity.0, client_ip(&req)) {
        (Ok(actor), _) => state.rate_limiter.check_actor(actor),
        (Err(_), Some(ip)) => state.rate_limiter.check_address(ip),
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
        return error_response(req.uri().path(), req.headers(), &refusal);
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

/// An error answered in the shape of the face `path` belongs to: a GraphQL
/// body under `/graphql`, the REST envelope elsewhere.
pub fn error_response(path: &str, request: &HeaderMap, error: &Error) -> Response {
    if path == "/graphql" || path.starts_with("/graphql/") {
        crate::graphql::error_response(error, request)
    } else {
        crate::rest::error_response(error)
    }
}

/// Adds `Retry-After` to a response for an error that has one.
pub fn set_retry_after(response: &mut Response, error: &Error) {
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// Middleware: a request that takes longer than `limit` to produce its
/// response head is answered 503 `SERVICE_UNAVAILABLE` with `Retry-After`,
/// in its face's shape (a streaming body, once started, is not cut by this:
/// the send timeout watches it).
pub async fn deadline(limit: std::time::Duration, req: Request, next: Next) -> Response {
    let (path, headers) = (req.uri().path().to_owned(), req.headers().clone());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path, "request timed out");
            error_response(&path, &headers, &Error::Unavailable)
        }
    }
}

/// 404 in the shape of the face the path belongs to.
pub async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    error_response(uri.path(), &headers, &Error::NotFound("route"))
}

/// 500 for a handler that panicked; the panic text is never sent.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    crate::rest::error_response(&Error::internal(anyhow::anyhow!("a handler panicked")))
        .into_response()
}
