//! Reads of jobs and of their errors, and the cancel, all scoped to the
//! caller's tenant.

use entity::{import_error, import_job};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{ImportJobStatus, Job, JobError, MAX_LISTED};
use crate::auth::Actor;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::{scope, Ctx};

/// The caller's tenant's job with this id (any role); another tenant's is NOT_FOUND.
pub(super) async fn find(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> Result<import_job::Model> {
    scope::import_jobs(actor)
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
    Ok(scope::import_jobs(actor)
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
    let scoped = || scope::update_import_jobs(&actor.tenant).filter(import_job::Column::Id.eq(id));
    let txn = ctx.write().await?;
    scoped()
        .col_expr(import_job::Column::CancelRequested, Expr::value(true))
        .col_expr(import_job::Column::UpdatedAt, Expr::value(now))
        .filter(import_job::Column::Status.is_in(ImportJobStatus::ACTIVE))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    if job.status == ImportJobStatus::Queued {
        let txn = ctx.write().await?;
        scoped()
            .col_expr(
                import_job::Column::Status,
                Expr::value(ImportJobStatus::Cancelled),
            )
            .col_expr(import_job::Column::FinishedAt, Expr::value(now))
            .filter(import_job::Column::Status.eq(ImportJobStatus::Queued))
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
    Ok(scope::import_errors(actor)
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
