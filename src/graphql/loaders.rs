//! DataLoaders: nested fields of a page of N parents cost a constant number
//! of statements. Each loader is made per request for the caller and calls a
//! batch service function, so tenancy stays in the service layer.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use uuid::Uuid;

use crate::auth::Actor;
use crate::domain::page::{PageRequest, Pagination};
use crate::error::Error;
use crate::service::agents::{self, Agent};
use crate::service::conversations::{self, Conversation, ConversationStatus, Message};
use crate::service::customers::{self, Customer};
use crate::service::Ctx;

/// A loader's error: shared by every field that waited on the batch.
pub type LoadError = Arc<Error>;

/// The caller's view of the database, for loaders.
#[derive(Clone)]
pub struct Scope {
    ctx: Ctx,
    actor: Actor,
}

/// Customers by id.
pub struct CustomerLoader(Scope);
/// Agents by id.
pub struct AgentLoader(Scope);
/// Conversations by id.
pub struct ConversationLoader(Scope);
/// The newest conversations of each customer, keyed by (customer, limit).
pub struct RecentConversationsLoader(Scope);
/// A page of each customer's conversations.
pub struct ConversationsByCustomerLoader(Scope);
/// A page of each conversation's messages.
pub struct MessagesByConversationLoader(Scope);

/// A page of a parent's children, as a loader key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey<F> {
    pub parent: Uuid,
    pub page: u64,
    pub limit: u64,
    pub filter: F,
}

impl<F> PageKey<F> {
    fn request(&self) -> PageRequest {
        PageRequest {
            page: self.page,
            limit: self.limit,
        }
    }
}

/// Every loader of one request.
pub struct Loaders {
    pub customers: DataLoader<CustomerLoader>,
    pub agents: DataLoader<AgentLoader>,
    pub conversations: DataLoader<ConversationLoader>,
    pub recent_conversations: DataLoader<RecentConversationsLoader>,
    pub conversation_pages: DataLoader<ConversationsByCustomerLoader>,
    pub message_pages: DataLoader<MessagesByConversationLoader>,
}

impl Loaders {
    /// Fresh loaders for one request by `actor`.
    pub fn new(ctx: Ctx, actor: Actor) -> Self {
        let scope = Scope { ctx, actor };
        Loaders {
            customers: DataLoader::new(CustomerLoader(scope.clone()), tokio::spawn),
            agents: DataLoader::new(AgentLoader(scope.clone()), tokio::spawn),
            conversations: DataLoader::new(ConversationLoader(scope.clone()), tokio::spawn),
            recent_conversations: DataLoader::new(
                RecentConversationsLoader(scope.clone()),
                tokio::spawn,
            ),
            conversation_pages: DataLoader::new(
                ConversationsByCustomerLoader(scope.clone()),
                tokio::spawn,
            ),
            message_pages: DataLoader::new(MessagesByConversationLoader(scope), tokio::spawn),
        }
    }
}

fn by_id<T>(items: Vec<T>, id: impl Fn(&T) -> Uuid) -> HashMap<Uuid, T> {
    items.into_iter().map(|item| (id(&item), item)).collect()
}

impl Loader<Uuid> for CustomerLoader {
    type Value = Customer;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Customer>, LoadError> {
        Ok(by_id(
            customers::by_ids(&self.0.ctx, &self.0.actor, keys).await?,
            |c| c.id,
        ))
    }
}

impl Loader<Uuid> for AgentLoader {
    type Value = Agent;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Agent>, LoadError> {
        Ok(by_id(
            agents::by_ids(&self.0.ctx, &self.0.actor, keys).await?,
            |a| a.id,
        ))
    }
}

impl Loader<Uuid> for ConversationLoader {
    type Value = Conversation;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Conversation>, LoadError> {
        Ok(by_id(
            conversations::by_ids(&self.0.ctx, &self.0.actor, keys).await?,
            |c| c.id,
        ))
    }
}

/// Splits keys into groups that share everything but the parent: one
/// statement (or two) serves each group.
fn groups<G: Hash + Eq + Copy>(keys: impl IntoIterator<Item = (G, Uuid)>) -> HashMap<G, Vec<Uuid>> {
    let mut out: HashMap<G, Vec<Uuid>> = HashMap::new();
    for (group, parent) in keys {
        out.entry(group).or_default().push(parent);
    }
    out
}

impl Loader<(Uuid, u64)> for RecentConversationsLoader {
    type Value = Vec<Conversation>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(Uuid, u64)],
    ) -> Result<HashMap<(Uuid, u64), Vec<Conversation>>, LoadError> {
        let mut out = HashMap::new();
        for (limit, parents) in groups(keys.iter().map(|(parent, limit)| (*limit, *parent))) {
            let found =
                conversations::recent_for(&self.0.ctx, &self.0.actor, &parents, limit).await?;
            out.extend(
                found
                    .into_iter()
                    .map(|(parent, items)| ((parent, limit), items)),
            );
        }
        Ok(out)
    }
}

type ConversationPageKey = PageKey<Option<ConversationStatus>>;

impl Loader<ConversationPageKey> for ConversationsByCustomerLoader {
    type Value = (Vec<Conversation>, Pagination);
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ConversationPageKey],
    ) -> Result<HashMap<ConversationPageKey, Self::Value>, LoadError> {
        let mut out = HashMap::new();
        for ((page, limit, status), parents) in
            groups(keys.iter().map(|k| ((k.page, k.limit, k.filter), k.parent)))
        {
            let request = PageKey {
                parent: Uuid::nil(),
                page,
                limit,
                filter: status,
            }
            .request();
            let found =
                conversations::pages_for(&self.0.ctx, &self.0.actor, &parents, request, status)
                    .await?;
            out.extend(found.into_iter().map(|(parent, v)| {
                (
                    PageKey {
                        parent,
                        page,
                        limit,
                        filter: status,
                    },
                    v,
                )
            }));
        }
        Ok(out)
    }
}

impl Loader<PageKey<()>> for MessagesByConversationLoader {
    type Value = (Vec<Message>, Pagination);
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[PageKey<()>],
    ) -> Result<HashMap<PageKey<()>, Self::Value>, LoadError> {
        let mut out = HashMap::new();
        for ((page, limit), parents) in groups(keys.iter().map(|k| ((k.page, k.limit), k.parent))) {
            let request = PageRequest { page, limit };
            let found =
                conversations::message_pages_for(&self.0.ctx, &self.0.actor, &parents, request)
                    .await?;
            out.extend(found.into_iter().map(|(parent, v)| {
                (
                    PageKey {
                        parent,
                        page,
                        limit,
                        filter: (),
                    },
                    v,
                )
            }));
        }
        Ok(out)
    }
}
