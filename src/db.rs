//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

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

/// Gives SQLite's query planner table statistics, which it has only after
/// an ANALYZE (PostgreSQL's autovacuum keeps its own). Without them SQLite
/// may scan a tenant's index where a primary-key lookup would do.
///
/// A database never analyzed is analyzed now (`analysis_limit` bounds the
/// rows sampled per index). One that was is left to `PRAGMA optimize`,
/// SQLite's own upkeep, which re-analyzes only tables whose statistics are
/// missing or far off: a full ANALYZE at every start read some 7 GB of a
/// 15 GB file (1,000,000 customers), minutes before the server listened.
pub async fn analyze(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    db.execute_unprepared(if migration::sqlite_analyzed(db).await? {
        "PRAGMA optimize"
    } else {
        "ANALYZE"
    })
    .await?;
    Ok(())
}

/// Refreshes every table's statistics at once, as after a bulk load (the
/// seed), when most of them are new.
pub async fn analyze_all(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// Gives PostgreSQL's planner statistics for `table` if it has none yet
/// (never analyzed, or analyzed while empty), as after the first writes to
/// a fresh database. Until then a foreign-key check that refers to the
/// table is planned, once per connection, as a scan of an empty table, and
/// that plan is kept while the table grows: the first import into a fresh
/// database spent 35, 78, 122 ... 591 ms on each batch's tag rows (every
/// check scanning all customers) until autovacuum got to it. An ANALYZE
/// makes every connection plan again. One catalog lookup when there are
/// statistics; nothing on SQLite, which keeps no plans across statements.
pub async fn analyze_if_unplanned(db: &impl ConnectionTrait, table: &str) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    if migration::postgres_unanalyzed(db, table).await? {
        // A table name of our own schema, never a caller's input.
        db.execute_unprepared(&format!("ANALYZE {table}")).await?;
    }
    Ok(())
}

/// Rows of each index an SQLite ANALYZE samples.
const ANALYSIS_LIMIT: u32 = 1000;

/// Bytes of memory past which SQLite frees cached pages (process-wide).
const SQLITE_SOFT_HEAP_LIMIT: u64 = 8 << 20;

/// How long a pool waits for a free connection, or for a new one.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL connection idle for less than this is handed out without
/// asking the server whether it is still there (HikariCP's
/// `aliveBypassWindowMs` is the same 500 ms). sqlx asks before every
/// acquire by default: one more round trip to the server for each
/// statement. sqlx asks again when a connection is given back, so one that
/// broke while in use never returns to the pool; what this window lets
/// through is only a connection the server dropped in the last half second
/// while it sat idle, whose statement then fails as any statement does when
/// the server goes away (503, and the connection is discarded).
const PG_ALIVE_BYPASS: Duration = Duration::from_millis(500);

/// Connects to `url` without migrating.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return connect_postgres(url, max_connections).await;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT)
        // An SQLite connection is a file handle in this process: there is
        // no server that could have hung up on it.
        .test_before_acquire(false)
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
                // ANALYZE samples this many rows of each index, whatever
                // the table's size.
                .pragma("analysis_limit", ANALYSIS_LIMIT.to_string())
        });
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers (an export, say) run while one writer writes.
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// Connects to PostgreSQL: sea-orm's own options cannot say "check only a
/// connection idle for a while" ([`PG_ALIVE_BYPASS`]), so the sqlx pool is
/// built here and handed to sea-orm.
async fn connect_postgres(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    use sea_orm::sqlx::{postgres, ConnectOptions as _, Connection as _};
    // Statements are traced by our own spans; sqlx's logging would print
    // bound values, which include phone numbers and names.
    let connect = url
        .parse::<postgres::PgConnectOptions>()?
        .disable_statement_logging();
    let pool = postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                // An error discards the connection; the pool then takes
                // another or opens a new one within the acquire timeout.
                if meta.idle_for >= PG_ALIVE_BYPASS {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(connect)
        .await?;
    Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
        pool,
    ))
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    /// Every pooled connection answers `pragma` with `want`: open
    /// transactions hold their connections, so each asks a different one.
    async fn on_every_connection(pragma: &str, want: i64) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = super::connect(&url, 4).await.expect("connects");
        let mut open = Vec::new();
        for _ in 0..4 {
            let txn = db.begin().await.expect("begin");
            let row = txn
                .query_one(Statement::from_string(DbBackend::Sqlite, pragma))
                .await
                .expect("pragma")
                .expect("a row");
            assert_eq!(row.try_get_by_index::<i64>(0).expect("an integer"), want);
            open.push(txn);
        }
    }

    #[tokio::test]
    async fn every_pooled_sqlite_connection_bounds_analyze() {
        // Unbounded, the ANALYZE at start reads every index whole: minutes
        // on a 15 GB file whose pages are not in the operating system's cache.
        on_every_connection("PRAGMA analysis_limit", super::ANALYSIS_LIMIT.into()).await;
    }

    #[tokio::test]
    async fn every_pooled_sqlite_connection_has_the_soft_heap_limit() {
        let want = i64::try_from(super::SQLITE_SOFT_HEAP_LIMIT).expect("fits");
        on_every_connection("PRAGMA soft_heap_limit", want).await;
    }
}
