//! Clientela: the customer-management backend of a WhatsApp-first service
//! desk. One core ([`service`]) with two faces: GraphQL ([`graphql`]) and the
//! `/api/v2/customers` REST shim ([`rest`]), both over one HTTP layer
//! ([`http`]). [`app`] composes them into the router that `serve` runs and
//! the tests drive.
//!
//! The layers, arrows only downward: faces (`graphql`, `rest`) → `http` →
//! `service` → `domain` and the entities; `auth`, `config`, `error` and
//! `slots` sit beside them for every layer to use.

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
pub mod sync;

use std::time::Duration;

use axum::Router;

pub use http::AppState;

/// The whole HTTP surface: GraphQL, the REST shim and the probes, in the
/// HTTP layer's middleware, with errors made outside any handler shaped by
/// [`faces`].
pub fn app(state: AppState, request_timeout: Duration) -> Router {
    let routes = Router::new()
        .merge(graphql::routes(&state, rest::import_file_rows))
        .merge(rest::routes())
        .merge(http::probes());
    http::layers(routes, state, faces(), request_timeout)
}

/// Each face's one error renderer, for the errors the HTTP layer makes on
/// its behalf (404, 429, 503 past the deadline, 500 for a panic).
pub fn faces() -> http::Faces {
    http::Faces {
        rest: |error, _| rest::error_response(error),
        graphql: graphql::error_response,
    }
}
