//! Merging: checking the ids, locking the customers, folding the others
//! into the primary, moving their rows and storing the record. Imports
//! `view` and `record`; `undo` uses its helpers.

use std::collections::HashSet;

use entity::json::StringList;
use entity::{conversation, customer, customer_phone, customer_tag, merge_record, message, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::record::{record_of, Gained, Removed, Snapshot};
use super::view::{KeptValue, Merged, Moved, MAX_OTHERS};
use crate::auth::Actor;
use crate::domain::customer::{MAX_ALTERNATIVE_PHONES, MAX_TAGS};
use crate::domain::ids::CustomerId;
use crate::domain::{search, time};
use crate::error::{Error, Result};
use crate::service::customers::Customer;
use crate::service::events::{ChangeKind, Event};
use crate::service::history::Source;
use crate::service::{customer_rows, recount, scope, Ctx, WriteTxn};

/// Ids per `IN (...)` list.
pub(super) const CHUNK: usize = 500;

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
pub(super) fn with_search_text(mut m: customer::Model) -> customer::Model {
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
pub(super) fn fold_in(
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
pub(super) async fn publish(ctx: &Ctx, actor: &Actor, changes: Vec<(ChangeKind, CustomerId)>) {
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
        snapshot: snapshot.to_json()?,
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::service::ledger;
    use entity::json::JsonObject;
    use serde_json::{json, Value};

    pub(in crate::service::merges) fn id(n: u128) -> CustomerId {
        Uuid::from_u128(n).into()
    }

    pub(in crate::service::merges) fn customer(n: u128, phone: &str) -> customer::Model {
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
