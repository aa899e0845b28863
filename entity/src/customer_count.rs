//! One counter of a tenant's customers: how many rows have one facet
//! (`all`, `status:active`, `tag:vip`, `created:2026-11`, ...), kept by the
//! write transactions so totals need no scan. The `version` row counts the
//! customer writes instead; cached filtered counts are keyed on it.

use sea_orm::entity::prelude::*;

/// A row of `customer_counts`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_counts")]
pub struct Model {
    /// The tenant counted.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// What is counted (see the module header).
    #[sea_orm(primary_key, auto_increment = false)]
    pub facet: String,
    /// The count.
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
