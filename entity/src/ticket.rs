//! A support ticket raised for a customer, optionally from a conversation.

use sea_orm::entity::prelude::*;

use crate::enums::TicketStatus;

/// A row of `tickets`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    /// Leads every key of the table: rows of one tenant never meet another's.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub subject: String,
    pub status: TicketStatus,
    pub created_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
