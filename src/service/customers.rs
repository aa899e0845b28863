//! Customers: list, read, create, update, tags, block, delete, stats.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use entity::{conversation, customer, customer_phone, customer_tag, message, ticket};
use sea_orm::sea_query::{Expr, Func, LikeExpr, NullOrdering, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::events::{ChangeKindWire, Event};
use super::{conversations, insert_chunked, parse_id, scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{
    check_tag_count, check_text, clean_tags, Address, CommunicationHours, CustomerChanges,
    CustomerInput, CustomerSegment, CustomerSortField, CustomerSource, CustomerStatus, Errors,
    Mode, Preferences, SortOrder, TagAction,
};
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::phone::PhoneNumber;
use crate::domain::{search, time};
use crate::error::{is_unique_violation, Error, FieldError, Result};

/// A customer as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: Uuid,
    pub phone_number: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    pub alternative_phones: Vec<String>,
    pub address: Option<Address>,
    pub tags: Vec<String>,
    pub segment: CustomerSegment,
    pub source: CustomerSource,
    /// Free-form key-value pairs.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub preferences: PreferencesView,
    pub status: CustomerStatus,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
    pub notes: Option<String>,
    pub statistics: Statistics,
    #[serde(with = "time::serde_ms::option")]
    pub first_contact: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms")]
    pub last_interaction: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    pub last_message_at: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms")]
    pub updated_at: DateTime<Utc>,
}

/// A customer's stored preferences.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesView {
    pub language: String,
    pub communication_hours: Option<CommunicationHours>,
    /// The preferred agent's id.
    pub preferred_agent: Option<Uuid>,
}

/// Auto-calculated per customer; kept current as conversations, messages and tickets are written.
#[derive(
    Debug, Clone, Copy, PartialEq, Serialize, async_graphql::SimpleObject, utoipa::ToSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub total_conversations: i32,
    pub open_conversations: i32,
    pub resolved_conversations: i32,
    pub total_messages: i32,
    pub total_tickets: i32,
    /// Mean seconds between an inbound message and the next outbound reply; null until a reply exists.
    pub average_response_time: Option<f64>,
    /// Mean of conversation ratings, 1 to 5; null until a rating exists.
    pub satisfaction_score: Option<f64>,
}

impl TryFrom<customer::Model> for Customer {
    type Error = Error;

    fn try_from(m: customer::Model) -> Result<Self> {
        fn json<T: serde::de::DeserializeOwned>(v: Value, column: &str) -> Result<T> {
            serde_json::from_value(v)
                .map_err(|e| Error::internal(anyhow::anyhow!("customers.{column}: {e}")))
        }
        fn enum_column<T>(text: &str, parse: fn(&str) -> Option<T>, column: &str) -> Result<T> {
            parse(text).ok_or_else(|| {
                Error::internal(anyhow::anyhow!("customers.{column}: unknown value"))
            })
        }
        let mean = |total: f64, count: i32| (count > 0).then(|| total / f64::from(count));
        // Stored in milliseconds so sums stay exact; shown in seconds.
        let response_seconds = m.response_time_ms as f64 / 1000.0;
        Ok(Customer {
            id: m.id,
            phone_number: m.phone_number,
            first_name: m.first_name,
            last_name: m.last_name,
            email: m.email,
            avatar: m.avatar,
            alternative_phones: json(m.alternative_phones, "alternative_phones")?,
            address: m.address.map(|a| json(a, "address")).transpose()?,
            tags: json(m.tags, "tags")?,
            segment: enum_column(&m.segment, CustomerSegment::parse, "segment")?,
            source: enum_column(&m.source, CustomerSource::parse, "source")?,
            custom_fields: json(m.custom_fields, "custom_fields")?,
            preferences: PreferencesView {
                language: m.preferred_language,
                communication_hours: m
                    .communication_hours
                    .map(|h| json(h, "communication_hours"))
                    .transpose()?,
                preferred_agent: m.preferred_agent_id,
            },
            status: enum_column(&m.status, CustomerStatus::parse, "status")?,
            is_blocked: m.is_blocked,
            block_reason: m.block_reason,
            notes: m.notes,
            statistics: Statistics {
                total_conversations: m.total_conversations,
                open_conversations: m.open_conversations,
                resolved_conversations: m.resolved_conversations,
                total_messages: m.total_messages,
                total_tickets: m.total_tickets,
                average_response_time: mean(response_seconds, m.response_count),
                satisfaction_score: mean(f64::from(m.rating_total), m.rating_count),
            },
            first_contact: m.first_contact,
            last_interaction: m.last_interaction,
            last_message_at: m.last_message_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// Which customers a list or export takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFilter {
    pub search: Option<String>,
    pub status: Option<CustomerStatus>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    /// Customers with ANY of these tags.
    pub tags: Vec<String>,
}

/// A list request: filter, page and order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: CustomerFilter,
    pub page: PageRequest,
    pub sort_by: CustomerSortField,
    pub sort_order: SortOrder,
}

/// Longest search string accepted.
const MAX_SEARCH_CHARS: usize = 200;
/// Most tags one filter may name.
const MAX_FILTER_TAGS: usize = 100;

impl CustomerFilter {
    /// Checks the filter's free-form parts.
    pub fn validate(&self) -> Result<()> {
        let mut e = Errors::default();
        if let Some(search) = &self.search {
            check_text(&mut e, "search", search, MAX_SEARCH_CHARS);
        }
        if self.tags.len() > MAX_FILTER_TAGS {
            e.push("tags", format!("at most {MAX_FILTER_TAGS} tags"));
        }
        for tag in &self.tags {
            check_text(&mut e, "tags", tag, 1000);
        }
        if e.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(e.0))
        }
    }

