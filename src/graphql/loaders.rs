//! DataLoaders: nested fields of a page of N parents cost a constant number
//! of statements. Each loader is made per request for the caller and calls a
//! batch service function, so tenancy stays in the service layer.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use crate::auth::Actor;
use crate::domain::ids::{AgentId, ConversationId, CustomerId};
use crate::domain::page::{PageRequest, Pagination};
use crate::error::Error;
use crate::service::agents::{self, Agent};
use crate::service::conversations::{self, Conversation, ConversationStatus, Message};
use crate::service::customers::{self, Customer};
use crate::service::{Columns, Ctx};
use async_graphql::dataloader::{DataLoader, Loader};

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
pub struct PageKey<P, F> {
    pub parent: P,
    pub page: u64,
    pub limit: u64,
    pub filter: F,
}

/// Every loader of one request, each made the first time it is asked for:
/// most requests use none or one of them, and each holds its own state.
pub struct Loaders {
    scope: Scope,
    customers: OnceLock<DataLoader<CustomerLoader>>,
    agents: OnceLock<DataLoader<AgentLoader>>,
    conversations: OnceLock<DataLoader<ConversationLoader>>,
    recent_conversations: OnceLock<DataLoader<RecentConversationsLoader>>,
    conversation_pages: OnceLock<DataLoader<ConversationsByCustomerLoader>>,
    message_pages: OnceLock<DataLoader<MessagesByConversationLoader>>,
}

/// An accessor of [`Loaders`] for each loader: made from the request's
/// scope on first use.
macro_rules! loader_accessors {
    ($($field:ident: $loader:ident),* $(,)?) => {
        impl Loaders {
            $(
                #[doc = concat!("The request's [`", stringify!($loader), "`].")]
                pub fn $field(&self) -> &DataLoader<$loader> {
                    self.$field.get_or_init(|| loader($loader(self.scope.clone())))
                }
            )*
        }
    };
}

loader_accessors!(
    customers: CustomerLoader,
    agents: AgentLoader,
    conversations: ConversationLoader,
    recent_conversations: RecentConversationsLoader,
    conversation_pages: ConversationsByCustomerLoader,
    message_pages: MessagesByConversationLoader,
);

impl Loaders {
    /// The loaders of one request by `actor` (none made yet).
    pub fn new(ctx: Ctx, actor: Actor) -> Self {
        Loaders {
            scope: Scope { ctx, actor },
            customers: OnceLock::new(),
            agents: OnceLock::new(),
            conversations: OnceLock::new(),
            recent_conversations: OnceLock::new(),
            conversation_pages: OnceLock::new(),
            message_pages: OnceLock::new(),
        }
    }
}

/// A DataLoader that loads as soon as the task that asked has yielded,
/// rather than after async-graphql's default 1 ms: the fields resolved
/// together (siblings, and the items of a list, polled in one pass) have all
/// asked by then. The default's timer also ran on a thread of its own,
/// woken for every batch. (A list's siblings need no timing at all: see
/// [`Shared`].)
fn loader<T: Send + Sync + 'static>(inner: T) -> DataLoader<T> {
    DataLoader::new(inner, tokio::spawn).delay(std::time::Duration::ZERO)
}

/// A loader of records by id: one call of the service's batch function
/// `$by_ids` serves every key of a batch.
macro_rules! by_id_loader {
    ($loader:ty, $id:ty, $record:ty, $by_ids:path) => {
        impl Loader<$id> for $loader {
            type Value = $record;
            type Error = LoadError;

            async fn load(&self, keys: &[$id]) -> Result<HashMap<$id, $record>, LoadError> {
                let found = $by_ids(&self.0.ctx, &self.0.actor, keys).await?;
                Ok(found.into_iter().map(|r| (r.id, r)).collect())
            }
        }
    };
}

by_id_loader!(CustomerLoader, CustomerId, Customer, customers::by_ids);
by_id_loader!(AgentLoader, AgentId, Agent, agents::by_ids);
by_id_loader!(
    ConversationLoader,
    ConversationId,
    Conversation,
    conversations::by_ids
);

/// Splits keys into groups that share everything but the parent: one
/// statement (or two) serves each group.
fn groups<G: Hash + Eq + Copy, P>(keys: impl IntoIterator<Item = (G, P)>) -> HashMap<G, Vec<P>> {
    let mut out: HashMap<G, Vec<P>> = HashMap::new();
    for (group, parent) in keys {
        out.entry(group).or_default().push(parent);
    }
    out
}

