//! Writing customers: create, update, tags, block and unblock (deletes are
//! in `delete`), each in one transaction with the customer row locked, the
//! phone and tag rows kept beside it, and a change event after the commit.
//! Imports `customer_rows`, `events` and `scope`; never `conversations`.

use chrono::{DateTime, Utc};
use entity::customer;
use entity::json::{JsonObject, StringList};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set,
};
use uuid::Uuid;

use super::view::Customer;
use crate::auth::Actor;
use crate::domain::customer::{
    check_tag_count, check_text, clean_tags, CustomerChanges, CustomerInput, CustomerSegment,
    CustomerSource, CustomerStatus, Errors, Mode, Preferences, TagAction,
};
use crate::domain::ids::CustomerId;
use crate::domain::phone::PhoneNumber;
use crate::domain::{search, time};
use crate::error::{Error, FieldError, Result, UniqueKey};
use crate::service::events::ChangeKind;
use crate::service::history::Source;
use crate::service::{customer_rows, insert_chunked, ledger, scope, Ctx, WriteTxn};

/// The first customer other than `except` holding one of `phones`, as a 409.
async fn phone_conflict<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    phones: &[(&'static str, &PhoneNumber)],
    except: Option<CustomerId>,
) -> Result<Option<Error>> {
    if phones.is_empty() {
        return Ok(None);
    }
    let numbers = phones.iter().map(|(_, p)| p.as_str());
    let Some(holder) = customer_rows::phone_holder(db, actor, numbers, except).await? else {
        return Ok(None);
    };
    let field = phones
        .iter()
        .find(|(_, p)| p.as_str() == holder.phone)
        .map_or("phoneNumber", |(f, _)| *f);
    Ok(Some(Error::PhoneTaken {
        field: field.to_owned(),
        phone: holder.phone,
        existing_id: holder.customer_id.to_string(),
    }))
}

/// The customer other than `except` holding `external_id`, as a 409.
pub(crate) async fn external_id_conflict<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    external_id: Option<&str>,
    except: Option<CustomerId>,
) -> Result<Option<Error>> {
    let Some(external_id) = external_id else {
        return Ok(None);
    };
    let mut q = scope::customers(actor).filter(customer::Column::ExternalId.eq(external_id));
    if let Some(id) = except {
        q = q.filter(customer::Column::Id.ne(id));
    }
    Ok(q.one(db).await?.map(|holder| Error::ExternalIdTaken {
        existing_id: holder.id.to_string(),
    }))
}

/// The numbers a customer answers to, each with the field it came from.
fn phones_of<'a>(
    primary: &'a PhoneNumber,
    alternatives: &'a [PhoneNumber],
) -> Vec<(&'static str, &'a PhoneNumber)> {
    std::iter::once(("phoneNumber", primary))
        .chain(alternatives.iter().map(|p| ("alternativePhones", p)))
        .collect()
}

/// Fails with 400 when the preferred agent is not one of the tenant's.
async fn check_agent<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    prefs: Option<&Preferences>,
) -> Result<()> {
    let Some(agent_id) = prefs.and_then(|p| p.preferred_agent_id) else {
        return Ok(());
    };
    let exists = scope::agents(actor)
        .filter(entity::agent::Column::Id.eq(agent_id))
        .count(db)
        .await?
        > 0;
    if exists {
        Ok(())
    } else {
        Err(Error::invalid(
            "preferences.preferredAgentId",
            "unknown agent",
        ))
    }
}

fn phone_strings(phones: &[PhoneNumber]) -> Vec<String> {
    phones.iter().map(|p| p.as_str().to_owned()).collect()
}

