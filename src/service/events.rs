//! Change events for subscriptions. Writes publish after they commit; on
//! SQLite events fan out in process, on PostgreSQL through NOTIFY, which every
//! instance LISTENs to, so a write on one instance reaches the subscribers of
//! all of them. Events carry ids (and a conversation's snapshot), never a
//! customer's personal data: subscribers load what they may see.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::conversations::Conversation;
use crate::domain::customer::string_enum;
use crate::error::Result;

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
    pub kind: ChangeKindWire,
    pub customer_id: Uuid,
    /// Set for conversation events: the conversation as it was written.
    pub conversation: Option<ConversationSnapshot>,
}

/// [`ChangeKind`] as it travels between instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKindWire {
    Created,
    Updated,
    Deleted,
}

impl From<ChangeKindWire> for ChangeKind {
    fn from(k: ChangeKindWire) -> Self {
        match k {
            ChangeKindWire::Created => ChangeKind::Created,
            ChangeKindWire::Updated => ChangeKind::Updated,
            ChangeKindWire::Deleted => ChangeKind::Deleted,
        }
    }
}

/// A conversation inside an event.
pub type ConversationSnapshot = Box<Conversation>;

impl Event {
    /// A change of a customer.
    pub fn customer(tenant: &str, kind: ChangeKindWire, customer_id: Uuid) -> Self {
        Event {
            tenant: tenant.to_owned(),
            kind,
            customer_id,
            conversation: None,
        }
    }

    /// A change of a conversation (of `conversation.customer`).
    pub fn conversation(tenant: &str, kind: ChangeKindWire, conversation: Conversation) -> Self {
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
                for event in events {
                    if let Err(e) = notify(db, &event).await {
                        tracing::warn!(error = %e, "could not publish a change event");
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

async fn notify(db: &DatabaseConnection, event: &Event) -> Result<()> {
    let payload = serde_json::to_string(event).map_err(crate::error::Error::internal)?;
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}
