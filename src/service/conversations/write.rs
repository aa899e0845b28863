//! Writing conversations and messages. Each write locks the customer row
//! first, changes the rows, and moves the statistics through the
//! [`ledger`](crate::service::ledger) in the same transaction; it publishes
//! its change after the commit.

use chrono::{DateTime, Utc};
use entity::{conversation, customer, message, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::view::{Conversation, Message};
use crate::auth::Actor;
use crate::domain::conversation::{ConversationStatus, MessageDirection};
use crate::domain::customer::{check_text, Errors};
use crate::domain::ids::{ConversationId, CustomerId, MessageId};
use crate::domain::time;
use crate::error::{Error, Result};
use crate::service::events::{ChangeKind, Event};
use crate::service::input::text_input;
use crate::service::ledger::{self, AfterRemoval, Extremes, Replies};
use crate::service::{customer_rows, save_row, scope, Ctx, WriteTxn};

/// A conversation to open.
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub customer_id: CustomerId,
    /// Defaults to `whatsapp`.
    pub channel: Option<String>,
    pub subject: Option<String>,
    /// An agent of the caller's tenant, as the client wrote it: blank is
    /// none; an unknown or malformed one is a bad `assignedAgentId`.
    pub assigned_agent_id: Option<String>,
}

/// A message to add.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub direction: MessageDirection,
    pub body: String,
    /// An agent of the caller's tenant, as the client wrote it: blank is
    /// none; an unknown or malformed one is a bad `agentId`.
    pub agent_id: Option<String>,
    /// Defaults to now.
    pub sent_at: Option<DateTime<Utc>>,
}

const MAX_CHANNEL_CHARS: usize = 32;
const MAX_SUBJECT_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 10_000;

/// Resolves an optional agent id of the caller's tenant; 400 when unknown.
async fn agent_ref<C: ConnectionTrait>(
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
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewConversation) -> Result<Conversation> {
    actor.require_writer()?;
    let channel = text_input("channel", input.channel, MAX_CHANNEL_CHARS, false)?
        .unwrap_or_else(|| "whatsapp".into());
    let subject = text_input("subject", input.subject, MAX_SUBJECT_CHARS, false)?;
    let txn = ctx.write().await?;
    let mut customer = customer_rows::lock(&*txn, actor, input.customer_id).await?;
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
        customer_id: input.customer_id.uuid(),
        status: ConversationStatus::Open,
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
    ledger::conversation_opened(&mut customer, &model);
    customer_rows::save(&*txn, customer).await?;
    txn.commit().await?;
    let conversation = Conversation::from(model);
    publish(ctx, actor, ChangeKind::Created, &conversation).await;
    Ok(conversation)
}

/// Tells subscribers a conversation, and so its customer, changed (after the
/// write committed).
async fn publish(ctx: &Ctx, actor: &Actor, kind: ChangeKind, conversation: &Conversation) {
    let events = vec![
        Event::conversation(&actor.tenant, kind, conversation.clone().into()),
        Event::customer(&actor.tenant, ChangeKind::Updated, conversation.customer),
    ];
    ctx.events.publish(&ctx.db, events).await;
}

/// Loads a conversation of the caller's tenant and locks its customer, in
/// that order of reading but customer-first in locking terms (the
/// conversation row is only written after its customer is locked).
async fn lock_conversation(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: ConversationId,
) -> Result<(conversation::Model, customer::Model)> {
    let one = || scope::conversations(actor).filter(conversation::Column::Id.eq(id));
    let conv = one()
        .one(txn)
        .await?
        .ok_or(Error::NotFound("conversation"))?;
    let customer = customer_rows::lock(txn, actor, conv.customer_id.into()).await?;
    // Re-read under the customer's lock: a writer may have changed it meanwhile.
    let conv = one()
        .one(txn)
        .await?
        .ok_or(Error::NotFound("conversation"))?;
    Ok((conv, customer))
}

