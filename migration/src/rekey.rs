//! Tenant-led keys by migration: the tables of a step, their keys before
//! and after it, and the one procedure that moves a database between the
//! two keeping every row (migration 3 brought the first tables to
//! tenant-led keys, migration 10 the import tables).
//!
//! PostgreSQL changes the keys in place, in the migrator's transaction.
//! SQLite cannot change a table's keys, so every table is rebuilt by SQLite's
//! documented procedure (<https://www.sqlite.org/lang_altertable.html#otheralter>):
//! on one connection with foreign keys off, in one transaction, each table is
//! created anew, its rows copied (rowids too: the search index refers to
//! customers by rowid), the old table dropped and the new one renamed; then
//! the indexes and triggers the old tables had are created again and
//! `PRAGMA foreign_key_check` must find nothing, in the rebuilt tables and
//! those referring to them, before the commit.
//!
//! Each step writes its table definitions out itself: a migration is a
//! record of one step and must not change when a later one does.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::sqlx::{self, Executor, Row as _, SqliteConnection};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, RuntimeErr};
use sea_orm_migration::SchemaManagerConnection;

/// A foreign key: `columns` of the table refer to `parent (parent_columns)`.
pub struct Reference {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub parent: &'static str,
    pub parent_columns: &'static [&'static str],
    /// `ON DELETE CASCADE`; otherwise the default, NO ACTION.
    pub cascade: bool,
}

/// A table's keys in one version of the schema.
pub struct Keys {
    pub primary: &'static [&'static str],
    pub foreign: &'static [Reference],
}

/// One table: its SQLite column definitions (the same in both versions) and
/// its keys before and after a step.
pub struct Table {
    pub name: &'static str,
    pub sqlite_columns: &'static str,
    pub before: Keys,
    pub after: Keys,
}

/// Which keys a step brings the schema to.
#[derive(Clone, Copy)]
pub enum Version {
    /// The keys before the step.
    Before,
    /// The keys the step brings.
    After,
}

impl Table {
    fn keys(&self, version: Version) -> &Keys {
        match version {
            Version::Before => &self.before,
            Version::After => &self.after,
        }
    }
}

/// The name of a table's primary key: PostgreSQL's default, in both versions.
fn primary_key_name(table: &str) -> String {
    format!("{table}_pkey")
}

/// The primary key of the first tables.
pub const ID: &[&str] = &["id"];
/// A tenant-led primary key, and what tenant-led foreign keys refer to.
pub const TENANT_ID: &[&str] = &["tenant_id", "id"];

/// A tenant-led foreign key: `(tenant_id, <column>)` refers to `parent (tenant_id, id)`.
pub const fn after(
    name: &'static str,
    columns: &'static [&'static str],
    parent: &'static str,
    cascade: bool,
) -> Reference {
    Reference {
        name,
        columns,
        parent,
        parent_columns: TENANT_ID,
        cascade,
    }
}

