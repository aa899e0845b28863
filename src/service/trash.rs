//! The trash: customers a soft delete put there (`deleted_at` set), listed
//! newest deletion first, restorable for [`Ctx::trash_window`] (default
//! [`DEFAULT_DAYS`] days, `CLIENTELA_TRASH_DAYS`), then purged for good by
//! [`sweep`], which `serve` runs every few minutes ([`run_sweeper`]).
//!
//! A trashed customer is still a customer: the contract's soft delete made
//! it INACTIVE and it stays in the customer list and counts as before; the
//! trash is only the clock that a restore stops and the sweep acts on.
//!
//! The sweep is safe with several servers on one PostgreSQL: each batch locks
//! the rows it purges (`FOR UPDATE SKIP LOCKED`), re-checks that they are
//! still expired, and skips rows another sweep or a restore holds; a restore
//! locks its row too, so exactly one of a restore and a purge wins. Imports
//! `customers` (the purge and the views), `customer_rows`, `history` (its
//! cursors) and `scope`.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::customer;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

use super::customers::{self, Customer};
use super::events::ChangeKind;
use super::history::{self, Source};
use super::{customer_rows, scope, Ctx};
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::time;
use crate::error::{Error, Result};

/// Days a soft-deleted customer stays restorable when not configured.
pub const DEFAULT_DAYS: u32 = 30;

/// Customers one sweep transaction purges at most.
pub const SWEEP_BATCH: u64 = 200;

/// A customer in the trash.
#[derive(Debug, Clone, PartialEq)]
pub struct Trashed {
    pub customer: Customer,
    /// When the soft delete put it in the trash.
    pub deleted_at: DateTime<Utc>,
    /// When the sweep may purge it (until then it can be restored).
    pub purge_at: DateTime<Utc>,
}

/// A page of the trash, each customer with its cursor.
#[derive(Debug, Clone)]
pub struct TrashPage {
    pub items: Vec<(String, Trashed)>,
    pub has_next_page: bool,
}

/// The trash's order: newest deletion first, ties broken by the id.
const NEWEST_FIRST: (customer::Column, customer::Column) =
    (customer::Column::DeletedAt, customer::Column::Id);

/// The caller's customers in the trash.
fn in_trash(actor: &Actor) -> Select<customer::Entity> {
    scope::customers(actor).filter(customer::Column::DeletedAt.is_not_null())
}

fn trashed(ctx: &Ctx, m: customer::Model) -> Option<Trashed> {
    let deleted_at = m.deleted_at?;
    Some(Trashed {
        purge_at: deleted_at + ctx.trash_window,
        deleted_at,
        customer: Customer::from(m),
    })
}

/// The caller's trash, newest deletion first, `first` customers after the
/// cursor `after`. Any role may read it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn connection(
    ctx: &Ctx,
    actor: &Actor,
    first: Option<i64>,
    after: Option<&str>,
) -> Result<TrashPage> {
    let (rows, has_next_page) =
        history::after_cursor(&ctx.db, in_trash(actor), NEWEST_FIRST, first, after).await?;
    let items = rows
        .into_iter()
        .filter_map(|m| trashed(ctx, m))
        .map(|t| {
            (
                history::encode_cursor(t.deleted_at, t.customer.id.uuid()),
                t,
            )
        })
        .collect();
    Ok(TrashPage {
        items,
        has_next_page,
    })
}

/// A page of the caller's trash, newest deletion first, with its pagination.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn page(
    ctx: &Ctx,
    actor: &Actor,
    page: PageRequest,
) -> Result<(Vec<Trashed>, Pagination)> {
    let (rows, pagination) =
        history::numbered(&ctx.db, in_trash(actor), NEWEST_FIRST, page).await?;
    Ok((
        rows.into_iter().filter_map(|m| trashed(ctx, m)).collect(),
        pagination,
    ))
}