/// A key of [`RecentConversationsLoader`]: a customer, how many of its
/// conversations, and their columns to read.
type RecentKey = (CustomerId, u64, Columns);

impl Loader<RecentKey> for RecentConversationsLoader {
    type Value = Vec<Conversation>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[RecentKey],
    ) -> Result<HashMap<RecentKey, Vec<Conversation>>, LoadError> {
        let mut out = HashMap::new();
        let by_read = keys
            .iter()
            .map(|(parent, limit, columns)| ((*limit, *columns), *parent));
        for ((limit, columns), parents) in groups(by_read) {
            let (ctx, actor) = (&self.0.ctx, &self.0.actor);
            let found = conversations::recent_for(ctx, actor, &parents, limit, columns).await?;
            out.extend(
                found
                    .into_iter()
                    .map(|(parent, items)| ((parent, limit, columns), items)),
            );
        }
        Ok(out)
    }
}

type ConversationPageKey = PageKey<CustomerId, Option<ConversationStatus>>;
type MessagePageKey = PageKey<ConversationId, ()>;

/// A page of each key's parent: one `fetch` of the parents serves every
/// group of keys that share the page and the filter.
async fn load_pages<P, F, V, Fut>(
    keys: &[PageKey<P, F>],
    fetch: impl Fn(Vec<P>, PageRequest, F) -> Fut,
) -> Result<HashMap<PageKey<P, F>, V>, LoadError>
where
    P: Hash + Eq + Copy,
    F: Hash + Eq + Copy,
    Fut: std::future::Future<Output = crate::error::Result<HashMap<P, V>>>,
{
    let mut out = HashMap::new();
    for ((page, limit, filter), parents) in
        groups(keys.iter().map(|k| ((k.page, k.limit, k.filter), k.parent)))
    {
        let found = fetch(parents, PageRequest { page, limit }, filter).await?;
        out.extend(found.into_iter().map(|(parent, v)| {
            let key = PageKey {
                parent,
                page,
                limit,
                filter,
            };
            (key, v)
        }));
    }
    Ok(out)
}

impl Loader<ConversationPageKey> for ConversationsByCustomerLoader {
    type Value = (Vec<Conversation>, Pagination);
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ConversationPageKey],
    ) -> Result<HashMap<ConversationPageKey, Self::Value>, LoadError> {
        let Scope { ctx, actor } = &self.0;
        load_pages(keys, |parents, request, status| async move {
            conversations::pages_for(ctx, actor, &parents, request, status).await
        })
        .await
    }
}

impl Loader<MessagePageKey> for MessagesByConversationLoader {
    type Value = (Vec<Message>, Pagination);
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MessagePageKey],
    ) -> Result<HashMap<MessagePageKey, Self::Value>, LoadError> {
        let Scope { ctx, actor } = &self.0;
        load_pages(keys, |parents, request, ()| async move {
            conversations::message_pages_for(ctx, actor, &parents, request).await
        })
        .await
    }
}

/// One result a list of siblings shares, per set of field arguments: the
/// first sibling that resolves the field loads it for all of them (through
/// the DataLoaders, in one `load_many`), the others wait for that load. A
/// page so costs the same statements however the executor schedules the
/// siblings, where a DataLoader's batching window alone depends on timing.
pub struct Shared<A, V> {
    cells: std::sync::Mutex<HashMap<A, Cell<V>>>,
}

/// The once-only load of one shared result.
type Cell<V> = Arc<tokio::sync::OnceCell<Result<Arc<V>, LoadError>>>;

impl<A, V> Default for Shared<A, V> {
    fn default() -> Self {
        Shared {
            cells: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl<A: Hash + Eq, V> Shared<A, V> {
    /// The shared result for `args`, loading it with `load` if no sibling has.
    pub async fn get<F>(&self, args: A, load: F) -> Result<Arc<V>, LoadError>
    where
        F: std::future::Future<Output = Result<V, LoadError>>,
    {
        let cell = {
            let mut cells = crate::sync::lock(&self.cells);
            cells.entry(args).or_default().clone()
        };
        cell.get_or_init(|| async { load.await.map(Arc::new) })
            .await
            .clone()
    }

    /// Sets the shared result for `args` to `value`, read beforehand: the
    /// siblings get it without a load.
    fn prime(&self, args: A, value: V) {
        let cell = tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(value))));
        crate::sync::lock(&self.cells).insert(args, Arc::new(cell));
    }

