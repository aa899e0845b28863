//! The change history of customers: where a write came from (the caller's
//! `sub` and the path it took, [`Source`]), what each write changed field by
//! field ([`Log`], filled by the write transaction's customer hooks and
//! written at its commit, in the same transaction, with one multi-row
//! insert), and reading it back newest first.
//!
//! What is recorded: the customer's own fields under their GraphQL names
//! ([`FIELDS`]), each value as JSON text (enums as their GraphQL names,
//! times as RFC 3339 with milliseconds). The statistics and the search text,
//! which every message changes, are not. A creation records one entry per
//! field it set (old value absent, fields left empty not recorded); a
//! change one entry per field that moved; a removal (hard delete, purge)
//! one entry whose field is `*`. Entries are kept by tenant and customer id,
//! so they outlive a soft and a hard delete; an erasure replaces the
//! personal values in them ([`PERSONAL`], [`scrub`]).
//!
//! Imports `scope` and the crate root of `service` only.

use std::sync::Mutex;

use base64::Engine;
use chrono::{DateTime, Utc};
use entity::{customer, customer_change};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{insert_chunked, scope, Ctx};
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::time;
use crate::error::{Error, Result};

/// The path a customer write took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A create, update, tag change or delete through either face.
    Api,
    /// A row of an import or an upsert batch.
    Import,
    /// A merge of duplicates, or its undoing.
    Merge,
    /// A block or an unblock.
    Block,
    /// A restore from the trash.
    Restore,
    /// An erasure of the customer's personal data.
    Erase,
    /// The server itself: the trash sweep, a recount, the seed.
    System,
}

impl Source {
    /// The name stored and shown (`api`, `import`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Import => "import",
            Self::Merge => "merge",
            Self::Block => "block",
            Self::Restore => "restore",
            Self::Erase => "erase",
            Self::System => "system",
        }
    }
}

/// Who wrote, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The caller's `sub`, or `system`.
    pub agent: String,
    pub source: Source,
}

impl Origin {
    /// A caller's write through `source`.
    pub fn of(actor: &Actor, source: Source) -> Self {
        Self {
            agent: actor.agent.clone(),
            source,
        }
    }

    /// The server's own write.
    pub fn system() -> Self {
        Self {
            agent: "system".to_owned(),
            source: Source::System,
        }
    }
}

/// The field of the entry a removal records.
pub const REMOVED: &str = "*";

/// What an erasure leaves of a personal value, as JSON text.
pub const ERASED: &str = "\"[erased]\"";

/// The recorded fields that hold personal data: an erasure replaces their
/// values in the history.
pub const PERSONAL: &[&str] = &[
    "phoneNumber",
    "firstName",
    "lastName",
    "email",
    "avatar",
    "alternativePhones",
    "address",
    "customFields",
    "blockReason",
    "notes",
    "externalId",
];

/// An enum value as GraphQL spells it (`SOCIAL_MEDIA`).
fn upper(text: &str) -> Value {
    Value::String(text.to_ascii_uppercase())
}

/// A value as JSON; `null` when it cannot be (it always can).
fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Reads one recorded field of a row as JSON.
pub type FieldValue = fn(&customer::Model) -> Value;

/// Every recorded field: its GraphQL name and its value in a row.
pub const FIELDS: &[(&str, FieldValue)] = &[
    ("phoneNumber", |m| json!(m.phone_number)),
    ("firstName", |m| json!(m.first_name)),
    ("lastName", |m| json!(m.last_name)),
    ("email", |m| json!(m.email)),
    ("avatar", |m| json!(m.avatar)),
    ("alternativePhones", |m| json!(m.alternative_phones.0)),
    ("address", |m| to_json(&m.address)),
    ("tags", |m| json!(m.tags.0)),
    ("segment", |m| upper(m.segment.as_str())),
    ("source", |m| upper(m.source.as_str())),
    ("customFields", |m| Value::Object(m.custom_fields.0.clone())),
    ("preferences", |m| {
        json!({
            "language": m.preferred_language,
            "communicationHours": to_json(&m.communication_hours),
            "preferredAgent": m.preferred_agent_id,
        })
    }),
    ("status", |m| upper(m.status.as_str())),
    ("isBlocked", |m| json!(m.is_blocked)),
    ("blockReason", |m| json!(m.block_reason)),
    ("notes", |m| json!(m.notes)),
    ("externalId", |m| json!(m.external_id)),
    ("deletedAt", |m| {
        json!(m.deleted_at.as_ref().map(time::format))
    }),
];

