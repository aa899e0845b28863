//! One changed field of one customer write: the change history. Kept after
//! the customer is deleted (no foreign key), tenant-led like every table.

use sea_orm::entity::prelude::*;

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
    /// The value before, as JSON text; `None` when the field was absent.
    pub old_value: Option<String>,
    /// The value after, as JSON text; `None` when the field is gone.
    pub new_value: Option<String>,
    /// The writer's `sub`, or `system`.
    pub agent: String,
    /// `api`, `import`, `merge`, `block`, `restore`, `erase` or `system`.
    pub source: String,
    /// When the write committed.
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
