//! The trigram index behind substring search, so search does not scan:
//! SQLite FTS5 with the trigram tokenizer, PostgreSQL pg_trgm.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

// An external-content FTS5 table over `customers.search_text`, kept current by
// triggers, so the application writes the row once and the index follows.
// Its rowids are the customers' rowids: after a VACUUM (which may renumber
// them) run `INSERT INTO customer_search(customer_search) VALUES('rebuild')`.
const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE customer_search USING fts5(search_text, content='customers', tokenize='trigram')",
    "CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN \
       INSERT INTO customer_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN \
       INSERT INTO customer_search(customer_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER customers_search_update AFTER UPDATE OF search_text ON customers BEGIN \
       INSERT INTO customer_search(customer_search, rowid, search_text) VALUES ('delete', old.rowid, old.search_text); \
       INSERT INTO customer_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS customers_search_update",
    "DROP TRIGGER IF EXISTS customers_search_delete",
    "DROP TRIGGER IF EXISTS customers_search_insert",
    "DROP TABLE IF EXISTS customer_search",
];

// pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX customers_search_trgm ON customers USING gin (search_text gin_trgm_ops)",
];

const POSTGRES_DOWN: &[&str] = &["DROP INDEX IF EXISTS customers_search_trgm"];

async fn run(manager: &SchemaManager<'_>, sqlite: &[&str], postgres: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let statements = match db.get_database_backend() {
        DbBackend::Sqlite => sqlite,
        DbBackend::Postgres => postgres,
        DbBackend::MySql => return Err(DbErr::Migration("MySQL is not supported".into())),
    };
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_DOWN, POSTGRES_DOWN).await
    }
}