/// `"a", "b"`.
fn column_list(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Reference {
    /// `CONSTRAINT "name" FOREIGN KEY (...) REFERENCES "parent" (...) [ON DELETE CASCADE]`.
    fn definition(&self) -> String {
        format!(
            "CONSTRAINT \"{}\" FOREIGN KEY ({}) REFERENCES \"{}\" ({}){}",
            self.name,
            column_list(self.columns),
            self.parent,
            column_list(self.parent_columns),
            if self.cascade {
                " ON DELETE CASCADE"
            } else {
                ""
            }
        )
    }
}

/// PostgreSQL: the statements that change every key from `from` to `to`.
/// Foreign keys go first (they hold on to the primary keys they refer to)
/// and come back last.
pub fn postgres_statements(tables: &[Table], from: Version, to: Version) -> Vec<String> {
    let mut statements = Vec::new();
    for table in tables {
        for fk in table.keys(from).foreign {
            statements.push(format!(
                "ALTER TABLE \"{}\" DROP CONSTRAINT \"{}\"",
                table.name, fk.name
            ));
        }
    }
    for table in tables {
        let (old, new) = (table.keys(from).primary, table.keys(to).primary);
        if old != new {
            let name = primary_key_name(table.name);
            statements.push(format!(
                "ALTER TABLE \"{}\" DROP CONSTRAINT \"{name}\", ADD CONSTRAINT \"{name}\" PRIMARY KEY ({})",
                table.name,
                column_list(new)
            ));
        }
    }
    for table in tables {
        for fk in table.keys(to).foreign {
            statements.push(format!(
                "ALTER TABLE \"{}\" ADD {}",
                table.name,
                fk.definition()
            ));
        }
    }
    statements
}

/// SQLite: `CREATE TABLE "<prefix><table>"` with `version`'s keys.
fn sqlite_create(table: &Table, version: Version, prefix: &str) -> String {
    let keys = table.keys(version);
    let mut parts = vec![
        table.sqlite_columns.to_owned(),
        format!(
            "CONSTRAINT \"{}\" PRIMARY KEY ({})",
            primary_key_name(table.name),
            column_list(keys.primary)
        ),
    ];
    parts.extend(keys.foreign.iter().map(Reference::definition));
    format!(
        "CREATE TABLE \"{prefix}{}\" ( {} )",
        table.name,
        parts.join(", ")
    )
}

fn sqlx_error(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(err))
}

// The sqlx calls go through `Executor`'s own methods, whose futures are boxed:
// the generic `query(..).execute(..)` futures defeat the compiler's proof that
// `async_trait`'s future is Send (rust-lang/rust#100013).

/// Runs one statement.
async fn run(conn: &mut SqliteConnection, sql: &str) -> Result<(), DbErr> {
    Executor::execute(conn, sql).await.map_err(sqlx_error)?;
    Ok(())
}

/// The first column of every row of a query, as text.
async fn texts(conn: &mut SqliteConnection, sql: &str) -> Result<Vec<String>, DbErr> {
    let rows = Executor::fetch_all(conn, sql).await.map_err(sqlx_error)?;
    rows.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(sqlx_error))
        .collect()
}

/// SQLite: rebuilds every table with `to`'s keys on one connection of the
/// pool, with its foreign keys off for the rebuild and on again after it
/// (a connection that cannot be turned back is closed, never reused).
async fn sqlite_rebuild(
    manager: &SchemaManager<'_>,
    tables: &[Table],
    to: Version,
) -> Result<(), DbErr> {
    let SchemaManagerConnection::Connection(db) = manager.get_connection() else {
        return Err(DbErr::Migration(
            "a re-keying migration rebuilds SQLite tables with foreign keys off, \
             which SQLite ignores inside a transaction: run it on a connection"
                .into(),
        ));
    };
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(sqlx_error)?;
    let rebuilt = rebuild_without_foreign_keys(&mut conn, tables, to).await;
    let restored = restore_foreign_keys(&mut conn).await;
    if restored.is_err() {
        conn.close().await.ok();
    }
    rebuilt.and(restored)
}

/// Whether the connection enforces foreign keys.
async fn foreign_keys_on(conn: &mut SqliteConnection) -> Result<bool, DbErr> {
    let on = texts(
        conn,
        "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys",
    )
    .await?;
    Ok(on.first().map(String::as_str) == Some("1"))
}

/// Turns foreign keys back on, and makes sure they are (a transaction left
/// open would keep them off).
async fn restore_foreign_keys(conn: &mut SqliteConnection) -> Result<(), DbErr> {
    run(conn, "PRAGMA foreign_keys = ON").await?;
    if foreign_keys_on(conn).await? {
        Ok(())
    } else {
        Err(DbErr::Migration(
            "could not turn SQLite's foreign keys back on".into(),
        ))
    }
}