    /// Applies the filter to a tenant-scoped select.
    pub(super) fn apply(
        &self,
        actor: &Actor,
        backend: DbBackend,
        mut q: Select<customer::Entity>,
    ) -> Select<customer::Entity> {
        use customer::Column;
        if let Some(s) = self.status {
            q = q.filter(Column::Status.eq(s.as_str()));
        }
        if let Some(s) = self.segment {
            q = q.filter(Column::Segment.eq(s.as_str()));
        }
        if let Some(s) = self.source {
            q = q.filter(Column::Source.eq(s.as_str()));
        }
        let tags: Vec<&str> = self
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        if !tags.is_empty() {
            q = q.filter(
                Column::Id.in_subquery(
                    Query::select()
                        .column(customer_tag::Column::CustomerId)
                        .from(customer_tag::Entity)
                        .and_where(customer_tag::Column::TenantId.eq(actor.tenant.as_str()))
                        .and_where(customer_tag::Column::Tag.is_in(tags))
                        .to_owned(),
                ),
            );
        }
        for word in search::words(self.search.as_deref().unwrap_or_default()) {
            q = q.filter(search_condition(backend, &word));
        }
        q
    }
}

/// One search word as SQL: through the trigram index where the word is long
/// enough for trigrams (three characters), a plain substring test otherwise.
fn search_condition(backend: DbBackend, word: &str) -> SimpleExpr {
    if backend == DbBackend::Sqlite && word.chars().count() >= 3 {
        // An FTS5 string literal: the trigram tokenizer matches it as a substring.
        let phrase = format!("\"{}\"", word.replace('"', "\"\""));
        return Expr::cust_with_values(
            "\"customers\".\"rowid\" IN (SELECT rowid FROM customer_search WHERE customer_search MATCH ?)",
            [phrase],
        );
    }
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::col((customer::Entity, customer::Column::SearchText))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// Orders a select by a sort field, nulls last, ties broken on id.
pub(super) fn order(
    q: Select<customer::Entity>,
    field: CustomerSortField,
    dir: SortOrder,
) -> Select<customer::Entity> {
    use customer::Column;
    let order = match dir {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    let (column, nullable) = match field {
        CustomerSortField::LastInteraction => (Column::LastInteraction, false),
        CustomerSortField::CreatedAt => (Column::CreatedAt, false),
        CustomerSortField::UpdatedAt => (Column::UpdatedAt, false),
        CustomerSortField::PhoneNumber => (Column::PhoneNumber, false),
        CustomerSortField::FirstContact => (Column::FirstContact, true),
        CustomerSortField::LastMessageAt => (Column::LastMessageAt, true),
        CustomerSortField::FirstName => (Column::FirstName, true),
        CustomerSortField::LastName => (Column::LastName, true),
        CustomerSortField::Email => (Column::Email, true),
    };
    let q = if nullable {
        q.order_by_with_nulls(column, order.clone(), NullOrdering::Last)
    } else {
        q.order_by(column, order.clone())
    };
    q.order_by(Column::Id, order)
}

/// A page of customers and its pagination.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
) -> Result<(Vec<Customer>, Pagination)> {
    query.filter.validate()?;
    let backend = ctx.db.get_database_backend();
    let filtered = query.filter.apply(actor, backend, scope::customers(actor));
    let total = filtered.clone().count(&ctx.db).await?;
    let rows = order(filtered, query.sort_by, query.sort_order)
        .offset(query.page.offset())
        .limit(query.page.limit)
        .all(&ctx.db)
        .await?;
    let items = rows
        .into_iter()
        .map(Customer::try_from)
        .collect::<Result<_>>()?;
    Ok((items, query.page.pagination(total)))
}

async fn find_model<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<Option<customer::Model>> {
    Ok(scope::customers(actor)
        .filter(customer::Column::Id.eq(id))
        .one(db)
        .await?)
}

/// Loads a customer to change it, locking its row until the transaction ends
/// (PostgreSQL; SQLite has one writer at a time anyway), so concurrent
/// read-modify-write updates of one customer never lose each other's changes.
async fn lock_model<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: &str,
) -> Result<customer::Model> {
    lock_by_id(db, actor, parse_id(id, "customer")?).await
}

/// [`lock_model`] for an id already parsed. Every write that changes a
/// customer's row (its fields or its statistics) locks it first, customer
/// before conversation, so writers never deadlock.
pub(super) async fn lock_by_id<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<customer::Model> {
    scope::customers(actor)
        .filter(customer::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(Error::NotFound("customer"))
}

/// Writes every column of a customer row back.
pub(super) async fn save<C: ConnectionTrait>(
    db: &C,
    m: customer::Model,
) -> Result<customer::Model> {
    let mut active = m.clone().into_active_model().reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(m.id);
    active.tenant_id = sea_orm::ActiveValue::Unchanged(m.tenant_id.clone());
    Ok(active.update(db).await?)
}

/// The customer with this id, or NOT_FOUND (also for another tenant's).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Customer> {
    let id = parse_id(id, "customer")?;
    find_model(&ctx.db, actor, id)
        .await?
        .ok_or(Error::NotFound("customer"))?
        .try_into()
}

/// Customers by id, for batching; unknown and foreign ids are absent.
pub async fn by_ids(ctx: &Ctx, actor: &Actor, ids: &[Uuid]) -> Result<Vec<Customer>> {
    let rows = scope::customers(actor)
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?;
    rows.into_iter().map(Customer::try_from).collect()
}

