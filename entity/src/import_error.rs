//! A row of an import job that was not stored: one line per field error.

use sea_orm::entity::prelude::*;

/// A row of `import_errors`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_errors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub job_id: Uuid,
    /// The row's number in the file, from 1 (a CSV header not counted).
    #[sea_orm(primary_key, auto_increment = false)]
    pub row: i64,
    /// The error's place among the row's errors, from 0.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    /// The field at fault (`row` for the row as a whole).
    pub field: String,
    /// A machine-readable code (`INVALID`, `DUPLICATE`, `NOT_FOUND`, `AMBIGUOUS`, `CONFLICT`).
    pub code: String,
    pub message: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
