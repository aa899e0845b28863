//! Undoing a merge: the checks that it would overwrite nothing written
//! since, then the restored customers, their rows moved back, and what the
//! primary gained taken back. Imports `view`, `record` and `merge` (its
//! helpers).

use std::collections::BTreeSet;

use chrono::Duration;
use entity::{conversation, customer, customer_phone, merge_record, message, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::merge::{publish, with_search_text, CHUNK};
use super::record::{record_of, Snapshot};
use super::view::{Merged, UNDO_DAYS};
use crate::auth::Actor;
use crate::domain::ids::{CustomerId, MergeId};
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::customers::Customer;
use crate::service::events::ChangeKind;
use crate::service::history::Source;
use crate::service::{customer_rows, insert_chunked, recount, scope, Ctx, WriteTxn};

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
