//! Conversations and messages as both faces show them, made from their rows,
//! and the snapshot of a conversation that change events carry.

use chrono::{DateTime, Utc};
use entity::{conversation, message};
use serde::Serialize;

use crate::domain::conversation::{ConversationStatus, MessageDirection};
use crate::domain::ids::{AgentId, ConversationId, CustomerId, MessageId};
use crate::domain::time;
use crate::service::events::ConversationSnapshot;

/// A conversation as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    #[schema(value_type = uuid::Uuid)]
    pub id: ConversationId,
    /// The customer's id.
    #[schema(value_type = uuid::Uuid)]
    pub customer: CustomerId,
    pub status: ConversationStatus,
    pub channel: String,
    pub subject: Option<String>,
    /// The assigned agent's id.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub assigned_agent: Option<AgentId>,
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

impl From<conversation::Model> for Conversation {
    fn from(m: conversation::Model) -> Self {
        Conversation {
            id: m.id.into(),
            customer: m.customer_id.into(),
            status: m.status,
            channel: m.channel,
            subject: m.subject,
            assigned_agent: m.assigned_agent_id.map(AgentId::from),
            rating: m.rating,
            message_count: m.message_count,
            last_message_at: m.last_message_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            resolved_at: m.resolved_at,
        }
    }
}

impl From<Conversation> for ConversationSnapshot {
    fn from(c: Conversation) -> Self {
        ConversationSnapshot {
            id: c.id,
            customer: c.customer,
            status: c.status,
            channel: c.channel,
            subject: c.subject,
            assigned_agent: c.assigned_agent,
            rating: c.rating,
            message_count: c.message_count,
            last_message_at: c.last_message_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            resolved_at: c.resolved_at,
        }
    }
}

impl From<ConversationSnapshot> for Conversation {
    fn from(c: ConversationSnapshot) -> Self {
        Conversation {
            id: c.id,
            customer: c.customer,
            status: c.status,
            channel: c.channel,
            subject: c.subject,
            assigned_agent: c.assigned_agent,
            rating: c.rating,
            message_count: c.message_count,
            last_message_at: c.last_message_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            resolved_at: c.resolved_at,
        }
    }
}

/// A message as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: MessageDirection,
    pub body: String,
    /// The sending agent's id.
    pub agent: Option<AgentId>,
    #[serde(with = "time::serde_ms")]
    pub sent_at: DateTime<Utc>,
}

impl From<message::Model> for Message {
    fn from(m: message::Model) -> Self {
        Message {
            id: m.id.into(),
            conversation_id: m.conversation_id.into(),
            direction: m.direction,
            body: m.body,
            agent: m.agent_id.map(AgentId::from),
            sent_at: m.sent_at,
        }
    }
}
