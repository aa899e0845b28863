//! Starting and running a job: the row of a new job, the background task
//! that runs it a batch per transaction (each batch's counts and errors
//! recorded in its own transaction), and its final status.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use entity::import_job::MatchKeys;
use entity::{import_error, import_job};
use futures::{Stream, StreamExt};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, QueryFilter, Set,
};
use uuid::Uuid;

use super::lease::{keep_alive, owned};
use super::reads::find;
use super::{Counts, ImportJobStatus, Job, JobSpec, ReadRows, JOB_BATCH, RUNNING_AT_ONCE};
use crate::auth::Actor;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::import::batch::{Item, Outcome, RowResult, Seen};
use crate::service::import::write_retrying;
use crate::service::{insert_chunked, scope, Ctx};

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
        status: Set(ImportJobStatus::Queued),
        mode: Set(spec.options.mode),
        match_on: Set(MatchKeys(spec.options.match_on.clone())),
        dry_run: Set(spec.dry_run),
        format: Set(spec.format),
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
        let beats = tokio::spawn(keep_alive(
            ctx.clone(),
            actor.tenant.clone(),
            job,
            async move {
                let _ = stop_beating.await;
            },
        ));
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
                (ImportJobStatus::Failed, Some(message))
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
    status: ImportJobStatus,
    error: Option<String>,
) -> Result<()> {
    let now = time::now();
    let txn = ctx.write().await?;
    scope::update_import_jobs(&actor.tenant)
        .col_expr(import_job::Column::Status, Expr::value(status))
        .col_expr(import_job::Column::Error, Expr::value(error))
        .col_expr(import_job::Column::FinishedAt, Expr::value(now))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(owned(ctx, job))
        .filter(import_job::Column::Status.is_in(ImportJobStatus::ACTIVE))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Whether the job was asked to stop (or ended meanwhile).
async fn stop_requested(db: &DatabaseConnection, actor: &Actor, job: Uuid) -> Result<bool> {
    let m = find(db, actor, job).await?;
    Ok(m.cancel_requested || m.status.is_final())
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
    let now = time::now();
    let mut update = scope::update_import_jobs(&actor.tenant);
    for (col, n) in [
        (import_job::Column::RowsRead, c.rows),
        (import_job::Column::Created, c.created),
        (import_job::Column::Updated, c.updated),
        (import_job::Column::Unchanged, c.unchanged),
        (import_job::Column::Duplicate, c.duplicate),
        (import_job::Column::Failed, c.failed),
    ] {
        update = update.col_expr(col, Expr::col(col).add(n));
    }
    let recorded = update
        .col_expr(
            import_job::Column::BytesRead,
            Expr::value(i64::try_from(bytes_read).unwrap_or(i64::MAX)),
        )
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .col_expr(import_job::Column::HeartbeatAt, Expr::value(now))
        .filter(owned(ctx, job))
        .filter(import_job::Column::Status.eq(ImportJobStatus::Running))
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
) -> Result<ImportJobStatus>
where
    S: Stream<Item = Result<Item>> + Send,
{
    // Only a queued job nobody asked to stop starts; a cancel that came
    // first keeps its `cancelled`, which this must not overwrite.
    let now = time::now();
    let txn = ctx.write().await?;
    let started = scope::update_import_jobs(&actor.tenant)
        .col_expr(
            import_job::Column::Status,
            Expr::value(ImportJobStatus::Running),
        )
        .col_expr(import_job::Column::StartedAt, Expr::value(now))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(import_job::Column::Id.eq(job))
        .filter(import_job::Column::Status.eq(ImportJobStatus::Queued))
        .filter(import_job::Column::CancelRequested.eq(false))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    if started.rows_affected == 0 {
        return Ok(ImportJobStatus::Cancelled);
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
            return Ok(ImportJobStatus::Cancelled);
        }
        let read = bytes_read.load(Ordering::Relaxed);
        let written = write_retrying(ctx, actor, &spec.options, &batch, &seen).await?;
        drop(batch);
        if spec.dry_run {
            let results = written.discard(&mut seen).await?;
            let txn = ctx.write().await?;
            if !record(&*txn, ctx, actor, job, &results, read).await? {
                return Ok(ImportJobStatus::Failed);
            }
            txn.commit().await?;
        } else {
            // A job recovery failed meanwhile: the batch rolls back (dropped).
            if !record(&*written.txn, ctx, actor, job, &written.results, read).await? {
                return Ok(ImportJobStatus::Failed);
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
    scope::update_import_jobs(&actor.tenant)
        .col_expr(import_job::Column::BytesRead, Expr::value(total))
        .filter(import_job::Column::Id.eq(job))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(ImportJobStatus::Succeeded)
}
