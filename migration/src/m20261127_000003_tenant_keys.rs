//! Tenant-led keys: every primary and foreign key starts with `tenant_id`, so
//! the database itself refuses a row that points at another tenant's row (a
//! conversation of tenant B on tenant A's customer), and the schema can be
//! distributed by tenant (Citus) without change.
//!
//! PostgreSQL changes the keys in place, in the migrator's transaction.
//! SQLite cannot change a table's keys, so every table is rebuilt by SQLite's
//! documented procedure (<https://www.sqlite.org/lang_altertable.html#otheralter>):
//! on one connection with foreign keys off, in one transaction, each table is
//! created anew, its rows copied (rowids too: the search index refers to
//! customers by rowid), the old table dropped and the new one renamed; then
//! the indexes and triggers the old tables had are created again and
//! `PRAGMA foreign_key_check` must find nothing before the commit.
//!
//! The table definitions are written out here, not taken from the first
//! migration: a migration is a record of one step and must not change when a
//! later one does.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::sqlx::{self, Executor, Row as _, SqliteConnection};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, RuntimeErr};
use sea_orm_migration::SchemaManagerConnection;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A foreign key: `columns` of the table refer to `parent (parent_columns)`.
struct Reference {
    name: &'static str,
    columns: &'static [&'static str],
    parent: &'static str,
    parent_columns: &'static [&'static str],
    /// `ON DELETE CASCADE`; otherwise the default, NO ACTION.
    cascade: bool,
}

/// A table's keys in one version of the schema.
struct Keys {
    primary: &'static [&'static str],
    foreign: &'static [Reference],
}

/// One table: its SQLite column definitions (the same in both versions) and
/// its keys before and after this migration.
struct Table {
    name: &'static str,
    sqlite_columns: &'static str,
    before: Keys,
    after: Keys,
}

/// Which keys a step brings the schema to.
#[derive(Clone, Copy)]
enum Version {
    Before,
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

const ID: &[&str] = &["id"];
const TENANT_ID: &[&str] = &["tenant_id", "id"];

/// A single-column foreign key of the first migration, under the name
/// PostgreSQL gave it (`<table>_<column>_fkey`).
const fn before(
    name: &'static str,
    column: &'static [&'static str],
    parent: &'static str,
) -> Reference {
    Reference {
        name,
        columns: column,
        parent,
        parent_columns: ID,
        cascade: true,
    }
}

