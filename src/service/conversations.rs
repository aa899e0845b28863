//! Conversations and their messages: reading them (newest first, singly
//! or batched for DataLoaders) and writing them with the customer's
//! statistics kept exact in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{conversation, customer, message, ticket};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    FromQueryResult, IntoActiveModel, Iterable, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use super::events::{ChangeKindWire, Event};
use super::{customers, parse_id, scope, stats, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{check_text, string_enum, Errors};
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::time;
use crate::error::{Error, Result};

string_enum!(
    /// Where a conversation stands; OPEN and PENDING count as open.
    ConversationStatus { Open = "open", Pending = "pending", Resolved = "resolved" }
);

/// A conversation as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: Uuid,
    /// The customer's id.
    pub customer: Uuid,
    pub status: ConversationStatus,
    pub channel: String,
    pub subject: Option<String>,
    /// The assigned agent's id.
    pub assigned_agent: Option<Uuid>,
    pub rating: Option<i32>,
    pub message_count: i32,
    #[serde(with = "time::serde_ms::option")]
    pub last_message_at: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    pub resolved_at: Option<DateTime<Utc>>,
}

impl TryFrom<conversation::Model> for Conversation {
    type Error = Error;

    fn try_from(m: conversation::Model) -> Result<Self> {
        let status = ConversationStatus::parse(&m.status).ok_or_else(|| {
            Error::internal(anyhow::anyhow!("conversations.status: unknown value"))
        })?;
        Ok(Conversation {
            id: m.id,
            customer: m.customer_id,
            status,
            channel: m.channel,
            subject: m.subject,
            assigned_agent: m.assigned_agent_id,
            rating: m.rating,
            message_count: m.message_count,
            last_message_at: m.last_message_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            resolved_at: m.resolved_at,
        })
    }
}

/// The contract's "newest first": by last message (or creation) time, then id.
fn newest_first(q: sea_orm::Select<conversation::Entity>) -> sea_orm::Select<conversation::Entity> {
    q.order_by_desc(conversation::Column::ActivityAt)
        .order_by_desc(conversation::Column::Id)
}

/// The `limit` newest conversations of a customer the caller may see.
pub async fn recent(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: Uuid,
    limit: u64,
) -> Result<Vec<Conversation>> {
    let rows = newest_first(
        scope::conversations(actor).filter(conversation::Column::CustomerId.eq(customer_id)),
    )
    .limit(limit)
    .all(&ctx.db)
    .await?;
    rows.into_iter().map(Conversation::try_from).collect()
}

/// A page of a customer's conversations, newest first; NOT_FOUND for an
/// unknown (or another tenant's) customer.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn list_for_customer(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: &str,
    page: PageRequest,
    status: Option<ConversationStatus>,
) -> Result<(Vec<Conversation>, Pagination)> {
    let customer = super::customers::get(ctx, actor, customer_id).await?;
    let mut q =
        scope::conversations(actor).filter(conversation::Column::CustomerId.eq(customer.id));
    if let Some(s) = status {
        q = q.filter(conversation::Column::Status.eq(s.as_str()));
    }
    let total = q.clone().count(&ctx.db).await?;
    let rows = newest_first(q)
        .offset(page.offset())
        .limit(page.limit)
        .all(&ctx.db)
        .await?;
    let items = rows
        .into_iter()
        .map(Conversation::try_from)
        .collect::<Result<_>>()?;
    Ok((items, page.pagination(total)))
}

/// The conversation with this id, or none.
pub async fn find(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Option<Conversation>> {
    let Ok(id) = parse_id(id, "conversation") else {
        return Ok(None);
    };
    scope::conversations(actor)
        .filter(conversation::Column::Id.eq(id))
        .one(&ctx.db)
        .await?
        .map(Conversation::try_from)
        .transpose()
}

string_enum!(
    /// Who sent a message: the customer (inbound) or the desk (outbound).
    MessageDirection { Inbound = "inbound", Outbound = "outbound" }
);

/// A message as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub direction: MessageDirection,
    pub body: String,
    /// The sending agent's id.
    pub agent: Option<Uuid>,
    #[serde(with = "time::serde_ms")]
    pub sent_at: DateTime<Utc>,
}

