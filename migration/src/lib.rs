//! Clientela's schema as SeaORM migrations, one set for SQLite and PostgreSQL;
//! backend-specific pieces (the trigram search index, the SQLite table
//! rebuild behind tenant-led keys, shared in [`rekey`]) branch on the backend.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

mod m20261126_000001_tables;
mod m20261126_000002_search;
mod m20261127_000003_tenant_keys;
mod m20261130_000004_counts;
mod m20261201_000005_identity_and_trash;
mod m20261201_000006_history;
mod m20261201_000007_imports;
mod m20261201_000008_merges;
mod m20261201_000009_import_job_lease;
mod m20261202_000010_import_keys;
mod m20261203_000011_search_pending_list;
mod m20261204_000012_search_in_default_order;
mod m20261205_000013_search_statistics;
mod rekey;

/// Whether an SQLite database has planner statistics: it has been analyzed
/// (`sqlite_stat1` exists). The server analyzes one that has none in full
/// when it starts; a migration that adds an index analyzes only that index
/// of one that has.
pub async fn sqlite_analyzed(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let found = db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'",
        ))
        .await?;
    Ok(found.is_some())
}

/// Whether a PostgreSQL table has no planner statistics worth the name:
/// never analyzed, or analyzed while empty (`reltuples` of -1 or 0). False
/// for a table that does not exist.
pub async fn postgres_unanalyzed(db: &impl ConnectionTrait, table: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT reltuples <= 0 AS unanalyzed FROM pg_class WHERE oid = to_regclass($1)",
            [table.into()],
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get::<bool>("", "unanalyzed"))
        .transpose()?
        .unwrap_or(false))
}

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_tables::Migration),
            Box::new(m20261126_000002_search::Migration),
            Box::new(m20261127_000003_tenant_keys::Migration),
            Box::new(m20261130_000004_counts::Migration),
            Box::new(m20261201_000005_identity_and_trash::Migration),
            Box::new(m20261201_000006_history::Migration),
            Box::new(m20261201_000007_imports::Migration),
            Box::new(m20261201_000008_merges::Migration),
            Box::new(m20261201_000009_import_job_lease::Migration),
            Box::new(m20261202_000010_import_keys::Migration),
            Box::new(m20261203_000011_search_pending_list::Migration),
            Box::new(m20261204_000012_search_in_default_order::Migration),
            Box::new(m20261205_000013_search_statistics::Migration),
        ]
    }
}
