//! Tenant-led keys for the import tables (issue 8, point 5), as migration 3
//! gave the first tables:
//!
//! - `import_jobs`: primary key `(tenant_id, id)` instead of `(id)`.
//! - `import_errors`: its `(tenant_id, job_id)` refers to `import_jobs
//!   (tenant_id, id)`, deleted with its job (`ON DELETE CASCADE`), so the
//!   database itself refuses an error line of one tenant on another
//!   tenant's job (or on no job).
//!
//! The tables are moved by [`crate::rekey`], keeping every row; a database
//! with an error line whose job is missing or another tenant's is not
//! migrated (nothing changes) until that line is dealt with.

use sea_orm_migration::prelude::*;

use crate::rekey::{after, migrate, Keys, Table, Version, ID, TENANT_ID};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The primary key of `import_errors`, the same before and after.
const ERROR_KEY: &[&str] = &["tenant_id", "job_id", "row", "seq"];

/// The import tables, the job before its error lines.
const TABLES: &[Table] = &[
    Table {
        name: "import_jobs",
        sqlite_columns: r#""id" uuid_text NOT NULL, "tenant_id" text NOT NULL, "agent" text NOT NULL, "status" text NOT NULL, "mode" text NOT NULL, "match_on" text NOT NULL, "dry_run" boolean NOT NULL, "format" text NOT NULL, "bytes_total" bigint NOT NULL DEFAULT 0, "bytes_read" bigint NOT NULL DEFAULT 0, "rows_read" bigint NOT NULL DEFAULT 0, "created" bigint NOT NULL DEFAULT 0, "updated" bigint NOT NULL DEFAULT 0, "unchanged" bigint NOT NULL DEFAULT 0, "duplicate" bigint NOT NULL DEFAULT 0, "failed" bigint NOT NULL DEFAULT 0, "error" text NULL, "cancel_requested" boolean NOT NULL DEFAULT FALSE, "created_at" timestamp_with_timezone_text NOT NULL, "started_at" timestamp_with_timezone_text NULL, "finished_at" timestamp_with_timezone_text NULL, "updated_at" timestamp_with_timezone_text NOT NULL, "owner" text NULL, "heartbeat_at" timestamp_with_timezone_text NULL"#,
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
        name: "import_errors",
        sqlite_columns: r#""tenant_id" text NOT NULL, "job_id" uuid_text NOT NULL, "row" bigint NOT NULL, "seq" integer NOT NULL, "field" text NOT NULL, "code" text NOT NULL, "message" text NOT NULL"#,
        before: Keys {
            primary: ERROR_KEY,
            foreign: &[],
        },
        after: Keys {
            primary: ERROR_KEY,
            foreign: &[after(
                "import_errors_job_fkey",
                &["tenant_id", "job_id"],
                "import_jobs",
                true,
            )],
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
