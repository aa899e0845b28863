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

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{import_error, import_job};
use futures::{Stream, StreamExt};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::batch::{ImportMode, Item, MatchKey, Options, Outcome, RowResult, Seen};
use super::write_retrying;
use crate::auth::Actor;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::{insert_chunked, Ctx};

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
/// The text of a job failed by recovery.
const INTERRUPTED: &str = "interrupted: the server stopped while the job ran; \
                           the counts are those of the batches committed before";

/// How often an owner writes its jobs' heartbeat: several times per lease,
/// so a slow write or two never lets the lease run out.
fn heartbeat_period(lease: Duration) -> Duration {
    (lease / 6).max(Duration::from_millis(50))
}

/// How often [`run_recovery`] looks for jobs whose lease ran out.
pub fn recovery_period(lease: Duration) -> Duration {
    (lease / 2).max(Duration::from_millis(100))
}

/// An import file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header row naming the export's columns, then one customer a row.
    Csv,
    /// One customer object per line.
    Ndjson,
    /// `{customers: [...]}`, an export, or a bare list.
    Json,
}

impl Format {
    /// The format a media type (a Content-Type, parameters allowed) names.
    pub fn of_media_type(media_type: &str) -> Option<Format> {
        let mime = media_type
            .split(';')
            .next()
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match mime.as_str() {
            "text/csv" => Some(Format::Csv),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Some(Format::Ndjson)
            }
            "application/json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The format a file name's extension names (`.csv`, `.ndjson` or `.jsonl`, `.json`).
    pub fn of_file_name(name: &str) -> Option<Format> {
        let (_, ext) = name.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The format of an uploaded file: the one its media type names, else
    /// the one its name's extension names.
    pub fn of_file(media_type: Option<&str>, name: &str) -> Option<Format> {
        media_type
            .and_then(Format::of_media_type)
            .or_else(|| Format::of_file_name(name))
    }

    /// `csv`, `ndjson` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Json => "json",
        }
    }
}

/// Reads an uploaded file's rows as `format` says, on a thread of its own:
/// the rows in order, numbered from 1, then the error that ended them, if
/// any; the bytes consumed are counted in the `AtomicU64` (the progress).
/// The REST face's readers (they read its customer documents, the export's
/// columns), handed to both faces by the app.
pub type ReadRows = fn(std::fs::File, Format, Arc<AtomicU64>) -> mpsc::Receiver<Result<Item>>;

/// A job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// The lowercase name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> JobStatus {
        match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "cancelled" => JobStatus::Cancelled,
            _ => JobStatus::Failed,
        }
    }

    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// What a job is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub options: Options,
    pub dry_run: bool,
    pub format: Format,
}