/// A tenant-led foreign key: `(tenant_id, <column>)` refers to `parent (tenant_id, id)`.
const fn after(
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

/// Every table, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "agents",
        sqlite_columns: r#""id" uuid_text NOT NULL, "tenant_id" varchar NOT NULL, "name" varchar NOT NULL, "email" varchar, "created_at" timestamp_with_timezone_text NOT NULL, "updated_at" timestamp_with_timezone_text NOT NULL"#,
        before: Keys {
            primary: ID,
            foreign: &[],
        },
        after: Keys {
            primary: TENANT_ID,
            foreign: &[],
        },
    },
    Table {
        name: "customers",
        sqlite_columns: r#""id" uuid_text NOT NULL, "tenant_id" varchar NOT NULL, "phone_number" varchar NOT NULL, "first_name" varchar, "last_name" varchar, "email" varchar, "avatar" varchar, "alternative_phones" jsonb_text NOT NULL, "address" jsonb_text, "tags" jsonb_text NOT NULL, "segment" varchar NOT NULL, "source" varchar NOT NULL, "custom_fields" jsonb_text NOT NULL, "preferred_language" varchar NOT NULL, "communication_hours" jsonb_text, "preferred_agent_id" uuid_text, "status" varchar NOT NULL, "status_before_block" varchar, "is_blocked" boolean NOT NULL DEFAULT FALSE, "block_reason" varchar, "notes" text, "search_text" text NOT NULL, "total_conversations" integer NOT NULL DEFAULT 0, "open_conversations" integer NOT NULL DEFAULT 0, "resolved_conversations" integer NOT NULL DEFAULT 0, "total_messages" integer NOT NULL DEFAULT 0, "total_tickets" integer NOT NULL DEFAULT 0, "response_time_ms" bigint NOT NULL DEFAULT 0, "response_count" integer NOT NULL DEFAULT 0, "rating_total" integer NOT NULL DEFAULT 0, "rating_count" integer NOT NULL DEFAULT 0, "first_contact" timestamp_with_timezone_text, "last_interaction" timestamp_with_timezone_text NOT NULL, "last_message_at" timestamp_with_timezone_text, "created_at" timestamp_with_timezone_text NOT NULL, "updated_at" timestamp_with_timezone_text NOT NULL"#,
        before: Keys {
            primary: ID,
            foreign: &[],
        },
        after: Keys {
            primary: TENANT_ID,
            foreign: &[],
        },
    },
    Table {
        name: "customer_phones",
        sqlite_columns: r#""tenant_id" varchar NOT NULL, "phone" varchar NOT NULL, "customer_id" uuid_text NOT NULL"#,
        // Already tenant-led: the key behind "one number, one customer per tenant".
        before: Keys {
            primary: &["tenant_id", "phone"],
            foreign: &[before(
                "customer_phones_customer_id_fkey",
                &["customer_id"],
                "customers",
            )],
        },
        after: Keys {
            primary: &["tenant_id", "phone"],
            foreign: &[after(
                "customer_phones_customer_fkey",
                &["tenant_id", "customer_id"],
                "customers",
                true,
            )],
        },
    },
    Table {
        name: "customer_tags",
        sqlite_columns: r#""customer_id" uuid_text NOT NULL, "tag" varchar NOT NULL, "tenant_id" varchar NOT NULL"#,
        before: Keys {
            primary: &["customer_id", "tag"],
            foreign: &[before(
                "customer_tags_customer_id_fkey",
                &["customer_id"],
                "customers",
            )],
        },
        after: Keys {
            primary: &["tenant_id", "customer_id", "tag"],
            foreign: &[after(
                "customer_tags_customer_fkey",
                &["tenant_id", "customer_id"],
                "customers",
                true,
            )],
        },
    },
    Table {
        name: "conversations",
        sqlite_columns: r#""id" uuid_text NOT NULL, "tenant_id" varchar NOT NULL, "customer_id" uuid_text NOT NULL, "status" varchar NOT NULL, "channel" varchar NOT NULL, "subject" varchar, "assigned_agent_id" uuid_text, "rating" integer, "message_count" integer NOT NULL DEFAULT 0, "last_message_at" timestamp_with_timezone_text, "activity_at" timestamp_with_timezone_text NOT NULL, "response_time_ms" bigint NOT NULL DEFAULT 0, "response_count" integer NOT NULL DEFAULT 0, "created_at" timestamp_with_timezone_text NOT NULL, "updated_at" timestamp_with_timezone_text NOT NULL, "resolved_at" timestamp_with_timezone_text"#,
        before: Keys {
            primary: ID,
            foreign: &[before(
                "conversations_customer_id_fkey",
                &["customer_id"],
                "customers",
            )],
        },
        after: Keys {
            primary: TENANT_ID,
            foreign: &[after(
                "conversations_customer_fkey",
                &["tenant_id", "customer_id"],
                "customers",
                true,
            )],
        },
    },
    Table {
        name: "messages",
        sqlite_columns: r#""id" uuid_text NOT NULL, "tenant_id" varchar NOT NULL, "conversation_id" uuid_text NOT NULL, "customer_id" uuid_text NOT NULL, "direction" varchar NOT NULL, "body" text NOT NULL, "agent_id" uuid_text, "sent_at" timestamp_with_timezone_text NOT NULL, "created_at" timestamp_with_timezone_text NOT NULL"#,
        before: Keys {
            primary: ID,
            foreign: &[before(
                "messages_conversation_id_fkey",
                &["conversation_id"],
                "conversations",
            )],
        },
        after: Keys {
            primary: TENANT_ID,
            foreign: &[
                after(
                    "messages_conversation_fkey",
                    &["tenant_id", "conversation_id"],
                    "conversations",
                    true,
                ),
                // New: a message's customer is a customer of its tenant.
                // Cascading like the conversation's own, which a customer's
                // delete already cascades to.
                after(
                    "messages_customer_fkey",
                    &["tenant_id", "customer_id"],
                    "customers",
                    true,
                ),
            ],
        },
    },
    Table {
        name: "tickets",
        sqlite_columns: r#""id" uuid_text NOT NULL, "tenant_id" varchar NOT NULL, "customer_id" uuid_text NOT NULL, "conversation_id" uuid_text, "subject" varchar NOT NULL, "status" varchar NOT NULL, "created_at" timestamp_with_timezone_text NOT NULL, "closed_at" timestamp_with_timezone_text"#,
        before: Keys {
            primary: ID,
            foreign: &[before(
                "tickets_customer_id_fkey",
                &["customer_id"],
                "customers",
            )],
        },
        after: Keys {
            primary: TENANT_ID,
            foreign: &[
                after(
                    "tickets_customer_fkey",
                    &["tenant_id", "customer_id"],
                    "customers",
                    true,
                ),
                // New. A ticket without a conversation (NULL) is not checked
                // (MATCH SIMPLE). NO ACTION, not SET NULL: that would null
                // `tenant_id` too; deleting a conversation detaches its
                // tickets first, and a customer's delete removes both.
                after(
                    "tickets_conversation_fkey",
                    &["tenant_id", "conversation_id"],
                    "conversations",
                    false,
                ),
            ],
        },
    },
];

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
fn postgres_statements(from: Version, to: Version) -> Vec<String> {
    let mut statements = Vec::new();
    for table in TABLES {
        for fk in table.keys(from).foreign {
            statements.push(format!(
                "ALTER TABLE \"{}\" DROP CONSTRAINT \"{}\"",
                table.name, fk.name
            ));
        }
    }
    for table in TABLES {
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
    for table in TABLES {
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
async fn sqlite_rebuild(manager: &SchemaManager<'_>, to: Version) -> Result<(), DbErr> {
    let SchemaManagerConnection::Connection(db) = manager.get_connection() else {
        return Err(DbErr::Migration(
            "the tenant-keys migration rebuilds SQLite tables with foreign keys off, \
             which SQLite ignores inside a transaction: run it on a connection"
                .into(),
        ));
    };
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(sqlx_error)?;
    let rebuilt = rebuild_without_foreign_keys(&mut conn, to).await;
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
    to: Version,
) -> Result<(), DbErr> {
    run(conn, "PRAGMA foreign_keys = OFF").await?;
    if foreign_keys_on(conn).await? {
        return Err(DbErr::Migration(
            "SQLite kept foreign keys on (is a transaction open?)".into(),
        ));
    }
    run(conn, "BEGIN IMMEDIATE").await?;
    match rebuild_tables(conn, to).await {
        Ok(()) => run(conn, "COMMIT").await,
        Err(err) => {
            run(conn, "ROLLBACK").await.ok();
            Err(err)
        }
    }
}

/// The rebuild itself, inside the transaction, foreign keys off.
async fn rebuild_tables(conn: &mut SqliteConnection, to: Version) -> Result<(), DbErr> {
    let names = TABLES
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
    for table in TABLES {
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
    for table in TABLES.iter().rev() {
        run(conn, &format!("DROP TABLE \"{}\"", table.name)).await?;
    }
    for table in TABLES {
        run(
            conn,
            &format!("ALTER TABLE \"new_{0}\" RENAME TO \"{0}\"", table.name),
        )
        .await?;
    }
    for sql in &recreate {
        run(conn, sql).await?;
    }
    let violations = texts(
        conn,
        "SELECT \"table\" || ' -> ' || parent FROM pragma_foreign_key_check",
    )
    .await?;
    if let Some(first) = violations.first() {
        return Err(DbErr::Migration(format!(
            "{} row(s) refer to a row of another tenant or to none (the first: {first}); \
             nothing was changed",
            violations.len()
        )));
    }
    Ok(())
}

async fn migrate(manager: &SchemaManager<'_>, from: Version, to: Version) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match db.get_database_backend() {
        DbBackend::Sqlite => sqlite_rebuild(manager, to).await,
        DbBackend::Postgres => {
            for sql in postgres_statements(from, to) {
                db.execute_unprepared(&sql).await?;
            }
            Ok(())
        }
        DbBackend::MySql => Err(DbErr::Migration("MySQL is not supported".into())),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        migrate(manager, Version::Before, Version::After).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        migrate(manager, Version::After, Version::Before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_after_the_migration_is_led_by_tenant_id() {
        for table in TABLES {
            assert_eq!(table.after.primary[0], "tenant_id", "{}", table.name);
            for fk in table.after.foreign {
                assert_eq!(fk.columns[0], "tenant_id", "{}", fk.name);
                assert_eq!(fk.parent_columns[0], "tenant_id", "{}", fk.name);
            }
        }
    }

    #[test]
    fn postgres_up_drops_the_old_foreign_keys_before_the_primary_keys() {
        let statements = postgres_statements(Version::Before, Version::After);
        let first_pk = statements
            .iter()
            .position(|s| s.contains("PRIMARY KEY"))
            .expect("a primary key changes");
        let last_drop = statements
            .iter()
            .rposition(|s| s.contains("_id_fkey"))
            .expect("an old foreign key is dropped");
        assert!(last_drop < first_pk);
        assert!(!statements
            .iter()
            .any(|s| s.contains("customer_phones_pkey")));
    }
}
