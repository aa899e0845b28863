//! Change events for subscriptions. Writes publish after they commit; on
//! SQLite events fan out in process, on PostgreSQL through NOTIFY, which every
//! instance LISTENs to, so a write on one instance reaches the subscribers of
//! all of them. Events carry ids (and a conversation's snapshot), never a
//! customer's personal data: subscribers load what they may see.
//!
//! Owns its own payload types ([`Event`], [`ConversationSnapshot`],
//! [`ChangeKind`]); imports only `domain`, never another `service` module
//! (the writers import this one and build the snapshots).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::domain::conversation::ConversationStatus;
use crate::domain::customer::string_enum;
use crate::domain::ids::{AgentId, ConversationId, CustomerId};
use crate::domain::time;
use crate::error::Result;

// GraphQL shows CREATED, UPDATED or DELETED; the NOTIFY payload between
// instances carries the lowercase spelling (both from `string_enum!`).
string_enum!(
    /// What happened to the record.
    ChangeKind { Created = "created", Updated = "updated", Deleted = "deleted" }
);

/// The PostgreSQL channel events travel on.
const CHANNEL: &str = "clientela_events";
/// Events a slow subscriber may fall behind before it skips ahead.
const BUFFER: usize = 1024;

/// One change, scoped to a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub tenant: String,
    pub kind: ChangeKind,
    pub customer_id: CustomerId,
    /// Set for conversation events: the conversation as it was written.
    pub conversation: Option<Box<ConversationSnapshot>>,
}

/// A conversation as a write left it, inside an event (the same JSON as the
/// conversations the faces show).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSnapshot {
    pub id: ConversationId,
    /// The customer's id.
    pub customer: CustomerId,
    pub status: ConversationStatus,
    pub channel: String,
    pub subject: Option<String>,
    /// The assigned agent's id.
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

impl Event {
    /// A change of a customer.
    pub fn customer(tenant: &str, kind: ChangeKind, customer_id: CustomerId) -> Self {
        Event {
            tenant: tenant.to_owned(),
            kind,
            customer_id,
            conversation: None,
        }
    }

    /// A change of a conversation (of `conversation.customer`).
    pub fn conversation(
        tenant: &str,
        kind: ChangeKind,
        conversation: ConversationSnapshot,
    ) -> Self {
        Event {
            tenant: tenant.to_owned(),
            kind,
            customer_id: conversation.customer,
            conversation: Some(Box::new(conversation)),
        }
    }
}

/// The event bus of one process.
#[derive(Debug, Clone)]
pub struct Events {
    local: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            local: broadcast::channel(BUFFER).0,
        }
    }
}

impl Events {
    /// A receiver of every event this process learns of, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.local.subscribe()
    }

    /// Publishes committed changes: NOTIFY on PostgreSQL (this process hears
    /// it back through its own LISTEN), in process on SQLite. A failure to
    /// publish is logged, never turned into a failure of the committed write.
    pub async fn publish(&self, db: &DatabaseConnection, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        match db.get_database_backend() {
            DbBackend::Postgres => {
                // One round trip per chunk, not per event (an import's
                // 50,000 creations would otherwise wait for 50,000).
                for chunk in events.chunks(NOTIFY_CHUNK) {
                    if let Err(e) = notify(db, chunk).await {
                        tracing::warn!(error = %e, "could not publish change events");
                    }
                }
            }
            _ => {
                for event in events {
                    // No receiver is not an error: nobody is subscribed.
                    let _ = self.local.send(event);
                }
            }
        }
    }

    /// Tells subscribers a customer of `tenant` changed (after the write committed).
    pub async fn customer_changed(
        &self,
        db: &DatabaseConnection,
        tenant: &str,
        kind: ChangeKind,
        customer_id: CustomerId,
    ) {
        self.publish(db, vec![Event::customer(tenant, kind, customer_id)])
            .await;
    }

    /// On PostgreSQL, LISTENs for the events of every instance and hands them
    /// to this process's subscribers; reconnects when the connection drops.
    pub async fn listen(&self, db: &DatabaseConnection, url: &str) -> anyhow::Result<()> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let local = self.local.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(note) => match serde_json::from_str::<Event>(note.payload()) {
                        Ok(event) => {
                            let _ = local.send(event);
                        }
                        Err(e) => tracing::warn!(error = %e, "ignored a malformed change event"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "event listener lost its connection; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }
}

/// Events sent by one `pg_notify` statement.
const NOTIFY_CHUNK: usize = 1000;

/// Sends events on the channel in one statement, in order: their payloads
/// go as one JSON array of strings, one notification per element.
async fn notify(db: &DatabaseConnection, events: &[Event]) -> Result<()> {
    let payloads = events
        .iter()
        .map(serde_json::to_string)
        .collect::<std::result::Result<Vec<String>, _>>()
        .map_err(crate::error::Error::internal)?;
    let payloads = serde_json::to_string(&payloads).map_err(crate::error::Error::internal)?;
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        // The function scan yields the elements in array order.
        "SELECT pg_notify($1, payload) FROM json_array_elements_text($2::json) AS payload",
        [CHANNEL.into(), payloads.into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_notify_payload_keeps_its_json_shape() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
        let id = Uuid::from_u128(7);
        let snapshot = ConversationSnapshot {
            id: id.into(),
            customer: id.into(),
            status: ConversationStatus::Pending,
            channel: "whatsapp".into(),
            subject: None,
            assigned_agent: None,
            rating: Some(4),
            message_count: 2,
            last_message_at: Some(at),
            created_at: at,
            updated_at: at,
            resolved_at: None,
        };
        let event = Event::conversation("acme", ChangeKind::Deleted, snapshot);
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "tenant": "acme",
                "kind": "deleted",
                "customer_id": id,
                "conversation": {
                    "id": id, "customer": id, "status": "pending", "channel": "whatsapp",
                    "subject": null, "assignedAgent": null, "rating": 4, "messageCount": 2,
                    "lastMessageAt": "2023-11-14T22:13:20.000Z",
                    "createdAt": "2023-11-14T22:13:20.000Z",
                    "updatedAt": "2023-11-14T22:13:20.000Z", "resolvedAt": null
                }
            })
        );
        let back: Event = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, event);
        let customer = Event::customer("acme", ChangeKind::Created, id.into());
        let json = serde_json::to_string(&customer).expect("serializes");
        assert!(json.contains("\"kind\":\"created\""), "{json}");
    }
}