/// A job as both faces show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: Uuid,
    pub status: &'static str,
    pub mode: String,
    pub match_on: Vec<String>,
    pub dry_run: bool,
    pub format: String,
    /// Rows read and judged in committed batches.
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
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms::option")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<import_job::Model> for Job {
    fn from(m: import_job::Model) -> Self {
        let status = JobStatus::parse(&m.status);
        let progress = if status == JobStatus::Succeeded {
            1.0
        } else if m.bytes_total > 0 {
            (m.bytes_read as f64 / m.bytes_total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Job {
            id: m.id,
            status: status.as_str(),
            mode: m.mode,
            match_on: m
                .match_on
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
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

/// Starts a job (AGENT or ADMIN) over an uploaded `file` of `size` bytes,
/// read by `read_rows` as `spec.format` says, as it goes (never whole in
/// memory); the job is recorded `queued` and owned by this server, which
/// runs it in the background. `keep` is dropped when the job ends, however
/// it ends (a face's guard that removes the upload). The job as recorded.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn start(
    ctx: &Ctx,
    actor: &Actor,
    spec: JobSpec,
    file: std::fs::File,
    size: u64,
    read_rows: ReadRows,
    keep: impl Send + 'static,
) -> Result<Job> {
    let job = create(ctx, actor, &spec, size).await?;
    let read = Arc::new(AtomicU64::new(0));
    let receiver = read_rows(file, spec.format, read.clone());
    let rows = futures::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    spawn(
        ctx.clone(),
        actor.clone(),
        job.id,
        spec,
        rows,
        read,
        move || drop(keep),
    );
    Ok(job)
}

/// Records a new job (AGENT or ADMIN), `queued` and owned by this server,
/// for a body of `bytes_total` bytes.
async fn create(ctx: &Ctx, actor: &Actor, spec: &JobSpec, bytes_total: u64) -> Result<Job> {
    actor.require_writer()?;
    let now = time::now();
    let row = import_job::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(actor.tenant.clone()),
        agent: Set(actor.agent.clone()),
        status: Set(JobStatus::Queued.as_str().to_owned()),
        mode: Set(spec.options.mode.as_str().to_owned()),
        match_on: Set(spec
            .options
            .match_on
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",")),
        dry_run: Set(spec.dry_run),
        format: Set(spec.format.as_str().to_owned()),
        bytes_total: Set(i64::try_from(bytes_total).unwrap_or(i64::MAX)),
        bytes_read: Set(0),
        rows_read: Set(0),
        created: Set(0),
        updated: Set(0),
        unchanged: Set(0),
        duplicate: Set(0),
        failed: Set(0),
        error: Set(None),
        cancel_requested: Set(false),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        updated_at: Set(now),
        owner: Set(Some(ctx.instance.to_string())),
        heartbeat_at: Set(Some(now)),
    };
    let txn = ctx.write().await?;
    let row = row.insert(&*txn).await?;
    txn.commit().await?;
    Ok(row.into())
}

/// The caller's tenant's job with this id (any role); another tenant's is NOT_FOUND.
async fn find(db: &impl ConnectionTrait, actor: &Actor, id: Uuid) -> Result<import_job::Model> {
    import_job::Entity::find()
        .filter(import_job::Column::TenantId.eq(&actor.tenant))
        .filter(import_job::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(Error::NotFound("import job"))
}

/// A job of the caller's tenant (any role).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn get(ctx: &Ctx, actor: &Actor, id: Uuid) -> Result<Job> {
    Ok(find(&ctx.db, actor, id).await?.into())
}

/// The caller's tenant's jobs, newest first, at most [`MAX_LISTED`] (any role).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn list(ctx: &Ctx, actor: &Actor) -> Result<Vec<Job>> {
    Ok(import_job::Entity::find()
        .filter(import_job::Column::TenantId.eq(&actor.tenant))
        .order_by_desc(import_job::Column::CreatedAt)
        .order_by_desc(import_job::Column::Id)
        .limit(MAX_LISTED)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(Job::from)
        .collect())
}

/// Asks a job to stop (AGENT or ADMIN): a queued job is cancelled at once, a
/// running one before its next batch; an ended job is left as it is.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn cancel(ctx: &Ctx, actor: &Actor, id: Uuid) -> Result<Job> {
    actor.require_writer()?;
    let job = find(&ctx.db, actor, id).await?;
    let now = time::now();
    let scoped = || {
        import_job::Entity::update_many()
            .filter(import_job::Column::TenantId.eq(&actor.tenant))
            .filter(import_job::Column::Id.eq(id))
    };
    let txn = ctx.write().await?;
    scoped()
        .col_expr(import_job::Column::CancelRequested, Expr::value(true))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(import_job::Column::Status.is_in(["queued", "running"]))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    if job.status == "queued" {
        let txn = ctx.write().await?;
        scoped()
            .col_expr(import_job::Column::Status, Expr::value("cancelled"))
            .col_expr(import_job::Column::FinishedAt, Expr::value(now))
            .filter(import_job::Column::Status.eq("queued"))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
    }
    get(ctx, actor, id).await
}

/// A job's errors by row, after row `after` (0 for the first), at most `limit` lines (any role).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn errors(
    ctx: &Ctx,
    actor: &Actor,
    id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<JobError>> {
    find(&ctx.db, actor, id).await?;
    Ok(import_error::Entity::find()
        .filter(import_error::Column::TenantId.eq(&actor.tenant))
        .filter(import_error::Column::JobId.eq(id))
        .filter(import_error::Column::Row.gt(after))
        .order_by_asc(import_error::Column::Row)
        .order_by_asc(import_error::Column::Seq)
        .limit(limit)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|e| JobError {
            row: e.row,
            field: e.field,
            code: e.code,
            message: e.message,
        })
        .collect())
}

