//! Integration tests over real HTTP, each run on SQLite and on PostgreSQL.
//! Snapshots (`insta`) live in `snapshots/`, one per response shape, shared
//! by both databases (ids, times and jsonb key order redacted); a missing
//! or changed snapshot fails (`cargo insta review`, or `INSTA_UPDATE=always`
//! locally, writes them; CI never does).
//! The harness is `helpers` (with the code all test binaries share in
//! `tests/common`); every other module is one surface.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod auth;
mod batching;
mod connection;
mod conversations;
mod counters;
mod counts;
mod document_cache;
mod duplicates;
mod export_link;
mod graphql_customers;
mod graphql_edges;
mod history;
mod hostile_connections;
mod hostile_cost;
mod hostile_export;
mod hostile_graphql;
mod hostile_import;
mod hostile_races;
mod hostile_rate_limit;
mod hostile_websocket;
mod http_faces;
mod import_jobs;
mod merge;
mod metrics;
mod nested_lists;
mod postgres_planning;
mod recount;
mod resilience;
mod rest_customers;
mod rest_errors;
mod rest_export;
mod rest_openapi;
mod rows_read;
mod search_walk;
mod shown_columns;
mod shutdown;
mod smoke;
mod statistics;
mod subscriptions;
mod tenancy_keys;
mod trash;
mod upsert;