impl TryFrom<entity::message::Model> for Message {
    type Error = Error;

    fn try_from(m: entity::message::Model) -> Result<Self> {
        let direction = MessageDirection::parse(&m.direction)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("messages.direction: unknown value")))?;
        Ok(Message {
            id: m.id,
            conversation_id: m.conversation_id,
            direction,
            body: m.body,
            agent: m.agent_id,
            sent_at: m.sent_at,
        })
    }
}

/// A conversation to open.
#[derive(Debug, Clone, Default)]
pub struct NewConversation {
    pub customer_id: String,
    /// Defaults to `whatsapp`.
    pub channel: Option<String>,
    pub subject: Option<String>,
    pub assigned_agent_id: Option<String>,
}

/// A message to add.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: String,
    pub direction: MessageDirection,
    pub body: String,
    pub agent_id: Option<String>,
    /// Defaults to now.
    pub sent_at: Option<DateTime<Utc>>,
}

const MAX_CHANNEL_CHARS: usize = 32;
const MAX_SUBJECT_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 10_000;

/// Checks one text input: trimmed when `trim`, required when `required`.
pub(super) fn text_input(
    field: &str,
    value: Option<String>,
    max: usize,
    required: bool,
) -> Result<Option<String>> {
    let mut e = Errors::default();
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match &value {
        None if required => e.push(field, "must not be empty"),
        Some(v) => {
            check_text(&mut e, field, v, max);
        }
        None => {}
    }
    if e.0.is_empty() {
        Ok(value)
    } else {
        Err(Error::invalid_fields(e.0))
    }
}

/// Resolves an optional agent id of the caller's tenant; 400 when unknown.
pub(super) async fn agent_ref<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    field: &str,
    id: Option<&str>,
) -> Result<Option<Uuid>> {
    let Some(id) = id.map(str::trim).filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let unknown = || Error::invalid(field, "unknown agent");
    let id = Uuid::parse_str(id).map_err(|_| unknown())?;
    let found = scope::agents(actor)
        .filter(entity::agent::Column::Id.eq(id))
        .count(db)
        .await?
        > 0;
    if found {
        Ok(Some(id))
    } else {
        Err(unknown())
    }
}

/// Opens a conversation for a customer.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewConversation) -> Result<Conversation> {
    actor.require_writer()?;
    let channel = text_input("channel", input.channel, MAX_CHANNEL_CHARS, false)?
        .unwrap_or_else(|| "whatsapp".into());
    let subject = text_input("subject", input.subject, MAX_SUBJECT_CHARS, false)?;
    let customer_id = parse_id(&input.customer_id, "customer")?;
    let txn = ctx.write().await?;
    let mut customer = customers::lock_by_id(&*txn, actor, customer_id).await?;
    let assigned = agent_ref(
        &*txn,
        actor,
        "assignedAgentId",
        input.assigned_agent_id.as_deref(),
    )
    .await?;
    let now = time::now();
    let model = conversation::Model {
        id: Uuid::now_v7(),
        tenant_id: actor.tenant.clone(),
        customer_id,
        status: ConversationStatus::Open.as_str().to_owned(),
        channel,
        subject,
        assigned_agent_id: assigned,
        rating: None,
        message_count: 0,
        last_message_at: None,
        activity_at: now,
        response_time_ms: 0,
        response_count: 0,
        created_at: now,
        updated_at: now,
        resolved_at: None,
    };
    conversation::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*txn)
        .await?;
    customer.total_conversations += 1;
    customer.open_conversations += 1;
    customer.first_contact = Some(stats::earliest(customer.first_contact, now));
    customer.last_interaction = customer.last_interaction.max(now);
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    let conversation = Conversation::try_from(model)?;
    publish(ctx, actor, ChangeKindWire::Created, &conversation).await;
    Ok(conversation)
}