/// Marks failed every job left `queued` or `running` whose owner's
/// heartbeat is older than the lease (or was never written: a job from
/// before leases), with the counts its committed batches left; jobs whose
/// owner is alive, on this server or another, are left alone. How many it
/// failed. Safe on any number of servers at once: the jobs are locked as
/// they are picked, skipping any row a transaction holds (on PostgreSQL, an
/// owner committing a batch, which refreshes the heartbeat, or another
/// recovery); an owner's heartbeat waiting on the lock then finds its job
/// failed and stops.
#[tracing::instrument(skip_all, err)]
pub async fn recover(ctx: &Ctx) -> Result<u64> {
    let lease = chrono::TimeDelta::from_std(ctx.job_lease).unwrap_or(chrono::TimeDelta::MAX);
    let txn = ctx.write().await?;
    // The clock is read once the writer slot is held: a heartbeat waiting
    // for it is not judged by a time from before the wait.
    let now = time::now();
    let cutoff = now
        .checked_sub_signed(lease)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let active = || import_job::Column::Status.is_in(["queued", "running"]);
    // Served by `import_jobs_status_heartbeat` (status, heartbeat_at).
    let stale: Vec<Uuid> = import_job::Entity::find()
        .select_only()
        .column(import_job::Column::Id)
        .filter(active())
        .filter(
            Condition::any()
                .add(import_job::Column::HeartbeatAt.is_null())
                .add(import_job::Column::HeartbeatAt.lt(cutoff)),
        )
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_tuple()
        .all(&*txn)
        .await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let done = import_job::Entity::update_many()
        .col_expr(import_job::Column::Status, Expr::value("failed"))
        .col_expr(import_job::Column::Error, Expr::value(INTERRUPTED))
        .col_expr(import_job::Column::FinishedAt, Expr::value(now))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(import_job::Column::Id.is_in(stale))
        .filter(active())
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    if done.rows_affected > 0 {
        tracing::warn!(
            jobs = done.rows_affected,
            "import jobs whose server stopped (no heartbeat within the lease) marked failed"
        );
    }
    Ok(done.rows_affected)
}

/// Runs [`recover`] every [`recovery_period`] of the lease until `stop`
/// resolves (the first run at once). A recovery under way when it does is
/// dropped (its transaction rolls back). Failures are logged and retried
/// next period.
pub async fn run_recovery(ctx: Ctx, stop: impl Future<Output = ()>) {
    let period = recovery_period(ctx.job_lease);
    crate::service::every(period, "import job recovery", stop, || recover(&ctx)).await;
}

/// Job `job` while this server owns it.
fn owned(ctx: &Ctx, job: Uuid) -> Condition {
    Condition::all()
        .add(import_job::Column::Id.eq(job))
        .add(import_job::Column::Owner.eq(ctx.instance.to_string()))
}

/// Writes this server's heartbeat on its job while the job is queued or
/// running; whether it still was (a job that ended, or that recovery took
/// for stopped, is not this server's to keep alive).
async fn heartbeat(ctx: &Ctx, job: Uuid) -> Result<bool> {
    let txn = ctx.write().await?;
    let done = import_job::Entity::update_many()
        .col_expr(import_job::Column::HeartbeatAt, Expr::value(time::now()))
        .filter(owned(ctx, job))
        .filter(import_job::Column::Status.is_in(["queued", "running"]))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(done.rows_affected > 0)
}

/// Beats for `job` every [`heartbeat_period`] until `stop` resolves or the
/// job is no longer this server's. A failed write is logged and tried again
/// at the next beat (the lease outlasts several).
async fn keep_alive(ctx: Ctx, job: Uuid, stop: impl Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    let mut ticks = tokio::time::interval(heartbeat_period(ctx.job_lease));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once; `create` wrote the first heartbeat.
    ticks.tick().await;
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = ticks.tick() => {}
        }
        match heartbeat(&ctx, job).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => tracing::warn!(error = %e, %job, "an import job's heartbeat failed"),
        }
    }
}

