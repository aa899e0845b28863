//! Prometheus metrics: the `metrics` facade records everywhere (a no-op
//! until [`install`] sets the process's recorder, as in the tests' in-process
//! servers); `GET /metrics` renders them in the Prometheus text format, on
//! the main address only when `CLIENTELA_METRICS=true`, or on its own
//! address (`CLIENTELA_METRICS_ADDR`) so it is never public by accident.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;

/// Latency buckets in seconds, from a cache hit to a timeout.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Distinct GraphQL operation names labelled before the rest count as `other`
/// (clients choose the names; the label set must stay bounded).
const MAX_OPERATION_LABELS: usize = 200;

/// Installs the process's recorder; its handle renders the scrape. Call once.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Records every statement's duration (`db_statement_duration_seconds`).
pub fn time_statements(db: &mut DatabaseConnection) {
    db.set_metric_callback(|info| {
        let outcome = if info.failed { "error" } else { "ok" };
        metrics::histogram!("db_statement_duration_seconds", "outcome" => outcome)
            .record(info.elapsed.as_secs_f64());
    });
}

/// The `/metrics` route over the recorder's handle and the database pool.
pub fn routes(handle: PrometheusHandle, db: DatabaseConnection) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((handle, db))
}

async fn scrape(State((handle, db)): State<(PrometheusHandle, DatabaseConnection)>) -> Response {
    let (open, idle, max) = crate::db::pool_state(&db);
    metrics::gauge!("db_pool_connections", "state" => "open").set(open as f64);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set((open as usize).saturating_sub(idle) as f64);
    metrics::gauge!("db_pool_max_connections").set(max as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Middleware: counts each request by route template (never the raw path),
/// method and status, and times it (`http_requests_total`,
/// `http_request_duration_seconds`).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts a GraphQL operation by name (bounded, see [`MAX_OPERATION_LABELS`])
/// and outcome (`graphql_operations_total`).
pub fn graphql_operation(name: Option<&str>, ok: bool) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let name = name.filter(|n| !n.is_empty()).unwrap_or("anonymous");
    let label = {
        let mut seen = SEEN
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.contains(name)
            || (seen.len() < MAX_OPERATION_LABELS && seen.insert(name.to_owned()))
        {
            name.to_owned()
        } else {
            "other".to_owned()
        }
    };
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("graphql_operations_total", "operation" => label, "outcome" => outcome)
        .increment(1);
}

/// Counts a GraphQL document found in the parsed-document cache or not
/// (`graphql_document_cache_total`, `result` = `hit` or `miss`).
pub fn graphql_document_cache(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("graphql_document_cache_total", "result" => result).increment(1);
}

/// How a GraphQL request was validated (`graphql_validations_total`).
#[derive(Debug, Clone, Copy)]
pub enum Validation {
    /// By the engine, every rule (`kind` = `full`).
    Full,
    /// Its cost and fragment cycles only, the rest having passed before
    /// with the same verdict (`fast`).
    Fast,
    /// Not at all: the same verdict passed before (`remembered`).
    Remembered,
}

/// Counts a GraphQL request by how it was validated
/// (`graphql_validations_total`, `kind` = `full`, `fast` or `remembered`).
pub fn graphql_validation(how: Validation) {
    let kind = match how {
        Validation::Full => "full",
        Validation::Fast => "fast",
        Validation::Remembered => "remembered",
    };
    metrics::counter!("graphql_validations_total", "kind" => kind).increment(1);
}

/// Counts a GraphQL request run on its document's hollow copy
/// (`graphql_hollow_documents_total`): the engine was given the root
/// fields alone, and the objects under them read their selections from
/// the cached document.
pub fn graphql_hollow_document() {
    metrics::counter!("graphql_hollow_documents_total").increment(1);
}

/// Counts a call refused by the rate limiter (`rate_limited_total`), by
/// whose bucket it took from: a token's or an address's.
pub fn rate_limited(bucket: &'static str) {
    metrics::counter!("rate_limited_total", "bucket" => bucket).increment(1);
}