/// The customer with this id, or none (also for another tenant's or a malformed id).
pub async fn find(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Option<Customer>> {
    match get(ctx, actor, id).await {
        Ok(c) => Ok(Some(c)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The customer answering to a phone number in any common spelling (primary
/// or alternative); none when no customer has it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn find_by_phone(ctx: &Ctx, actor: &Actor, phone: &str) -> Result<Option<Customer>> {
    let phone = crate::domain::phone::normalize(phone, ctx.region)
        .map_err(|e| Error::invalid("phoneNumber", e.to_string()))?;
    let holder = customer_phone::Entity::find()
        .filter(customer_phone::Column::TenantId.eq(actor.tenant.as_str()))
        .filter(customer_phone::Column::Phone.eq(phone.as_str()))
        .one(&ctx.db)
        .await?;
    match holder {
        Some(h) => find_model(&ctx.db, actor, h.customer_id)
            .await?
            .map(Customer::try_from)
            .transpose(),
        None => Ok(None),
    }
}

/// What the details route shows of a customer.
#[derive(Debug, Clone)]
pub struct Details {
    pub customer: Customer,
    pub recent_conversations: Vec<conversations::Conversation>,
}

/// How many conversations the details show.
pub const RECENT_CONVERSATIONS: u64 = 5;

/// A customer with its five newest conversations.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn details(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Details> {
    let customer = get(ctx, actor, id).await?;
    let recent_conversations =
        conversations::recent(ctx, actor, customer.id, RECENT_CONVERSATIONS).await?;
    Ok(Details {
        customer,
        recent_conversations,
    })
}

/// The first customer other than `except` holding one of `phones`, as a 409.
async fn phone_conflict<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    phones: &[(&'static str, &PhoneNumber)],
    except: Option<Uuid>,
) -> Result<Option<Error>> {
    if phones.is_empty() {
        return Ok(None);
    }
    let mut q = customer_phone::Entity::find()
        .filter(customer_phone::Column::TenantId.eq(actor.tenant.as_str()))
        .filter(customer_phone::Column::Phone.is_in(phones.iter().map(|(_, p)| p.as_str())));
    if let Some(id) = except {
        q = q.filter(customer_phone::Column::CustomerId.ne(id));
    }
    let Some(holder) = q.one(db).await? else {
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

fn to_json<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(Error::internal)
}

fn phone_strings(phones: &[PhoneNumber]) -> Vec<String> {
    phones.iter().map(|p| p.as_str().to_owned()).collect()
}

/// A new customer row from validated create input (phone present).
pub(super) fn new_model(
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
        id: Uuid::now_v7(),
        tenant_id: actor.tenant.clone(),
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
        alternative_phones: to_json(&phone_strings(
            &changes.alternative_phones.unwrap_or_default(),
        ))?,
        address: changes.address.flatten().map(|a| to_json(&a)).transpose()?,
        tags: to_json(&changes.tags.unwrap_or_default())?,
        segment: changes
            .segment
            .unwrap_or(CustomerSegment::New)
            .as_str()
            .to_owned(),
        source: changes
            .source
            .unwrap_or(CustomerSource::Whatsapp)
            .as_str()
            .to_owned(),
        custom_fields: Value::Object(changes.custom_fields.unwrap_or_default()),
        preferred_language: prefs.language,
        communication_hours: prefs.communication_hours.map(|h| to_json(&h)).transpose()?,
        preferred_agent_id: prefs.preferred_agent_id,
        status: changes
            .status
            .unwrap_or(CustomerStatus::Active)
            .as_str()
            .to_owned(),
        status_before_block: None,
        is_blocked: false,
        block_reason: None,
        notes: changes.notes.flatten(),
        total_conversations: 0,
        open_conversations: 0,
        resolved_conversations: 0,
        total_messages: 0,
        total_tickets: 0,
        response_time_ms: 0,
        response_count: 0,
        rating_total: 0,
        rating_count: 0,
        first_contact: None,
        last_interaction: now,
        last_message_at: None,
        created_at: now,
        updated_at: now,
    })
}

/// Rows of `customer_phones` for a customer.
pub(super) fn phone_rows(
    m: &customer::Model,
    alternatives: &[String],
) -> Vec<customer_phone::ActiveModel> {
    std::iter::once(&m.phone_number)
        .chain(alternatives)
        .map(|p| customer_phone::ActiveModel {
            tenant_id: Set(m.tenant_id.clone()),
            phone: Set(p.clone()),
            customer_id: Set(m.id),
        })
        .collect()
}

/// Rows of `customer_tags` for a customer.
pub(super) fn tag_rows(m: &customer::Model, tags: &[String]) -> Vec<customer_tag::ActiveModel> {
    tags.iter()
        .map(|t| customer_tag::ActiveModel {
            customer_id: Set(m.id),
            tag: Set(t.clone()),
            tenant_id: Set(m.tenant_id.clone()),
        })
        .collect()
}

async fn replace_phones(
    txn: &DatabaseTransaction,
    m: &customer::Model,
    alternatives: &[String],
) -> Result<()> {
    customer_phone::Entity::delete_many()
        .filter(customer_phone::Column::CustomerId.eq(m.id))
        .exec(txn)
        .await?;
    insert_chunked(txn, phone_rows(m, alternatives)).await?;
    Ok(())
}

async fn replace_tags(
    txn: &DatabaseTransaction,
    m: &customer::Model,
    tags: &[String],
) -> Result<()> {
    customer_tag::Entity::delete_many()
        .filter(customer_tag::Column::CustomerId.eq(m.id))
        .exec(txn)
        .await?;
    insert_chunked(txn, tag_rows(m, tags)).await
}

/// Turns a unique-index failure on a phone into the 409 naming its holder.
async fn classify_write_error(
    ctx: &Ctx,
    actor: &Actor,
    err: Error,
    phones: &[(&'static str, &PhoneNumber)],
    except: Option<Uuid>,
) -> Error {
    if let Error::Internal(cause) = &err {
        if cause
            .downcast_ref::<sea_orm::DbErr>()
            .is_some_and(is_unique_violation)
        {
            // Another writer took the number between our check and our insert.
            if let Ok(Some(conflict)) = phone_conflict(&ctx.db, actor, phones, except).await {
                return conflict;
            }
        }
    }
    err
}

/// Tells subscribers a customer changed (after the write committed).
pub(super) async fn publish_customer(ctx: &Ctx, actor: &Actor, kind: ChangeKindWire, id: Uuid) {
    ctx.events
        .publish(&ctx.db, vec![Event::customer(&actor.tenant, kind, id)])
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
        let txn = ctx.write().await?;
        check_agent(&*txn, actor, changes.preferences.as_ref()).await?;
        if let Some(conflict) = phone_conflict(&*txn, actor, &phones, None).await? {
            return Err(conflict);
        }
        let model = new_model(actor, changes.clone(), time::now())?;
        let tags: Vec<String> = changes.tags.clone().unwrap_or_default();
        customer::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&*txn)
            .await?;
        insert_chunked(&*txn, phone_rows(&model, &phone_strings(&alternatives))).await?;
        insert_chunked(&*txn, tag_rows(&model, &tags)).await?;
        txn.commit().await?;
        Customer::try_from(model)
    }
    .await;
    match result {
        Ok(c) => {
            publish_customer(ctx, actor, ChangeKindWire::Created, c.id).await;
            Ok(c)
        }
        Err(e) => Err(classify_write_error(ctx, actor, e, &phones, None).await),
    }
}

/// Changes the given fields of a customer; absent fields stay as they are.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn update(ctx: &Ctx, actor: &Actor, id: &str, input: CustomerInput) -> Result<Customer> {
    actor.require_writer()?;
    let id = parse_id(id, "customer")?;
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
        let txn = ctx.write().await?;
        let current = lock_model(&*txn, actor, &id.to_string()).await?;
        check_agent(&*txn, actor, changes.preferences.as_ref()).await?;
        if let Some(conflict) = phone_conflict(&*txn, actor, &phones, Some(id)).await? {
            return Err(conflict);
        }
        let updated = apply_changes(&txn, current, changes.clone()).await?;
        txn.commit().await?;
        Customer::try_from(updated)
    }
    .await;
    match result {
        Ok(c) => {
            publish_customer(ctx, actor, ChangeKindWire::Updated, c.id).await;
            Ok(c)
        }
        Err(e) => Err(classify_write_error(ctx, actor, e, &phones, Some(id)).await),
    }
}

async fn apply_changes(
    txn: &DatabaseTransaction,
    current: customer::Model,
    c: CustomerChanges,
) -> Result<customer::Model> {
    let mut alternatives: Vec<String> =
        serde_json::from_value(current.alternative_phones.clone()).unwrap_or_default();
    let phones_changed = c.phone_number.is_some() || c.alternative_phones.is_some();
    let mut m = current.clone();
    if let Some(p) = c.phone_number {
        m.phone_number = p.into_string();
    }
    if let Some(alts) = c.alternative_phones {
        alternatives = phone_strings(&alts);
    }
    alternatives.retain(|p| *p != m.phone_number);
    m.alternative_phones = to_json(&alternatives)?;
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
    if let Some(v) = c.address {
        m.address = v.map(|a| to_json(&a)).transpose()?;
    }
    if let Some(v) = c.segment {
        m.segment = v.as_str().to_owned();
    }
    if let Some(v) = c.source {
        m.source = v.as_str().to_owned();
    }
    if let Some(v) = c.custom_fields {
        m.custom_fields = Value::Object(v);
    }
    if let Some(p) = c.preferences {
        m.preferred_language = p.language;
        m.communication_hours = p.communication_hours.map(|h| to_json(&h)).transpose()?;
        m.preferred_agent_id = p.preferred_agent_id;
    }
    if let Some(s) = c.status {
        // A blocked customer stays blocked; the new status is the one unblock restores.
        if m.is_blocked {
            m.status_before_block = Some(s.as_str().to_owned());
        } else {
            m.status = s.as_str().to_owned();
        }
    }
    m.search_text = search::document(
        &m.phone_number,
        m.first_name.as_deref(),
        m.last_name.as_deref(),
        m.email.as_deref(),
    );
    m.updated_at = time::now();
    let tags = c.tags;
    if let Some(tags) = &tags {
        m.tags = to_json(tags)?;
    }
    let updated = save(txn, m).await?;
    if phones_changed {
        replace_phones(txn, &updated, &alternatives).await?;
    }
    if let Some(tags) = &tags {
        replace_tags(txn, &updated, tags).await?;
    }
    Ok(updated)
}

/// Sets, adds or removes tags.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn update_tags(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    tags: Vec<String>,
    action: TagAction,
) -> Result<Customer> {
    actor.require_writer()?;
    let mut e = Errors::default();
    let given = clean_tags(&mut e, "tags", tags);
    if !e.0.is_empty() {
        return Err(Error::invalid_fields(e.0));
    }
    let txn = ctx.write().await?;
    let current = lock_model(&*txn, actor, id).await?;
    let mut tags: Vec<String> =
        serde_json::from_value(current.tags.clone()).map_err(Error::internal)?;
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
    publish_customer(ctx, actor, ChangeKindWire::Updated, updated.id).await;
    updated.try_into()
}