    /// The shared result for `args`, if it is loaded (or primed) and not
    /// an error.
    fn ready(&self, args: &A) -> Option<Arc<V>> {
        let cells = crate::sync::lock(&self.cells);
        cells.get(args)?.get()?.as_ref().ok().cloned()
    }
}

/// Rows loaded for a list of parents (by the parents' ids `K`), and the
/// group those rows share in turn.
pub struct Related<K, T, G> {
    pub by_parent: HashMap<K, T>,
    pub group: Arc<G>,
}

/// Records loaded by id for a list of siblings, once for all of them.
pub struct ById<K, V> {
    ids: Vec<K>,
    loaded: Shared<(), HashMap<K, V>>,
}

impl<K: Ord, V> ById<K, V> {
    fn new(ids: impl IntoIterator<Item = K>) -> Self {
        let mut ids: Vec<K> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        ById {
            ids,
            loaded: Shared::default(),
        }
    }
}

impl<K, V> ById<K, V>
where
    K: Hash + Eq + Copy + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// One of the siblings' records, all of which `loader` loads at once.
    pub async fn get<L>(&self, loader: &DataLoader<L>, id: K) -> Result<Option<V>, LoadError>
    where
        L: Loader<K, Value = V, Error = LoadError>,
    {
        let all = self
            .loaded
            .get((), loader.load_many(self.ids.iter().copied()))
            .await?;
        Ok(all.get(&id).cloned())
    }
}

/// One page of the children of every parent of `ids`, by parent.
async fn pages_of<P, F, V, L>(
    loader: &DataLoader<L>,
    ids: &[P],
    page: PageRequest,
    filter: F,
) -> Result<HashMap<P, V>, LoadError>
where
    P: Hash + Eq + Copy + Send + Sync + 'static,
    F: Hash + Eq + Copy + Send + Sync + 'static,
    L: Loader<PageKey<P, F>, Value = V, Error = LoadError>,
{
    let keys = ids.iter().map(|id| PageKey {
        parent: *id,
        page: page.page,
        limit: page.limit,
        filter,
    });
    let found = loader.load_many(keys).await?;
    Ok(found.into_iter().map(|(k, v)| (k.parent, v)).collect())
}

/// A page of a parent's conversations.
pub type ConversationPage = (Vec<Conversation>, Pagination);
/// A page of a conversation's messages.
pub type MessagePage = (Vec<Message>, Pagination);
/// The newest conversations of each customer of a group.
pub type RecentConversations = Related<CustomerId, Vec<Conversation>, ConversationGroup>;
/// A page of conversations of each customer of a group.
pub type ConversationPages = Related<CustomerId, ConversationPage, ConversationGroup>;
/// A page of messages of each conversation of a group.
pub type MessagePages = Related<ConversationId, MessagePage, MessageGroup>;

/// What the customers of one list share.
pub struct CustomerGroup {
    ids: Vec<CustomerId>,
    /// The columns their recent conversations are read with.
    recent_columns: Columns,
    /// How many recent conversations of each were read with them, if any
    /// were ([`CustomerGroup::read_recent`]).
    recent_read: Option<u64>,
    pub agents: ById<AgentId, Agent>,
    recent: Shared<u64, RecentConversations>,
    pages: Shared<(u64, u64, Option<ConversationStatus>), ConversationPages>,
}

impl CustomerGroup {
    /// The group of a list of customers.
    pub fn new(customers: &[Customer]) -> Arc<Self> {
        Self::showing(customers, Columns::ALL)
    }

    /// The group of a list of customers whose recent conversations are
    /// read with `recent_columns` (what the list shows of them).
    pub fn showing(customers: &[Customer], recent_columns: Columns) -> Arc<Self> {
        Arc::new(Self::of(customers, recent_columns, None))
    }

    fn of(customers: &[Customer], recent_columns: Columns, recent_read: Option<u64>) -> Self {
        CustomerGroup {
            ids: customers.iter().map(|c| c.id).collect(),
            recent_columns,
            recent_read,
            agents: ById::new(
                customers
                    .iter()
                    .filter_map(|c| c.preferences.preferred_agent),
            ),
            recent: Shared::default(),
            pages: Shared::default(),
        }
    }

    /// A group of one `customer` whose `limit` newest conversations,
    /// `recent`, were read with it: its `recentConversations(limit)` is
    /// answered from them.
    pub fn with_recent(customer: &Customer, limit: u64, recent: Vec<Conversation>) -> Arc<Self> {
        let by_parent = HashMap::from([(customer.id, recent)]);
        Self::read_recent(
            std::slice::from_ref(customer),
            Columns::ALL,
            limit,
            by_parent,
        )
    }