/// Tells subscribers a conversation, and so its customer, changed (after the
/// write committed).
async fn publish(ctx: &Ctx, actor: &Actor, kind: ChangeKindWire, conversation: &Conversation) {
    let events = vec![
        Event::conversation(&actor.tenant, kind, conversation.clone()),
        Event::customer(
            &actor.tenant,
            ChangeKindWire::Updated,
            conversation.customer,
        ),
    ];
    ctx.events.publish(&ctx.db, events).await;
}

/// Loads a conversation of the caller's tenant and locks its customer, in
/// that order of reading but customer-first in locking terms (the
/// conversation row is only written after its customer is locked).
async fn lock_conversation(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: &str,
) -> Result<(conversation::Model, customer::Model)> {
    let id = parse_id(id, "conversation")?;
    let found = scope::conversations(actor)
        .filter(conversation::Column::Id.eq(id))
        .one(txn)
        .await?;
    let conv = found.ok_or(Error::NotFound("conversation"))?;
    let customer = customers::lock_by_id(txn, actor, conv.customer_id).await?;
    // Re-read under the customer's lock: a writer may have changed it meanwhile.
    let conv = conversation::Entity::find_by_id((actor.tenant.clone(), id))
        .one(txn)
        .await?
        .ok_or(Error::NotFound("conversation"))?;
    Ok((conv, customer))
}

fn save_conversation(c: conversation::Model) -> conversation::ActiveModel {
    let mut active = c.clone().into_active_model().reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(c.id);
    active
}

/// Applies a conversation's new reply totals to it and its customer.
fn apply_replies(
    conv: &mut conversation::Model,
    customer: &mut customer::Model,
    replies: stats::Replies,
) {
    customer.response_time_ms += replies.total_ms - conv.response_time_ms;
    customer.response_count += replies.count - conv.response_count;
    conv.response_time_ms = replies.total_ms;
    conv.response_count = replies.count;
}

/// Adds a message to a conversation, keeping the conversation's and the
/// customer's statistics exact in the same transaction.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn add_message(ctx: &Ctx, actor: &Actor, input: NewMessage) -> Result<Message> {
    actor.require_writer()?;
    let mut e = Errors::default();
    if input.body.trim().is_empty() {
        e.push("body", "must not be empty");
    }
    check_text(&mut e, "body", &input.body, MAX_BODY_CHARS);
    if !e.0.is_empty() {
        return Err(Error::invalid_fields(e.0));
    }
    let txn = ctx.write().await?;
    let (mut conv, mut customer) = lock_conversation(&txn, actor, &input.conversation_id).await?;
    let agent = agent_ref(&*txn, actor, "agentId", input.agent_id.as_deref()).await?;
    let now = time::now();
    let sent_at = input.sent_at.map(time::truncate).unwrap_or(now);
    let model = message::Model {
        id: Uuid::now_v7(),
        tenant_id: actor.tenant.clone(),
        conversation_id: conv.id,
        customer_id: conv.customer_id,
        direction: input.direction.as_str().to_owned(),
        body: input.body,
        agent_id: agent,
        sent_at,
        created_at: now,
    };
    message::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*txn)
        .await?;

    conv.message_count += 1;
    conv.last_message_at = Some(conv.last_message_at.map_or(sent_at, |t| t.max(sent_at)));
    conv.activity_at = conv.last_message_at.unwrap_or(conv.created_at);
    conv.updated_at = now;
    let replies = stats::conversation_replies(&*txn, conv.id).await?;
    apply_replies(&mut conv, &mut customer, replies);
    let conv = save_conversation(conv).update(&*txn).await?;

    customer.total_messages += 1;
    customer.last_message_at = Some(customer.last_message_at.map_or(sent_at, |t| t.max(sent_at)));
    customer.first_contact = Some(stats::earliest(customer.first_contact, sent_at));
    customer.last_interaction = customer.last_interaction.max(sent_at);
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    publish(
        ctx,
        actor,
        ChangeKindWire::Updated,
        &Conversation::try_from(conv)?,
    )
    .await;
    model.try_into()
}