/// Turns foreign keys off (making sure they are) and rebuilds in one transaction.
async fn rebuild_without_foreign_keys(
    conn: &mut SqliteConnection,
    tables: &[Table],
    to: Version,
) -> Result<(), DbErr> {
    run(conn, "PRAGMA foreign_keys = OFF").await?;
    if foreign_keys_on(conn).await? {
        return Err(DbErr::Migration(
            "SQLite kept foreign keys on (is a transaction open?)".into(),
        ));
    }
    run(conn, "BEGIN IMMEDIATE").await?;
    match rebuild_tables(conn, tables, to).await {
        Ok(()) => run(conn, "COMMIT").await,
        Err(err) => {
            run(conn, "ROLLBACK").await.ok();
            Err(err)
        }
    }
}

/// The rebuild itself, inside the transaction, foreign keys off.
async fn rebuild_tables(
    conn: &mut SqliteConnection,
    tables: &[Table],
    to: Version,
) -> Result<(), DbErr> {
    let names = tables
        .iter()
        .map(|t| format!("'{}'", t.name))
        .collect::<Vec<_>>()
        .join(", ");
    // Indexes (the automatic ones have no SQL: the keys make them) and
    // triggers (the search index's) go with the tables they belong to.
    let recreate = texts(
        conn,
        &format!(
            "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') \
             AND tbl_name IN ({names}) AND sql IS NOT NULL ORDER BY type = 'trigger', name"
        ),
    )
    .await?;
    for table in tables {
        let columns = texts(
            conn,
            &format!("SELECT name FROM pragma_table_info('{}')", table.name),
        )
        .await?;
        let columns = column_list(&columns.iter().map(String::as_str).collect::<Vec<_>>());
        run(conn, &sqlite_create(table, to, "new_")).await?;
        run(
            conn,
            &format!(
                "INSERT INTO \"new_{0}\" (rowid, {columns}) SELECT rowid, {columns} FROM \"{0}\" ORDER BY rowid",
                table.name
            ),
        )
        .await?;
    }
    for table in tables.iter().rev() {
        run(conn, &format!("DROP TABLE \"{}\"", table.name)).await?;
    }
    for table in tables {
        run(
            conn,
            &format!("ALTER TABLE \"new_{0}\" RENAME TO \"{0}\"", table.name),
        )
        .await?;
    }
    for sql in &recreate {
        run(conn, sql).await?;
    }
    // The rows a rebuild can leave dangling are those of the rebuilt tables
    // and of the tables referring to them; checking only those keeps the
    // step's cost with the tables it moves, not with the whole database.
    let mut checked = texts(
        conn,
        &format!(
            "SELECT DISTINCT m.name FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' AND f.\"table\" IN ({names})"
        ),
    )
    .await?;
    checked.extend(tables.iter().map(|t| t.name.to_owned()));
    checked.sort();
    checked.dedup();
    let mut violations = Vec::new();
    for table in &checked {
        violations.extend(
            texts(
                conn,
                &format!(
                    "SELECT \"table\" || ' -> ' || parent FROM pragma_foreign_key_check('{table}')"
                ),
            )
            .await?,
        );
    }
    if let Some(first) = violations.first() {
        return Err(DbErr::Migration(format!(
            "{} row(s) refer to a row of another tenant or to none (the first: {first}); \
             nothing was changed",
            violations.len()
        )));
    }
    Ok(())
}

/// Moves `tables` (parents before children) from `from`'s keys to `to`'s,
/// keeping every row: in place on PostgreSQL (in the migrator's
/// transaction), by a rebuild on SQLite.
pub async fn migrate(
    manager: &SchemaManager<'_>,
    tables: &[Table],
    from: Version,
    to: Version,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match db.get_database_backend() {
        DbBackend::Sqlite => sqlite_rebuild(manager, tables, to).await,
        DbBackend::Postgres => {
            for sql in postgres_statements(tables, from, to) {
                db.execute_unprepared(&sql).await?;
            }
            Ok(())
        }
        DbBackend::MySql => Err(DbErr::Migration("MySQL is not supported".into())),
    }
}