/// Longest block reason accepted.
const MAX_BLOCK_REASON_CHARS: usize = 1000;

/// Blocks (status BLOCKED, with a reason) or unblocks (status restored).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn set_blocked(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
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
    let txn = ctx.write().await?;
    let current = lock_model(&*txn, actor, id).await?;
    let mut active = current.clone().into_active_model();
    if blocked {
        if !current.is_blocked {
            active.status_before_block = Set(Some(current.status.clone()));
        }
        active.status = Set(CustomerStatus::Blocked.as_str().to_owned());
        active.is_blocked = Set(true);
        active.block_reason = Set(reason);
    } else if current.is_blocked {
        let restored = current
            .status_before_block
            .clone()
            .unwrap_or_else(|| CustomerStatus::Active.as_str().to_owned());
        active.status = Set(restored);
        active.status_before_block = Set(None);
        active.is_blocked = Set(false);
        active.block_reason = Set(None);
    } else {
        return current.try_into();
    }
    active.updated_at = Set(time::now());
    let updated = active.update(&*txn).await?;
    txn.commit().await?;
    publish_customer(ctx, actor, ChangeKindWire::Updated, updated.id).await;
    updated.try_into()
}

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub permanent: bool,
    pub message: &'static str,
}

/// Soft delete (status INACTIVE, idempotent) or, for admins, hard delete of
/// the customer with its conversations, messages and tickets in one transaction.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str, permanent: bool) -> Result<Deleted> {
    if permanent {
        actor.require_admin()?;
    } else {
        actor.require_writer()?;
    }
    let txn = ctx.write().await?;
    let current = lock_model(&*txn, actor, id).await?;
    if permanent {
        let cid = current.id;
        message::Entity::delete_many()
            .filter(message::Column::CustomerId.eq(cid))
            .exec(&*txn)
            .await?;
        ticket::Entity::delete_many()
            .filter(ticket::Column::CustomerId.eq(cid))
            .exec(&*txn)
            .await?;
        conversation::Entity::delete_many()
            .filter(conversation::Column::CustomerId.eq(cid))
            .exec(&*txn)
            .await?;
        customer_tag::Entity::delete_many()
            .filter(customer_tag::Column::CustomerId.eq(cid))
            .exec(&*txn)
            .await?;
        customer_phone::Entity::delete_many()
            .filter(customer_phone::Column::CustomerId.eq(cid))
            .exec(&*txn)
            .await?;
        customer::Entity::delete_by_id((current.tenant_id.clone(), cid))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        publish_customer(ctx, actor, ChangeKindWire::Deleted, cid).await;
        return Ok(Deleted {
            permanent: true,
            message: "Customer permanently deleted",
        });
    }
    let inactive = CustomerStatus::Inactive.as_str();
    let mut active = current.clone().into_active_model();
    if current.is_blocked {
        // Still blocked; unblocking later leaves it deactivated.
        active.status_before_block = Set(Some(inactive.to_owned()));
    } else {
        active.status = Set(inactive.to_owned());
    }
    let changed = active.is_changed();
    if changed {
        active.updated_at = Set(time::now());
        active.update(&*txn).await?;
    }
    txn.commit().await?;
    if changed {
        publish_customer(ctx, actor, ChangeKindWire::Updated, current.id).await;
    }
    Ok(Deleted {
        permanent: false,
        message: "Customer deactivated",
    })
}