/// The permits of jobs running at once.
fn permits() -> Arc<tokio::sync::Semaphore> {
    static PERMITS: OnceLock<Arc<tokio::sync::Semaphore>> = OnceLock::new();
    PERMITS
        .get_or_init(|| Arc::new(tokio::sync::Semaphore::new(RUNNING_AT_ONCE)))
        .clone()
}

/// Runs a job in the background over `rows` (read from the uploaded body;
/// `bytes_read` says how far it got), keeping its heartbeat meanwhile.
/// `done` runs when the job ends, however it ends (the upload is removed).
fn spawn<S>(
    ctx: Ctx,
    actor: Actor,
    job: Uuid,
    spec: JobSpec,
    rows: S,
    bytes_read: Arc<AtomicU64>,
    done: impl FnOnce() + Send + 'static,
) where
    S: Stream<Item = Result<Item>> + Send + 'static,
{
    tokio::spawn(async move {
        let (beating, stop_beating) = tokio::sync::oneshot::channel::<()>();
        let beats = tokio::spawn(keep_alive(ctx.clone(), job, async move {
            let _ = stop_beating.await;
        }));
        let permit = permits().acquire_owned().await;
        let outcome = run(&ctx, &actor, job, &spec, rows, &bytes_read).await;
        drop(permit);
        let (status, error) = match outcome {
            Ok(status) => (status, None),
            Err(e) => {
                e.log();
                let message = match &e {
                    Error::Internal(_) => "internal error".to_owned(),
                    other => other.to_string(),
                };
                (JobStatus::Failed, Some(message))
            }
        };
        if let Err(e) = finish(&ctx, &actor, job, status, error).await {
            e.log();
        }
        drop(beating);
        let _ = beats.await;
        done();
    });
}