/// Moves a conversation to OPEN, PENDING or RESOLVED.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn set_status(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    status: ConversationStatus,
) -> Result<Conversation> {
    actor.require_writer()?;
    let txn = ctx.write().await?;
    let (mut conv, mut customer) = lock_conversation(&txn, actor, id).await?;
    let old = ConversationStatus::parse(&conv.status).unwrap_or(ConversationStatus::Open);
    if old == status {
        return conv.try_into();
    }
    let resolved = |s: ConversationStatus| s == ConversationStatus::Resolved;
    match (resolved(old), resolved(status)) {
        (false, true) => {
            customer.open_conversations -= 1;
            customer.resolved_conversations += 1;
        }
        (true, false) => {
            customer.resolved_conversations -= 1;
            customer.open_conversations += 1;
        }
        _ => {}
    }
    let now = time::now();
    conv.status = status.as_str().to_owned();
    conv.resolved_at = resolved(status).then_some(now);
    conv.updated_at = now;
    let conv = save_conversation(conv).update(&*txn).await?;
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    let conversation = Conversation::try_from(conv)?;
    publish(ctx, actor, ChangeKindWire::Updated, &conversation).await;
    Ok(conversation)
}

/// Records the customer's rating (1 to 5) of a conversation; rating again
/// replaces the old rating.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn rate(ctx: &Ctx, actor: &Actor, id: &str, rating: i32) -> Result<Conversation> {
    actor.require_writer()?;
    if !(1..=5).contains(&rating) {
        return Err(Error::invalid("rating", "must be between 1 and 5"));
    }
    let txn = ctx.write().await?;
    let (mut conv, mut customer) = lock_conversation(&txn, actor, id).await?;
    match conv.rating {
        Some(old) => customer.rating_total += rating - old,
        None => {
            customer.rating_total += rating;
            customer.rating_count += 1;
        }
    }
    conv.rating = Some(rating);
    conv.updated_at = time::now();
    let conv = save_conversation(conv).update(&*txn).await?;
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    let conversation = Conversation::try_from(conv)?;
    publish(ctx, actor, ChangeKindWire::Updated, &conversation).await;
    Ok(conversation)
}

/// Deletes a conversation with its messages (ADMIN); its tickets stay with
/// the customer, detached from it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> Result<()> {
    actor.require_admin()?;
    let txn = ctx.write().await?;
    let (conv, mut customer) = lock_conversation(&txn, actor, id).await?;
    message::Entity::delete_many()
        .filter(message::Column::ConversationId.eq(conv.id))
        .exec(&*txn)
        .await?;
    ticket::Entity::update_many()
        .col_expr(
            ticket::Column::ConversationId,
            sea_orm::sea_query::Expr::value(Option::<Uuid>::None),
        )
        .filter(ticket::Column::ConversationId.eq(conv.id))
        .exec(&*txn)
        .await?;
    conversation::Entity::delete_by_id((conv.tenant_id.clone(), conv.id))
        .exec(&*txn)
        .await?;
    customer.total_conversations -= 1;
    if ConversationStatus::parse(&conv.status) == Some(ConversationStatus::Resolved) {
        customer.resolved_conversations -= 1;
    } else {
        customer.open_conversations -= 1;
    }
    customer.total_messages -= conv.message_count;
    customer.response_time_ms -= conv.response_time_ms;
    customer.response_count -= conv.response_count;
    if let Some(r) = conv.rating {
        customer.rating_total -= r;
        customer.rating_count -= 1;
    }
    stats::recompute_times(&*txn, &mut customer).await?;
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    publish(
        ctx,
        actor,
        ChangeKindWire::Deleted,
        &Conversation::try_from(conv)?,
    )
    .await;
    Ok(())
}