/// The dashboard counts of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total_customers: i64,
    pub active_customers: i64,
    pub vip_customers: i64,
    pub blocked_customers: i64,
    pub new_this_month: i64,
}

/// Counts for the dashboard, and customers per segment (largest first, empty ones left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub summary: Summary,
    pub segments: Vec<(CustomerSegment, i64)>,
}

/// The start of the current calendar month, UTC.
fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// Dashboard statistics of the caller's tenant.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn stats(ctx: &Ctx, actor: &Actor) -> Result<Stats> {
    // Typed expressions, not SQL text: placeholders differ between backends.
    let count_if = |condition: SimpleExpr| -> SimpleExpr {
        let sum = Func::sum(Expr::case(condition, 1).finally(0));
        Func::coalesce([SimpleExpr::from(sum), Expr::val(0).into()]).into()
    };
    use customer::Column;
    let row: Option<(i64, i64, i64, i64, i64)> = scope::customers(actor)
        .select_only()
        .column_as(Expr::col(Column::Id).count(), "total")
        .column_as(
            count_if(Column::Status.eq(CustomerStatus::Active.as_str())),
            "active",
        )
        .column_as(
            count_if(Column::Segment.eq(CustomerSegment::Vip.as_str())),
            "vip",
        )
        .column_as(count_if(Column::IsBlocked.eq(true)), "blocked")
        .column_as(
            count_if(Column::CreatedAt.gte(month_start(Utc::now()))),
            "new_this_month",
        )
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let (total, active, vip, blocked, new) = row.unwrap_or_default();
    let rows: Vec<(String, i64)> = scope::customers(actor)
        .select_only()
        .column(customer::Column::Segment)
        .column_as(Expr::col(customer::Column::Id).count(), "count")
        .group_by(customer::Column::Segment)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut segments: Vec<(CustomerSegment, i64)> = rows
        .into_iter()
        .filter_map(|(s, n)| CustomerSegment::parse(&s).map(|s| (s, n)))
        .filter(|(_, n)| *n > 0)
        .collect();
    segments.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    Ok(Stats {
        summary: Summary {
            total_customers: total,
            active_customers: active,
            vip_customers: vip,
            blocked_customers: blocked,
            new_this_month: new,
        },
        segments,
    })
}

/// Field errors of one import row, as one line.
pub(super) fn describe(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A cursor-pagination request: filter, order, and a window of `first` rows
/// after a cursor or `last` rows before one.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionQuery {
    pub filter: CustomerFilter,
    pub sort_by: CustomerSortField,
    pub sort_order: SortOrder,
    pub first: Option<i64>,
    pub after: Option<String>,
    pub last: Option<i64>,
    pub before: Option<String>,
}

/// One page of a connection: each customer with its opaque cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionPage {
    pub items: Vec<(String, Customer)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Customers matching the filter, whatever the cursors.
    pub total_count: u64,
}

/// Page size when neither `first` nor `last` is given.
const DEFAULT_CONNECTION_SIZE: u64 = 20;
/// Longest cursor accepted; real ones are far shorter.
const MAX_CURSOR_CHARS: usize = 4096;

/// How a sort field is stored: its column, whether it may be null, and
/// whether its values are timestamps (else text).
#[derive(Debug, Clone, Copy)]
struct SortKey {
    column: customer::Column,
    nullable: bool,
    time: bool,
}

/// The column behind a sort field; the same mapping as [`order`].
fn sort_key(field: CustomerSortField) -> SortKey {
    use customer::Column;
    let (column, nullable, time) = match field {
        CustomerSortField::LastInteraction => (Column::LastInteraction, false, true),
        CustomerSortField::CreatedAt => (Column::CreatedAt, false, true),
        CustomerSortField::UpdatedAt => (Column::UpdatedAt, false, true),
        CustomerSortField::PhoneNumber => (Column::PhoneNumber, false, false),
        CustomerSortField::FirstContact => (Column::FirstContact, true, true),
        CustomerSortField::LastMessageAt => (Column::LastMessageAt, true, true),
        CustomerSortField::FirstName => (Column::FirstName, true, false),
        CustomerSortField::LastName => (Column::LastName, true, false),
        CustomerSortField::Email => (Column::Email, true, false),
    };
    SortKey {
        column,
        nullable,
        time,
    }
}

/// A cursor's sort value, typed as its column.
#[derive(Debug, Clone, PartialEq)]
enum CursorValue {
    Time(DateTime<Utc>),
    Text(String),
}

impl From<CursorValue> for sea_orm::Value {
    fn from(v: CursorValue) -> Self {
        match v {
            CursorValue::Time(t) => t.into(),
            CursorValue::Text(s) => s.into(),
        }
    }
}

