//! Conversation, message and ticket enums: the closed sets of strings the
//! `conversations`, `messages` and `tickets` tables store and both faces show.
//! Defined once in the `entity` crate, where they are the column types;
//! re-exported here so the service and the faces name them as domain types.
//! Imports nothing of `service`, sea_orm or axum.

pub use entity::enums::{ConversationStatus, MessageDirection, TicketStatus};
