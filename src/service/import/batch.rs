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

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use entity::{agent, customer, customer_phone};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::auth::Actor;
use crate::domain::customer::{CustomerChanges, CustomerInput, CustomerStatus, Field, Mode};
use crate::domain::ids::CustomerId;
use crate::domain::time;
use crate::error::{FieldError, Result};
use crate::service::customers::{new_model, revive, with_changes};
use crate::service::events::{ChangeKind, Event};
use crate::service::history::Source;
use crate::service::{customer_rows, insert_chunked, Ctx, WriteTxn};

pub use super::seen::{Known, Seen};

/// What a row is matched to stored customers by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKey {
    /// Any of the row's canonical numbers (primary or alternative) against
    /// every number a customer answers to.
    Phone,
    /// The email, case-insensitively (emails are stored lowercased).
    Email,
    /// The external id, exactly.
    ExternalId,
}

impl MatchKey {
    /// Every key, in the default order.
    pub const ALL: [MatchKey; 3] = [MatchKey::Phone, MatchKey::Email, MatchKey::ExternalId];

    /// The name both faces show (`phone`, `email`, `externalId`).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKey::Phone => "phone",
            MatchKey::Email => "email",
            MatchKey::ExternalId => "externalId",
        }
    }

    /// Reads a name ([`MatchKey::as_str`], case-insensitive, `external_id` too).
    pub fn parse(s: &str) -> Option<MatchKey> {
        match s.trim().to_ascii_lowercase().as_str() {
            "phone" => Some(MatchKey::Phone),
            "email" => Some(MatchKey::Email),
            "externalid" | "external_id" => Some(MatchKey::ExternalId),
            _ => None,
        }
    }

    /// The input field the key reads.
    fn field(self) -> &'static str {
        match self {
            MatchKey::Phone => "phoneNumber",
            MatchKey::Email => "email",
            MatchKey::ExternalId => "externalId",
        }
    }
}

/// What an import does with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// New customers only: a row matching a stored one is a duplicate.
    Create,
    /// Stored customers only: a row matching none fails (NOT_FOUND).
    Update,
    /// Updates the customer a row matches, creates one otherwise.
    Upsert,
}

impl ImportMode {
    /// `create`, `update` or `upsert`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Create => "create",
            ImportMode::Update => "update",
            ImportMode::Upsert => "upsert",
        }
    }

    /// Reads [`ImportMode::as_str`] (case-insensitive).
    pub fn parse(s: &str) -> Option<ImportMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "create" => Some(ImportMode::Create),
            "update" => Some(ImportMode::Update),
            "upsert" => Some(ImportMode::Upsert),
            _ => None,
        }
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

/// The input rules for one row; a failed result when it breaks one.
fn prepare(ctx: &Ctx, item: Item) -> std::result::Result<Prepared, RowResult> {
    let invalid = |fields: Vec<FieldError>| {
        RowResult::failed(
            item.row,
            fields
                .into_iter()
                .map(|f| RowError::new(f.field, "INVALID", f.message))
                .collect(),
        )
    };
    let mut input = match item.input {
        Ok(input) => input,
        Err(fields) => return Err(invalid(fields)),
    };
    let blocked = matches!(input.status, Field::Value(CustomerStatus::Blocked));
    if blocked {
        input.status = Field::Absent;
    }
    // Update's rules: the phone is required only where a customer is created.
    let changes = input.validate(Mode::Update, ctx.region).map_err(invalid)?;
    let phones = changes
        .phone_number
        .iter()
        .chain(changes.alternative_phones.iter().flatten())
        .map(|p| p.as_str().to_owned())
        .collect();
    Ok(Prepared {
        row: item.row,
        email: changes.email.clone().flatten(),
        external_id: changes.external_id.clone().flatten(),
        changes,
        phones,
        blocked,
    })
}

/// The preferred agents named by `rows` that exist in the caller's tenant.
async fn known_agents(txn: &WriteTxn, actor: &Actor, rows: &[Prepared]) -> Result<HashSet<Uuid>> {
    let wanted: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.changes.preferences.as_ref()?.preferred_agent_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = agent::Entity::find()
        .filter(agent::Column::TenantId.eq(&actor.tenant))
        .filter(agent::Column::Id.is_in(wanted))
        .select_only()
        .column(agent::Column::Id)
        .into_tuple()
        .all(&**txn)
        .await?;
    Ok(ids.into_iter().collect())
}