/// Whether two rows agree on every recorded field (a statistics-only write).
fn same_own_fields(a: &customer::Model, b: &customer::Model) -> bool {
    a.phone_number == b.phone_number
        && a.first_name == b.first_name
        && a.last_name == b.last_name
        && a.email == b.email
        && a.avatar == b.avatar
        && a.alternative_phones == b.alternative_phones
        && a.address == b.address
        && a.tags == b.tags
        && a.segment == b.segment
        && a.source == b.source
        && a.custom_fields == b.custom_fields
        && a.preferred_language == b.preferred_language
        && a.communication_hours == b.communication_hours
        && a.preferred_agent_id == b.preferred_agent_id
        && a.status == b.status
        && a.is_blocked == b.is_blocked
        && a.block_reason == b.block_reason
        && a.notes == b.notes
        && a.external_id == b.external_id
        && a.deleted_at == b.deleted_at
}

/// Whether a value is what a new customer has when the field is not given.
fn blank(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

/// One changed field, before it is stored.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    tenant: String,
    customer: Uuid,
    field: &'static str,
    old: Option<String>,
    new: Option<String>,
}

/// The changes one write transaction made, written by [`Log::write`] at
/// its commit.
#[derive(Debug, Default)]
pub struct Log {
    entries: Vec<Entry>,
}

impl Log {
    fn push(
        &mut self,
        m: &customer::Model,
        field: &'static str,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        self.entries.push(Entry {
            tenant: m.tenant_id.clone(),
            customer: m.id,
            field,
            old: old.map(|v| v.to_string()),
            new: new.map(|v| v.to_string()),
        });
    }

    /// A customer row was inserted: one entry per field it set.
    pub fn added(&mut self, m: &customer::Model) {
        for (field, value) in FIELDS {
            let new = value(m);
            if !blank(&new) {
                self.push(m, field, None, Some(new));
            }
        }
    }

    /// A customer row changed from `old` to `new`: one entry per field that moved.
    pub fn changed(&mut self, old: &customer::Model, new: &customer::Model) {
        if same_own_fields(old, new) {
            return;
        }
        for (field, value) in FIELDS {
            let (before, after) = (value(old), value(new));
            if before != after {
                self.push(new, field, Some(before), Some(after));
            }
        }
    }

    /// A customer row was deleted for good: one entry, field [`REMOVED`].
    pub fn removed(&mut self, m: &customer::Model) {
        self.push(m, REMOVED, None, None);
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stores the entries as written by `origin` at `at`. An erasure's own
    /// entries keep no personal value they replaced.
    pub async fn write<C: ConnectionTrait>(
        self,
        db: &C,
        origin: &Origin,
        at: DateTime<Utc>,
    ) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let erasing = origin.source == Source::Erase;
        let rows = self
            .entries
            .into_iter()
            .map(|e| {
                let old = if erasing && PERSONAL.contains(&e.field) {
                    e.old
                        .map(|v| if v == "null" { v } else { ERASED.to_owned() })
                } else {
                    e.old
                };
                customer_change::ActiveModel {
                    tenant_id: Set(e.tenant),
                    id: Set(Uuid::now_v7()),
                    customer_id: Set(e.customer),
                    field: Set(e.field.to_owned()),
                    old_value: Set(old),
                    new_value: Set(e.new),
                    agent: Set(origin.agent.clone()),
                    source: Set(origin.source.as_str().to_owned()),
                    at: Set(at),
                }
            })
            .collect();
        insert_chunked(db, rows).await
    }
}

/// A [`Log`] shared by the hooks of one transaction.
pub type SharedLog = Mutex<Log>;

