//! Integration tests over real HTTP, each run on SQLite and on PostgreSQL.

mod auth;
mod batching;
mod conversations;
mod graphql_customers;
mod helpers;
mod resilience;
mod rest_customers;
mod rest_errors;
mod rest_export;
mod smoke;
mod statistics;
