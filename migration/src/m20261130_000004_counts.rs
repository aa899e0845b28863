//! Reads whose cost does not grow with the tenant:
//!
//! - `customer_counts`, per-tenant counters of customers by facet (`all`,
//!   `status:<s>`, `segment:<s>`, `source:<s>`, `blocked`, `tag:<t>`,
//!   `created:<YYYY-MM>`) plus a `version` row every customer write bumps.
//!   The server keeps them in its write transactions; this step fills them
//!   from the rows already stored (`version` starts absent, read as 0).
//! - An index for the status + segment filter with the default sort behind it.
//! - The parent-id indexes of the first migration made tenant-led, like every
//!   key since the third: a lookup by customer or conversation starts from
//!   the tenant, and the index serves the tenant-led foreign keys.
//!
//! The SQL is written out here, not shared with the server's recount: a
//! migration is a record of one step.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The counters of every tenant from its rows; `{month}` is the backend's
/// `YYYY-MM` of `created_at` (UTC).
const FILL: &str = "INSERT INTO customer_counts (tenant_id, facet, n) \
    SELECT tenant_id, 'all', count(*) FROM customers GROUP BY tenant_id \
    UNION ALL SELECT tenant_id, 'status:' || status, count(*) FROM customers GROUP BY tenant_id, status \
    UNION ALL SELECT tenant_id, 'segment:' || segment, count(*) FROM customers GROUP BY tenant_id, segment \
    UNION ALL SELECT tenant_id, 'source:' || source, count(*) FROM customers GROUP BY tenant_id, source \
    UNION ALL SELECT tenant_id, 'blocked', count(*) FROM customers WHERE is_blocked GROUP BY tenant_id \
    UNION ALL SELECT tenant_id, 'tag:' || tag, count(*) FROM customer_tags GROUP BY tenant_id, tag \
    UNION ALL SELECT tenant_id, 'created:' || {month}, count(*) FROM customers GROUP BY tenant_id, {month}";

/// `(name, table, columns)` of an index.
type IndexDef = (&'static str, &'static str, &'static [&'static str]);

/// Indexes this step creates.
const NEW_INDEXES: &[IndexDef] = &[
    (
        "customers_tenant_status_segment",
        "customers",
        &["tenant_id", "status", "segment", "last_interaction", "id"],
    ),
    (
        "customer_phones_tenant_customer",
        "customer_phones",
        &["tenant_id", "customer_id"],
    ),
    (
        "conversations_tenant_customer_activity",
        "conversations",
        &["tenant_id", "customer_id", "activity_at", "id"],
    ),
    (
        "messages_tenant_conversation_sent",
        "messages",
        &["tenant_id", "conversation_id", "sent_at", "id"],
    ),
    (
        "messages_tenant_customer",
        "messages",
        &["tenant_id", "customer_id"],
    ),
    (
        "tickets_tenant_customer",
        "tickets",
        &["tenant_id", "customer_id", "created_at"],
    ),
    (
        "tickets_tenant_conversation",
        "tickets",
        &["tenant_id", "conversation_id"],
    ),
];

/// The first migration's indexes the tenant-led ones replace.
const OLD_INDEXES: &[IndexDef] = &[
    (
        "customer_phones_customer",
        "customer_phones",
        &["customer_id"],
    ),
    (
        "conversations_customer_activity",
        "conversations",
        &["customer_id", "activity_at", "id"],
    ),
    (
        "messages_conversation_sent",
        "messages",
        &["conversation_id", "sent_at", "id"],
    ),
    ("messages_customer", "messages", &["customer_id"]),
    (
        "tickets_customer",
        "tickets",
        &["customer_id", "created_at"],
    ),
    ("tickets_conversation", "tickets", &["conversation_id"]),
];

fn create_index((name, table, columns): &IndexDef) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(*name).table(Alias::new(*table));
    for column in *columns {
        stmt.col(Alias::new(*column));
    }
    stmt.to_owned()
}

fn drop_index((name, table, _): &IndexDef) -> IndexDropStatement {
    Index::drop()
        .name(*name)
        .table(Alias::new(*table))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let month = match db.get_database_backend() {
            DbBackend::Sqlite => "substr(created_at, 1, 7)",
            DbBackend::Postgres => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM')",
            DbBackend::MySql => return Err(DbErr::Migration("MySQL is not supported".into())),
        };
        db.execute_unprepared(
            "CREATE TABLE customer_counts (\
               tenant_id TEXT NOT NULL, \
               facet TEXT NOT NULL, \
               n BIGINT NOT NULL, \
               PRIMARY KEY (tenant_id, facet))",
        )
        .await?;
        db.execute_unprepared(&FILL.replace("{month}", month))
            .await?;
        for index in NEW_INDEXES {
            manager.create_index(create_index(index)).await?;
        }
        for index in OLD_INDEXES {
            manager.drop_index(drop_index(index)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in OLD_INDEXES {
            manager.create_index(create_index(index)).await?;
        }
        for index in NEW_INDEXES {
            manager.drop_index(drop_index(index)).await?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE customer_counts")
            .await?;
        Ok(())
    }
}
