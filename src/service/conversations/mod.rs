//! Conversations and their messages: reading them (newest first, singly or
//! batched for DataLoaders) and writing them with the customer's statistics
//! kept exact, through the ledger, in the same transaction.
//!
//! Imports `customer_rows`, `ledger`, `events`, `scope` and `input`; never
//! `customers` or `tickets` (they import this module).

mod read;
mod shown;
mod view;
mod write;

pub use read::{
    by_ids, find, list_for_customer, message_pages_for, pages_for, recent_for,
    CONVERSATIONS_NEWEST_FIRST,
};
pub use shown::columns_of;
pub use view::{Conversation, Message};
pub use write::{
    add_message, create, delete, delete_message, rate, set_status, NewConversation, NewMessage,
};

pub use crate::domain::conversation::{ConversationStatus, MessageDirection};
