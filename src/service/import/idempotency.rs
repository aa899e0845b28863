//! `Idempotency-Key`: the first answer to a keyed request, kept per tenant
//! and key for [`KEY_TTL_HOURS`] hours, is the answer to every retry with
//! the same key and body, which then writes nothing.
//!
//! The key's row is inserted, in its own short transaction, before the
//! request writes anything: the insert is the lock. Of two requests racing
//! with one key exactly one inserts and writes; the other finds the row
//! without an answer yet and is told so (409, "in progress"), never writes.
//! A key used with another body (its SHA-256 differs) is a 409 too. A first
//! request that ended in a server error leaves no answer behind (its row is
//! removed), so a retry runs again; one that died mid-way (a crash) leaves
//! a row without an answer, taken over after [`ABANDONED_AFTER_SECS`].

use chrono::TimeDelta;
use entity::idempotency_key;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::auth::Actor;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::{scope, Ctx};

/// Hours a key's first answer is kept.
pub const KEY_TTL_HOURS: i64 = 24;
/// Seconds after which a key whose first request never answered is free again.
const ABANDONED_AFTER_SECS: i64 = 300;
/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 255;

/// What to do with a keyed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key is new (now held by this request): run it, then [`finish`].
    Run,
    /// The key answered this body before: send that answer again.
    Replay { status: u16, body: String },
}

/// Checks a key as sent: 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// The hash a key is bound to: the route and the body.
fn request_hash(route: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Claims `key` for a request to `route` with `body`, or says how the key
/// answered before. Expired keys of every tenant are removed first (one
/// indexed DELETE).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn begin(ctx: &Ctx, actor: &Actor, key: &str, route: &str, body: &[u8]) -> Result<Begin> {
    actor.require_writer()?;
    check_key(key)?;
    let hash = request_hash(route, body);
    let now = time::now();
    for _ in 0..2 {
        let txn = ctx.write().await?;
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::ExpiresAt.lt(now))
            .exec(&*txn)
            .await?;
        let row = idempotency_key::ActiveModel {
            tenant_id: Set(actor.tenant.clone()),
            key: Set(key.to_owned()),
            request_hash: Set(hash.clone()),
            status: Set(None),
            response: Set(None),
            created_at: Set(now),
            expires_at: Set(now + TimeDelta::hours(KEY_TTL_HOURS)),
        };
        let inserted = idempotency_key::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    idempotency_key::Column::TenantId,
                    idempotency_key::Column::Key,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&*txn)
            .await?;
        if inserted == 1 {
            txn.commit().await?;
            return Ok(Begin::Run);
        }
        let held = scope::idempotency_keys(actor)
            .filter(idempotency_key::Column::Key.eq(key))
            .one(&*txn)
            .await?;
        let Some(held) = held else {
            // Removed between the insert and the read: try once more.
            continue;
        };
        if held.request_hash != hash {
            return Err(Error::IdempotencyConflict(
                "this Idempotency-Key was used with another request body",
            ));
        }
        match (held.status, held.response) {
            (Some(status), Some(body)) => {
                return Ok(Begin::Replay {
                    status: u16::try_from(status).unwrap_or(200),
                    body,
                })
            }
            _ if held.created_at < now - TimeDelta::seconds(ABANDONED_AFTER_SECS) => {
                scope::delete_idempotency_keys(&actor.tenant)
                    .filter(idempotency_key::Column::Key.eq(key))
                    .exec(&*txn)
                    .await?;
                txn.commit().await?;
            }
            _ => {
                return Err(Error::IdempotencyConflict(
                    "a request with this Idempotency-Key is still in progress",
                ))
            }
        }
    }
    Err(Error::IdempotencyConflict(
        "a request with this Idempotency-Key is still in progress",
    ))
}

/// Stores the answer of the request that holds `key`; a server error (5xx)
/// releases the key instead, so the request may be tried again.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn finish(ctx: &Ctx, actor: &Actor, key: &str, status: u16, body: String) -> Result<()> {
    let txn = ctx.write().await?;
    let this = scope::idempotency_keys(actor).filter(idempotency_key::Column::Key.eq(key));
    if status >= 500 {
        scope::delete_idempotency_keys(&actor.tenant)
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&*txn)
            .await?;
    } else if let Some(row) = this.one(&*txn).await? {
        let mut row: idempotency_key::ActiveModel = row.into();
        row.status = Set(Some(i32::from(status)));
        row.response = Set(Some(body));
        sea_orm::ActiveModelTrait::update(row, &*txn).await?;
    }
    txn.commit().await?;
    Ok(())
}
