//! Tenant-led keys: every primary and foreign key starts with `tenant_id`, so
//! the database itself refuses a row that points at another tenant's row (a
//! conversation of tenant B on tenant A's customer), and the schema can be
//! distributed by tenant (Citus) without change.
//!
//! The tables are moved by [`crate::rekey`] (in place on PostgreSQL, by a
//! rebuild on SQLite, keeping every row). Their definitions are written out
//! here, not taken from the first migration: a migration is a record of one
//! step and must not change when a later one does.

use sea_orm_migration::prelude::*;

use crate::rekey::{after, migrate, Keys, Reference, Table, Version, ID, TENANT_ID};

#[derive(DeriveMigrationName)]
pub struct Migration;

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        migrate(manager, TABLES, Version::Before, Version::After).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        migrate(manager, TABLES, Version::After, Version::Before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rekey::postgres_statements;

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
        let statements = postgres_statements(TABLES, Version::Before, Version::After);
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