/// Writes every column of a conversation row back.
async fn save_conversation<C: ConnectionTrait>(
    db: &C,
    c: conversation::Model,
) -> Result<conversation::Model> {
    save_row::<conversation::ActiveModel>(db, c).await
}

/// Writes a changed conversation and its customer back, commits, and tells
/// subscribers the conversation was updated.
async fn finish(
    ctx: &Ctx,
    actor: &Actor,
    txn: WriteTxn,
    conv: conversation::Model,
    customer: customer::Model,
) -> Result<Conversation> {
    let conv = save_conversation(&*txn, conv).await?;
    customer_rows::save(&*txn, customer).await?;
    txn.commit().await?;
    let conversation = Conversation::from(conv);
    publish(ctx, actor, ChangeKind::Updated, &conversation).await;
    Ok(conversation)
}

/// Recomputes one conversation's reply times from its messages (an indexed
/// read of that conversation only).
async fn conversation_replies<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    conversation_id: Uuid,
) -> Result<Replies> {
    let rows: Vec<(MessageDirection, DateTime<Utc>)> = scope::messages(actor)
        .select_only()
        .column(message::Column::Direction)
        .column(message::Column::SentAt)
        .filter(message::Column::ConversationId.eq(conversation_id))
        .order_by_asc(message::Column::SentAt)
        .order_by_asc(message::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(ledger::replies(rows))
}

/// The newest message time of one conversation.
async fn last_message<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    conversation_id: Uuid,
) -> Result<Option<DateTime<Utc>>> {
    Ok(scope::messages(actor)
        .select_only()
        .expr(Expr::col(message::Column::SentAt).max())
        .filter(message::Column::ConversationId.eq(conversation_id))
        .into_tuple()
        .one(db)
        .await?
        .flatten())
}

/// The extremes of a customer's remaining rows, after a delete took away
/// what might have been the newest or earliest (indexed reads of that
/// customer's rows only).
async fn customer_extremes<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    customer_id: Uuid,
) -> Result<Extremes> {
    let (first_message, last_message): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        scope::messages(actor)
            .select_only()
            .expr(Expr::col(message::Column::SentAt).min())
            .expr(Expr::col(message::Column::SentAt).max())
            .filter(message::Column::CustomerId.eq(customer_id))
            .into_tuple()
            .one(db)
            .await?
            .unwrap_or_default();
    let (first_conversation, last_conversation): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        scope::conversations(actor)
            .select_only()
            .expr(Expr::col(conversation::Column::CreatedAt).min())
            .expr(Expr::col(conversation::Column::CreatedAt).max())
            .filter(conversation::Column::CustomerId.eq(customer_id))
            .into_tuple()
            .one(db)
            .await?
            .unwrap_or_default();
    let last_ticket: Option<DateTime<Utc>> = scope::tickets(actor)
        .select_only()
        .expr(Expr::col(ticket::Column::CreatedAt).max())
        .filter(ticket::Column::CustomerId.eq(customer_id))
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(Extremes {
        first_conversation,
        last_conversation,
        first_message,
        last_message,
        last_ticket,
    })
}

/// Adds a message to a conversation, keeping the conversation's and the
/// customer's statistics exact in the same transaction.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
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
    let (mut conv, mut customer) = lock_conversation(&txn, actor, input.conversation_id).await?;
    let agent = agent_ref(&*txn, actor, "agentId", input.agent_id.as_deref()).await?;
    let now = time::now();
    let sent_at = input.sent_at.map(time::truncate).unwrap_or(now);
    let model = message::Model {
        id: Uuid::now_v7(),
        tenant_id: actor.tenant.clone(),
        conversation_id: conv.id,
        customer_id: conv.customer_id,
        direction: input.direction,
        body: input.body,
        agent_id: agent,
        sent_at,
        created_at: now,
    };
    message::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*txn)
        .await?;
    let replies = conversation_replies(&*txn, actor, conv.id).await?;
    ledger::message_added(&mut customer, &mut conv, sent_at, replies);
    conv.updated_at = now;
    finish(ctx, actor, txn, conv, customer).await?;
    Ok(model.into())
}

