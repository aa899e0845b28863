//! Merging duplicate customers into one, and undoing it.
//!
//! A merge keeps one customer (the primary) and removes the others, in one
//! write transaction: their conversations (with their messages) and tickets
//! move to the primary; the primary gains their tags, their numbers (each
//! other's own number and alternatives become alternatives of the primary)
//! and the custom fields it lacks (its own values win; a loser's value that
//! lost is kept in the merge record), and their email and external id when
//! it has none; its statistics are recomputed from its rows exactly as
//! `recount` would ([`recount::recount_one`]). The others' rows are deleted
//! after their whole row, tags and numbers are stored in the merge record
//! (`customer_merges`), so they leave every list, count and search by
//! construction, and the per-tenant counters move through the transaction's
//! hooks like any delete.
//!
//! The undo ([`unmerge`]), within [`UNDO_DAYS`] days, puts each other back
//! with its own row, tags and numbers, moves the conversations and tickets
//! the merge moved back to it (messages follow their conversation, also the
//! ones written after the merge; conversations and tickets created on the
//! primary after the merge stay there), takes from the primary what the
//! merge gave it (where it still holds the merged value), and recomputes
//! everyone's statistics. It refuses, saying why, when it would have to
//! overwrite something written since: the primary is gone (deleted, or
//! merged into another customer), in the trash, or answers to one of the
//! restored numbers as its own; a restored number or external id is now
//! another customer's; or bring back what an erasure removed: once an
//! erasure reached the record (the primary, or a customer merged into it,
//! was erased), the merge stands for good.
//!
//! Both lock every customer they write in id order before writing
//! (PostgreSQL `SELECT ... ORDER BY id FOR UPDATE`; SQLite has one writer at
//! a time), customers before their conversations like every writer, so two
//! merges of overlapping customers serialize: the second finds a customer
//! the first removed gone, and fails with NOT_FOUND.
//!
//! Imports `customers` (views), `customer_rows`, `recount`, `scope`,
//! `events` and `history`; imported by the faces and by `erasure`, which
//! calls [`erase_person`] so an erasure reaches what the records keep.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use entity::json::StringList;
use entity::{conversation, customer, customer_phone, customer_tag, merge_record, message, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Actor;
use crate::domain::customer::{MAX_ALTERNATIVE_PHONES, MAX_TAGS};
use crate::domain::ids::{CustomerId, MergeId};
use crate::domain::{search, time};
use crate::error::{Error, Result};
use crate::service::customers::Customer;
use crate::service::events::{ChangeKind, Event};
use crate::service::history::Source;
use crate::service::{customer_rows, insert_chunked, recount, scope, Ctx, WriteTxn};

/// Most customers one merge folds into the primary.
pub const MAX_OTHERS: usize = 20;

/// Days a merge can be undone.
pub const UNDO_DAYS: i64 = 30;

/// Ids per `IN (...)` list.
const CHUNK: usize = 500;

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

/// A removed customer as the merge record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Removed {
    /// The whole row, statistics included, as it was.
    row: customer::Model,
    /// Its conversations that moved to the primary.
    conversations: Vec<Uuid>,
    /// Its tickets that moved.
    tickets: Vec<Uuid>,
    /// How many of its messages moved (with their conversations).
    messages: u64,
}

/// What the primary gained, for the undo to take back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Gained {
    tags: Vec<String>,
    phones: Vec<String>,
    custom_fields: Map<String, Value>,
    email: Option<String>,
    external_id: Option<String>,
}

/// An erasure that reached a standing merge: the merge can no longer be
/// undone, since the undo would restore rows without the data it removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ErasedBy {
    /// The customer erased.
    customer: Uuid,
    /// Its erasure receipt.
    receipt: Uuid,
}

/// The JSON of `customer_merges.snapshot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    others: Vec<Removed>,
    gained: Gained,
    kept: Vec<KeptValue>,
    moved: Moved,
    /// Erasures that removed personal data from this record (absent in
    /// records no erasure reached).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    erased: Vec<ErasedBy>,
}

impl Snapshot {
    fn read(m: &merge_record::Model) -> Result<Snapshot> {
        serde_json::from_value(m.snapshot.clone()).map_err(Error::internal)
    }
}

