//! The receipt of one erasure of a customer's personal data: who, when, and
//! what was erased with how many rows. Kept after the customer is gone.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::json::JsonText;

/// One kind of personal data an erasure removed, and how many values or rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ErasedItem {
    /// What was erased: `customer.<field>` for a field of the customer,
    /// `phoneNumbers`, `messageBodies`, `conversationSubjects`,
    /// `ticketSubjects`, `historyValues`, `mergeRecords` (merge records
    /// that kept some of the person's data) or `mergedCustomers` (customers
    /// merged into this one, whose kept copies and history were erased too).
    pub what: String,
    /// How many values or rows.
    pub count: u64,
}

/// A row of `erasures`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "erasures")]
pub struct Model {
    /// Leads every key of the table.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The receipt's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer erased.
    pub customer_id: Uuid,
    /// When the erasure committed.
    pub erased_at: DateTimeUtc,
    /// The `sub` of the admin who erased.
    pub agent: String,
    /// What was erased, in the order erased: stored as the JSON text of an
    /// array of `{"what": ..., "count": n}`.
    pub items: JsonText<Vec<ErasedItem>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
