//! SeaORM entities of Clientela's tables. Plain table models: no business rules
//! live here (those belong to the server's `service` module). Columns are
//! typed: closed string sets are the enums of [`enums`], JSON columns the
//! structs of [`json`], each stored exactly as the plain text and JSON the
//! columns held before. Every table carries `tenant_id`, first in every
//! primary key (so an update or delete by primary key names the tenant too;
//! the database's foreign keys are tenant-led as well, see migration 3).

pub mod agent;
pub mod conversation;
pub mod customer;
pub mod customer_change;
pub mod customer_count;
pub mod customer_phone;
pub mod customer_tag;
pub mod enums;
pub mod erasure;
pub mod idempotency_key;
pub mod import_error;
pub mod import_job;
pub mod json;
pub mod merge_record;
pub mod message;
pub mod ticket;

/// What the macros of [`enums`] expand to in the crates that call them.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    #[cfg(feature = "utoipa")]
    pub use utoipa;
}

/// The entities under short names, for `use entity::prelude::*`.
pub mod prelude {
    pub use super::agent::Entity as Agent;
    pub use super::conversation::Entity as Conversation;
    pub use super::customer::Entity as Customer;
    pub use super::customer_change::Entity as CustomerChange;
    pub use super::customer_count::Entity as CustomerCount;
    pub use super::customer_phone::Entity as CustomerPhone;
    pub use super::customer_tag::Entity as CustomerTag;
    pub use super::erasure::Entity as Erasure;
    pub use super::merge_record::Entity as MergeRecord;
    pub use super::message::Entity as Message;
    pub use super::ticket::Entity as Ticket;
}