/// Replaces the personal values in a customer's history with [`ERASED`]
/// (a `null` stays `null`); how many entries it changed.
pub async fn scrub<C: ConnectionTrait>(db: &C, tenant: &str, customer: Uuid) -> Result<u64> {
    let personal = || {
        Condition::all()
            .add(customer_change::Column::CustomerId.eq(customer))
            .add(customer_change::Column::Field.is_in(PERSONAL.iter().copied()))
    };
    let mut changed = 0;
    for column in [
        customer_change::Column::OldValue,
        customer_change::Column::NewValue,
    ] {
        let result = scope::update_changes(tenant)
            .col_expr(column, Expr::value(ERASED))
            .filter(personal())
            .filter(column.is_not_null())
            .filter(column.ne("null"))
            .filter(column.ne(ERASED))
            .exec(db)
            .await?;
        changed += result.rows_affected;
    }
    Ok(changed)
}

/// One recorded change of a customer, as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The entry's id.
    #[schema(value_type = uuid::Uuid)]
    pub id: Uuid,
    /// The customer changed.
    #[schema(value_type = uuid::Uuid)]
    pub customer_id: CustomerId,
    /// The field's GraphQL name (`firstName`, `tags`, ...); `*` for a removal.
    pub field: String,
    /// The value before, as JSON text; null when the field was not there (a creation).
    pub old_value: Option<String>,
    /// The value after, as JSON text; null when the customer was removed.
    pub new_value: Option<String>,
    /// Who wrote: the token's `sub`, or `system`.
    pub actor: String,
    /// Through what: api, import, merge, block, restore, erase or system.
    pub source: String,
    /// When the write committed.
    #[serde(with = "time::serde_ms")]
    pub at: DateTime<Utc>,
}

impl From<customer_change::Model> for Change {
    fn from(m: customer_change::Model) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id.into(),
            field: m.field,
            old_value: m.old_value,
            new_value: m.new_value,
            actor: m.agent,
            source: m.source,
            at: m.at,
        }
    }
}

/// A page of a customer's history, newest first, each entry with its cursor.
#[derive(Debug, Clone)]
pub struct ChangePage {
    pub items: Vec<(String, Change)>,
    pub has_next_page: bool,
}

/// Most entries one page holds; more asked counts as this.
pub const MAX_FIRST: i64 = 100;

/// Entries a page holds when the caller does not say.
pub const DEFAULT_FIRST: i64 = 20;

/// How many entries a cursor page takes for `first`: [`DEFAULT_FIRST`]
/// when absent, at most [`MAX_FIRST`]; 400 when negative.
pub(crate) fn first_of(first: Option<i64>) -> Result<u64> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    if first < 0 {
        return Err(Error::invalid("first", "must be 0 or more"));
    }
    Ok(first.min(MAX_FIRST).unsigned_abs())
}

/// The cursor of an entry of a list ordered by a time and an id, both
/// descending (the history, the trash): base64url of `millis|uuid`.
pub(crate) fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", at.timestamp_millis()))
}

fn cursor(c: &Change) -> String {
    encode_cursor(c.at, c.id)
}

/// The rows after `(at, id)` in a list ordered by `at_column` then
/// `id_column`, both descending: the keyset condition of [`decode_cursor`]'s
/// cursors.
pub(crate) fn before<C: ColumnTrait>(
    at_column: C,
    id_column: C,
    (at, id): (DateTime<Utc>, Uuid),
) -> Condition {
    Condition::any()
        .add(at_column.lt(at))
        .add(Condition::all().add(at_column.eq(at)).add(id_column.lt(id)))
}

