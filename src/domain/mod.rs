//! Pure domain types and rules, no I/O: record ids, phone numbers, customer and
//! conversation enums, customer inputs, search text, pagination. `service`
//! builds on these; nothing here imports sea_orm, axum or the GraphQL schema.

pub mod conversation;
pub mod customer;
pub mod ids;
pub mod page;
pub mod phone;
pub mod search;
pub mod time;
