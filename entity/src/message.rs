//! One message of a conversation.

use sea_orm::entity::prelude::*;

use crate::enums::MessageDirection;

/// A row of `messages`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    /// Leads every key of the table: rows of one tenant never meet another's.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub customer_id: Uuid,
    /// Stored as `inbound` or `outbound`.
    pub direction: MessageDirection,
    pub body: String,
    pub agent_id: Option<Uuid>,
    pub sent_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