/// The stored customers a batch's keys point at.
#[derive(Default)]
struct Holders {
    phones: HashMap<String, Uuid>,
    emails: HashMap<String, Vec<Uuid>>,
    external_ids: HashMap<String, Uuid>,
    customers: HashMap<Uuid, customer::Model>,
}

/// The caller's customers whose `column` (an optional text key: email,
/// external id) is one of `values`, as (value, id).
async fn holders_of(
    txn: &WriteTxn,
    actor: &Actor,
    column: customer::Column,
    values: impl Iterator<Item = &str>,
) -> Result<Vec<(String, Uuid)>> {
    let values: Vec<&str> = values.collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<(Option<String>, Uuid)> = customer::Entity::find()
        .filter(customer::Column::TenantId.eq(&actor.tenant))
        .filter(column.is_in(values))
        .select_only()
        .column(column)
        .column(customer::Column::Id)
        .into_tuple()
        .all(&**txn)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(value, id)| Some((value?, id)))
        .collect())
}

/// One query per key kind for the whole batch, then one for the customers
/// found (locked until the transaction ends, where the database locks rows).
async fn holders(
    txn: &WriteTxn,
    actor: &Actor,
    rows: &[Prepared],
    by_email: bool,
) -> Result<Holders> {
    let mut h = Holders::default();
    let phones: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.phones.iter().map(String::as_str))
        .collect();
    if !phones.is_empty() {
        let found: Vec<(String, Uuid)> = customer_phone::Entity::find()
            .filter(customer_phone::Column::TenantId.eq(&actor.tenant))
            .filter(customer_phone::Column::Phone.is_in(phones))
            .select_only()
            .column(customer_phone::Column::Phone)
            .column(customer_phone::Column::CustomerId)
            .into_tuple()
            .all(&**txn)
            .await?;
        h.phones = found.into_iter().collect();
    }
    if by_email {
        let emails = rows.iter().filter_map(|r| r.email.as_deref());
        for (email, id) in holders_of(txn, actor, customer::Column::Email, emails).await? {
            h.emails.entry(email).or_default().push(id);
        }
    }
    let external = rows.iter().filter_map(|r| r.external_id.as_deref());
    h.external_ids = holders_of(txn, actor, customer::Column::ExternalId, external)
        .await?
        .into_iter()
        .collect();
    let mut ids: Vec<Uuid> = h
        .phones
        .values()
        .chain(h.emails.values().flatten())
        .chain(h.external_ids.values())
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    ids.sort();
    for chunk in ids.chunks(1000) {
        let found = customer::Entity::find()
            .filter(customer::Column::TenantId.eq(&actor.tenant))
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .lock_exclusive()
            .all(&**txn)
            .await?;
        h.customers.extend(found.into_iter().map(|m| (m.id, m)));
    }
    Ok(h)
}

/// A planned write (a batch holds at most a thousand; boxing saves nothing).
#[expect(
    clippy::large_enum_variant,
    reason = "short-lived, one per row of a batch"
)]
enum Write {
    Insert(customer::Model),
    Update {
        old: customer::Model,
        new: customer::Model,
    },
}

/// Judges and writes one batch in one transaction (opened here, as the
/// caller through [`Source::Import`]), leaving it open; `seen` holds the keys
/// of the import's earlier rows. An `Err` means nothing of the batch stands
/// (a lost race the caller may try again).
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

