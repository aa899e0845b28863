//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// Connects to `url` (SQLite or PostgreSQL) and runs pending migrations.
pub async fn connect_and_migrate(
    url: &str,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let db = connect(url, max_connections).await?;
    Migrator::up(&db, None).await?;
    analyze(&db).await?;
    Ok(db)
}

/// Refreshes SQLite's table statistics, which its query planner has only
/// after an ANALYZE (PostgreSQL's autovacuum keeps its own). Without them
/// SQLite may scan a tenant's index where a primary-key lookup would do.
/// The sample is bounded (`analysis_limit`), so the time does not grow
/// with the tables: a few seconds at most on a 1.7 GB file on a busy machine.
pub async fn analyze(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA analysis_limit = 1000")
            .await?;
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// Bytes of memory past which SQLite frees cached pages (process-wide).
const SQLITE_SOFT_HEAP_LIMIT: u64 = 8 << 20;

/// Connects to `url` without migrating.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        // Statements are traced by our own spans; sqlx's logging would print
        // bound values, which include phone numbers and names.
        .sqlx_logging(false)
        // Every pooled SQLite connection enforces the tenant-led foreign keys
        // (sqlx's default too; said here so no URL or default can lose it).
        .map_sqlx_sqlite_opts(|sqlite| {
            // SQLite's caches (pages, FTS5 doclists) of all connections
            // together give memory back above this many bytes, instead of
            // each connection keeping its own 2 MB page cache full: the
            // database file stays in the operating system's cache anyway.
            sqlite
                .foreign_keys(true)
                .pragma("soft_heap_limit", SQLITE_SOFT_HEAP_LIMIT.to_string())
        });
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers (an export, say) run while one writer writes.
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}
