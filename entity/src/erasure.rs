//! The receipt of one erasure of a customer's personal data: who, when, and
//! what was erased with how many rows. Kept after the customer is gone.

use sea_orm::entity::prelude::*;

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
    /// JSON array of `{"what": ..., "count": n}`, in the order erased.
    pub items: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