/// Decides one row against the stored customers.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, the batch's state"
)]
fn judge(
    _ctx: &Ctx,
    actor: &Actor,
    options: &Options,
    h: &Holders,
    r: Prepared,
    now: DateTime<Utc>,
    seen: &Known,
    local: &mut HashMap<u64, u32>,
    claimed: &mut Vec<(u64, u32)>,
) -> (RowResult, Option<Write>) {
    let row = r.row;
    let fail = |errors: Vec<RowError>| (RowResult::failed(row, errors), None);
    // Every customer each match key points at, in the caller's order.
    let mut found: Vec<(MatchKey, String, Uuid)> = Vec::new();
    for key in &options.match_on {
        match key {
            MatchKey::Phone => {
                for p in &r.phones {
                    if let Some(id) = h.phones.get(p) {
                        found.push((*key, p.clone(), *id));
                    }
                }
            }
            MatchKey::Email => {
                if let Some(e) = &r.email {
                    for id in h.emails.get(e).into_iter().flatten() {
                        found.push((*key, e.clone(), *id));
                    }
                }
            }
            MatchKey::ExternalId => {
                if let Some(e) = &r.external_id {
                    if let Some(id) = h.external_ids.get(e) {
                        found.push((*key, e.clone(), *id));
                    }
                }
            }
        }
    }
    let distinct: Vec<Uuid> = found
        .iter()
        .map(|(.., id)| *id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if distinct.len() > 1 {
        let what = found
            .iter()
            .map(|(k, v, id)| format!("{} {v} matches customer {id}", k.as_str()))
            .collect::<Vec<_>>()
            .join("; ");
        return fail(vec![RowError::new(
            found[0].0.field(),
            "AMBIGUOUS",
            format!("the row matches more than one customer: {what}"),
        )]);
    }
    let matched = found.first().cloned();
    let target = matched.as_ref().map(|(.., id)| *id);
    // Keys that are not matched on must not belong to another customer.
    if !options.match_on.contains(&MatchKey::Phone) {
        if let Some((p, id)) = r.phones.iter().find_map(|p| {
            h.phones
                .get(p)
                .filter(|id| Some(**id) != target)
                .map(|id| (p, id))
        }) {
            return (
                RowResult {
                    id: Some((*id).into()),
                    ..RowResult::failed(
                        row,
                        vec![RowError::new(
                            "phoneNumber",
                            "CONFLICT",
                            format!("phone number {p} already belongs to customer {id}"),
                        )],
                    )
                },
                None,
            );
        }
    }
    if !options.match_on.contains(&MatchKey::ExternalId) {
        if let Some(id) = r
            .external_id
            .as_ref()
            .and_then(|e| h.external_ids.get(e))
            .filter(|id| Some(**id) != target)
        {
            return (
                RowResult {
                    id: Some((*id).into()),
                    ..RowResult::failed(
                        row,
                        vec![RowError::new(
                            "externalId",
                            "CONFLICT",
                            format!("external id already belongs to customer {id}"),
                        )],
                    )
                },
                None,
            );
        }
    }
    let Some((key, value, id)) = matched else {
        if options.mode == ImportMode::Update {
            return fail(vec![RowError::new(
                "row",
                "NOT_FOUND",
                "no customer matches the row",
            )]);
        }
        if r.blocked {
            return fail(vec![RowError::new(
                "status",
                "INVALID",
                "blocked is set with the block route (setCustomerBlocked), not here",
            )]);
        }
        if r.changes.phone_number.is_none() {
            return fail(vec![RowError::new(
                "phoneNumber",
                "INVALID",
                "phone number is required",
            )]);
        }
        return match new_model(actor, r.changes, now) {
            Ok(m) => (
                RowResult {
                    row,
                    outcome: Outcome::Created,
                    id: Some(m.id.into()),
                    matched_on: None,
                    matched_value: None,
                    errors: Vec::new(),
                },
                Some(Write::Insert(m)),
            ),
            Err(e) => fail(vec![RowError::new("row", "INVALID", e.to_string())]),
        };
    };
    let matched_result = |outcome: Outcome, errors: Vec<RowError>| RowResult {
        row,
        outcome,
        id: Some(id.into()),
        matched_on: Some(key),
        matched_value: Some(value.clone()),
        errors,
    };
    // A customer an earlier row matched is not matched again.
    let customer_key = key_hash(K_CUSTOMER, &id.to_string());
    if let Some(first) = seen
        .get(customer_key)
        .or_else(|| local.get(&customer_key).copied())
    {
        return (
            matched_result(
                Outcome::Duplicate,
                vec![RowError::new(
                    key.field(),
                    "DUPLICATE",
                    format!("customer {id} was matched by row {first}"),
                )],
            ),
            None,
        );
    }
    let Some(current) = h.customers.get(&id) else {
        // Deleted between the lookups: nothing to match any more.
        return fail(vec![RowError::new(
            "row",
            "NOT_FOUND",
            "the matched customer was deleted meanwhile",
        )]);
    };
    // The customer's own keys as stored now are claimed too: no later row
    // reaches it through a key this row may change.
    let row32 = u32::try_from(row).unwrap_or(u32::MAX);
    let mut own = vec![customer_key, key_hash(K_PHONE, &current.phone_number)];
    own.extend(
        current
            .alternative_phones
            .0
            .iter()
            .map(|p| key_hash(K_PHONE, p)),
    );
    if let Some(e) = &current.email {
        own.push(key_hash(K_EMAIL, e));
    }
    if let Some(e) = &current.external_id {
        own.push(key_hash(K_EXTERNAL, e));
    }
    for k in own {
        local.insert(k, row32);
        claimed.push((k, row32));
    }
    if options.mode == ImportMode::Create {
        let trashed = if current.deleted_at.is_some() {
            ", which is in the trash (restore it, or import in upsert or update mode)"
        } else {
            ""
        };
        return (
            matched_result(
                Outcome::Duplicate,
                vec![RowError::new(
                    key.field(),
                    "DUPLICATE",
                    format!(
                        "{} {value} already belongs to customer {id}{trashed}",
                        key.as_str()
                    ),
                )],
            ),
            None,
        );
    }
    if r.blocked && !current.is_blocked {
        return (
            matched_result(
                Outcome::Failed,
                vec![RowError::new(
                    "status",
                    "INVALID",
                    "blocked is set with the block route (setCustomerBlocked), not here",
                )],
            ),
            None,
        );
    }
    // A match in the trash comes out of it (as a restore would, the history
    // saying `import`): the row says this person is a customer, its numbers
    // still belong to the match so no other customer could take them, and
    // left there the sweep would purge what the row just wrote. A row that
    // itself says inactive or blocked (an exported customer in the trash
    // says so) leaves it there, as the update route does.
    let stays_in_trash = r.blocked || matches!(r.changes.status, Some(CustomerStatus::Inactive));
    let status_set = r.changes.status.is_some();
    let mut new = with_changes(current, r.changes);
    if !stays_in_trash {
        revive(&mut new, status_set);
    }
    if new == *current {
        return (matched_result(Outcome::Unchanged, Vec::new()), None);
    }
    let new = customer::Model {
        updated_at: now,
        ..new
    };
    (
        matched_result(Outcome::Updated, Vec::new()),
        Some(Write::Update {
            old: current.clone(),
            new,
        }),
    )
}

/// Writes a batch's planned rows: new customers in multi-row inserts (then
/// their numbers in phone order, then tags), changed ones one UPDATE each.
async fn apply(
    txn: &WriteTxn,
    writes: Vec<(usize, Write)>,
    _results: &mut [RowResult],
) -> Result<()> {
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for (_, w) in writes {
        match w {
            Write::Insert(m) => inserts.push(m),
            Write::Update { old, new } => updates.push((old, new)),
        }
    }
    if !inserts.is_empty() {
        insert_chunked(
            &**txn,
            inserts
                .iter()
                .map(|m| m.clone().into_active_model())
                .collect(),
        )
        .await?;
        for m in &inserts {
            txn.customer_added(m);
        }
        let mut phones: Vec<(String, customer_phone::ActiveModel)> = inserts
            .iter()
            .flat_map(|m| {
                std::iter::once(&m.phone_number)
                    .chain(m.alternative_phones.0.iter())
                    .cloned()
                    .zip(customer_rows::phone_rows(m, &m.alternative_phones.0))
            })
            .collect();
        // Every writer takes the numbers' unique keys in one order, so
        // imports of overlapping rows wait for each other, never in a circle.
        phones.sort_by(|a, b| a.0.cmp(&b.0));
        insert_chunked(&**txn, phones.into_iter().map(|(_, r)| r).collect()).await?;
        let tags = inserts
            .iter()
            .flat_map(|m| customer_rows::tag_rows(m, &m.tags.0))
            .collect();
        insert_chunked(&**txn, tags).await?;
    }
    for (old, new) in updates {
        let saved = customer_rows::save(&**txn, new).await?;
        txn.customer_changed(&old, &saved);
        if saved.phone_number != old.phone_number
            || saved.alternative_phones != old.alternative_phones
        {
            customer_rows::replace_phones(&**txn, &saved, &saved.alternative_phones.0).await?;
        }
        if saved.tags != old.tags {
            customer_rows::replace_tags(&**txn, &saved, &saved.tags.0).await?;
        }
    }
    Ok(())
}