/// A decoded cursor: the row's sort value (none for a null) and id.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    value: Option<CursorValue>,
    id: Uuid,
}

/// What a cursor carries, before base64url: `{"s": sortBy, "v": value or null, "id": uuid}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct CursorJson {
    s: String,
    v: Option<String>,
    id: Uuid,
}

/// The sort value of a customer as a cursor writes it; timestamps in RFC 3339
/// with milliseconds, which is exactly what is stored, so they round-trip.
fn cursor_value(c: &Customer, field: CustomerSortField) -> Option<String> {
    let t = |t: &DateTime<Utc>| time::format(t);
    match field {
        CustomerSortField::LastInteraction => Some(t(&c.last_interaction)),
        CustomerSortField::CreatedAt => Some(t(&c.created_at)),
        CustomerSortField::UpdatedAt => Some(t(&c.updated_at)),
        CustomerSortField::PhoneNumber => Some(c.phone_number.clone()),
        CustomerSortField::FirstContact => c.first_contact.as_ref().map(t),
        CustomerSortField::LastMessageAt => c.last_message_at.as_ref().map(t),
        CustomerSortField::FirstName => c.first_name.clone(),
        CustomerSortField::LastName => c.last_name.clone(),
        CustomerSortField::Email => c.email.clone(),
    }
}

/// The opaque cursor of a customer in a list sorted by `field`.
fn encode_cursor(c: &Customer, field: CustomerSortField) -> Result<String> {
    use base64::Engine;
    let json = serde_json::to_vec(&CursorJson {
        s: field.as_str().to_owned(),
        v: cursor_value(c, field),
        id: c.id,
    })
    .map_err(Error::internal)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

/// Reads a cursor given as `argument`; anything but a cursor this server
/// made for the same `sortBy` is BAD_USER_INPUT.
fn decode_cursor(text: &str, field: CustomerSortField, argument: &str) -> Result<Cursor> {
    use base64::Engine;
    let malformed = || Error::invalid(argument, "not a cursor of this list");
    if text.len() > MAX_CURSOR_CHARS {
        return Err(malformed());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| malformed())?;
    let json: CursorJson = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if json.s != field.as_str() {
        return Err(Error::invalid(
            argument,
            "the cursor belongs to a list with another sortBy",
        ));
    }
    let key = sort_key(field);
    let value = match json.v {
        None if key.nullable => None,
        None => return Err(malformed()),
        // Not `parse_from_rfc3339`: a time the server stores may lie just
        // outside years 0000-9999 (an RFC 3339 input with an offset, in UTC),
        // and `time::format` then writes a signed year such as
        // `+10000-01-01T...`, which chrono's own parser reads back.
        Some(v) if key.time => Some(CursorValue::Time(
            v.parse::<DateTime<Utc>>().map_err(|_| malformed())?,
        )),
        Some(v) => Some(CursorValue::Text(v)),
    };
    Ok(Cursor { value, id: json.id })
}

/// Rows strictly after (`after == true`) or strictly before a cursor in the
/// list order `dir`, nulls last, ties broken on id in the same direction.
///
/// DESC after (v, id0): `col < v OR (col = v AND id < id0) OR col IS NULL`;
/// after (null, id0): `col IS NULL AND id < id0`. Before (v, id0):
/// `col > v OR (col = v AND id > id0)`; before (null, id0):
/// `col IS NOT NULL OR (col IS NULL AND id > id0)`. ASC swaps `<` and `>`.
fn keyset(key: SortKey, dir: SortOrder, after: bool, cursor: &Cursor) -> sea_orm::Condition {
    use customer::Column;
    use sea_orm::Condition;
    // Moving away from the cursor means larger values when the list is
    // ascending and we look after it, or descending and we look before it.
    let larger = matches!(dir, SortOrder::Asc) == after;
    let past = |column: Column, v: sea_orm::Value| {
        if larger {
            column.gt(v)
        } else {
            column.lt(v)
        }
    };
    let id = sea_orm::Value::from(cursor.id);
    match &cursor.value {
        Some(v) => {
            let v = sea_orm::Value::from(v.clone());
            let mut c = Condition::any().add(past(key.column, v.clone())).add(
                Condition::all()
                    .add(key.column.eq(v))
                    .add(past(Column::Id, id)),
            );
            if key.nullable && after {
                c = c.add(key.column.is_null());
            }
            c
        }
        None if after => Condition::all()
            .add(key.column.is_null())
            .add(past(Column::Id, id)),
        None => Condition::any().add(key.column.is_not_null()).add(
            Condition::all()
                .add(key.column.is_null())
                .add(past(Column::Id, id)),
        ),
    }
}

/// The list order reversed, so `last` can read the tail of a window first:
/// nulls come first and ties break on id the other way.
fn reverse_order(
    q: Select<customer::Entity>,
    key: SortKey,
    dir: SortOrder,
) -> Select<customer::Entity> {
    let reversed = match dir {
        SortOrder::Asc => Order::Desc,
        SortOrder::Desc => Order::Asc,
    };
    let q = if key.nullable {
        q.order_by_with_nulls(key.column, reversed.clone(), NullOrdering::First)
    } else {
        q.order_by(key.column, reversed.clone())
    };
    q.order_by(customer::Column::Id, reversed)
}

/// Reads `first`/`last`: negative is BAD_USER_INPUT, above the maximum is clamped.
fn window_size(n: i64, argument: &str) -> Result<u64> {
    if n < 0 {
        return Err(Error::invalid(argument, "must be 0 or more"));
    }
    Ok(n.unsigned_abs().min(crate::domain::page::MAX_LIMIT))
}

/// A page of customers by keyset cursors over the same filters and order as
/// [`list`], stable while rows are inserted and deleted between pages.
///
/// The flag in the direction of reading (`hasNextPage` for `first`,
/// `hasPreviousPage` for `last`) comes from fetching one row more than asked;
/// the other one is exact too: whether any row lies beyond the opposite
/// cursor (`after` for `first`, `before` for `last`), false without one.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn connection(
    ctx: &Ctx,
    actor: &Actor,
    query: &ConnectionQuery,
) -> Result<ConnectionPage> {
    query.filter.validate()?;
    let (size, backward) = match (query.first, query.last) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_fields(vec![
                FieldError::new("first", "give first or last, not both"),
                FieldError::new("last", "give first or last, not both"),
            ]))
        }
        (Some(n), None) => (window_size(n, "first")?, false),
        (None, Some(n)) => (window_size(n, "last")?, true),
        (None, None) => (DEFAULT_CONNECTION_SIZE, false),
    };
    let key = sort_key(query.sort_by);
    let after = query
        .after
        .as_deref()
        .map(|c| decode_cursor(c, query.sort_by, "after"))
        .transpose()?;
    let before = query
        .before
        .as_deref()
        .map(|c| decode_cursor(c, query.sort_by, "before"))
        .transpose()?;

    let backend = ctx.db.get_database_backend();
    let filtered = query.filter.apply(actor, backend, scope::customers(actor));
    let total_count = filtered.clone().count(&ctx.db).await?;
    let mut window = filtered.clone();
    if let Some(c) = &after {
        window = window.filter(keyset(key, query.sort_order, true, c));
    }
    if let Some(c) = &before {
        window = window.filter(keyset(key, query.sort_order, false, c));
    }
    let window = if backward {
        reverse_order(window, key, query.sort_order)
    } else {
        order(window, query.sort_by, query.sort_order)
    };
    let mut rows = window.limit(size + 1).all(&ctx.db).await?;
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if backward {
        rows.reverse();
    }
    // Whether anything lies beyond the cursor opposite the reading direction.
    let opposite = if backward {
        before.as_ref().map(|c| (c, true))
    } else {
        after.as_ref().map(|c| (c, false))
    };
    let beyond = match opposite {
        Some((c, after_it)) => filtered
            .filter(keyset(key, query.sort_order, after_it, c))
            .limit(1)
            .all(&ctx.db)
            .await?
            .into_iter()
            .next()
            .is_some(),
        None => false,
    };
    let items = rows
        .into_iter()
        .map(|m| {
            let c = Customer::try_from(m)?;
            Ok((encode_cursor(&c, query.sort_by)?, c))
        })
        .collect::<Result<Vec<_>>>()?;
    let (has_next_page, has_previous_page) = if backward {
        (beyond, more)
    } else {
        (more, beyond)
    };
    Ok(ConnectionPage {
        items,
        has_next_page,
        has_previous_page,
        total_count,
    })
}

