//! Customers: views, filters and order, reads, writes, the dashboard and
//! keyset paging, one file each. The faces use the items re-exported here
//! (`service::customers::X`).
//!
//! The files import `conversations` (details), `customer_rows`, `events` and
//! `scope`; none of those imports this module. The files import each other
//! by their own paths (`super::view::Customer`), never through these
//! re-exports.

mod connection;
mod count;
mod dashboard;
mod delete;
mod filter;
mod read;
mod shown;
mod view;
mod write;

pub use connection::{connection, ConnectionPage, ConnectionQuery};
pub use count::count;
pub use dashboard::{stats, Stats, Summary};
pub(crate) use delete::purge;
pub use delete::{delete, Deleted};
pub use filter::{order, CustomerFilter};
pub use read::{
    by_ids, details, find, find_by_phone, find_with_recent, get, list, page, Details, ListQuery,
    RECENT_CONVERSATIONS,
};
pub use shown::columns_of;
#[cfg(test)]
pub(crate) use view::strategies;
pub use view::{Customer, PreferencesView, Statistics};
pub use write::{create, set_blocked, update, update_tags};
pub(crate) use write::{describe, new_model, revive, with_changes};
