//! What both faces show of a merge: the record ([`MergeRecord`], with what
//! moved and the values that lost) and the result of a merge or its undo
//! ([`Merged`]). Imports no other file of `merges`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ids::{CustomerId, MergeId};
use crate::domain::time;
use crate::service::customers::Customer;

/// Most customers one merge folds into the primary.
pub const MAX_OTHERS: usize = 20;

/// Days a merge can be undone.
pub const UNDO_DAYS: i64 = 30;

/// A value of a removed customer that lost to the primary's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeptValue {
    /// The customer whose value it was.
    #[schema(value_type = uuid::Uuid)]
    pub customer_id: CustomerId,
    /// The field: `customFields.<key>`.
    pub field: String,
    /// The value it had (any JSON).
    pub value: Value,
}

/// What a merge moved to the primary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    pub conversations: u64,
    pub messages: u64,
    pub tickets: u64,
    /// Tags the primary gained.
    pub tags: Vec<String>,
    /// Numbers the primary gained as alternatives.
    pub phones: Vec<String>,
    /// Custom fields (keys) the primary gained.
    pub custom_fields: Vec<String>,
    /// Fields of the primary that were empty and were filled from another
    /// customer (`email`, `externalId`).
    pub filled: Vec<String>,
}

/// A merge, as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeRecord {
    #[schema(value_type = uuid::Uuid)]
    pub id: MergeId,
    /// The customer that was kept.
    #[schema(value_type = uuid::Uuid)]
    pub primary_id: CustomerId,
    /// The customers merged into it.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub other_ids: Vec<CustomerId>,
    #[serde(with = "time::serde_ms")]
    pub merged_at: DateTime<Utc>,
    /// The `sub` of the admin who merged.
    pub merged_by: String,
    #[serde(with = "time::serde_ms::option")]
    pub undone_at: Option<DateTime<Utc>>,
    pub undone_by: Option<String>,
    /// Until when the merge can be undone.
    #[serde(with = "time::serde_ms")]
    pub undoable_until: DateTime<Utc>,
    pub moved: Moved,
    /// The removed customers' values that lost to the primary's.
    pub kept_values: Vec<KeptValue>,
}

/// A merge or its undo, with the customers it left.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub record: MergeRecord,
    /// The primary as the write left it.
    pub primary: Customer,
    /// The customers an undo restored (empty after a merge).
    pub restored: Vec<Customer>,
}