#[cfg(test)]
mod connection_tests {
    use super::*;

    fn encode(json: serde_json::Value) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
    }

    #[test]
    fn cursors_round_trip_milliseconds_and_reject_anything_else() {
        let id = Uuid::now_v7();
        let at = "2024-01-15T10:30:00.123Z";
        let cursor = encode(serde_json::json!({ "s": "createdAt", "v": at, "id": id }));
        let decoded = decode_cursor(&cursor, CustomerSortField::CreatedAt, "after").expect("valid");
        match decoded.value {
            Some(CursorValue::Time(t)) => assert_eq!(time::format(&t), at),
            other => panic!("a time, not {other:?}"),
        }
        assert_eq!(decoded.id, id);
        let null_name = encode(serde_json::json!({ "s": "firstName", "v": null, "id": id }));
        assert_eq!(
            decode_cursor(&null_name, CustomerSortField::FirstName, "after")
                .expect("nullable column")
                .value,
            None
        );
        for (text, field) in [
            (cursor.as_str(), CustomerSortField::UpdatedAt),
            (null_name.as_str(), CustomerSortField::Email),
            ("%%%", CustomerSortField::CreatedAt),
            ("", CustomerSortField::CreatedAt),
        ] {
            assert!(matches!(
                decode_cursor(text, field, "after"),
                Err(Error::BadUserInput { .. })
            ));
        }
        let null_time = encode(serde_json::json!({ "s": "createdAt", "v": null, "id": id }));
        assert!(decode_cursor(&null_time, CustomerSortField::CreatedAt, "after").is_err());
    }

    #[test]
    fn cursors_of_times_just_outside_years_0000_to_9999_round_trip() {
        // Found by the cursor property: RFC 3339 input with an offset is in
        // year -1 or 10000 in UTC, which the cursor wrote but did not read.
        for input in ["0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999-23:59"] {
            let at = DateTime::parse_from_rfc3339(input)
                .expect("valid RFC 3339")
                .with_timezone(&Utc);
            let id = Uuid::now_v7();
            let cursor = encode(
                serde_json::json!({ "s": "lastMessageAt", "v": time::format(&at), "id": id }),
            );
            let decoded = decode_cursor(&cursor, CustomerSortField::LastMessageAt, "after");
            assert_eq!(
                decoded.ok(),
                Some(Cursor {
                    value: Some(CursorValue::Time(at)),
                    id
                }),
                "{input}"
            );
        }
    }

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::strategies;
        use super::*;

        fn field() -> impl Strategy<Value = CustomerSortField> {
            prop::sample::select(CustomerSortField::ALL.to_vec())
        }

        /// Cursor-shaped JSON with plausible and implausible members.
        fn cursor_json() -> impl Strategy<Value = serde_json::Value> {
            let s = prop_oneof![
                field().prop_map(|f| serde_json::Value::from(f.as_str())),
                Just(serde_json::Value::Null),
                any::<i64>().prop_map(serde_json::Value::from),
                "\\PC{0,12}".prop_map(serde_json::Value::from),
            ];
            let v = prop_oneof![
                Just(serde_json::Value::Null),
                strategies::timestamp().prop_map(|t| time::format(&t).into()),
                "[0-9+\\-:TZ.]{0,30}".prop_map(serde_json::Value::from),
                any::<String>().prop_map(serde_json::Value::from),
                any::<f64>().prop_map(serde_json::Value::from),
            ];
            let id = prop_oneof![
                any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string().into()),
                "\\PC{0,40}".prop_map(serde_json::Value::from),
                Just(serde_json::Value::Null),
            ];
            (s, v, id, any::<bool>()).prop_map(|(s, v, id, extra)| {
                let mut json = serde_json::json!({ "s": s, "v": v, "id": id });
                if extra {
                    json["x"] = serde_json::json!([1, {"y": null}]);
                }
                json
            })
        }

        fn ok_or_bad_input(result: &Result<Cursor>) -> bool {
            matches!(result, Ok(_) | Err(Error::BadUserInput { .. }))
        }

        proptest! {
            #[test]
            fn any_text_as_a_cursor_decodes_or_is_bad_input(
                text in prop_oneof![any::<String>(), "[A-Za-z0-9_\\-]{0,200}", "[ -~]{4000,4200}"],
                field in field(),
            ) {
                let result = decode_cursor(&text, field, "after");
                prop_assert!(ok_or_bad_input(&result), "{text:?}: {result:?}");
            }

            #[test]
            fn any_encoded_json_as_a_cursor_decodes_only_for_its_own_sort_field(
                json in cursor_json(),
                field in field(),
            ) {
                let result = decode_cursor(&encode(json.clone()), field, "before");
                prop_assert!(ok_or_bad_input(&result), "{json}: {result:?}");
                if result.is_ok() {
                    prop_assert_eq!(&json["s"], &serde_json::Value::from(field.as_str()));
                }
            }

            #[test]
            fn a_cursor_decodes_to_the_sort_value_and_id_of_its_customer(
                customer in strategies::customer(),
                field in field(),
            ) {
                let cursor = encode_cursor(&customer, field).expect("encodes");
                let decoded = decode_cursor(&cursor, field, "after");
                let value = match cursor_value(&customer, field) {
                    None => None,
                    Some(_) => Some(match field {
                        CustomerSortField::LastInteraction => CursorValue::Time(customer.last_interaction),
                        CustomerSortField::CreatedAt => CursorValue::Time(customer.created_at),
                        CustomerSortField::UpdatedAt => CursorValue::Time(customer.updated_at),
                        CustomerSortField::FirstContact => CursorValue::Time(customer.first_contact.expect("some")),
                        CustomerSortField::LastMessageAt => CursorValue::Time(customer.last_message_at.expect("some")),
                        CustomerSortField::PhoneNumber => CursorValue::Text(customer.phone_number.clone()),
                        CustomerSortField::FirstName => CursorValue::Text(customer.first_name.clone().expect("some")),
                        CustomerSortField::LastName => CursorValue::Text(customer.last_name.clone().expect("some")),
                        CustomerSortField::Email => CursorValue::Text(customer.email.clone().expect("some")),
                    }),
                };
                match decoded {
                    Ok(got) => prop_assert_eq!(got, Cursor { value, id: customer.id }),
                    Err(e) => prop_assert!(false, "{cursor}: {e:?}"),
                }
                // A cursor of one order is no cursor of another.
                for other in CustomerSortField::ALL.iter().filter(|f| **f != field) {
                    let result = decode_cursor(&cursor, *other, "after");
                    prop_assert!(matches!(result, Err(Error::BadUserInput { .. })), "{result:?}");
                }
            }
        }
    }
}