/// Takes a customer out of the trash within the window: the status the soft
/// delete replaced returns (while blocked, as the status unblock returns
/// to), `deleted_at` is cleared, and the history says `restore`. Agents and
/// admins; a customer not in the trash, or whose time there ran out, is a
/// BAD_USER_INPUT naming `id`.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn restore(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Customer> {
    actor.require_writer()?;
    let txn = ctx.write_as(actor, Source::Restore).await?;
    let current = customer_rows::lock(&*txn, actor, id).await?;
    let Some(deleted_at) = current.deleted_at else {
        return Err(Error::invalid("id", "the customer is not in the trash"));
    };
    let now = time::now();
    if deleted_at + ctx.trash_window <= now {
        return Err(Error::invalid(
            "id",
            format!(
                "the customer was deleted on {} and its {} days in the trash ran out; it can no longer be restored",
                time::format(&deleted_at),
                ctx.trash_window.num_days()
            ),
        ));
    }
    let mut m = current.clone();
    customers::revive(&mut m, false);
    m.updated_at = now;
    let restored = customer_rows::save(&*txn, m).await?;
    txn.customer_changed(&current, &restored);
    txn.commit().await?;
    ctx.events
        .customer_changed(&ctx.db, &actor.tenant, ChangeKind::Updated, id)
        .await;
    Ok(restored.into())
}

/// Purges every customer whose time in the trash ran out by `now`, as a
/// hard delete does (conversations, messages, tickets, tag and phone rows;
/// the counters follow, the history records the removal as `system`), in
/// transactions of at most [`SWEEP_BATCH`] customers of one tenant. Rows
/// another sweep or a restore holds are skipped (the next sweep sees them
/// again if they are still expired). How many it purged.
#[tracing::instrument(skip_all, err)]
pub async fn sweep(ctx: &Ctx, now: DateTime<Utc>) -> Result<u64> {
    let cutoff = now - ctx.trash_window;
    let mut purged = 0;
    loop {
        // Across tenants: the sweep is the server's own job. Served by the
        // `customers_deleted_at` index.
        let candidates: Vec<(String, Uuid)> = customer::Entity::find()
            .select_only()
            .column(customer::Column::TenantId)
            .column(customer::Column::Id)
            .filter(customer::Column::DeletedAt.lte(cutoff))
            .order_by_asc(customer::Column::DeletedAt)
            .limit(SWEEP_BATCH)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        let full = candidates.len() as u64 == SWEEP_BATCH;
        let mut by_tenant: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for (tenant, id) in candidates {
            by_tenant.entry(tenant).or_default().push(id);
        }
        let mut this_round = 0;
        for (tenant, ids) in by_tenant {
            this_round += purge_batch(ctx, &tenant, &ids, cutoff).await?;
        }
        purged += this_round;
        // Stop when the trash is swept, or when every candidate was held by
        // someone else (they are theirs to finish).
        if !full || this_round == 0 {
            break;
        }
    }
    if purged > 0 {
        tracing::info!(purged, "purged customers whose time in the trash ran out");
    }
    Ok(purged)
}

/// Purges the customers `ids` of `tenant` that are still expired at
/// `cutoff` and not held by another transaction.
async fn purge_batch(ctx: &Ctx, tenant: &str, ids: &[Uuid], cutoff: DateTime<Utc>) -> Result<u64> {
    let txn = ctx.write().await?;
    let rows = scope::customers_in(tenant)
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .filter(customer::Column::DeletedAt.lte(cutoff))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&*txn)
        .await?;
    let locked: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    customers::purge(&txn, tenant, &locked).await?;
    for m in &rows {
        txn.customer_removed(m);
    }
    txn.commit().await?;
    for id in &locked {
        ctx.events
            .customer_changed(&ctx.db, tenant, ChangeKind::Deleted, (*id).into())
            .await;
    }
    Ok(locked.len() as u64)
}

/// Sweeps the trash every `period` until `stop` resolves. A sweep under way
/// when it does is dropped: the batches it committed stay purged, the one in
/// flight rolls back (its transaction is never committed). Failures are
/// logged and retried next period.
#[tracing::instrument(skip_all, fields(period.secs = period.as_secs()))]
pub async fn run_sweeper(ctx: Ctx, period: Duration, stop: impl Future<Output = ()>) {
    let period = period.max(Duration::from_secs(1));
    super::every(period, "the trash sweep", stop, || sweep(&ctx, time::now())).await;
}
