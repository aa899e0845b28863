//! One changed field of one customer write: the change history. Kept after
//! the customer is deleted (no foreign key), tenant-led like every table.

use sea_orm::entity::prelude::*;

use crate::enums::ChangeSource;
use crate::json::JsonText;

/// A row of `customer_changes`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_changes")]
pub struct Model {
    /// Leads every key of the table.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// A UUIDv7: ties on `at` break on it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer written (which may no longer exist).
    pub customer_id: Uuid,
    /// The field's GraphQL name (`firstName`, `tags`, ...), or `*` for the
    /// removal of the whole customer.
    pub field: String,
    /// The value before (stored as JSON text); `None` when the field was absent.
    pub old_value: Option<JsonText<Json>>,
    /// The value after (stored as JSON text); `None` when the field is gone.
    pub new_value: Option<JsonText<Json>>,
    /// The writer's `sub`, or `system`.
    pub agent: String,
    /// The path the write took (`api`, `import`, `merge`, `block`,
    /// `restore`, `erase` or `system`).
    pub source: ChangeSource,
    /// When the write committed.
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
