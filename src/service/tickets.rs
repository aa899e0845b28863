//! Tickets raised for customers, optionally from one of their conversations.
//! Raising one counts it in the customer's statistics through the ledger.
//! Imports `customer_rows`, `ledger`, `events`, `scope` and `input`; never
//! `customers` or `conversations`.

use chrono::{DateTime, Utc};
use entity::{conversation, ticket};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::events::ChangeKind;
use super::input::text_input;
use super::{customer_rows, ledger, scope, Ctx};
use crate::auth::Actor;
pub use crate::domain::conversation::TicketStatus;
use crate::domain::ids::{ConversationId, CustomerId, TicketId};
use crate::domain::time;
use crate::error::{Error, Result};

/// A ticket as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: TicketId,
    /// The customer's id.
    pub customer: CustomerId,
    /// The conversation's id.
    pub conversation: Option<ConversationId>,
    pub subject: String,
    pub status: TicketStatus,
    #[serde(with = "time::serde_ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<ticket::Model> for Ticket {
    fn from(m: ticket::Model) -> Self {
        Ticket {
            id: m.id.into(),
            customer: m.customer_id.into(),
            conversation: m.conversation_id.map(ConversationId::from),
            subject: m.subject,
            status: m.status,
            created_at: m.created_at,
            closed_at: m.closed_at,
        }
    }
}

/// A ticket to raise.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub customer_id: CustomerId,
    /// One of the customer's conversations, as the client wrote it: blank
    /// is none; another's, an unknown or a malformed one is a bad
    /// `conversationId`.
    pub conversation_id: Option<String>,
    pub subject: String,
}

const MAX_SUBJECT_CHARS: usize = 200;

/// Raises a ticket; the conversation, when named, must be the customer's.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewTicket) -> Result<Ticket> {
    actor.require_writer()?;
    let subject =
        text_input("subject", Some(input.subject), MAX_SUBJECT_CHARS, true)?.unwrap_or_default();
    let customer_id = input.customer_id;
    let txn = ctx.write().await?;
    let mut customer = customer_rows::lock(&*txn, actor, customer_id).await?;
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
        customer_id: customer_id.uuid(),
        conversation_id,
        subject,
        status: TicketStatus::Open,
        created_at: now,
        closed_at: None,
    };
    ticket::Entity::insert(model.clone().into_active_model())
        .exec_without_returning(&*txn)
        .await?;
    ledger::ticket_opened(&mut customer, now);
    customer_rows::save(&*txn, customer).await?;
    txn.commit().await?;
    ctx.events
        .customer_changed(&ctx.db, &actor.tenant, ChangeKind::Updated, customer_id)
        .await;
    Ok(model.into())
}

/// Closes a ticket; closing a closed ticket changes nothing.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn close(ctx: &Ctx, actor: &Actor, id: TicketId) -> Result<Ticket> {
    actor.require_writer()?;
    let txn = ctx.write().await?;
    let one = || scope::tickets(actor).filter(ticket::Column::Id.eq(id));
    let found = one().one(&*txn).await?;
    let current = found.ok_or(Error::NotFound("ticket"))?;
    if current.status == TicketStatus::Closed {
        return Ok(current.into());
    }
    // Only an open ticket is closed: of two concurrent closes the second
    // changes nothing (its closedAt does not replace the first's).
    scope::update_tickets(&actor.tenant)
        .col_expr(ticket::Column::Status, Expr::value(TicketStatus::Closed))
        .col_expr(ticket::Column::ClosedAt, Expr::value(Some(time::now())))
        .filter(ticket::Column::Id.eq(id))
        .filter(ticket::Column::Status.eq(TicketStatus::Open))
        .exec(&*txn)
        .await?;
    let updated = one().one(&*txn).await?.ok_or(Error::NotFound("ticket"))?;
    txn.commit().await?;
    Ok(updated.into())
}