/// Reads an [`encode_cursor`] cursor given as `after`; 400 when it is not one.
pub(crate) fn decode_cursor(text: &str) -> Result<(DateTime<Utc>, Uuid)> {
    let bad = || Error::invalid("after", "not a cursor of this list");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ms, id) = text.split_once('|').ok_or_else(bad)?;
    let at = ms
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// Fails with NOT_FOUND unless the tenant has the customer or a history of it
/// (a hard-deleted customer's history stays readable).
pub async fn known(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<()> {
    let customers = scope::customers(actor)
        .filter(customer::Column::Id.eq(id))
        .count(&ctx.db)
        .await?;
    if customers > 0 {
        return Ok(());
    }
    let entries = scope::changes(actor)
        .filter(customer_change::Column::CustomerId.eq(id))
        .limit(1)
        .count(&ctx.db)
        .await?;
    if entries > 0 {
        Ok(())
    } else {
        Err(Error::NotFound("customer"))
    }
}

/// A customer's history newest first, `first` entries after the cursor
/// `after`. Any role may read it; another tenant's customer has none.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn connection(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    first: Option<i64>,
    after: Option<&str>,
) -> Result<ChangePage> {
    let first = first_of(first)?;
    let mut q = scope::changes(actor).filter(customer_change::Column::CustomerId.eq(id));
    if let Some(after) = after {
        q = q.filter(before(
            customer_change::Column::At,
            customer_change::Column::Id,
            decode_cursor(after)?,
        ));
    }
    let mut rows = q
        .order_by_desc(customer_change::Column::At)
        .order_by_desc(customer_change::Column::Id)
        .limit(first + 1)
        .all(&ctx.db)
        .await?;
    let has_next_page = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    let items = rows
        .into_iter()
        .map(Change::from)
        .map(|c| (cursor(&c), c))
        .collect();
    Ok(ChangePage {
        items,
        has_next_page,
    })
}

/// A page of a customer's history newest first, with its pagination; also
/// for a customer deleted for good. Any role may read it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn page(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    page: PageRequest,
) -> Result<(Vec<Change>, Pagination)> {
    known(ctx, actor, id).await?;
    let q = scope::changes(actor).filter(customer_change::Column::CustomerId.eq(id));
    let total = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_desc(customer_change::Column::At)
        .order_by_desc(customer_change::Column::Id)
        .offset(page.offset())
        .limit(page.limit)
        .all(&ctx.db)
        .await?;
    Ok((
        rows.into_iter().map(Change::from).collect(),
        page.pagination(total),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::CustomerStatus;
    use crate::service::ledger;

    fn customer() -> customer::Model {
        customer::Model {
            phone_number: "529991234567".into(),
            first_name: Some("Ana".into()),
            ..ledger::new_customer("t", Uuid::nil(), time::now())
        }
    }

    #[test]
    fn a_creation_records_the_fields_it_set() {
        let mut log = Log::default();
        log.added(&customer());
        let fields: Vec<&str> = log.entries.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "phoneNumber",
                "firstName",
                "segment",
                "source",
                "preferences",
                "status"
            ]
        );
        assert!(log.entries.iter().all(|e| e.old.is_none()));
        assert_eq!(log.entries[1].new.as_deref(), Some("\"Ana\""));
    }

    #[test]
    fn a_change_records_only_what_moved_and_statistics_are_not_recorded() {
        let old = customer();
        let mut new = old.clone();
        new.total_messages += 3;
        new.search_text = "other".into();
        let mut log = Log::default();
        log.changed(&old, &new);
        assert!(log.is_empty());
        new.status = CustomerStatus::Inactive;
        new.deleted_at = Some(time::now());
        log.changed(&old, &new);
        let moved: Vec<(&str, Option<&str>)> = log
            .entries
            .iter()
            .map(|e| (e.field, e.old.as_deref()))
            .collect();
        assert_eq!(
            moved,
            [("status", Some("\"ACTIVE\"")), ("deletedAt", Some("null"))]
        );
    }

    #[test]
    fn cursors_read_back() {
        let c = Change {
            id: Uuid::now_v7(),
            customer_id: Uuid::nil().into(),
            field: "x".into(),
            old_value: None,
            new_value: None,
            actor: "a".into(),
            source: "api".into(),
            at: time::now(),
        };
        assert_eq!(decode_cursor(&cursor(&c)).expect("reads"), (c.at, c.id));
        assert!(decode_cursor("nope").is_err());
    }
}
