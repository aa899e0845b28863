//! The one write path of upsert and import: a batch of rows judged and
//! written in one transaction, with one lookup per key kind (phones, emails,
//! external ids) and multi-row inserts, never a round trip per row (only a
//! row that really changes costs its own UPDATE).
//!
//! Every row ends in exactly one [`Outcome`]. Rows are matched to stored
//! customers by the keys the caller names ([`MatchKey`]); a row whose keys
//! point at two different customers fails as ambiguous, never picks one.
//!
//! Rows of one import never see each other's writes: a row that shares a key
//! (a canonical phone, an external id, an email when emails match) with an
//! earlier row, or that matches a customer an earlier row matched, is a
//! `duplicate` of that row ([`Seen`]). So what a row does depends only on
//! the rows stored before the import began, which is why a dry run (each
//! batch rolled back) reports exactly what a real run would.
//!
//! A row that matches a customer in the trash takes it out, as a restore
//! does (the history says `import`), and counts as `updated`: its numbers
//! still belong to that customer, so it is the person the row describes,
//! and the sweep would otherwise purge what the row wrote. Only a row that
//! itself says `inactive` or `blocked` leaves it there (an export of a
//! trashed customer says so, and re-imports unchanged).

mod apply;
mod holders;
mod judge;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::auth::Actor;
use crate::domain::customer::{CustomerChanges, CustomerInput};
use crate::domain::ids::CustomerId;
use crate::domain::time;
use crate::error::{FieldError, Result};
use crate::service::events::{ChangeKind, Event};
use crate::service::history::Source;
use crate::service::{Ctx, WriteTxn};

use apply::{apply, Write};
use holders::{holders, known_agents};
use judge::{judge, prepare};

pub use super::seen::{Known, Seen};
pub use entity::enums::{ImportMode, MatchKey};

/// The input field a match key reads (the field a row's error about it names).
fn field_of(key: MatchKey) -> &'static str {
    match key {
        MatchKey::Phone => "phoneNumber",
        MatchKey::Email => "email",
        MatchKey::ExternalId => "externalId",
    }
}

/// How rows are matched and what is done with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub mode: ImportMode,
    /// The keys matched, in the order `matchedOn` prefers; never empty.
    pub match_on: Vec<MatchKey>,
}

/// One row as a face read it: its number (from 1) and its input, or why it
/// is not one.
#[derive(Debug, Clone)]
pub struct Item {
    pub row: u64,
    pub input: std::result::Result<CustomerInput, Vec<FieldError>>,
}

/// What became of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Duplicate,
    Failed,
}

impl Outcome {
    /// The lowercase name both faces show.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Duplicate => "duplicate",
            Outcome::Failed => "failed",
        }
    }
}

/// Why a row was not stored (one per field at fault).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The input field at fault, or `row` for the row as a whole.
    pub field: String,
    /// `INVALID`, `DUPLICATE`, `NOT_FOUND`, `AMBIGUOUS` or `CONFLICT`.
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// The result of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowResult {
    pub row: u64,
    pub outcome: Outcome,
    /// The customer created, updated or left unchanged; for a duplicate or a
    /// failure, the stored customer involved, if one is.
    pub id: Option<CustomerId>,
    /// The key that matched a stored customer, and the value it matched on.
    pub matched_on: Option<MatchKey>,
    pub matched_value: Option<String>,
    /// Empty unless the row is a duplicate or failed.
    pub errors: Vec<RowError>,
}

impl RowResult {
    fn failed(row: u64, errors: Vec<RowError>) -> Self {
        Self {
            row,
            outcome: Outcome::Failed,
            id: None,
            matched_on: None,
            matched_value: None,
            errors,
        }
    }
}

/// A key's hash: its kind and its text.
fn key_hash(kind: u8, text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    text.hash(&mut h);
    h.finish()
}

const K_PHONE: u8 = 1;
const K_EMAIL: u8 = 2;
const K_EXTERNAL: u8 = 3;
const K_CUSTOMER: u8 = 4;

/// A row that passed the input rules.
struct Prepared {
    row: u64,
    changes: CustomerChanges,
    /// Canonical numbers, primary first (empty when the row gives none).
    phones: Vec<String>,
    email: Option<String>,
    external_id: Option<String>,
    /// The row says `status: blocked` (as an export of a blocked customer does).
    blocked: bool,
}

/// A batch's result, its transaction still open: the caller adds what it
/// keeps beside the rows (a job's counts), then commits with
/// [`Written::commit`] or drops it (a dry run) to roll back.
pub struct Written {
    pub txn: WriteTxn,
    pub results: Vec<RowResult>,
    /// Keys this batch claimed; [`Written::commit`] (or [`Written::discard`]
    /// for a dry run) adds them to the import's [`Seen`].
    claimed: Vec<(u64, u32)>,
}

