//! Holder lookups: which stored customers a batch's keys (numbers, emails,
//! external ids) and named agents point at, one query per kind.

use std::collections::{HashMap, HashSet};

use entity::{agent, customer, customer_phone};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::Prepared;
use crate::auth::Actor;
use crate::error::Result;
use crate::service::{scope, WriteTxn};

/// The preferred agents named by `rows` that exist in the caller's tenant.
pub(super) async fn known_agents(
    txn: &WriteTxn,
    actor: &Actor,
    rows: &[Prepared],
) -> Result<HashSet<Uuid>> {
    let wanted: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.changes.preferences.as_ref()?.preferred_agent_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = scope::agents(actor)
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
pub(super) struct Holders {
    pub(super) phones: HashMap<String, Uuid>,
    pub(super) emails: HashMap<String, Vec<Uuid>>,
    pub(super) external_ids: HashMap<String, Uuid>,
    pub(super) customers: HashMap<Uuid, customer::Model>,
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
    let found: Vec<(Option<String>, Uuid)> = scope::customers(actor)
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
pub(super) async fn holders(
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
        let found: Vec<(String, Uuid)> = scope::phones(actor)
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
        let found = scope::customers(actor)
            .filter(customer::Column::Id.is_in(chunk.iter().copied()))
            .lock_exclusive()
            .all(&**txn)
            .await?;
        h.customers.extend(found.into_iter().map(|m| (m.id, m)));
    }
    Ok(h)
}