/// A new customer row from validated create input (phone present).
pub(crate) fn new_model(
    actor: &Actor,
    changes: CustomerChanges,
    now: DateTime<Utc>,
) -> Result<customer::Model> {
    let phone = changes
        .phone_number
        .ok_or_else(|| Error::invalid("phoneNumber", "phone number is required"))?;
    let first_name = changes.first_name.flatten();
    let last_name = changes.last_name.flatten();
    let email = changes.email.flatten();
    let prefs = changes.preferences.unwrap_or_default();
    Ok(customer::Model {
        search_text: search::document(
            phone.as_str(),
            first_name.as_deref(),
            last_name.as_deref(),
            email.as_deref(),
        ),
        phone_number: phone.into_string(),
        first_name,
        last_name,
        email,
        avatar: changes.avatar.flatten(),
        alternative_phones: StringList(phone_strings(
            &changes.alternative_phones.unwrap_or_default(),
        )),
        address: changes.address.flatten(),
        tags: StringList(changes.tags.unwrap_or_default()),
        segment: changes.segment.unwrap_or(CustomerSegment::New),
        source: changes.source.unwrap_or(CustomerSource::Whatsapp),
        custom_fields: JsonObject(changes.custom_fields.unwrap_or_default()),
        preferred_language: prefs.language,
        communication_hours: prefs.communication_hours,
        preferred_agent_id: prefs.preferred_agent_id,
        status: changes.status.unwrap_or(CustomerStatus::Active),
        notes: changes.notes.flatten(),
        external_id: changes.external_id.flatten(),
        ..ledger::new_customer(&actor.tenant, Uuid::now_v7(), now)
    })
}

/// Names the holder of a phone number another writer took between our
/// check and our write: the database said which key failed ([`Error::Taken`]);
/// this lookup only fills in the details the contract shows.
async fn name_holder(
    ctx: &Ctx,
    actor: &Actor,
    err: Error,
    phones: &[(&'static str, &PhoneNumber)],
    except: Option<CustomerId>,
) -> Error {
    if matches!(err, Error::Taken(UniqueKey::Phone)) {
        if let Ok(Some(conflict)) = phone_conflict(&ctx.db, actor, phones, except).await {
            return conflict;
        }
    }
    err
}

/// Tells subscribers a customer changed (after the write committed).
pub(super) async fn publish(ctx: &Ctx, actor: &Actor, kind: ChangeKind, id: CustomerId) {
    ctx.events
        .customer_changed(&ctx.db, &actor.tenant, kind, id)
        .await;
}

/// Creates a customer.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: CustomerInput) -> Result<Customer> {
    actor.require_writer()?;
    let changes = input
        .validate(Mode::Create, ctx.region)
        .map_err(Error::invalid_fields)?;
    let primary = changes
        .phone_number
        .clone()
        .ok_or_else(|| Error::invalid("phoneNumber", "phone number is required"))?;
    let alternatives = changes.alternative_phones.clone().unwrap_or_default();
    let phones = phones_of(&primary, &alternatives);
    let result = async {
        let txn = ctx.write_as(actor, Source::Api).await?;
        check_agent(&*txn, actor, changes.preferences.as_ref()).await?;
        if let Some(conflict) = phone_conflict(&*txn, actor, &phones, None).await? {
            return Err(conflict);
        }
        let external_id = changes.external_id.clone().flatten();
        if let Some(conflict) =
            external_id_conflict(&*txn, actor, external_id.as_deref(), None).await?
        {
            return Err(conflict);
        }
        let model = new_model(actor, changes.clone(), time::now())?;
        let tags: Vec<String> = changes.tags.clone().unwrap_or_default();
        customer::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&*txn)
            .await?;
        txn.customer_added(&model);
        let alternatives = phone_strings(&alternatives);
        insert_chunked(&*txn, customer_rows::phone_rows(&model, &alternatives)).await?;
        insert_chunked(&*txn, customer_rows::tag_rows(&model, &tags)).await?;
        txn.commit().await?;
        Ok(Customer::from(model))
    }
    .await;
    match result {
        Ok(c) => {
            publish(ctx, actor, ChangeKind::Created, c.id).await;
            Ok(c)
        }
        Err(e) => Err(name_holder(ctx, actor, e, &phones, None).await),
    }
}

