//! Tickets raised for customers, optionally from one of their conversations.

use chrono::{DateTime, Utc};
use entity::{conversation, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::conversations::text_input;
use super::events::ChangeKindWire;
use super::{customers, parse_id, scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::string_enum;
use crate::domain::time;
use crate::error::{Error, Result};

string_enum!(
    /// Whether a ticket still needs work.
    TicketStatus { Open = "open", Closed = "closed" }
);

/// A ticket as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: Uuid,
    /// The customer's id.
    pub customer: Uuid,
    /// The conversation's id.
    pub conversation: Option<Uuid>,
    pub subject: String,
    pub status: TicketStatus,
    #[serde(with = "time::serde_ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    pub closed_at: Option<DateTime<Utc>>,
}

impl TryFrom<ticket::Model> for Ticket {
    type Error = Error;

    fn try_from(m: ticket::Model) -> Result<Self> {
        let status = TicketStatus::parse(&m.status)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("tickets.status: unknown value")))?;
        Ok(Ticket {
            id: m.id,
            customer: m.customer_id,
            conversation: m.conversation_id,
            subject: m.subject,
            status,
            created_at: m.created_at,
            closed_at: m.closed_at,
        })
    }
}

/// A ticket to raise.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub customer_id: String,
    pub conversation_id: Option<String>,
    pub subject: String,
}

const MAX_SUBJECT_CHARS: usize = 200;

/// Raises a ticket; the conversation, when named, must be the customer's.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewTicket) -> Result<Ticket> {
    actor.require_writer()?;
    let subject =
        text_input("subject", Some(input.subject), MAX_SUBJECT_CHARS, true)?.unwrap_or_default();
    let customer_id = parse_id(&input.customer_id, "customer")?;
    let txn = ctx.write().await?;
    let mut customer = customers::lock_by_id(&*txn, actor, customer_id).await?;
    let conversation_id = match input
        .conversation_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(id) => {
            let not_theirs =
                || Error::invalid("conversationId", "not a conversation of this customer");
            let id = Uuid::parse_str(id).map_err(|_| not_theirs())?;
            scope::conversations(actor)
                .filter(conversation::Column::Id.eq(id))
                .filter(conversation::Column::CustomerId.eq(customer_id))
                .one(&*txn)
                .await?
                .ok_or_else(not_theirs)?;
            Some(id)
        }
    };
    let now = time::now();
    let model = ticket::Model {
        id: Uuid::now_v7(),
        tenant_id: actor.tenant.clone(),
        customer_id,
        conversation_id,
        subject,
        status: TicketStatus::Open.as_str().to_owned(),
        created_at: now,
        closed_at: None,
    };
    ticket::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*txn)
        .await?;
    customer.total_tickets += 1;
    customer.last_interaction = customer.last_interaction.max(now);
    customers::save(&*txn, customer).await?;
    txn.commit().await?;
    super::customers::publish_customer(ctx, actor, ChangeKindWire::Updated, customer_id).await;
    model.try_into()
}

/// Closes a ticket; closing a closed ticket changes nothing.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn close(ctx: &Ctx, actor: &Actor, id: &str) -> Result<Ticket> {
    actor.require_writer()?;
    let id = parse_id(id, "ticket")?;
    let txn = ctx.write().await?;
    let found = ticket::Entity::find()
        .filter(ticket::Column::TenantId.eq(actor.tenant.as_str()))
        .filter(ticket::Column::Id.eq(id))
        .one(&*txn)
        .await?;
    let current = found.ok_or(Error::NotFound("ticket"))?;
    if current.status == TicketStatus::Closed.as_str() {
        return current.try_into();
    }
    // Only an open ticket is closed: of two concurrent closes the second
    // changes nothing (its closedAt does not replace the first's).
    ticket::Entity::update_many()
        .col_expr(
            ticket::Column::Status,
            Expr::value(TicketStatus::Closed.as_str()),
        )
        .col_expr(ticket::Column::ClosedAt, Expr::value(Some(time::now())))
        .filter(ticket::Column::TenantId.eq(actor.tenant.as_str()))
        .filter(ticket::Column::Id.eq(id))
        .filter(ticket::Column::Status.eq(TicketStatus::Open.as_str()))
        .exec(&*txn)
        .await?;
    let updated = ticket::Entity::find_by_id((actor.tenant.clone(), id))
        .one(&*txn)
        .await?
        .ok_or(Error::NotFound("ticket"))?;
    txn.commit().await?;
    updated.try_into()
}