/// Sets a job's final status (unless a stop already ended it).
async fn finish(
    ctx: &Ctx,
    actor: &Actor,
    job: Uuid,
    status: JobStatus,
    error: Option<String>,
) -> Result<()> {
    let now = time::now();
    let txn = ctx.write().await?;
    import_job::Entity::update_many()
        .col_expr(import_job::Column::Status, Expr::value(status.as_str()))
        .col_expr(import_job::Column::Error, Expr::value(error))
        .col_expr(import_job::Column::FinishedAt, Expr::value(now))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(import_job::Column::TenantId.eq(&actor.tenant))
        .filter(owned(ctx, job))
        .filter(import_job::Column::Status.is_in(["queued", "running"]))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether the job was asked to stop (or ended meanwhile).
async fn stop_requested(db: &DatabaseConnection, actor: &Actor, job: Uuid) -> Result<bool> {
    let m = find(db, actor, job).await?;
    Ok(m.cancel_requested || JobStatus::parse(&m.status).is_final())
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

/// Adds a batch's counts and errors to the job, in `db` (the batch's
/// transaction), and refreshes its heartbeat; whether the job was still
/// running under this server (when not, recovery failed it meanwhile, and
/// the batch must not be committed).
async fn record(
    db: &impl ConnectionTrait,
    ctx: &Ctx,
    actor: &Actor,
    job: Uuid,
    results: &[RowResult],
    bytes_read: u64,
) -> Result<bool> {
    let c = Counts::of(results);
    let add = |col: import_job::Column, n: i64| Expr::col(col).add(n);
    let now = time::now();
    let recorded = import_job::Entity::update_many()
        .col_expr(
            import_job::Column::RowsRead,
            add(import_job::Column::RowsRead, c.rows),
        )
        .col_expr(
            import_job::Column::Created,
            add(import_job::Column::Created, c.created),
        )
        .col_expr(
            import_job::Column::Updated,
            add(import_job::Column::Updated, c.updated),
        )
        .col_expr(
            import_job::Column::Unchanged,
            add(import_job::Column::Unchanged, c.unchanged),
        )
        .col_expr(
            import_job::Column::Duplicate,
            add(import_job::Column::Duplicate, c.duplicate),
        )
        .col_expr(
            import_job::Column::Failed,
            add(import_job::Column::Failed, c.failed),
        )
        .col_expr(
            import_job::Column::BytesRead,
            Expr::value(i64::try_from(bytes_read).unwrap_or(i64::MAX)),
        )
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .col_expr(import_job::Column::HeartbeatAt, Expr::value(now))
        .filter(import_job::Column::TenantId.eq(&actor.tenant))
        .filter(owned(ctx, job))
        .filter(import_job::Column::Status.eq("running"))
        .exec(db)
        .await?;
    if recorded.rows_affected == 0 {
        return Ok(false);
    }
    let lines: Vec<import_error::ActiveModel> = results
        .iter()
        .flat_map(|r| {
            r.errors
                .iter()
                .enumerate()
                .map(move |(seq, e)| import_error::ActiveModel {
                    tenant_id: Set(actor.tenant.clone()),
                    job_id: Set(job),
                    row: Set(i64::try_from(r.row).unwrap_or(i64::MAX)),
                    seq: Set(i32::try_from(seq).unwrap_or(i32::MAX)),
                    field: Set(e.field.clone()),
                    code: Set(e.code.to_owned()),
                    message: Set(e.message.clone()),
                })
        })
        .collect();
    insert_chunked(db, lines).await?;
    Ok(true)
}

/// The job's work: batches until the rows end, an error, or a cancel.
async fn run<S>(
    ctx: &Ctx,
    actor: &Actor,
    job: Uuid,
    spec: &JobSpec,
    rows: S,
    bytes_read: &AtomicU64,
) -> Result<JobStatus>
where
    S: Stream<Item = Result<Item>> + Send,
{
    // Only a queued job nobody asked to stop starts; a cancel that came
    // first keeps its `cancelled`, which this must not overwrite.
    let now = time::now();
    let txn = ctx.write().await?;
    let started = import_job::Entity::update_many()
        .col_expr(import_job::Column::Status, Expr::value("running"))
        .col_expr(import_job::Column::StartedAt, Expr::value(now))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(import_job::Column::TenantId.eq(&actor.tenant))
        .filter(import_job::Column::Id.eq(job))
        .filter(import_job::Column::Status.eq("queued"))
        .filter(import_job::Column::CancelRequested.eq(false))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    if started.rows_affected == 0 {
        return Ok(JobStatus::Cancelled);
    }
    // Fused: the last batch ends at the rows' end, which is not polled again.
    let mut rows = Box::pin(rows.fuse());
    let mut seen = Seen::on_disk().await?;
    loop {
        let mut batch: Vec<Item> = Vec::with_capacity(JOB_BATCH);
        while batch.len() < JOB_BATCH {
            match rows.next().await {
                Some(item) => batch.push(item?),
                None => break,
            }
        }
        if batch.is_empty() {
            break;
        }
        if stop_requested(&ctx.db, actor, job).await? {
            return Ok(JobStatus::Cancelled);
        }
        let read = bytes_read.load(Ordering::Relaxed);
        let written = write_retrying(ctx, actor, &spec.options, &batch, &seen).await?;
        drop(batch);
        if spec.dry_run {
            let results = written.discard(&mut seen).await?;
            let txn = ctx.write().await?;
            if !record(&*txn, ctx, actor, job, &results, read).await? {
                return Ok(JobStatus::Failed);
            }
            txn.commit().await?;
        } else {
            // A job recovery failed meanwhile: the batch rolls back (dropped).
            if !record(&*written.txn, ctx, actor, job, &written.results, read).await? {
                return Ok(JobStatus::Failed);
            }
            let results = written.commit(ctx, actor, &mut seen).await?;
            metrics::counter!("import_rows_total").increment(
                results
                    .iter()
                    .filter(|r| matches!(r.outcome, Outcome::Created | Outcome::Updated))
                    .count() as u64,
            );
        }
    }
    // Every row processed: the body is read to its end.
    let total = find(&ctx.db, actor, job).await?.bytes_total;
    let txn = ctx.write().await?;
    import_job::Entity::update_many()
        .col_expr(import_job::Column::BytesRead, Expr::value(total))
        .filter(import_job::Column::TenantId.eq(&actor.tenant))
        .filter(import_job::Column::Id.eq(job))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(JobStatus::Succeeded)
}

/// The options of a job from its parts as a face read them.
pub fn spec(mode: ImportMode, match_on: Vec<MatchKey>, dry_run: bool, format: Format) -> JobSpec {
    JobSpec {
        options: Options {
            mode,
            match_on: super::upsert::normalize_keys(match_on),
        },
        dry_run,
        format,
    }
}
