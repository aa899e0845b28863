//! The lease: the owner's heartbeat on its running jobs, and the recovery
//! that fails a job whose owner stopped beating (see the module above).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::import_job;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::ImportJobStatus;
use crate::domain::time;
use crate::error::Result;
use crate::service::{scope, Ctx};

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
    let active = || import_job::Column::Status.is_in(ImportJobStatus::ACTIVE);
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
        .col_expr(
            import_job::Column::Status,
            Expr::value(ImportJobStatus::Failed),
        )
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
#[tracing::instrument(skip_all)]
pub async fn run_recovery(ctx: Ctx, stop: impl Future<Output = ()>) {
    let period = recovery_period(ctx.job_lease);
    crate::service::every(period, "import job recovery", stop, || recover(&ctx)).await;
}

/// Job `job` while this server owns it.
pub(super) fn owned(ctx: &Ctx, job: Uuid) -> Condition {
    Condition::all()
        .add(import_job::Column::Id.eq(job))
        .add(import_job::Column::Owner.eq(ctx.instance.to_string()))
}

/// Writes this server's heartbeat on its job (of `tenant`) while the job is
/// queued or running; whether it still was (a job that ended, or that
/// recovery took for stopped, is not this server's to keep alive).
async fn heartbeat(ctx: &Ctx, tenant: &str, job: Uuid) -> Result<bool> {
    let txn = ctx.write().await?;
    let done = scope::update_import_jobs(tenant)
        .col_expr(import_job::Column::HeartbeatAt, Expr::value(time::now()))
        .filter(owned(ctx, job))
        .filter(import_job::Column::Status.is_in(ImportJobStatus::ACTIVE))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(done.rows_affected > 0)
}

/// Beats for `job` (of `tenant`) every [`heartbeat_period`] until `stop`
/// resolves or the job is no longer this server's. A failed write is logged
/// and tried again at the next beat (the lease outlasts several).
pub(super) async fn keep_alive(
    ctx: Ctx,
    tenant: String,
    job: Uuid,
    stop: impl Future<Output = ()>,
) {
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
        match heartbeat(&ctx, &tenant, job).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => tracing::warn!(error = %e, %job, "an import job's heartbeat failed"),
        }
    }
}
