//! Mutations of conversations, messages, tickets and agents.

use async_graphql::{Context, Object, ID};

use super::inputs::{AddMessageInput, AgentInput, CreateConversationInput, CreateTicketInput};
use super::types::enums::ConversationStatus;
use super::types::{Agent, Conversation, Message, Ticket};
use super::{caller, GqlResult};
use crate::domain::ids::{AgentId, ConversationId, CustomerId, MessageId, TicketId};
use crate::service::agents;
use crate::service::conversations::{self, NewConversation, NewMessage};
use crate::service::tickets::{self, NewTicket};

/// Writes of the conversation side.
#[derive(Default)]
pub struct ConversationMutation;

/// Writes of the conversation side.
#[Object]
impl ConversationMutation {
    /// Opens a conversation for a customer.
    async fn create_conversation(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The conversation to open.")] input: CreateConversationInput,
    ) -> async_graphql::Result<Conversation> {
        let (ctx, actor) = caller(cx)?;
        let input = NewConversation {
            customer_id: input.customer_id.parse::<CustomerId>().gql()?,
            channel: input.channel,
            subject: input.subject,
            assigned_agent_id: input.assigned_agent_id.map(|id| id.0),
        };
        Ok(Conversation::one(
            conversations::create(ctx, actor, input).await.gql()?,
        ))
    }

    /// Adds a message; the customer's statistics follow in the same transaction.
    async fn add_message(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The message to add.")] input: AddMessageInput,
    ) -> async_graphql::Result<Message> {
        let (ctx, actor) = caller(cx)?;
        let input = NewMessage {
            conversation_id: input.conversation_id.parse::<ConversationId>().gql()?,
            direction: input.direction.into(),
            body: input.body,
            agent_id: input.agent_id.map(|id| id.0),
            sent_at: input.sent_at.map(|t| t.0),
        };
        Ok(Message::one(
            conversations::add_message(ctx, actor, input).await.gql()?,
        ))
    }

    /// Moves a conversation to OPEN, PENDING or RESOLVED.
    async fn set_conversation_status(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The conversation to move.")] id: ID,
        #[graphql(desc = "The status it moves to.")] status: ConversationStatus,
    ) -> async_graphql::Result<Conversation> {
        let (ctx, actor) = caller(cx)?;
        Ok(Conversation::one(
            conversations::set_status(
                ctx,
                actor,
                id.parse::<ConversationId>().gql()?,
                status.into(),
            )
            .await
            .gql()?,
        ))
    }

    /// Records the customer's rating, 1 to 5; rating again replaces the old rating.
    async fn rate_conversation(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The conversation the customer rated.")] id: ID,
        #[graphql(desc = "The rating, 1 to 5.")] rating: i32,
    ) -> async_graphql::Result<Conversation> {
        let (ctx, actor) = caller(cx)?;
        Ok(Conversation::one(
            conversations::rate(ctx, actor, id.parse::<ConversationId>().gql()?, rating)
                .await
                .gql()?,
        ))
    }

    /// Needs ADMIN. Deletes a conversation with its messages; its tickets stay with the customer.
    async fn delete_conversation(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The conversation to delete.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let (ctx, actor) = caller(cx)?;
        conversations::delete(ctx, actor, id.parse::<ConversationId>().gql()?)
            .await
            .gql()?;
        Ok(true)
    }

    /// Needs ADMIN. Deletes one message.
    async fn delete_message(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The message to delete.")] id: ID,
    ) -> async_graphql::Result<bool> {
        let (ctx, actor) = caller(cx)?;
        conversations::delete_message(ctx, actor, id.parse::<MessageId>().gql()?)
            .await
            .gql()?;
        Ok(true)
    }

    /// Raises a ticket; the conversation, when given, must be the customer's.
    async fn create_ticket(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The ticket to raise.")] input: CreateTicketInput,
    ) -> async_graphql::Result<Ticket> {
        let (ctx, actor) = caller(cx)?;
        let input = NewTicket {
            customer_id: input.customer_id.parse::<CustomerId>().gql()?,
            conversation_id: input.conversation_id.map(|id| id.0),
            subject: input.subject,
        };
        Ok(Ticket(tickets::create(ctx, actor, input).await.gql()?))
    }

    /// Closes a ticket.
    async fn close_ticket(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The ticket to close.")] id: ID,
    ) -> async_graphql::Result<Ticket> {
        let (ctx, actor) = caller(cx)?;
        Ok(Ticket(
            tickets::close(ctx, actor, id.parse::<TicketId>().gql()?)
                .await
                .gql()?,
        ))
    }

    /// Needs ADMIN. Creates an agent (no id) or renames one (with id).
    async fn upsert_agent(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The agent to create or rename.")] input: AgentInput,
    ) -> async_graphql::Result<Agent> {
        let (ctx, actor) = caller(cx)?;
        let input = agents::AgentInput {
            id: input.id.map(|id| id.parse::<AgentId>()).transpose().gql()?,
            name: input.name,
            email: input.email,
        };
        Ok(Agent(agents::upsert(ctx, actor, input).await.gql()?))
    }
}
