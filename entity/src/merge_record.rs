//! A merge of duplicate customers into one, kept so it can be undone: the
//! customers it removed, the rows it moved and what the kept customer
//! gained, as a JSON snapshot the server writes and reads.

use sea_orm::entity::prelude::*;

use crate::json::StringList;

/// A row of `customer_merges`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_merges")]
pub struct Model {
    /// Leads every key of the table: rows of one tenant never meet another's.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer that was kept.
    pub primary_id: Uuid,
    /// The customers merged into it, in the order given (JSON array of ids).
    pub other_ids: StringList,
    /// The `sub` of the admin who merged.
    pub agent: String,
    pub created_at: DateTimeUtc,
    /// When the merge was undone; `None` while it stands.
    pub undone_at: Option<DateTimeUtc>,
    /// The `sub` of the admin who undid it.
    pub undone_by: Option<String>,
    /// Everything the undo needs (the server's `service::merges` owns its shape).
    pub snapshot: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