/// Changes the given fields of a customer; absent fields stay as they are.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    input: CustomerInput,
) -> Result<Customer> {
    actor.require_writer()?;
    let changes = input
        .validate(Mode::Update, ctx.region)
        .map_err(Error::invalid_fields)?;
    let mut phones_owned: Vec<(&'static str, PhoneNumber)> = Vec::new();
    if let Some(p) = &changes.phone_number {
        phones_owned.push(("phoneNumber", p.clone()));
    }
    for p in changes.alternative_phones.iter().flatten() {
        phones_owned.push(("alternativePhones", p.clone()));
    }
    let phones: Vec<(&'static str, &PhoneNumber)> =
        phones_owned.iter().map(|(f, p)| (*f, p)).collect();
    let result = async {
        let txn = ctx.write_as(actor, Source::Api).await?;
        let current = customer_rows::lock(&*txn, actor, id).await?;
        check_agent(&*txn, actor, changes.preferences.as_ref()).await?;
        if let Some(conflict) = phone_conflict(&*txn, actor, &phones, Some(id)).await? {
            return Err(conflict);
        }
        let external_id = changes.external_id.clone().flatten();
        if let Some(conflict) =
            external_id_conflict(&*txn, actor, external_id.as_deref(), Some(id)).await?
        {
            return Err(conflict);
        }
        let updated = apply_changes(&txn, current, changes.clone()).await?;
        txn.commit().await?;
        Ok(Customer::from(updated))
    }
    .await;
    match result {
        Ok(c) => {
            publish(ctx, actor, ChangeKind::Updated, c.id).await;
            Ok(c)
        }
        Err(e) => Err(name_holder(ctx, actor, e, &phones, Some(id)).await),
    }
}

/// `current` with `changes` applied, as an update stores them, without
/// writing; `updated_at` unchanged. The import plans its updates with it.
pub(crate) fn with_changes(current: &customer::Model, c: CustomerChanges) -> customer::Model {
    let mut m = current.clone();
    let mut alternatives = m.alternative_phones.0.clone();
    if let Some(p) = c.phone_number {
        m.phone_number = p.into_string();
    }
    if let Some(alts) = c.alternative_phones {
        alternatives = phone_strings(&alts);
    }
    alternatives.retain(|p| *p != m.phone_number);
    m.alternative_phones = StringList(alternatives);
    if let Some(v) = c.first_name {
        m.first_name = v;
    }
    if let Some(v) = c.last_name {
        m.last_name = v;
    }
    if let Some(v) = c.email {
        m.email = v;
    }
    if let Some(v) = c.avatar {
        m.avatar = v;
    }
    if let Some(v) = c.notes {
        m.notes = v;
    }
    if let Some(v) = c.external_id {
        m.external_id = v;
    }
    if let Some(v) = c.address {
        m.address = v;
    }
    if let Some(v) = c.segment {
        m.segment = v;
    }
    if let Some(v) = c.source {
        m.source = v;
    }
    if let Some(v) = c.custom_fields {
        m.custom_fields = JsonObject(v);
    }
    if let Some(p) = c.preferences {
        m.preferred_language = p.language;
        m.communication_hours = p.communication_hours;
        m.preferred_agent_id = p.preferred_agent_id;
    }
    if let Some(s) = c.status {
        // A blocked customer stays blocked; the new status is the one unblock restores.
        if m.is_blocked {
            m.status_before_block = Some(s);
        } else {
            m.status = s;
        }
    }
    if let Some(tags) = c.tags {
        m.tags = StringList(tags);
    }
    m.search_text = search::document(
        &m.phone_number,
        m.first_name.as_deref(),
        m.last_name.as_deref(),
        m.email.as_deref(),
    );
    m
}

/// Takes a customer row out of the trash, as a restore does: `deleted_at`
/// is cleared and, unless `status_set` (the write gave the status itself),
/// the status the soft delete replaced returns (while blocked, as the status
/// unblock returns to). A customer not in the trash stays as it is.
pub(crate) fn revive(m: &mut customer::Model, status_set: bool) {
    if m.deleted_at.is_none() {
        return;
    }
    if !status_set {
        let before = m.status_before_delete.unwrap_or(CustomerStatus::Active);
        if m.is_blocked {
            m.status_before_block = Some(before);
        } else {
            m.status = before;
        }
    }
    m.deleted_at = None;
    m.status_before_delete = None;
}

async fn apply_changes(
    txn: &WriteTxn,
    current: customer::Model,
    c: CustomerChanges,
) -> Result<customer::Model> {
    let phones_changed = c.phone_number.is_some() || c.alternative_phones.is_some();
    // Setting a status other than INACTIVE is how legacy clients undo a soft
    // delete: it takes the customer out of the trash, so the sweep never
    // purges a customer someone made active again.
    let revives = c.status.is_some_and(|s| s != CustomerStatus::Inactive);
    let tags = c.tags.clone();
    let mut m = with_changes(&current, c);
    if revives {
        revive(&mut m, true);
    }
    m.updated_at = time::now();
    let alternatives = m.alternative_phones.0.clone();
    let updated = customer_rows::save(&**txn, m).await?;
    txn.customer_changed(&current, &updated);
    if phones_changed {
        customer_rows::replace_phones(&**txn, &updated, &alternatives).await?;
    }
    if let Some(tags) = &tags {
        customer_rows::replace_tags(&**txn, &updated, tags).await?;
    }
    Ok(updated)
}

/// Sets, adds or removes tags.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn update_tags(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    tags: Vec<String>,
    action: TagAction,
) -> Result<Customer> {
    actor.require_writer()?;
    let mut e = Errors::default();
    let given = clean_tags(&mut e, "tags", tags);
    if !e.0.is_empty() {
        return Err(Error::invalid_fields(e.0));
    }
    let txn = ctx.write_as(actor, Source::Api).await?;
    let current = customer_rows::lock(&*txn, actor, id).await?;
    let mut tags = current.tags.0.clone();
    match action {
        TagAction::Set => tags = given,
        TagAction::Add => {
            for t in given {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        TagAction::Remove => tags.retain(|t| !given.contains(t)),
    }
    check_tag_count(&mut e, "tags", &tags);
    if !e.0.is_empty() {
        return Err(Error::invalid_fields(e.0));
    }
    let changes = CustomerChanges {
        tags: Some(tags),
        ..Default::default()
    };
    let updated = apply_changes(&txn, current, changes).await?;
    txn.commit().await?;
    publish(ctx, actor, ChangeKind::Updated, id).await;
    Ok(updated.into())
}

/// Longest block reason accepted.
const MAX_BLOCK_REASON_CHARS: usize = 1000;

/// Blocks (status BLOCKED, with a reason) or unblocks (status restored).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn set_blocked(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    blocked: bool,
    reason: Option<String>,
) -> Result<Customer> {
    actor.require_writer()?;
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if let Some(r) = &reason {
        let mut e = Errors::default();
        if !check_text(&mut e, "blockReason", r, MAX_BLOCK_REASON_CHARS) {
            return Err(Error::invalid_fields(e.0));
        }
    }
    let txn = ctx.write_as(actor, Source::Block).await?;
    let current = customer_rows::lock(&*txn, actor, id).await?;
    let mut active = current.clone().into_active_model();
    if blocked {
        if !current.is_blocked {
            active.status_before_block = Set(Some(current.status));
        }
        active.status = Set(CustomerStatus::Blocked);
        active.is_blocked = Set(true);
        active.block_reason = Set(reason);
    } else if current.is_blocked {
        let restored = current
            .status_before_block
            .unwrap_or(CustomerStatus::Active);
        active.status = Set(restored);
        active.status_before_block = Set(None);
        active.is_blocked = Set(false);
        active.block_reason = Set(None);
    } else {
        return Ok(current.into());
    }
    active.updated_at = Set(time::now());
    let updated = active.update(&*txn).await?;
    txn.customer_changed(&current, &updated);
    txn.commit().await?;
    publish(ctx, actor, ChangeKind::Updated, id).await;
    Ok(updated.into())
}

/// Field errors of one import row, as one line.
pub(crate) fn describe(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}