/// proptest strategies for customers, shared by the property tests of the
/// cursors (here) and of the CSV export (`rest::export`).
#[cfg(test)]
pub(crate) mod strategies {
    use proptest::prelude::*;

    use super::*;

    /// Any time the server can store, at the milliseconds it keeps: RFC 3339
    /// input in UTC, where a timestamp's offset may carry it a day outside
    /// years 0000-9999 (`0000-01-01T00:00:00+23:59` is in year -1).
    pub fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("a valid bound")
                .timestamp_millis()
        };
        let (first, last) = (
            at("0000-01-01T00:00:00+23:59"),
            at("9999-12-31T23:59:59.999-23:59"),
        );
        let now = Utc::now().timestamp_millis();
        prop_oneof![
            first..=last,
            now - 1_000_000_000_000..=now + 1_000_000_000_000,
            prop::sample::select(vec![first, last, 0, -1]),
        ]
        .prop_map(|ms| Utc.timestamp_millis_opt(ms).single().expect("in range"))
    }

    /// Text a spreadsheet, a CSV reader or a JSON cursor might trip on:
    /// quotes, separators, line breaks, formula starts, any unicode.
    pub fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[=+\\-@\t\r\n\",;' ]{0,3}\\PC{0,12}[\"\r\n,]{0,2}",
            "[=+\\-@\t\r]\\PC{0,8}",
        ]
    }

    /// A customer with random text, enums and times.
    pub fn customer() -> impl Strategy<Value = Customer> {
        let texts = (
            "[0-9]{8,15}",
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::collection::vec(text(), 0..4),
        );
        let enums = (
            prop::sample::select(CustomerStatus::ALL.to_vec()),
            prop::sample::select(CustomerSegment::ALL.to_vec()),
            prop::sample::select(CustomerSource::ALL.to_vec()),
        );
        let times = (
            prop::option::of(timestamp()),
            timestamp(),
            prop::option::of(timestamp()),
            timestamp(),
            timestamp(),
        );
        (any::<u128>(), texts, enums, times).prop_map(
            |(id, (phone, first, last, email, notes, tags), (status, segment, source), times)| {
                let (first_contact, last_interaction, last_message_at, created_at, updated_at) =
                    times;
                Customer {
                    id: Uuid::from_u128(id),
                    phone_number: phone,
                    first_name: first,
                    last_name: last,
                    email,
                    avatar: None,
                    alternative_phones: Vec::new(),
                    address: None,
                    tags,
                    segment,
                    source,
                    custom_fields: Map::new(),
                    preferences: PreferencesView {
                        language: "es".to_owned(),
                        communication_hours: None,
                        preferred_agent: None,
                    },
                    status,
                    is_blocked: false,
                    block_reason: None,
                    notes,
                    statistics: Statistics {
                        total_conversations: 0,
                        open_conversations: 0,
                        resolved_conversations: 0,
                        total_messages: 0,
                        total_tickets: 0,
                        average_response_time: None,
                        satisfaction_score: None,
                    },
                    first_contact,
                    last_interaction,
                    last_message_at,
                    created_at,
                    updated_at,
                }
            },
        )
    }
}
