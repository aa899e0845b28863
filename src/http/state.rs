//! The state both faces and the HTTP layer draw on. Each part is a
//! [`FromRef`] sub-state, so a handler or middleware takes only what it
//! needs (`State<Ctx>`, `State<Arc<Keys>>`, ...). Imports no face.

use std::sync::Arc;

use axum::extract::FromRef;

use super::RateLimiter;
use crate::auth::Keys;
use crate::config::{GraphqlConfig, LimitsConfig};
use crate::service::export::ExportSlots;
use crate::service::Ctx;
use crate::slots::Slots;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The service context: the database and the change events.
    pub ctx: Ctx,
    /// The keys that verify (and mint) tokens and export links.
    pub keys: Arc<Keys>,
    /// The limits of the GraphQL endpoint.
    pub graphql: Arc<GraphqlConfig>,
    /// The limits that keep hostile clients in check.
    pub limits: Arc<LimitsConfig>,
    /// Requests per second per token and per client address.
    pub rate_limiter: RateLimiter,
    /// Begun when the server is asked to stop; long-lived connections close.
    pub shutdown: Shutdown,
    /// The exports each tenant is streaming, capped at
    /// `limits.max_exports_per_tenant`.
    pub exports: Arc<ExportSlots>,
    /// WebSockets open on /graphql/ws per token owner, capped at
    /// `limits.ws_max_per_token`.
    pub open_sockets: OpenSockets,
}

impl AppState {
    /// State over a migrated database and the token keys, with the default
    /// limits.
    pub fn new(ctx: Ctx, keys: Keys) -> Self {
        Self::configured(
            ctx,
            keys,
            &GraphqlConfig::default(),
            &LimitsConfig::default(),
        )
    }

    /// State with the given limits.
    pub fn configured(
        ctx: Ctx,
        keys: Keys,
        graphql: &GraphqlConfig,
        limits: &LimitsConfig,
    ) -> Self {
        Self {
            ctx,
            keys: Arc::new(keys),
            graphql: Arc::new(graphql.clone()),
            limits: Arc::new(limits.clone()),
            rate_limiter: RateLimiter::new(limits.rate_limit),
            shutdown: Shutdown::default(),
            exports: ExportSlots::new(limits.max_exports_per_tenant),
            open_sockets: OpenSockets::new(limits.ws_max_per_token),
        }
    }
}

/// Open WebSockets per token owner: (tenant, agent).
pub type OpenSockets = Slots<(String, String)>;

/// The server's shutdown, as every long-lived connection (a WebSocket, say)
/// sees it: begun once a stop signal arrived. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
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
