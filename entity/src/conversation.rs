//! A conversation between a customer and the desk.

use sea_orm::entity::prelude::*;

use crate::enums::ConversationStatus;

/// A row of `conversations`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    /// Leads every key of the table: rows of one tenant never meet another's.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub status: ConversationStatus,
    /// Free text (`whatsapp` unless the caller names another).
    pub channel: String,
    pub subject: Option<String>,
    pub assigned_agent_id: Option<Uuid>,
    pub rating: Option<i32>,
    pub message_count: i32,
    pub last_message_at: Option<DateTimeUtc>,
    /// `last_message_at`, or `created_at` before the first message: the
    /// "newest" order of the contract, kept as a column so an index serves it.
    pub activity_at: DateTimeUtc,
    /// Sum of this conversation's reply times in milliseconds.
    pub response_time_ms: i64,
    pub response_count: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