impl Written {
    /// Commits, records the batch's keys and tells subscribers what changed.
    #[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
    pub async fn commit(self, ctx: &Ctx, actor: &Actor, seen: &mut Seen) -> Result<Vec<RowResult>> {
        self.txn.commit().await?;
        seen.record(self.claimed).await?;
        let events: Vec<Event> = self
            .results
            .iter()
            .filter_map(|r| {
                let kind = match r.outcome {
                    Outcome::Created => ChangeKind::Created,
                    Outcome::Updated => ChangeKind::Updated,
                    _ => return None,
                };
                Some(Event::customer(&actor.tenant, kind, r.id?))
            })
            .collect();
        if !events.is_empty() {
            ctx.events.publish(&ctx.db, events).await;
        }
        Ok(self.results)
    }

    /// Rolls back (a dry run), recording the batch's keys as a real run would.
    pub async fn discard(self, seen: &mut Seen) -> Result<Vec<RowResult>> {
        seen.record(self.claimed).await?;
        Ok(self.results)
    }
}

/// Judges and writes one batch in one transaction (opened here, as the
/// caller through [`Source::Import`]), leaving it open; `seen` holds the keys
/// of the import's earlier rows. An `Err` means nothing of the batch stands
/// (a lost race the caller may try again).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant, rows = items.len()), err(level = "debug"))]
pub async fn write_batch(
    ctx: &Ctx,
    actor: &Actor,
    options: &Options,
    items: Vec<Item>,
    seen: &Seen,
) -> Result<Written> {
    let txn = ctx.write_as(actor, Source::Import).await?;
    let mut results: Vec<RowResult> = Vec::with_capacity(items.len());
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        match prepare(ctx, item) {
            Ok(p) => rows.push(p),
            Err(failed) => results.push(failed),
        }
    }
    // A row naming an unknown agent fails before it may claim its keys.
    let agents = known_agents(&txn, actor, &rows).await?;
    rows.retain(|r| {
        let unknown = r
            .changes
            .preferences
            .as_ref()
            .and_then(|p| p.preferred_agent_id)
            .is_some_and(|a| !agents.contains(&a));
        if unknown {
            results.push(RowResult::failed(
                r.row,
                vec![RowError::new(
                    "preferences.preferredAgentId",
                    "INVALID",
                    "unknown agent",
                )],
            ));
        }
        !unknown
    });
    let by_email = options.match_on.contains(&MatchKey::Email);
    let row_keys = |r: &Prepared| -> Vec<(u64, &'static str, String)> {
        let mut keys: Vec<(u64, &'static str, String)> = r
            .phones
            .iter()
            .map(|p| (key_hash(K_PHONE, p), "phone number", p.clone()))
            .collect();
        if let Some(e) = &r.external_id {
            keys.push((key_hash(K_EXTERNAL, e), "external id", e.clone()));
        }
        if let (true, Some(e)) = (by_email, &r.email) {
            keys.push((key_hash(K_EMAIL, e), "email", e.clone()));
        }
        keys
    };
    // What earlier batches claimed of this batch's keys, in one lookup.
    let keys: Vec<u64> = rows
        .iter()
        .flat_map(|r| row_keys(r).into_iter().map(|(k, ..)| k))
        .collect();
    let mut known = seen.known(&keys).await?;
    // Keys shared with an earlier row (of the import or of this batch).
    let mut claimed: Vec<(u64, u32)> = Vec::new();
    let mut local: HashMap<u64, u32> = HashMap::new();
    let earlier =
        |local: &HashMap<u64, u32>, k: u64| known.get(k).or_else(|| local.get(&k).copied());
    rows.retain(|r| {
        let keys = row_keys(r);
        if let Some((what, value, first)) = keys
            .iter()
            .find_map(|(k, what, value)| Some((*what, value.as_str(), earlier(&local, *k)?)))
        {
            let field = match what {
                "phone number" => "phoneNumber",
                "email" => "email",
                _ => "externalId",
            };
            results.push(RowResult {
                outcome: Outcome::Duplicate,
                errors: vec![RowError::new(
                    field,
                    "DUPLICATE",
                    format!("{what} {value} appears in row {first}"),
                )],
                ..RowResult::failed(r.row, Vec::new())
            });
            return false;
        }
        let row = u32::try_from(r.row).unwrap_or(u32::MAX);
        for (k, ..) in keys {
            local.insert(k, row);
            claimed.push((k, row));
        }
        true
    });

    let h = holders(&txn, actor, &rows, by_email).await?;
    // And of the customers the rows match.
    let keys: Vec<u64> = h
        .customers
        .keys()
        .map(|id| key_hash(K_CUSTOMER, &id.to_string()))
        .collect();
    known.extend(seen.known(&keys).await?);
    let now = time::now();
    let mut writes: Vec<(usize, Write)> = Vec::new();
    for r in rows {
        let (result, write) = judge(
            ctx,
            actor,
            options,
            &h,
            r,
            now,
            &known,
            &mut local,
            &mut claimed,
        );
        if let Some(w) = write {
            writes.push((results.len(), w));
        }
        results.push(result);
    }
    apply(&txn, writes, &mut results).await?;
    results.sort_by_key(|r| r.row);
    Ok(Written {
        txn,
        results,
        claimed,
    })
}