fn record_of(m: &merge_record::Model, snapshot: &Snapshot) -> MergeRecord {
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

/// Checks the ids of a merge: 400 naming `otherIds` for none, too many, a
/// repeated one or the primary among them.
fn check_ids(primary: CustomerId, others: &[CustomerId]) -> Result<()> {
    if others.is_empty() {
        return Err(Error::invalid("otherIds", "name at least one customer"));
    }
    if others.len() > MAX_OTHERS {
        return Err(Error::invalid(
            "otherIds",
            format!("at most {MAX_OTHERS} customers per merge"),
        ));
    }
    if others.contains(&primary) {
        return Err(Error::invalid(
            "otherIds",
            "the primary customer cannot be merged into itself",
        ));
    }
    let distinct: HashSet<&CustomerId> = others.iter().collect();
    if distinct.len() != others.len() {
        return Err(Error::invalid("otherIds", "a customer is named twice"));
    }
    Ok(())
}

/// Locks the caller's customers with these ids in id order (PostgreSQL;
/// SQLite has one writer at a time), so overlapping merges serialize
/// without deadlocking; NOT_FOUND unless every one exists (another tenant's
/// id included: no leak).
async fn lock_all(
    txn: &WriteTxn,
    actor: &Actor,
    ids: &[CustomerId],
) -> Result<Vec<customer::Model>> {
    let rows = scope::customers(actor)
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(customer::Column::Id)
        .lock_exclusive()
        .all(&**txn)
        .await?;
    if rows.len() != ids.len() {
        return Err(Error::NotFound("customer"));
    }
    Ok(rows)
}

/// `(id, customer)` pairs of the rows of `entity` whose `customer` column is
/// one of `customers`.
async fn owned<E, C>(
    db: &C,
    select: sea_orm::Select<E>,
    id: E::Column,
    owner: E::Column,
    customers: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut out = Vec::new();
    for chunk in customers.chunks(CHUNK) {
        out.extend(
            select
                .clone()
                .select_only()
                .column(id)
                .column(owner)
                .filter(owner.is_in(chunk.iter().copied()))
                .into_tuple::<(Uuid, Uuid)>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

/// How many messages each of `customers` has.
async fn message_counts<C: ConnectionTrait>(
    db: &C,
    tenant: &str,
    customers: &[Uuid],
) -> Result<Vec<(Uuid, i64)>> {
    Ok(scope::messages_in(tenant)
        .select_only()
        .column(message::Column::CustomerId)
        .column_as(message::Column::Id.count(), "n")
        .filter(message::Column::CustomerId.is_in(customers.iter().copied()))
        .group_by(message::Column::CustomerId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?)
}

/// The search text of a customer row from its fields.
fn with_search_text(mut m: customer::Model) -> customer::Model {
    m.search_text = search::document(
        &m.phone_number,
        m.first_name.as_deref(),
        m.last_name.as_deref(),
        m.email.as_deref(),
    );
    m
}

/// The primary with the others' tags, numbers, custom fields and empty
/// fields folded in; what it gained; the values that lost.
fn fold_in(
    primary: &customer::Model,
    others: &[customer::Model],
) -> Result<(customer::Model, Gained, Vec<KeptValue>)> {
    let mut m = primary.clone();
    let mut gained = Gained::default();
    let mut kept = Vec::new();
    for other in others {
        for tag in &other.tags.0 {
            if !m.tags.0.contains(tag) {
                m.tags.0.push(tag.clone());
                gained.tags.push(tag.clone());
            }
        }
        // An erased customer's placeholder is no number: it stays with its row.
        let placeholder = customer_rows::placeholder_phone(other.id);
        for phone in std::iter::once(&other.phone_number).chain(&other.alternative_phones.0) {
            if *phone != placeholder
                && *phone != m.phone_number
                && !m.alternative_phones.0.contains(phone)
            {
                m.alternative_phones.0.push(phone.clone());
                gained.phones.push(phone.clone());
            }
        }
        for (key, value) in &other.custom_fields.0 {
            match m.custom_fields.0.get(key) {
                None => {
                    m.custom_fields.0.insert(key.clone(), value.clone());
                    gained.custom_fields.insert(key.clone(), value.clone());
                }
                Some(own) if own == value => {}
                Some(_) => kept.push(KeptValue {
                    customer_id: other.id.into(),
                    field: format!("customFields.{key}"),
                    value: value.clone(),
                }),
            }
        }
        if m.email.is_none() && other.email.is_some() {
            m.email = other.email.clone();
            gained.email = other.email.clone();
        }
        if m.external_id.is_none() && other.external_id.is_some() {
            m.external_id = other.external_id.clone();
            gained.external_id = other.external_id.clone();
        }
    }
    if m.tags.0.len() > MAX_TAGS {
        return Err(Error::invalid(
            "otherIds",
            format!(
                "the merged customer would have {} tags, at most {MAX_TAGS}: remove some first",
                m.tags.0.len()
            ),
        ));
    }
    if m.alternative_phones.0.len() > MAX_ALTERNATIVE_PHONES {
        return Err(Error::invalid(
            "otherIds",
            format!(
                "the merged customer would have {} alternative numbers, at most \
                 {MAX_ALTERNATIVE_PHONES}: remove some first",
                m.alternative_phones.0.len()
            ),
        ));
    }
    Ok((with_search_text(m), gained, kept))
}

/// Publishes what a merge or undo changed (after its commit).
async fn publish(ctx: &Ctx, actor: &Actor, changes: Vec<(ChangeKind, CustomerId)>) {
    let events = changes
        .into_iter()
        .map(|(kind, id)| Event::customer(&actor.tenant, kind, id))
        .collect();
    ctx.events.publish(&ctx.db, events).await;
}

/// Merges `others` into `primary` (ADMIN): see the module documentation.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn merge(
    ctx: &Ctx,
    actor: &Actor,
    primary: CustomerId,
    others: Vec<CustomerId>,
) -> Result<Merged> {
    actor.require_admin()?;
    check_ids(primary, &others)?;
    let txn = ctx.write_as(actor, Source::Merge).await?;
    let mut all = others.clone();
    all.push(primary);
    let locked = lock_all(&txn, actor, &all).await?;
    let mut old_primary = None;
    let mut other_rows = Vec::new();
    for row in locked {
        if row.id == primary.uuid() {
            old_primary = Some(row);
        } else {
            other_rows.push(row);
        }
    }
    let old_primary = old_primary.ok_or(Error::NotFound("customer"))?;
    // In the order given: the first other's values win among the others.
    other_rows.sort_by_key(|r| others.iter().position(|o| o.uuid() == r.id));
    if old_primary.deleted_at.is_some() {
        return Err(Error::invalid(
            "primaryId",
            "the customer is in the trash: restore it first",
        ));
    }
    for other in &other_rows {
        if other.deleted_at.is_some() {
            return Err(Error::invalid(
                "otherIds",
                format!("customer {} is in the trash: restore it first", other.id),
            ));
        }
        if other.is_blocked {
            return Err(Error::invalid(
                "otherIds",
                format!(
                    "customer {} is blocked: unblock it, or keep it as the primary",
                    other.id
                ),
            ));
        }
    }
    let (folded, gained, kept) = fold_in(&old_primary, &other_rows)?;
    let tenant = actor.tenant.as_str();
    let other_ids: Vec<Uuid> = other_rows.iter().map(|r| r.id).collect();

    let conversations = owned(
        &*txn,
        scope::conversations_in(tenant),
        conversation::Column::Id,
        conversation::Column::CustomerId,
        &other_ids,
    )
    .await?;
    let tickets = owned(
        &*txn,
        scope::tickets_in(tenant),
        ticket::Column::Id,
        ticket::Column::CustomerId,
        &other_ids,
    )
    .await?;
    let messages = message_counts(&*txn, tenant, &other_ids).await?;
    let to = primary.uuid();
    scope::update_conversations(tenant)
        .col_expr(conversation::Column::CustomerId, Expr::value(to))
        .filter(conversation::Column::CustomerId.is_in(other_ids.iter().copied()))
        .exec(&*txn)
        .await?;
    scope::update_messages(tenant)
        .col_expr(message::Column::CustomerId, Expr::value(to))
        .filter(message::Column::CustomerId.is_in(other_ids.iter().copied()))
        .exec(&*txn)
        .await?;
    scope::update_tickets(tenant)
        .col_expr(ticket::Column::CustomerId, Expr::value(to))
        .filter(ticket::Column::CustomerId.is_in(other_ids.iter().copied()))
        .exec(&*txn)
        .await?;
    // The others go (their numbers and external ids free) before the
    // primary takes them.
    scope::delete_phones(tenant)
        .filter(customer_phone::Column::CustomerId.is_in(other_ids.iter().copied()))
        .exec(&*txn)
        .await?;
    scope::delete_tags(tenant)
        .filter(customer_tag::Column::CustomerId.is_in(other_ids.iter().copied()))
        .exec(&*txn)
        .await?;
    scope::delete_customers(tenant)
        .filter(customer::Column::Id.is_in(other_ids.iter().copied()))
        .exec(&*txn)
        .await?;
    for other in &other_rows {
        txn.customer_removed(other);
    }
    let mut folded = recount::recount_one(&*txn, folded).await?;
    folded.updated_at = time::now();
    let saved = customer_rows::save(&*txn, folded).await?;
    txn.customer_changed(&old_primary, &saved);
    customer_rows::replace_phones(&*txn, &saved, &saved.alternative_phones.0).await?;
    customer_rows::replace_tags(&*txn, &saved, &saved.tags.0).await?;

    let count = |of: &[(Uuid, Uuid)], id: Uuid| -> Vec<Uuid> {
        of.iter()
            .filter(|(_, o)| *o == id)
            .map(|(x, _)| *x)
            .collect()
    };
    let removed: Vec<Removed> = other_rows
        .into_iter()
        .map(|row| Removed {
            conversations: count(&conversations, row.id),
            tickets: count(&tickets, row.id),
            messages: messages
                .iter()
                .find(|(c, _)| *c == row.id)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0)),
            row,
        })
        .collect();
    let moved = Moved {
        conversations: conversations.len() as u64,
        messages: removed.iter().map(|r| r.messages).sum(),
        tickets: tickets.len() as u64,
        tags: gained.tags.clone(),
        phones: gained.phones.clone(),
        custom_fields: gained.custom_fields.keys().cloned().collect(),
        filled: [
            gained.email.as_ref().map(|_| "email"),
            gained.external_id.as_ref().map(|_| "externalId"),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect(),
    };
    let snapshot = Snapshot {
        others: removed,
        gained,
        kept,
        moved,
        erased: Vec::new(),
    };
    let row = merge_record::Model {
        tenant_id: actor.tenant.clone(),
        id: Uuid::now_v7(),
        primary_id: primary.uuid(),
        other_ids: StringList(other_ids.iter().map(Uuid::to_string).collect()),
        agent: actor.agent.clone(),
        created_at: time::now(),
        undone_at: None,
        undone_by: None,
        snapshot: serde_json::to_value(&snapshot).map_err(Error::internal)?,
    };
    merge_record::Entity::insert(row.clone().into_active_model())
        .exec_without_returning(&*txn)
        .await?;
    txn.commit().await?;
    let mut changes = vec![(ChangeKind::Updated, primary)];
    changes.extend(
        other_ids
            .iter()
            .map(|id| (ChangeKind::Deleted, CustomerId::from(*id))),
    );
    publish(ctx, actor, changes).await;
    Ok(Merged {
        record: record_of(&row, &snapshot),
        primary: Customer::from(saved),
        restored: Vec::new(),
    })
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

/// A 409 saying why an undo would be unsafe.
fn unsafe_undo(why: String) -> Error {
    Error::Conflict(format!("the merge cannot be undone: {why}"))
}

/// Why the primary of `m` is gone: the later merge that took it, if any.
async fn primary_gone(txn: &WriteTxn, actor: &Actor, m: &merge_record::Model) -> Error {
    let later = scope::merges(actor)
        .filter(merge_record::Column::CreatedAt.gte(m.created_at))
        .filter(merge_record::Column::UndoneAt.is_null())
        .all(&**txn)
        .await
        .unwrap_or_default();
    let primary = m.primary_id.to_string();
    match later.iter().find(|l| l.other_ids.0.contains(&primary)) {
        Some(l) => unsafe_undo(format!(
            "the primary customer {primary} was merged into customer {} since (merge {}): \
             undo that merge first",
            l.primary_id, l.id
        )),
        None => unsafe_undo(format!("the primary customer {primary} no longer exists")),
    }
}

/// Undoes a merge (ADMIN) within [`UNDO_DAYS`] days: see the module
/// documentation.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn unmerge(ctx: &Ctx, actor: &Actor, id: MergeId) -> Result<Merged> {
    actor.require_admin()?;
    let txn = ctx.write_as(actor, Source::Merge).await?;
    let tenant = actor.tenant.as_str();
    let find = || scope::merges(actor).filter(merge_record::Column::Id.eq(id.uuid()));
    // Its customers are locked before the record (below), as an erasure
    // does, which changes the record while holding its customer: the two
    // never wait for each other in a circle. Who was merged never changes.
    let head = find().one(&*txn).await?.ok_or(Error::NotFound("merge"))?;
    let mut ids: Vec<CustomerId> = Snapshot::read(&head)?
        .others
        .iter()
        .map(|o| CustomerId::from(o.row.id))
        .collect();
    ids.push(head.primary_id.into());
    // The primary, and any restored id that exists again (it cannot, short
    // of hand-written SQL), locked in id order.
    let present = scope::customers(actor)
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(customer::Column::Id)
        .lock_exclusive()
        .all(&*txn)
        .await?;
    // Read again, locked: an undo or erasure that committed meanwhile shows.
    let record = find()
        .lock_exclusive()
        .one(&*txn)
        .await?
        .ok_or(Error::NotFound("merge"))?;
    if let Some(at) = record.undone_at {
        return Err(Error::Conflict(format!(
            "the merge was already undone at {}",
            time::format(&at)
        )));
    }
    let now = time::now();
    if now > record.created_at + Duration::days(UNDO_DAYS) {
        return Err(Error::Conflict(format!(
            "a merge can be undone for {UNDO_DAYS} days; this one is from {}",
            time::format(&record.created_at)
        )));
    }
    let snapshot = Snapshot::read(&record)?;
    if let Some(e) = snapshot.erased.first() {
        return Err(unsafe_undo(format!(
            "the personal data of customer {} was erased (erasure {}), so the merged \
             customers cannot be restored",
            e.customer, e.receipt
        )));
    }
    let Some(old_primary) = present.iter().find(|c| c.id == record.primary_id).cloned() else {
        return Err(primary_gone(&txn, actor, &record).await);
    };
    if let Some(back) = present.iter().find(|c| c.id != record.primary_id) {
        return Err(unsafe_undo(format!("customer {} exists again", back.id)));
    }
    if old_primary.deleted_at.is_some() {
        return Err(unsafe_undo(format!(
            "the primary customer {} is in the trash: restore it first",
            old_primary.id
        )));
    }
    // Every number and external id that goes back must be free, or the
    // primary's to give back.
    let mut phones: Vec<(&'static str, &str)> = Vec::new();
    for o in &snapshot.others {
        phones.push(("phoneNumber", o.row.phone_number.as_str()));
        phones.extend(
            o.row
                .alternative_phones
                .0
                .iter()
                .map(|p| ("alternativePhones", p.as_str())),
        );
    }
    if let Some((_, p)) = phones
        .iter()
        .find(|(_, p)| *p == old_primary.phone_number.as_str())
    {
        return Err(unsafe_undo(format!(
            "the primary customer's own number is now {p}, a number of a merged customer: \
             change it first"
        )));
    }
    for chunk in phones.chunks(CHUNK) {
        let holders = scope::phones(actor)
            .filter(customer_phone::Column::Phone.is_in(chunk.iter().map(|(_, p)| *p)))
            .filter(customer_phone::Column::CustomerId.ne(record.primary_id))
            .all(&*txn)
            .await?;
        if let Some(h) = holders.first() {
            let field = chunk
                .iter()
                .find(|(_, p)| *p == h.phone)
                .map_or("phoneNumber", |(f, _)| *f);
            return Err(Error::PhoneTaken {
                field: field.to_owned(),
                phone: h.phone.clone(),
                existing_id: h.customer_id.to_string(),
            });
        }
    }
    let mut primary = old_primary.clone();
    let gained = &snapshot.gained;
    if gained.external_id.is_some() && primary.external_id == gained.external_id {
        primary.external_id = None;
    }
    for o in &snapshot.others {
        let Some(external) = &o.row.external_id else {
            continue;
        };
        let holder = scope::customers(actor)
            .filter(customer::Column::ExternalId.eq(external.as_str()))
            .filter(customer::Column::Id.ne(record.primary_id))
            .one(&*txn)
            .await?;
        if let Some(h) = holder {
            return Err(unsafe_undo(format!(
                "external id {external} of customer {} now belongs to customer {}",
                o.row.id, h.id
            )));
        }
    }
    // Take back what the primary gained, where it still holds it.
    let restored_phones: BTreeSet<&str> = phones.iter().map(|(_, p)| *p).collect();
    primary
        .alternative_phones
        .0
        .retain(|p| !restored_phones.contains(p.as_str()));
    primary.tags.0.retain(|t| !gained.tags.contains(t));
    for (key, value) in &gained.custom_fields {
        if primary.custom_fields.0.get(key) == Some(value) {
            primary.custom_fields.0.shift_remove(key);
        }
    }
    if gained.email.is_some() && primary.email == gained.email {
        primary.email = None;
    }
    primary.updated_at = now;
    let primary = customer_rows::save(&*txn, with_search_text(primary)).await?;
    customer_rows::replace_phones(&*txn, &primary, &primary.alternative_phones.0).await?;
    customer_rows::replace_tags(&*txn, &primary, &primary.tags.0).await?;

    let mut restored = Vec::new();
    for o in &snapshot.others {
        let mut row = o.row.clone();
        row.updated_at = now;
        customer::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&*txn)
            .await?;
        insert_chunked(
            &*txn,
            customer_rows::phone_rows(&row, &row.alternative_phones.0),
        )
        .await?;
        insert_chunked(&*txn, customer_rows::tag_rows(&row, &row.tags.0)).await?;
        for chunk in o.conversations.chunks(CHUNK) {
            scope::update_conversations(tenant)
                .col_expr(conversation::Column::CustomerId, Expr::value(row.id))
                .filter(conversation::Column::Id.is_in(chunk.iter().copied()))
                .filter(conversation::Column::CustomerId.eq(record.primary_id))
                .exec(&*txn)
                .await?;
            scope::update_messages(tenant)
                .col_expr(message::Column::CustomerId, Expr::value(row.id))
                .filter(message::Column::ConversationId.is_in(chunk.iter().copied()))
                .filter(message::Column::CustomerId.eq(record.primary_id))
                .exec(&*txn)
                .await?;
        }
        for chunk in o.tickets.chunks(CHUNK) {
            scope::update_tickets(tenant)
                .col_expr(ticket::Column::CustomerId, Expr::value(row.id))
                .filter(ticket::Column::Id.is_in(chunk.iter().copied()))
                .filter(ticket::Column::CustomerId.eq(record.primary_id))
                .exec(&*txn)
                .await?;
        }
        restored.push(row);
    }
    let primary = recount::recount_one(&*txn, primary).await?;
    let primary = customer_rows::save(&*txn, primary).await?;
    txn.customer_changed(&old_primary, &primary);
    let mut back = Vec::new();
    for row in restored {
        let fresh = recount::recount_one(&*txn, row.clone()).await?;
        let fresh = if fresh == row {
            row
        } else {
            customer_rows::save(&*txn, fresh).await?
        };
        txn.customer_added(&fresh);
        back.push(fresh);
    }
    let mut undone = record.clone().into_active_model();
    undone.undone_at = Set(Some(now));
    undone.undone_by = Set(Some(actor.agent.clone()));
    let undone = sea_orm::ActiveModelTrait::update(undone, &*txn).await?;
    txn.commit().await?;
    let mut changes = vec![(ChangeKind::Updated, CustomerId::from(primary.id))];
    changes.extend(
        back.iter()
            .map(|c| (ChangeKind::Created, CustomerId::from(c.id))),
    );
    publish(ctx, actor, changes).await;
    Ok(Merged {
        record: record_of(&undone, &snapshot),
        primary: Customer::from(primary),
        restored: back.into_iter().map(Customer::from).collect(),
    })
}

/// What erasing a person removed from the merge records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErasedFromMerges {
    /// Merge records that held some of the person's personal data.
    pub records: u64,
    /// The customers standing merges folded into the erased one (directly
    /// or through earlier merges): copies of the same person, whose rows the
    /// records kept.
    pub folded: Vec<Uuid>,
}

/// Removes the personal data of the customer `subject` from the caller's
/// merge records, in the erasure's transaction (which holds the customer's
/// row), and marks each standing merge it reached so that it can no longer
/// be undone (receipt `receipt`).
///
/// The person is the customer and every customer a standing merge folded
/// into it, directly or through earlier merges: the admin who merged said
/// they were one person, and the customer's row, which the erasure clears,
/// holds their numbers, email and fields. Their kept rows, the values the
/// primary gained from them, and their values that lost to the primary's
/// are cleared, in every record (standing or undone) that holds them. A
/// customer an undo restored is a person of its own again: erasing the
/// primary leaves its copy in the undone record alone, and erasing it
/// clears that copy.
pub(crate) async fn erase_person(
    txn: &WriteTxn,
    actor: &Actor,
    subject: CustomerId,
    receipt: Uuid,
) -> Result<ErasedFromMerges> {
    // Only the small columns of every record: which customers each names.
    let heads: Vec<(Uuid, Uuid, StringList, Option<DateTime<Utc>>)> = scope::merges(actor)
        .select_only()
        .column(merge_record::Column::Id)
        .column(merge_record::Column::PrimaryId)
        .column(merge_record::Column::OtherIds)
        .column(merge_record::Column::UndoneAt)
        .order_by_asc(merge_record::Column::Id)
        .into_tuple()
        .all(&**txn)
        .await?;
    let others_of =
        |list: &StringList| -> Vec<Uuid> { list.0.iter().filter_map(|o| o.parse().ok()).collect() };
    let mut person: HashSet<Uuid> = HashSet::from([subject.uuid()]);
    let mut grew = true;
    while grew {
        grew = false;
        for (_, primary, others, undone) in &heads {
            if undone.is_none() && person.contains(primary) {
                for o in others_of(others) {
                    grew |= person.insert(o);
                }
            }
        }
    }
    let mut erased = ErasedFromMerges {
        records: 0,
        folded: person
            .iter()
            .copied()
            .filter(|id| *id != subject.uuid())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    for (id, primary, others, undone) in &heads {
        let standing = undone.is_none();
        let touches =
            person.contains(primary) || others_of(others).iter().any(|o| person.contains(o));
        if !touches {
            continue;
        }
        let Some(record) = scope::merges(actor)
            .filter(merge_record::Column::Id.eq(*id))
            .lock_exclusive()
            .one(&**txn)
            .await?
        else {
            continue;
        };
        let mut snapshot = Snapshot::read(&record)?;
        let mut changed = scrub(&mut snapshot, &person);
        // The first erasure that reaches a standing merge ends its undo; a
        // later one is named too when it found something more to erase.
        if standing && (changed || snapshot.erased.is_empty()) {
            snapshot.erased.push(ErasedBy {
                customer: subject.uuid(),
                receipt,
            });
            changed = true;
        }
        if changed {
            let mut active = record.into_active_model();
            active.snapshot = Set(serde_json::to_value(&snapshot).map_err(Error::internal)?);
            sea_orm::ActiveModelTrait::update(active, &**txn).await?;
            erased.records += 1;
        }
    }
    Ok(erased)
}

/// Clears from a merge record's snapshot the personal data of the customers
/// `person`: their kept rows (as an erasure clears a customer), the
/// numbers, email, external id and custom fields the primary gained from
/// them, and their values that lost. Whether anything changed.
fn scrub(s: &mut Snapshot, person: &HashSet<Uuid>) -> bool {
    let mut phones: HashSet<String> = HashSet::new();
    let mut emails: HashSet<String> = HashSet::new();
    let mut external_ids: HashSet<String> = HashSet::new();
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut changed = false;
    for o in s.others.iter_mut().filter(|o| person.contains(&o.row.id)) {
        let row = &o.row;
        phones.insert(row.phone_number.clone());
        phones.extend(row.alternative_phones.0.iter().cloned());
        emails.extend(row.email.clone());
        external_ids.extend(row.external_id.clone());
        fields.extend(
            row.custom_fields
                .0
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        changed |= !customer_rows::clear_personal(&mut o.row).is_empty();
    }
    let before = (
        s.gained.phones.len(),
        s.moved.phones.len(),
        s.gained.custom_fields.len(),
        s.kept.len(),
    );
    s.gained.phones.retain(|p| !phones.contains(p));
    s.moved.phones.retain(|p| !phones.contains(p));
    s.gained
        .custom_fields
        .retain(|k, v| !fields.iter().any(|(fk, fv)| fk == k && fv == v));
    s.kept.retain(|k| !person.contains(&k.customer_id.uuid()));
    changed |= before
        != (
            s.gained.phones.len(),
            s.moved.phones.len(),
            s.gained.custom_fields.len(),
            s.kept.len(),
        );
    if s.gained.email.as_ref().is_some_and(|e| emails.contains(e)) {
        s.gained.email = None;
        changed = true;
    }
    if s.gained
        .external_id
        .as_ref()
        .is_some_and(|e| external_ids.contains(e))
    {
        s.gained.external_id = None;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ledger;
    use entity::json::JsonObject;
    use serde_json::json;

    fn id(n: u128) -> CustomerId {
        Uuid::from_u128(n).into()
    }

    fn customer(n: u128, phone: &str) -> customer::Model {
        customer::Model {
            phone_number: phone.to_owned(),
            ..ledger::new_customer("t", Uuid::from_u128(n), time::now())
        }
    }

    #[test]
    fn bad_id_lists_are_refused_naming_other_ids() {
        for (others, why) in [
            (vec![], "empty"),
            (vec![id(2), id(2)], "repeated"),
            (vec![id(2), id(1)], "the primary"),
            ((10..32).map(id).collect(), "too many"),
        ] {
            match check_ids(id(1), &others) {
                Err(Error::BadUserInput { fields, .. }) => {
                    assert_eq!(fields[0].field, "otherIds", "{why}")
                }
                other => panic!("{why}: {other:?}"),
            }
        }
        assert!(check_ids(id(1), &[id(2), id(3)]).is_ok());
    }

    #[test]
    fn folding_unions_tags_numbers_and_fields_with_the_primary_winning() {
        let mut a = customer(1, "529991000001");
        a.tags = StringList(vec!["vip".into()]);
        a.alternative_phones = StringList(vec!["529991000009".into()]);
        a.custom_fields = JsonObject(
            json!({"plan": "gold", "city": "Mérida"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let mut b = customer(2, "529991000002");
        b.tags = StringList(vec!["vip".into(), "late".into()]);
        b.alternative_phones = StringList(vec!["529991000003".into()]);
        b.custom_fields = JsonObject(
            json!({"plan": "silver", "shoe": 42})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        b.email = Some("b@x.com".into());
        let (m, gained, kept) = fold_in(&a, &[b]).expect("folds");
        assert_eq!(m.tags.0, ["vip", "late"]);
        assert_eq!(
            m.alternative_phones.0,
            ["529991000009", "529991000002", "529991000003"]
        );
        assert_eq!(
            Value::Object(m.custom_fields.0.clone()),
            json!({"plan": "gold", "city": "Mérida", "shoe": 42})
        );
        assert_eq!(m.email.as_deref(), Some("b@x.com"));
        assert!(m.search_text.contains("b@x.com"));
        assert_eq!(gained.tags, ["late"]);
        assert_eq!(gained.phones, ["529991000002", "529991000003"]);
        assert_eq!(
            kept,
            [KeptValue {
                customer_id: id(2),
                field: "customFields.plan".into(),
                value: json!("silver"),
            }]
        );
    }

    #[test]
    fn scrubbing_clears_only_the_erased_persons_copies_and_values() {
        let mut a = customer(1, "529991000001");
        let mut b = customer(2, "529991000002");
        b.first_name = Some("Beto".into());
        b.email = Some("beto@x.com".into());
        b.alternative_phones = StringList(vec!["529991000022".into()]);
        b.custom_fields = JsonObject(
            json!({"plan": "silver", "rfc": "BETO"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let mut c = customer(3, "529991000003");
        c.first_name = Some("Cy".into());
        c.custom_fields = JsonObject(
            json!({"plan": "bronze", "shoe": 42})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        a.custom_fields = JsonObject(
            json!({"plan": "gold"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let (_, gained, kept) = fold_in(&a, &[b.clone(), c.clone()]).expect("folds");
        let removed = |row: &customer::Model| Removed {
            row: row.clone(),
            conversations: Vec::new(),
            tickets: Vec::new(),
            messages: 0,
        };
        let mut snapshot = Snapshot {
            others: vec![removed(&b), removed(&c)],
            moved: Moved {
                phones: gained.phones.clone(),
                ..Moved::default()
            },
            gained,
            kept,
            erased: Vec::new(),
        };
        assert!(scrub(&mut snapshot, &HashSet::from([b.id])));
        let text = serde_json::to_string(&snapshot).expect("json");
        for secret in [
            "Beto",
            "beto@x.com",
            "529991000002",
            "529991000022",
            "silver",
            "BETO",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(snapshot.others[1].row, c, "another person's copy stays");
        assert_eq!(snapshot.gained.phones, ["529991000003"]);
        assert_eq!(snapshot.moved.phones, ["529991000003"]);
        assert_eq!(
            Value::Object(snapshot.gained.custom_fields.clone()),
            json!({"shoe": 42})
        );
        assert_eq!(snapshot.kept.len(), 1);
        assert_eq!(snapshot.kept[0].customer_id, CustomerId::from(c.id));
        assert!(
            !scrub(&mut snapshot, &HashSet::from([b.id])),
            "twice: nothing"
        );
    }

    #[test]
    fn too_many_numbers_after_folding_are_refused() {
        let a = customer(1, "529991000001");
        let mut b = customer(2, "529991000002");
        b.alternative_phones = StringList(
            (0..MAX_ALTERNATIVE_PHONES)
                .map(|n| format!("5299920{n:05}"))
                .collect(),
        );
        assert!(matches!(fold_in(&a, &[b]), Err(Error::BadUserInput { .. })));
    }
}
