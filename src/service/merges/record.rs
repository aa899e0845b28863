//! The stored merge record: the shape of its JSON snapshot (the removed
//! customers' rows, what the primary gained, what moved, the erasures that
//! reached it), reading it back, and [`get`]. Imports `view`.

use chrono::Duration;
use entity::{customer, merge_record};
use sea_orm::{ColumnTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::view::{KeptValue, MergeRecord, Moved, UNDO_DAYS};
use crate::auth::Actor;
use crate::domain::ids::{CustomerId, MergeId};
use crate::error::{Error, Result};
use crate::service::{scope, Ctx};

/// A removed customer as the merge record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Removed {
    /// The whole row, statistics included, as it was.
    pub(super) row: customer::Model,
    /// Its conversations that moved to the primary.
    pub(super) conversations: Vec<Uuid>,
    /// Its tickets that moved.
    pub(super) tickets: Vec<Uuid>,
    /// How many of its messages moved (with their conversations).
    pub(super) messages: u64,
}

/// What the primary gained, for the undo to take back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Gained {
    pub(super) tags: Vec<String>,
    pub(super) phones: Vec<String>,
    pub(super) custom_fields: Map<String, Value>,
    pub(super) email: Option<String>,
    pub(super) external_id: Option<String>,
}

/// An erasure that reached a standing merge: the merge can no longer be
/// undone, since the undo would restore rows without the data it removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ErasedBy {
    /// The customer erased.
    pub(super) customer: Uuid,
    /// Its erasure receipt.
    pub(super) receipt: Uuid,
}

/// The JSON of `customer_merges.snapshot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Snapshot {
    pub(super) others: Vec<Removed>,
    pub(super) gained: Gained,
    pub(super) kept: Vec<KeptValue>,
    pub(super) moved: Moved,
    /// Erasures that removed personal data from this record (absent in
    /// records no erasure reached).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) erased: Vec<ErasedBy>,
}

impl Snapshot {
    /// Reads the snapshot of a stored record.
    pub(super) fn read(m: &merge_record::Model) -> Result<Snapshot> {
        serde_json::from_value(m.snapshot.clone()).map_err(Error::internal)
    }

    /// The JSON stored in `customer_merges.snapshot`.
    pub(super) fn to_json(&self) -> Result<Value> {
        serde_json::to_value(self).map_err(Error::internal)
    }
}

/// The record as both faces show it, from its row and snapshot.
pub(super) fn record_of(m: &merge_record::Model, snapshot: &Snapshot) -> MergeRecord {
    MergeRecord {
        id: m.id.into(),
        primary_id: m.primary_id.into(),
        other_ids: snapshot
            .others
            .iter()
            .map(|o| CustomerId::from(o.row.id))
            .collect(),
        merged_at: m.created_at,
        merged_by: m.agent.clone(),
        undone_at: m.undone_at,
        undone_by: m.undone_by.clone(),
        undoable_until: m.created_at + Duration::days(UNDO_DAYS),
        moved: snapshot.moved.clone(),
        kept_values: snapshot.kept.clone(),
    }
}

/// A merge record of the caller's tenant (ADMIN: it keeps removed
/// customers' data).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn get(ctx: &Ctx, actor: &Actor, id: MergeId) -> Result<MergeRecord> {
    actor.require_admin()?;
    let m = scope::merges(actor)
        .filter(merge_record::Column::Id.eq(id.uuid()))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("merge"))?;
    Ok(record_of(&m, &Snapshot::read(&m)?))
}
