//! Conversations of customers: reading them, newest first.

use chrono::{DateTime, Utc};
use entity::conversation;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use super::{parse_id, scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::string_enum;
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::time;
use crate::error::{Error, Result};

string_enum!(
    /// Where a conversation stands; OPEN and PENDING count as open.
    ConversationStatus { Open = "open", Pending = "pending", Resolved = "resolved" }
);

/// A conversation as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err)]
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

/// A page of a conversation's messages, oldest first (by `sentAt`, then id).
pub async fn messages(
    ctx: &Ctx,
    actor: &Actor,
    conversation_id: Uuid,
    page: PageRequest,
) -> Result<(Vec<Message>, Pagination)> {
    use entity::message::{Column, Entity};
    use sea_orm::EntityTrait;
    let q = Entity::find()
        .filter(Column::TenantId.eq(actor.tenant.as_str()))
        .filter(Column::ConversationId.eq(conversation_id));
    let total = q.clone().count(&ctx.db).await?;
    let rows = q
        .order_by_asc(Column::SentAt)
        .order_by_asc(Column::Id)
        .offset(page.offset())
        .limit(page.limit)
        .all(&ctx.db)
        .await?;
    let items = rows
        .into_iter()
        .map(Message::try_from)
        .collect::<Result<_>>()?;
    Ok((items, page.pagination(total)))
}