/// Deletes one message (ADMIN), keeping every statistic exact.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn delete_message(ctx: &Ctx, actor: &Actor, id: &str) -> Result<()> {
    actor.require_admin()?;
    let id = parse_id(id, "message")?;
    let txn = ctx.write().await?;
    let found = message::Entity::find()
        .filter(message::Column::TenantId.eq(actor.tenant.as_str()))
        .filter(message::Column::Id.eq(id))
        .one(&*txn)
        .await?;
    let msg = found.ok_or(Error::NotFound("message"))?;
    let (mut conv, mut customer) =
        lock_conversation(&txn, actor, &msg.conversation_id.to_string()).await?;
    // The message was found before its customer was locked: a concurrent
    // delete may have taken it meanwhile. Only the writer whose DELETE took
    // the row changes the statistics; the others find it gone.
    let deleted = message::Entity::delete_by_id((msg.tenant_id.clone(), msg.id))
        .exec(&*txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("message"));
    }
    let last: Option<DateTime<Utc>> = message::Entity::find()
        .select_only()
        .expr(sea_orm::sea_query::Expr::col(message::Column::SentAt).max())
        .filter(message::Column::ConversationId.eq(conv.id))
        .into_tuple()
        .one(&*txn)
        .await?
        .flatten();
    conv.message_count -= 1;
    conv.last_message_at = last;
    conv.activity_at = last.unwrap_or(conv.created_at);
    conv.updated_at = time::now();
    let replies = stats::conversation_replies(&*txn, conv.id).await?;
    apply_replies(&mut conv, &mut customer, replies);
    let conv = save_conversation(conv).update(&*txn).await?;
    customer.total_messages -= 1;
    stats::recompute_times(&*txn, &mut customer).await?;
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    publish(
        ctx,
        actor,
        ChangeKindWire::Updated,
        &Conversation::try_from(conv)?,
    )
    .await;
    Ok(())
}

/// Conversations by id, for batching; unknown and foreign ids are absent.
pub async fn by_ids(ctx: &Ctx, actor: &Actor, ids: &[Uuid]) -> Result<Vec<Conversation>> {
    let rows = scope::conversations(actor)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?;
    rows.into_iter().map(Conversation::try_from).collect()
}

/// Rows `offset+1 ..= offset+limit` of each partition, numbered by a window
/// function, so a per-parent limit costs one statement for any number of parents.
fn windowed(
    mut inner: SelectStatement,
    partition: &str,
    order: &str,
    offset: u64,
    limit: u64,
) -> SelectStatement {
    inner.expr_as(
        Expr::cust(format!(
            "ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order})"
        )),
        Alias::new("rn"),
    );
    Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("numbered"))
        .and_where(Expr::col(Alias::new("rn")).gt(offset as i64))
        .and_where(Expr::col(Alias::new("rn")).lte((offset + limit) as i64))
        .order_by(Alias::new(partition), sea_orm::Order::Asc)
        .order_by(Alias::new("rn"), sea_orm::Order::Asc)
        .to_owned()
}

fn conversations_of(
    actor: &Actor,
    customer_ids: &[Uuid],
    status: Option<ConversationStatus>,
) -> SelectStatement {
    let mut q = Query::select();
    q.columns(conversation::Column::iter())
        .from(conversation::Entity)
        .and_where(conversation::Column::TenantId.eq(actor.tenant.as_str()))
        .and_where(conversation::Column::CustomerId.is_in(customer_ids.iter().copied()));
    if let Some(s) = status {
        q.and_where(conversation::Column::Status.eq(s.as_str()));
    }
    q
}

const NEWEST_FIRST: &str = "activity_at DESC, id DESC";

