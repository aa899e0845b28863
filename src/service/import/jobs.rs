//! Import jobs: an uploaded file imported in the background, a batch of
//! [`JOB_BATCH`] rows per transaction, with its status and counts in
//! `import_jobs` and its rejected rows in `import_errors`.
//!
//! Counts are never half-counted: each batch adds its counts (and its
//! errors) to the job's row in the batch's own transaction, so what the job
//! shows is exactly what was committed. A dry run rolls each batch back and
//! records its counts in a transaction of their own.
//!
//! Several servers may share one database, and the upload lives on the disk
//! of the server that received it, so a job is run by that server only: its
//! owner ([`Ctx::instance`], a random id per process). While the job is
//! queued or running the owner writes a heartbeat every few seconds (and
//! with each batch). A job whose heartbeat is older than the lease
//! ([`Ctx::job_lease`], default [`DEFAULT_LEASE`]) lost its owner (a crash,
//! a stop): every server's [`recover`], at start and then periodically
//! ([`run_recovery`]), marks it `failed`, keeping the counts of the batches
//! it committed. A job whose owner is alive is never touched by another
//! server. A batch records its counts only while its job is still running
//! under its owner, so a job failed by recovery gets no more rows.
//!
//! A cancel sets a flag on the row; the runner reads it before each batch
//! and stops there (batches already committed stay).

mod lease;
mod reads;
mod start;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::import_job;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::batch::{ImportMode, Item, MatchKey, Options, Outcome, RowResult};
use crate::domain::time;
use crate::error::Result;
pub use entity::enums::{ImportFormat, ImportJobStatus};

pub use lease::{recover, recovery_period, run_recovery};
pub use reads::{cancel, errors, get, list};
pub use start::start;

/// Rows per batch (and per transaction) of a job.
pub const JOB_BATCH: usize = 1000;
/// Jobs that run at once on this server; the others wait, `queued`.
const RUNNING_AT_ONCE: usize = 2;
/// Most jobs [`list`] returns.
pub const MAX_LISTED: u64 = 100;
/// Largest uploaded file of a job (a file of a few million rows), on either face.
pub const UPLOAD_LIMIT: usize = 2 * 1024 * 1024 * 1024;
/// How long a job's owner may go without a heartbeat before recovery takes
/// it for stopped, unless configured (`CLIENTELA_IMPORT_JOB_LEASE_SECS`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The format a media type (a Content-Type, parameters allowed) names.
pub fn format_of_media_type(media_type: &str) -> Option<ImportFormat> {
    let mime = media_type
        .split(';')
        .next()
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "text/csv" => Some(ImportFormat::Csv),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            Some(ImportFormat::Ndjson)
        }
        "application/json" => Some(ImportFormat::Json),
        _ => None,
    }
}

/// The format a file name's extension names (`.csv`, `.ndjson` or `.jsonl`, `.json`).
pub fn format_of_file_name(name: &str) -> Option<ImportFormat> {
    let (_, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "csv" => Some(ImportFormat::Csv),
        "ndjson" | "jsonl" => Some(ImportFormat::Ndjson),
        "json" => Some(ImportFormat::Json),
        _ => None,
    }
}

/// The format of an uploaded file: the one its media type names, else the
/// one its name's extension names.
pub fn format_of_file(media_type: Option<&str>, name: &str) -> Option<ImportFormat> {
    media_type
        .and_then(format_of_media_type)
        .or_else(|| format_of_file_name(name))
}

/// Reads an uploaded file's rows as `format` says, on a thread of its own:
/// the rows in order, numbered from 1, then the error that ended them, if
/// any; the bytes consumed are counted in the `AtomicU64` (the progress).
/// The REST face's readers (they read its customer documents, the export's
/// columns), handed to both faces by the app.
pub type ReadRows = fn(std::fs::File, ImportFormat, Arc<AtomicU64>) -> mpsc::Receiver<Result<Item>>;

/// What a job is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub options: Options,
    pub dry_run: bool,
    pub format: ImportFormat,
}

/// An import job, as both faces show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ImportJobShape)]
pub struct Job {
    pub id: Uuid,
    pub status: ImportJobStatus,
    pub mode: ImportMode,
    pub match_on: Vec<MatchKey>,
    pub dry_run: bool,
    pub format: ImportFormat,
    /// Rows judged in committed batches: created + updated + unchanged + duplicate + failed.
    pub rows_read: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub duplicate: i64,
    pub failed: i64,
    /// Share of the uploaded body processed, 0 to 1.
    pub progress: f64,
    pub error: Option<String>,
    #[serde(with = "time::serde_ms")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    #[schema(value_type = Option<String>)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms::option")]
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<import_job::Model> for Job {
    fn from(m: import_job::Model) -> Self {
        let progress = if m.status == ImportJobStatus::Succeeded {
            1.0
        } else if m.bytes_total > 0 {
            (m.bytes_read as f64 / m.bytes_total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Job {
            id: m.id,
            status: m.status,
            mode: m.mode,
            match_on: m.match_on.0,
            dry_run: m.dry_run,
            format: m.format,
            rows_read: m.rows_read,
            created: m.created,
            updated: m.updated,
            unchanged: m.unchanged,
            duplicate: m.duplicate,
            failed: m.failed,
            progress,
            error: m.error,
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
        }
    }
}

/// One line of a job's errors.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobError {
    pub row: i64,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// The counts of a batch's results.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub duplicate: i64,
    pub failed: i64,
}

impl Counts {
    /// Counts `results`.
    pub fn of(results: &[RowResult]) -> Counts {
        let mut c = Counts::default();
        for r in results {
            c.rows += 1;
            match r.outcome {
                Outcome::Created => c.created += 1,
                Outcome::Updated => c.updated += 1,
                Outcome::Unchanged => c.unchanged += 1,
                Outcome::Duplicate => c.duplicate += 1,
                Outcome::Failed => c.failed += 1,
            }
        }
        c
    }
}

/// The options of a job from its parts as a face read them.
pub fn spec(
    mode: ImportMode,
    match_on: Vec<MatchKey>,
    dry_run: bool,
    format: ImportFormat,
) -> JobSpec {
    JobSpec {
        options: Options {
            mode,
            match_on: super::upsert::normalize_keys(match_on),
        },
        dry_run,
        format,
    }
}
