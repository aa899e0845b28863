//! An import running in the background: its status, what it was asked to
//! do, and its counts, which each batch updates in its own transaction.

use sea_orm::entity::prelude::*;

/// A row of `import_jobs`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "import_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: String,
    /// Who started it (the token's `sub`).
    pub agent: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// `create`, `update` or `upsert`.
    pub mode: String,
    /// The match keys, comma-separated (`phone,email,externalId`).
    pub match_on: String,
    pub dry_run: bool,
    /// `csv`, `ndjson` or `json`.
    pub format: String,
    /// Size of the uploaded body.
    pub bytes_total: i64,
    /// Bytes of the body processed so far (progress).
    pub bytes_read: i64,
    pub rows_read: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub duplicate: i64,
    pub failed: i64,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// Set by a cancel; the runner stops before its next batch.
    pub cancel_requested: bool,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// The server process running the job (its random id per process); only
    /// it can run the job, whose upload is on its disk.
    pub owner: Option<String>,
    /// When the owner last said it still runs the job; older than the lease
    /// (or NULL) while queued or running, the job is failed by recovery.
    pub heartbeat_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