async fn grouped<M, K>(
    ctx: &Ctx,
    stmt: SelectStatement,
    key: impl Fn(&M) -> K,
) -> Result<HashMap<K, Vec<M>>>
where
    M: sea_orm::FromQueryResult,
    K: std::hash::Hash + Eq,
{
    let rows = M::find_by_statement(ctx.db.get_database_backend().build(&stmt))
        .all(&ctx.db)
        .await?;
    let mut out: HashMap<K, Vec<M>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct GroupCount {
    parent: Uuid,
    n: i64,
}

async fn counts(ctx: &Ctx, mut stmt: SelectStatement, by: &str) -> Result<HashMap<Uuid, u64>> {
    stmt.clear_selects();
    stmt.expr_as(Expr::col(Alias::new(by)), Alias::new("parent"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .group_by_col(Alias::new(by));
    let stmt = ctx.db.get_database_backend().build(&stmt);
    let rows = GroupCount::find_by_statement(stmt).all(&ctx.db).await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.parent, r.n.unsigned_abs()))
        .collect())
}

/// The `limit` newest conversations of each customer, in one statement.
pub async fn recent_for(
    ctx: &Ctx,
    actor: &Actor,
    customer_ids: &[Uuid],
    limit: u64,
) -> Result<HashMap<Uuid, Vec<Conversation>>> {
    let stmt = windowed(
        conversations_of(actor, customer_ids, None),
        "customer_id",
        NEWEST_FIRST,
        0,
        limit,
    );
    let rows = grouped(ctx, stmt, |m: &conversation::Model| m.customer_id).await?;
    rows.into_iter()
        .map(|(k, v)| {
            Ok((
                k,
                v.into_iter()
                    .map(Conversation::try_from)
                    .collect::<Result<_>>()?,
            ))
        })
        .collect()
}

/// One page of each customer's conversations (newest first) with totals, in two statements.
pub async fn pages_for(
    ctx: &Ctx,
    actor: &Actor,
    customer_ids: &[Uuid],
    page: PageRequest,
    status: Option<ConversationStatus>,
) -> Result<HashMap<Uuid, (Vec<Conversation>, Pagination)>> {
    let base = conversations_of(actor, customer_ids, status);
    let parent = |m: &conversation::Model| m.customer_id;
    pages_of(
        ctx,
        base,
        ("customer_id", parent),
        NEWEST_FIRST,
        customer_ids,
        page,
    )
    .await
}

/// One page of each parent's children and each parent's total, in two
/// statements: a grouped count and a window over `base`.
async fn pages_of<M, T>(
    ctx: &Ctx,
    base: SelectStatement,
    (column, parent_of): (&str, fn(&M) -> Uuid),
    order: &str,
    parents: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, (Vec<T>, Pagination)>>
where
    M: FromQueryResult,
    T: TryFrom<M, Error = Error>,
{
    let totals = counts(ctx, base.clone(), column).await?;
    let stmt = windowed(base, column, order, page.offset(), page.limit);
    let mut rows = grouped(ctx, stmt, parent_of).await?;
    parents
        .iter()
        .map(|id| {
            let items = rows
                .remove(id)
                .unwrap_or_default()
                .into_iter()
                .map(T::try_from)
                .collect::<Result<_>>()?;
            Ok((
                *id,
                (items, page.pagination(totals.get(id).copied().unwrap_or(0))),
            ))
        })
        .collect()
}

/// One page of each conversation's messages (oldest first) with totals, in two statements.
pub async fn message_pages_for(
    ctx: &Ctx,
    actor: &Actor,
    conversation_ids: &[Uuid],
    page: PageRequest,
) -> Result<HashMap<Uuid, (Vec<Message>, Pagination)>> {
    let base = Query::select()
        .columns(message::Column::iter())
        .from(message::Entity)
        .and_where(message::Column::TenantId.eq(actor.tenant.as_str()))
        .and_where(message::Column::ConversationId.is_in(conversation_ids.iter().copied()))
        .to_owned();
    let parent = |m: &message::Model| m.conversation_id;
    pages_of(
        ctx,
        base,
        ("conversation_id", parent),
        "sent_at ASC, id ASC",
        conversation_ids,
        page,
    )
    .await
}