    /// The group of a list of `customers` whose `limit` newest
    /// conversations (`by_parent`, read with `recent_columns`) were read
    /// with them: their `recentConversations(limit)` is answered from
    /// those, at once.
    pub fn read_recent(
        customers: &[Customer],
        recent_columns: Columns,
        limit: u64,
        by_parent: HashMap<CustomerId, Vec<Conversation>>,
    ) -> Arc<Self> {
        let group = Self::of(customers, recent_columns, Some(limit));
        let conversations = ConversationGroup::new(by_parent.values().flatten());
        group.recent.prime(
            limit,
            Related {
                by_parent,
                group: conversations,
            },
        );
        Arc::new(group)
    }

    /// The `limit` newest conversations of every customer of the group,
    /// if they were read with the customers ([`CustomerGroup::read_recent`]).
    pub fn recent_at_hand(&self, limit: u64) -> Option<Arc<RecentConversations>> {
        if self.recent_read != Some(limit) {
            return None;
        }
        self.recent.ready(&limit)
    }

    /// How many newest conversations of each customer were read with
    /// them, if any were.
    pub fn recent_read(&self) -> Option<u64> {
        self.recent_read
    }

    /// The `limit` newest conversations of every customer of the group.
    pub async fn recent(
        &self,
        loaders: &Loaders,
        limit: u64,
    ) -> Result<Arc<RecentConversations>, LoadError> {
        let load = async {
            let keys = self.ids.iter().map(|id| (*id, limit, self.recent_columns));
            let found = loaders.recent_conversations().load_many(keys).await?;
            let by_parent: HashMap<CustomerId, Vec<Conversation>> =
                found.into_iter().map(|((id, ..), v)| (id, v)).collect();
            let group = ConversationGroup::new(by_parent.values().flatten());
            Ok(Related { by_parent, group })
        };
        self.recent.get(limit, load).await
    }

    /// One page of every customer's conversations.
    pub async fn pages(
        &self,
        loaders: &Loaders,
        page: PageRequest,
        status: Option<ConversationStatus>,
    ) -> Result<Arc<ConversationPages>, LoadError> {
        let load = async {
            let by_parent: HashMap<CustomerId, ConversationPage> =
                pages_of(loaders.conversation_pages(), &self.ids, page, status).await?;
            let group = ConversationGroup::new(by_parent.values().flat_map(|(items, _)| items));
            Ok(Related { by_parent, group })
        };
        self.pages.get((page.page, page.limit, status), load).await
    }
}

/// What the conversations of one list (or one batch across parents) share.
pub struct ConversationGroup {
    ids: Vec<ConversationId>,
    pub agents: ById<AgentId, Agent>,
    pub customers: ById<CustomerId, Customer>,
    messages: Shared<(u64, u64), MessagePages>,
}

impl ConversationGroup {
    /// The group of a list of conversations.
    pub fn new<'a>(conversations: impl IntoIterator<Item = &'a Conversation>) -> Arc<Self> {
        let list: Vec<&Conversation> = conversations.into_iter().collect();
        Arc::new(ConversationGroup {
            ids: list.iter().map(|c| c.id).collect(),
            agents: ById::new(list.iter().filter_map(|c| c.assigned_agent)),
            customers: ById::new(list.iter().map(|c| c.customer)),
            messages: Shared::default(),
        })
    }

    /// One page of every conversation's messages.
    pub async fn messages(
        &self,
        loaders: &Loaders,
        page: PageRequest,
    ) -> Result<Arc<MessagePages>, LoadError> {
        let load = async {
            let by_parent: HashMap<ConversationId, MessagePage> =
                pages_of(loaders.message_pages(), &self.ids, page, ()).await?;
            let group = Arc::new(MessageGroup {
                agents: ById::new(
                    by_parent
                        .values()
                        .flat_map(|(items, _)| items.iter().filter_map(|m| m.agent)),
                ),
            });
            Ok(Related { by_parent, group })
        };
        self.messages.get((page.page, page.limit), load).await
    }
}

/// What the messages of one batch share.
pub struct MessageGroup {
    pub agents: ById<AgentId, Agent>,
}

impl MessageGroup {
    /// The group of a list of messages.
    pub fn new(messages: &[Message]) -> Arc<Self> {
        Arc::new(MessageGroup {
            agents: ById::new(messages.iter().filter_map(|m| m.agent)),
        })
    }
}
