//! Clientela: the customer-management backend of a WhatsApp-first service
//! desk. One core ([`service`]) with two faces: GraphQL ([`graphql`]) and the
//! `/api/v2/customers` REST shim ([`rest`]). [`app`] builds the router that
//! `serve` runs and the tests drive.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod rest;
pub mod seed;
pub mod service;
pub mod slots;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub ctx: service::Ctx,
    pub keys: Arc<auth::Keys>,
    pub schema: graphql::AppSchema,
    /// The limits of the GraphQL endpoint.
    pub graphql: Arc<config::GraphqlConfig>,
    /// The limits that keep hostile clients in check.
    pub limits: Arc<config::LimitsConfig>,
    /// Requests per second per token and per client address.
    pub rate_limiter: http::RateLimiter,
    /// Begun when the server is asked to stop; long-lived connections close.
    pub shutdown: http::Shutdown,
    /// The exports each tenant is streaming, capped at
    /// `limits.max_exports_per_tenant`.
    pub exports: Arc<service::export::ExportSlots>,
    /// WebSockets open on /graphql/ws per token owner.
    pub open_sockets: graphql::OpenSockets,
}

impl AppState {
    /// State over a migrated database and the token keys, with the default
    /// limits.
    pub fn new(ctx: service::Ctx, keys: auth::Keys) -> Self {
        Self::configured(
            ctx,
            keys,
            &config::GraphqlConfig::default(),
            &config::LimitsConfig::default(),
        )
    }

    /// State with the given limits.
    pub fn configured(
        ctx: service::Ctx,
        keys: auth::Keys,
        graphql: &config::GraphqlConfig,
        limits: &config::LimitsConfig,
    ) -> Self {
        let keys = Arc::new(keys);
        let schema = graphql::build_schema(ctx.clone(), keys.clone(), graphql);
        Self {
            ctx,
            keys,
            schema,
            graphql: Arc::new(graphql.clone()),
            limits: Arc::new(limits.clone()),
            rate_limiter: http::RateLimiter::new(limits.rate_limit),
            shutdown: http::Shutdown::default(),
            exports: service::export::ExportSlots::new(limits.max_exports_per_tenant),
            open_sockets: graphql::OpenSockets::default(),
        }
    }
}

/// The whole HTTP surface: GraphQL, the REST shim and health checks.
pub fn app(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .merge(graphql::routes())
        .merge(rest::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(http::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::identify,
        ))
        .layer(axum::middleware::from_fn(http::metrics::track))
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
            http::deadline(request_timeout, req, next)
        }))
        .layer(CatchPanicLayer::custom(http::panic_response))
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

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> StatusCode {
    match state.ctx.db.ping().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
