//! The HTTP layer under both faces: the shared state ([`AppState`] and its
//! sub-states), serving connections within bounds ([`serve`]), knowing the
//! caller once per request ([`identify`]), rate limits, the middleware
//! stack every route runs in ([`layers`]), files served from the binary
//! ([`assets`]), and errors made outside any handler shaped for the face a
//! path belongs to ([`Faces`]).
//!
//! The faces (`graphql/`, `rest/`) build on this module; it imports neither
//! (each registers its error renderer in [`Faces`] where the app is
//! composed), only the service, auth and configuration below it.

pub mod assets;
mod faces;
mod identity;
pub mod metrics;
mod rate_limit;
mod serve;
mod state;

use std::time::Duration;

use axum::extract::{MatchedPath, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

pub use faces::{catch_panic, deadline, Face, Faces, RenderError};
pub use identity::{bearer, bearer_token, identify, Gate, Identity};
pub use rate_limit::RateLimiter;
pub use serve::{client_ip, serve};
pub use state::{AppState, OpenSockets, Shutdown};

use crate::error::Error;
use crate::service::Ctx;

/// Largest body of an ordinary request, on either face (a bulk import and
/// an admin's GraphQL request may send more).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Adds `Retry-After` to a response for an error that has one.
pub fn set_retry_after(response: &mut Response, error: &Error) {
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// The load balancer's probes: `GET /healthz` (the process answers) and
/// `GET /readyz` (and reaches its database).
pub fn probes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
}

async fn readyz(State(ctx): State<Ctx>) -> StatusCode {
    match ctx.db.ping().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves `routes` in the middleware every request runs in: a 404 in its
/// face's shape for an unknown path, the caller identified and rate limited
/// ([`identify`]), metrics, a span per request with its id (`x-request-id`,
/// made here when the client sent none), a deadline of `request_timeout`
/// for the response head, and a 500 for a handler that panics; every
/// refusal shaped by `faces`.
pub fn layers(
    routes: Router<AppState>,
    state: AppState,
    faces: Faces,
    request_timeout: Duration,
) -> Router {
    let gate = Gate {
        keys: state.keys.clone(),
        rate_limiter: state.rate_limiter.clone(),
        faces,
    };
    routes
        .fallback(move |uri: Uri, headers: HeaderMap| async move {
            faces.not_found(uri.path(), &headers)
        })
        .layer(axum::middleware::from_fn_with_state(gate, identify))
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(axum::middleware::from_fn(move |req, next| {
            deadline(faces, request_timeout, req, next)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            catch_panic(faces, req, next)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span of one request: its id (`x-request-id`, made here when the
/// client sent none), method, path and route template; the caller's tenant
/// and a GraphQL operation's name are recorded into it once known. Never the
/// query string: it may hold a token.
fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id,
        method = %req.method(),
        path = %req.uri().path(),
        route,
        tenant = tracing::field::Empty,
        operation = tracing::field::Empty,
    )
}
