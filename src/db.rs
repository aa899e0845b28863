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

/// Kibibytes of SQLite page cache, shared out among the pool's
/// connections: each keeps its own cache ([`sqlite_cache_kib`]). SQLite is
/// built without a process-wide cache or memory count (`.cargo/config.toml`),
/// whose mutexes every connection took for each page and allocation: on
/// the 1,000,000-customer file, S5's plain SQL ran 364 statements a second
/// on four connections and 351 on one; without them 677 and 470
/// (`bench/RESULTS.md`, session 23). The database file stays in the
/// operating system's cache whatever this holds.
const SQLITE_PAGE_CACHE_BUDGET: u32 = 8 << 10;

/// The least page cache a connection keeps, in kibibytes, however large
/// the pool: a page of a list reads a few hundred pages.
const SQLITE_MIN_CACHE: u32 = 1 << 10;

/// Each pooled SQLite connection's page cache, in kibibytes: its share of
/// [`SQLITE_PAGE_CACHE_BUDGET`].
fn sqlite_cache_kib(max_connections: u32) -> u32 {
    (SQLITE_PAGE_CACHE_BUDGET / max_connections.max(1)).max(SQLITE_MIN_CACHE)
}

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
        .map_sqlx_sqlite_opts(move |sqlite| {
            sqlite
                .foreign_keys(true)
                // A negative size is in kibibytes.
                .pragma(
                    "cache_size",
                    format!("-{}", sqlite_cache_kib(max_connections)),
                )
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

/// Open and idle connections of the pool, and its maximum.
pub fn pool_state(db: &DatabaseConnection) -> (u32, usize, u32) {
    match db {
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    }
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
    async fn every_pooled_sqlite_connection_keeps_its_share_of_the_page_cache() {
        // Four connections share 8 MiB: 2 MiB each, as a negative size.
        on_every_connection("PRAGMA cache_size", -2048).await;
        assert_eq!(super::sqlite_cache_kib(1), 8 << 10);
        assert_eq!(super::sqlite_cache_kib(64), 1 << 10);
    }

    #[tokio::test]
    async fn sqlite_is_built_without_process_wide_locks() {
        // `.cargo/config.toml`: no page cache shared by every connection,
        // no count of every allocation, each behind a process-wide mutex.
        let db = super::connect("sqlite::memory:", 1)
            .await
            .expect("connects");
        let used = |option: &'static str| {
            let db = &db;
            async move {
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT sqlite_compileoption_used(?)",
                    [option.into()],
                );
                let row = db.query_one(stmt).await.expect("asks").expect("a row");
                row.try_get_by_index::<i64>(0).expect("an integer") == 1
            }
        };
        assert!(!used("ENABLE_MEMORY_MANAGEMENT").await);
        assert!(used("DEFAULT_MEMSTATUS=0").await);
        // The rest of what libsqlite3-sys builds is still there.
        assert!(used("ENABLE_FTS5").await);
    }
}
