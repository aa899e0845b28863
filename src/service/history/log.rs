//! Recording the history: where a write came from ([`Origin`]: the caller's
//! `sub` and the path, [`Source`]), what each write changed field by field
//! ([`Log`], filled by the write transaction's customer hooks and written at
//! its commit), and an erasure's [`scrub`] of the personal values.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use entity::json::JsonText;
use entity::{customer, customer_change};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, QueryFilter, Set};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::Actor;
use crate::domain::time;
use crate::error::Result;
use crate::service::{insert_chunked, scope};

/// The path a customer write took, stored with each entry as its column
/// type (`api`, `import`, ...).
pub use entity::enums::ChangeSource as Source;

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

/// What an erasure leaves of a personal value: the JSON string `"[erased]"`.
pub fn erased() -> JsonText<Value> {
    JsonText(Value::String("[erased]".to_owned()))
}

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
    old: Option<Value>,
    new: Option<Value>,
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
            old,
            new,
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
                        .map(|v| if v.is_null() { JsonText(v) } else { erased() })
                } else {
                    e.old.map(JsonText)
                };
                customer_change::ActiveModel {
                    tenant_id: Set(e.tenant),
                    id: Set(Uuid::now_v7()),
                    customer_id: Set(e.customer),
                    field: Set(e.field.to_owned()),
                    old_value: Set(old),
                    new_value: Set(e.new.map(JsonText)),
                    agent: Set(origin.agent.clone()),
                    source: Set(origin.source),
                    at: Set(at),
                }
            })
            .collect();
        insert_chunked(db, rows).await
    }
}

/// A [`Log`] shared by the hooks of one transaction.
pub type SharedLog = Mutex<Log>;

/// Replaces the personal values in a customer's history with [`erased`]
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
            .col_expr(column, Expr::value(erased()))
            .filter(personal())
            .filter(column.is_not_null())
            .filter(column.ne(JsonText(Value::Null)))
            .filter(column.ne(erased()))
            .exec(db)
            .await?;
        changed += result.rows_affected;
    }
    Ok(changed)
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
        assert_eq!(log.entries[1].new, Some(json!("Ana")));
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
        let moved: Vec<(&str, Option<Value>)> = log
            .entries
            .iter()
            .map(|e| (e.field, e.old.clone()))
            .collect();
        assert_eq!(
            moved,
            [
                ("status", Some(json!("ACTIVE"))),
                ("deletedAt", Some(Value::Null))
            ]
        );
    }
}