/// Moves a conversation to OPEN, PENDING or RESOLVED.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn set_status(
    ctx: &Ctx,
    actor: &Actor,
    id: ConversationId,
    status: ConversationStatus,
) -> Result<Conversation> {
    actor.require_writer()?;
    let txn = ctx.write().await?;
    let (mut conv, mut customer) = lock_conversation(&txn, actor, id).await?;
    if conv.status == status {
        return Ok(conv.into());
    }
    ledger::status_changed(&mut customer, &mut conv, status);
    let now = time::now();
    conv.resolved_at = status.is_resolved().then_some(now);
    conv.updated_at = now;
    finish(ctx, actor, txn, conv, customer).await
}

/// Records the customer's rating (1 to 5) of a conversation; rating again
/// replaces the old rating.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn rate(
    ctx: &Ctx,
    actor: &Actor,
    id: ConversationId,
    rating: i32,
) -> Result<Conversation> {
    actor.require_writer()?;
    if !(1..=5).contains(&rating) {
        return Err(Error::invalid("rating", "must be between 1 and 5"));
    }
    let txn = ctx.write().await?;
    let (mut conv, mut customer) = lock_conversation(&txn, actor, id).await?;
    ledger::rated(&mut customer, &mut conv, rating);
    conv.updated_at = time::now();
    finish(ctx, actor, txn, conv, customer).await
}

/// Deletes a conversation with its messages (ADMIN); its tickets stay with
/// the customer, detached from it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn delete(ctx: &Ctx, actor: &Actor, id: ConversationId) -> Result<()> {
    actor.require_admin()?;
    let txn = ctx.write().await?;
    let (conv, mut customer) = lock_conversation(&txn, actor, id).await?;
    scope::delete_messages(&actor.tenant)
        .filter(message::Column::ConversationId.eq(conv.id))
        .exec(&*txn)
        .await?;
    scope::update_tickets(&actor.tenant)
        .col_expr(
            ticket::Column::ConversationId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(ticket::Column::ConversationId.eq(conv.id))
        .exec(&*txn)
        .await?;
    scope::delete_conversations(&actor.tenant)
        .filter(conversation::Column::Id.eq(conv.id))
        .exec(&*txn)
        .await?;
    let left = customer_extremes(&*txn, actor, customer.id).await?;
    ledger::conversation_removed(&mut customer, &conv, left);
    customer_rows::save(&*txn, customer).await?;
    txn.commit().await?;
    publish(ctx, actor, ChangeKind::Deleted, &Conversation::from(conv)).await;
    Ok(())
}

/// Deletes one message (ADMIN), keeping every statistic exact.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn delete_message(ctx: &Ctx, actor: &Actor, id: MessageId) -> Result<()> {
    actor.require_admin()?;
    let txn = ctx.write().await?;
    let found = scope::messages(actor)
        .filter(message::Column::Id.eq(id))
        .one(&*txn)
        .await?;
    let msg = found.ok_or(Error::NotFound("message"))?;
    let (mut conv, mut customer) =
        lock_conversation(&txn, actor, msg.conversation_id.into()).await?;
    // The message was found before its customer was locked: a concurrent
    // delete may have taken it meanwhile. Only the writer whose DELETE took
    // the row changes the statistics; the others find it gone.
    let deleted = scope::delete_messages(&actor.tenant)
        .filter(message::Column::Id.eq(msg.id))
        .exec(&*txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("message"));
    }
    let left = AfterRemoval {
        last_message: last_message(&*txn, actor, conv.id).await?,
        replies: conversation_replies(&*txn, actor, conv.id).await?,
        customer: customer_extremes(&*txn, actor, customer.id).await?,
    };
    ledger::message_removed(&mut customer, &mut conv, left);
    conv.updated_at = time::now();
    finish(ctx, actor, txn, conv, customer).await?;
    Ok(())
}
