//! GraphQL output types. Objects wrap service structs; nested fields resolve
//! through service functions, so tenancy stays in the service layer. Enums
//! and value objects are the face's own (`enums`, `values`): the domain and
//! the service import no GraphQL. Plain results (pages, counts, reports) are
//! in `results`.

pub mod enums;
pub mod results;
pub mod values;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::{
    Context, ContextSelectionSet, Json, Object, Positioned, SelectionField, Value, ID,
};

use std::sync::Arc;

use self::enums::{
    ConversationStatus, CustomerSegment, CustomerSource, CustomerStatus, MessageDirection,
    TicketStatus,
};
pub use self::results::{
    list_cost, page_request, ConversationPage, CustomerPage, CustomerStats, DeleteResult,
    ImportResult, MessagePage, Viewer,
};
use self::values::{Address, CommunicationHours, Statistics};
use super::inline::{self, Inline};
use super::json::leaf;
use super::loaders::{ById, ConversationGroup, CustomerGroup, MessageGroup};
use super::scalars::DateTime;
use super::{loaders, GqlResult};
use crate::auth::Actor;
use crate::domain::ids::{AgentId, CustomerId};
use crate::service::conversations;
use crate::service::customers;
use crate::service::{agents, tickets};
use crate::service::{Columns, Ctx};

/// A customer, as every field and list outputs it: the object
/// [`CustomerObject`], its plain fields answered in place.
pub type Customer = Inline<CustomerObject>;

/// The GraphQL object `Customer`: a customer and the group of the list it
/// came in.
#[derive(Clone)]
pub struct CustomerObject(pub customers::Customer, pub Arc<CustomerGroup>);

impl Customer {
    /// The customer `c` as an item of a list sharing `group`.
    fn of(c: customers::Customer, group: Arc<CustomerGroup>) -> Customer {
        Inline(CustomerObject(c, group))
    }

    /// The items of a list: they share one group, so nested fields batch.
    pub fn list(items: Vec<customers::Customer>) -> Vec<Customer> {
        grouped(items, CustomerGroup::new, Customer::of)
    }

    /// The items of a list read for `shown`: their recent conversations
    /// are read with the columns it names.
    pub fn list_showing(items: Vec<customers::Customer>, shown: Shown) -> Vec<Customer> {
        let group = |items: &[customers::Customer]| CustomerGroup::showing(items, shown.recent);
        grouped(items, group, Customer::of)
    }

    /// A customer on its own.
    pub fn one(customer: customers::Customer) -> Customer {
        alone(customer, CustomerGroup::new, Customer::of)
    }

    /// The one `limit` a selection of a customer (`customer`) asks
    /// `recentConversations` for, when it asks for them: the conversations
    /// can then be read beside the customer ([`Customer::with_recent`])
    /// instead of after it. None when the field is not selected, selected
    /// with different limits or with a limit it refuses (the field itself
    /// then answers as always). A field skipped by a directive is counted as
    /// selected: its conversations are read and not shown.
    pub fn recent_limit(customer: &SelectionField<'_>) -> Option<u64> {
        Self::recent_limit_of(std::slice::from_ref(customer))
    }

    /// [`Customer::recent_limit`] of every selection of a customer in
    /// `customers` (the items of one list): the one limit they all ask
    /// for.
    pub fn recent_limit_of(customers: &[SelectionField<'_>]) -> Option<u64> {
        let mut limits = customers
            .iter()
            .flat_map(|customer| customer.selection_set())
            .filter(|f| f.name() == "recentConversations")
            .map(|f| recent_limit_asked(&f));
        let first = limits.next()??;
        limits.all(|l| l == Some(first)).then_some(first)
    }

    /// The items of a list read for `shown`, as `selections` (every
    /// selection of an item) select them. When they all ask
    /// `recentConversations` for one limit, those conversations are read
    /// now, for every item at once, and the items' answers written in one
    /// pass: the same statement the field would run, without a future, a
    /// loader and an answer gathered field by field per customer.
    pub async fn list_reading(
        ctx: &Ctx,
        actor: &Actor,
        items: Vec<customers::Customer>,
        shown: Shown,
        selections: &[SelectionField<'_>],
    ) -> crate::error::Result<Vec<Customer>> {
        let limit = match Customer::recent_limit_of(selections) {
            Some(limit) if !items.is_empty() => limit,
            _ => return Ok(Customer::list_showing(items, shown)),
        };
        let ids: Vec<CustomerId> = items.iter().map(|c| c.id).collect();
        let recent = conversations::recent_for(ctx, actor, &ids, limit, shown.recent).await?;
        let group = |items: &[customers::Customer]| {
            CustomerGroup::read_recent(items, shown.recent, limit, recent)
        };
        Ok(grouped(items, group, Customer::of))
    }

    /// A customer on its own, whose `limit` newest conversations (`recent`)
    /// were read with it.
    pub fn with_recent(
        customer: customers::Customer,
        limit: u64,
        recent: Vec<conversations::Conversation>,
    ) -> Customer {
        let group = CustomerGroup::with_recent(&customer, limit, recent);
        Customer::of(customer, group)
    }
}

/// The columns a list of customers is read with, for what its selections
/// of a customer (every one: `nodes` and `edges { node }` both) show.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    /// The customers' columns.
    pub customers: Columns,
    /// Their `recentConversations`' columns.
    pub recent: Columns,
}

impl Shown {
    /// The columns of the fields `selections` select: each field's own
    /// ([`customers::columns_of`], [`conversations::columns_of`]), every
    /// column for a field they do not know. A field answered through its
    /// object's group of loaders needs only the object's id.
    pub fn of(selections: &[SelectionField<'_>]) -> Shown {
        let (mut customer_fields, mut recent_fields) = (Vec::new(), Vec::new());
        for customer in selections {
            for field in customer.selection_set() {
                customer_fields.push(match field.name() {
                    "__typename" | "history" | "conversations" | "recentConversations" => "id",
                    name => name,
                });
                if field.name() == "recentConversations" {
                    recent_fields.extend(field.selection_set().map(|f| match f.name() {
                        "__typename" | "messages" => "id",
                        name => name,
                    }));
                }
            }
        }
        Shown {
            customers: customers::columns_of(customer_fields),
            recent: conversations::columns_of(recent_fields),
        }
    }
}

/// Whether `set` selects only fields (no fragments, no directives), each
/// one `allowed`.
fn only_fields(set: &SelectionSet, allowed: impl Fn(&Field) -> bool) -> bool {
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => field.node.directives.is_empty() && allowed(&field.node),
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
    })
}

/// Whether `field` (an agent) selects only the agent's id, which its row
/// names: the agent is then not loaded ([`Agent::of`]), so the field is
/// ready at once.
fn only_agent_id(field: &Field) -> bool {
    only_fields(&field.selection_set.node, |agent| {
        matches!(agent.name.node.as_str(), "id" | "__typename")
    })
}

/// How many conversations `recentConversations` shows when not told.
const RECENT_DEFAULT: u64 = 5;

/// The limit a selection of `recentConversations` (`field`) asks for;
/// None for one its resolver refuses (it then answers the error).
fn recent_limit_asked(field: &SelectionField<'_>) -> Option<u64> {
    let arguments = field.arguments().ok()?;
    let limit = match arguments.iter().find(|(name, _)| name == "limit") {
        None | Some((_, Value::Null)) => None,
        Some((_, Value::Number(n))) => Some(i32::try_from(n.as_i64()?).ok()?),
        Some(_) => return None,
    };
    page_request(None, limit, RECENT_DEFAULT)
        .ok()
        .map(|p| p.limit)
}

impl CustomerObject {
    /// The conversations `field` (`recentConversations`, of this customer)
    /// shows, when they were read with the customer: the field is then
    /// answered from them, at once.
    fn recent_at_hand(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Arc<loaders::RecentConversations>> {
        let read = self.1.recent_read()?;
        let asked = recent_limit_asked(&ctx.with_field(field).field())?;
        (asked == read)
            .then(|| self.1.recent_at_hand(read))
            .flatten()
    }
}

impl inline::Fields for CustomerObject {
    const WAITS: &'static [&'static str] = &[
        "preferences",
        "history",
        "conversations",
        "recentConversations",
    ];

    /// Preferences wait only to load their preferred agent, which is not
    /// loaded when only its id is asked for (`Agent::of`).
    fn waits(field: &Field) -> bool {
        match field.name.node.as_str() {
            "preferences" => !only_fields(&field.selection_set.node, |preference| {
                preference.name.node != "preferredAgent" || only_agent_id(preference)
            }),
            name => Self::WAITS.contains(&name),
        }
    }

    /// Recent conversations read with the customer do not wait, unless a
    /// field of theirs does.
    fn waits_here(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> bool {
        match field.node.name.node.as_str() {
            "recentConversations" => {
                inline::may_wait::<ConversationObject>(&field.node.selection_set.node)
                    || self.recent_at_hand(ctx, field).is_none()
            }
            _ => Self::waits(&field.node),
        }
    }

    fn write_object(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        let c = &self.0;
        match field.node.name.node.as_str() {
            "recentConversations" => {
                let Some(recent) = self.recent_at_hand(ctx, field) else {
                    return Ok(false);
                };
                let items: Vec<ConversationObject> = recent
                    .by_parent
                    .get(&c.id)
                    .into_iter()
                    .flatten()
                    .map(|c| ConversationObject(c.clone(), recent.group.clone()))
                    .collect();
                inline::write_list(ctx, field, &items, out)
            }
            "address" => {
                let address = c.address.as_ref().map(Address);
                inline::write_object(ctx, field, address.as_ref(), out)
            }
            "preferences" => {
                let preferences = Preferences(&c.preferences, &self.1);
                inline::write_object(ctx, field, Some(&preferences), out)
            }
            "statistics" => inline::write_object(ctx, field, Some(&Statistics(c.statistics)), out),
            _ => Ok(false),
        }
    }

    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        let c = &self.0;
        Some(match field {
            "id" => leaf::id(out, c.id),
            "phoneNumber" => leaf::value(out, &c.phone_number),
            "firstName" => leaf::value(out, &c.first_name),
            "lastName" => leaf::value(out, &c.last_name),
            "email" => leaf::value(out, &c.email),
            "avatar" => leaf::value(out, &c.avatar),
            "alternativePhones" => leaf::value(out, &c.alternative_phones),
            "tags" => leaf::value(out, &c.tags),
            "segment" => leaf::name(out, CustomerSegment::from(c.segment)),
            "source" => leaf::name(out, CustomerSource::from(c.source)),
            "customFields" => leaf::value(out, &c.custom_fields),
            "status" => leaf::name(out, CustomerStatus::from(c.status)),
            "isBlocked" => leaf::value(out, &c.is_blocked),
            "blockReason" => leaf::value(out, &c.block_reason),
            "notes" => leaf::value(out, &c.notes),
            "externalId" => leaf::value(out, &c.external_id),
            "firstContact" => leaf::opt_time(out, c.first_contact.as_ref()),
            "lastInteraction" => leaf::time(out, &c.last_interaction),
            "lastMessageAt" => leaf::opt_time(out, c.last_message_at.as_ref()),
            "createdAt" => leaf::time(out, &c.created_at),
            "updatedAt" => leaf::time(out, &c.updated_at),
            _ => return None,
        })
    }
}

/// The items of one list, each wrapped with the group (made by `group`)
/// they all share, so their nested fields batch.
fn grouped<T, G, W>(
    items: Vec<T>,
    group: impl FnOnce(&[T]) -> Arc<G>,
    wrap: impl Fn(T, Arc<G>) -> W,
) -> Vec<W> {
    let group = group(&items);
    items
        .into_iter()
        .map(|item| wrap(item, group.clone()))
        .collect()
}

/// One item, wrapped with a group of its own.
fn alone<T, G, W>(
    item: T,
    group: impl FnOnce(&[T]) -> Arc<G>,
    wrap: impl FnOnce(T, Arc<G>) -> W,
) -> W {
    let group = group(std::slice::from_ref(&item));
    wrap(item, group)
}

/// A customer of the desk, with its contact data, preferences and statistics.
#[Object(name = "Customer")]
impl CustomerObject {
    /// The customer's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Canonical digits, country code first, no '+', e.g. 529991234567.
    async fn phone_number(&self) -> &str {
        &self.0.phone_number
    }
    /// Given name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// Email address, lowercased.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// URL of a picture of the customer.
    async fn avatar(&self) -> Option<&str> {
        self.0.avatar.as_deref()
    }
    /// Further numbers of the customer, canonical digits like phoneNumber.
    async fn alternative_phones(&self) -> &[String] {
        &self.0.alternative_phones
    }
    /// The customer's postal address.
    async fn address(&self) -> Option<Inline<Address<'_>>> {
        self.0.address.as_ref().map(|a| Inline(Address(a)))
    }
    /// Labels the desk gave the customer, in the order given (case-sensitive).
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Marketing segment.
    async fn segment(&self) -> CustomerSegment {
        self.0.segment.into()
    }
    /// Where the customer came from.
    async fn source(&self) -> CustomerSource {
        self.0.source.into()
    }
    /// A JSON object of free-form fields; `{}` when none were given.
    async fn custom_fields(&self) -> Json<&serde_json::Map<String, serde_json::Value>> {
        Json(&self.0.custom_fields)
    }
    /// Language, contact hours and preferred agent.
    async fn preferences(&self) -> Inline<Preferences<'_>> {
        Inline(Preferences(&self.0.preferences, &self.1))
    }
    /// Lifecycle status; BLOCKED while the customer is blocked.
    async fn status(&self) -> CustomerStatus {
        self.0.status.into()
    }
    /// Whether the customer is blocked (see setCustomerBlocked).
    async fn is_blocked(&self) -> bool {
        self.0.is_blocked
    }
    /// Why the customer was blocked; null when not blocked.
    async fn block_reason(&self) -> Option<&str> {
        self.0.block_reason.as_deref()
    }
    /// Free-form notes of the desk about the customer.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    /// The customer's id in another system (a shop, a marketing list); unique per tenant.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }
    /// Counts and averages over the customer's conversations, messages and tickets.
    async fn statistics(&self) -> Inline<Statistics> {
        Inline(Statistics(self.0.statistics))
    }
    /// The earliest conversation or message time; null until one exists.
    async fn first_contact(&self) -> Option<DateTime> {
        self.0.first_contact.map(DateTime)
    }
    /// The newest of the creation time and every conversation, message and ticket time.
    async fn last_interaction(&self) -> Option<DateTime> {
        Some(DateTime(self.0.last_interaction))
    }
    /// When the newest message of any of the customer's conversations was sent.
    async fn last_message_at(&self) -> Option<DateTime> {
        self.0.last_message_at.map(DateTime)
    }
    /// When the customer was created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the customer was last changed.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// What was changed in this customer, field by field, newest first: by whom (actor), through what (source) and when.
    #[graphql(complexity = "list_cost(first, 20, child_complexity)")]
    async fn history(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "Entries to take, 0 to 100 (20 when omitted).")] first: Option<i32>,
        #[graphql(desc = "Take entries after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<super::changes::CustomerChangeConnection> {
        Box::pin(super::changes::customer_history(
            cx, self.0.id, first, after,
        ))
        .await
    }
    /// Newest first. Batched across customers: a page of customers costs a constant number of queries.
    #[graphql(complexity = "list_cost(limit, 20, child_complexity)")]
    async fn conversations(
        &self,
        cx: &Context<'_>,
        #[graphql(default = 1, desc = "The page to return, from 1.")] page: Option<i32>,
        #[graphql(
            default = 20,
            desc = "Conversations per page, at least 1; above 100 counts as 100."
        )]
        limit: Option<i32>,
        #[graphql(desc = "Only conversations with this status; all when omitted.")] status: Option<
            ConversationStatus,
        >,
    ) -> async_graphql::Result<ConversationPage> {
        let page = page_request(page, limit, 20).gql()?;
        let related = Box::pin(self.1.pages(loaders(cx)?, page, status.map(Into::into)))
            .await
            .gql()?;
        let (items, pagination) = related
            .by_parent
            .get(&self.0.id)
            .cloned()
            .unwrap_or_else(|| (Vec::new(), page.pagination(0)));
        let items = items
            .into_iter()
            .map(|c| Conversation::of(c, related.group.clone()))
            .collect();
        Ok(ConversationPage {
            items,
            pagination: pagination.into(),
        })
    }
    /// The newest conversations, batched like `conversations`.
    #[graphql(complexity = "list_cost(limit, 5, child_complexity)")]
    async fn recent_conversations(
        &self,
        cx: &Context<'_>,
        #[graphql(
            default = 5,
            desc = "How many conversations, at least 1; above 100 counts as 100."
        )]
        limit: Option<i32>,
    ) -> async_graphql::Result<inline::List<ConversationObject>> {
        let page = page_request(None, limit, RECENT_DEFAULT).gql()?;
        let related = match self.1.recent_at_hand(page.limit) {
            Some(related) => related,
            None => Box::pin(self.1.recent(loaders(cx)?, page.limit))
                .await
                .gql()?,
        };
        let items = related
            .by_parent
            .get(&self.0.id)
            .cloned()
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|c| Conversation::of(c, related.group.clone()))
            .collect())
    }
}

/// A customer's preferences.
pub struct Preferences<'a>(&'a customers::PreferencesView, &'a CustomerGroup);

impl inline::Fields for Preferences<'_> {
    const WAITS: &'static [&'static str] = &["preferredAgent"];

    /// The preferred agent waits only to be loaded (`Agent::of`).
    fn waits(field: &Field) -> bool {
        field.name.node == "preferredAgent" && !only_agent_id(field)
    }

    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        match field {
            "language" => Some(leaf::value(out, &self.0.language)),
            _ => None,
        }
    }

    fn write_object(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        match field.node.name.node.as_str() {
            "communicationHours" => {
                let hours = self.0.communication_hours.as_ref().map(CommunicationHours);
                inline::write_object(ctx, field, hours.as_ref(), out)
            }
            "preferredAgent" => {
                let agent = self.0.preferred_agent.map(Agent::by_id);
                inline::write_object(ctx, field, agent.as_ref(), out)
            }
            _ => Ok(false),
        }
    }
}

/// How a customer likes to be served.
#[Object]
impl Preferences<'_> {
    /// Language code to address the customer in, e.g. `es` (the default) or `en`.
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// Hours the customer likes to be contacted.
    async fn communication_hours(&self) -> Option<Inline<CommunicationHours<'_>>> {
        self.0
            .communication_hours
            .as_ref()
            .map(|h| Inline(CommunicationHours(h)))
    }
    /// The agent who should serve the customer.
    async fn preferred_agent(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Agent>> {
        match self.0.preferred_agent {
            Some(id) => Agent::of(cx, &self.1.agents, id).await,
            None => Ok(None),
        }
    }
}

/// An agent of the service desk.
pub struct Agent(pub agents::Agent);

impl Agent {
    /// The agent a row names by `id`, as a field of that row: loaded with the
    /// siblings' agents (`agents`) when the field selects more than `id`,
    /// and answered from the id alone when it does not. Every write checks
    /// that an agent id names an agent of the caller's tenant, and agents are
    /// never deleted, so the lookup would find it: skipping it changes no
    /// answer and spares a statement (REST shows the same ids unlooked-up).
    async fn of(
        cx: &Context<'_>,
        agents: &ById<AgentId, agents::Agent>,
        id: AgentId,
    ) -> async_graphql::Result<Option<Agent>> {
        let only_id = cx
            .field()
            .selection_set()
            .all(|f| matches!(f.name(), "id" | "__typename"));
        if only_id {
            return Ok(Some(Agent::by_id(id)));
        }
        // Boxed, so the fields that return an agent keep small futures
        // (`inline::Fields`).
        let found = Box::pin(agents.get(loaders(cx)?.agents(), id)).await;
        Ok(found.gql()?.map(Agent))
    }

    /// The agent `id` names, not looked up: only its `id` may be answered
    /// (`Agent::of`), and only that field is written
    /// ([`inline::Fields::write`]).
    fn by_id(id: AgentId) -> Agent {
        Agent(agents::Agent {
            id,
            name: String::new(),
            email: None,
        })
    }
}

impl inline::Fields for Agent {
    /// Only the id: an agent written may not have been looked up
    /// ([`Agent::by_id`]).
    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        match field {
            "id" => Some(leaf::id(out, self.0.id)),
            _ => None,
        }
    }
}

/// An agent of the service desk.
#[Object]
impl Agent {
    /// The agent's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The agent's display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The agent's email address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
}

/// A conversation, as every field and list outputs it: the object
/// [`ConversationObject`], its plain fields answered in place.
pub type Conversation = Inline<ConversationObject>;

/// The GraphQL object `Conversation`: a conversation and the group of the
/// list it came in.
pub struct ConversationObject(pub conversations::Conversation, pub Arc<ConversationGroup>);

impl Conversation {
    /// The conversation `c` as an item of a list sharing `group`.
    pub fn of(c: conversations::Conversation, group: Arc<ConversationGroup>) -> Conversation {
        Inline(ConversationObject(c, group))
    }

    /// The items of a list: they share one group, so nested fields batch.
    pub fn list(items: Vec<conversations::Conversation>) -> Vec<Conversation> {
        grouped(
            items,
            |items| ConversationGroup::new(items),
            Conversation::of,
        )
    }

    /// A conversation on its own.
    pub fn one(conversation: conversations::Conversation) -> Conversation {
        alone(
            conversation,
            |c| ConversationGroup::new(c),
            Conversation::of,
        )
    }
}

impl inline::Fields for ConversationObject {
    const WAITS: &'static [&'static str] = &["customer", "assignedAgent", "messages"];

    /// The assigned agent waits only to be loaded (`Agent::of`).
    fn waits(field: &Field) -> bool {
        match field.name.node.as_str() {
            "assignedAgent" => !only_agent_id(field),
            name => Self::WAITS.contains(&name),
        }
    }

    fn write_object(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        match field.node.name.node.as_str() {
            "assignedAgent" => {
                let agent = self.0.assigned_agent.map(Agent::by_id);
                inline::write_object(ctx, field, agent.as_ref(), out)
            }
            _ => Ok(false),
        }
    }

    fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        let c = &self.0;
        Some(match field {
            "id" => leaf::id(out, c.id),
            "status" => leaf::name(out, ConversationStatus::from(c.status)),
            "channel" => leaf::value(out, &c.channel),
            "subject" => leaf::value(out, &c.subject),
            "rating" => leaf::value(out, &c.rating),
            "messageCount" => leaf::value(out, &c.message_count),
            "lastMessageAt" => leaf::opt_time(out, c.last_message_at.as_ref()),
            "createdAt" => leaf::time(out, &c.created_at),
            "updatedAt" => leaf::time(out, &c.updated_at),
            "resolvedAt" => leaf::opt_time(out, c.resolved_at.as_ref()),
            _ => return None,
        })
    }
}

/// A conversation between a customer and the desk.
#[Object(name = "Conversation")]
impl ConversationObject {
    /// The conversation's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The customer the conversation is with.
    async fn customer(&self, cx: &Context<'_>) -> async_graphql::Result<Customer> {
        let found = Box::pin(
            self.1
                .customers
                .get(loaders(cx)?.customers(), self.0.customer),
        )
        .await
        .gql()?;
        found
            .map(Customer::one)
            .ok_or_else(|| super::gql_error(&crate::error::Error::NotFound("customer")))
    }
    /// Where the conversation stands.
    async fn status(&self) -> ConversationStatus {
        self.0.status.into()
    }
    /// The channel it runs on, e.g. `whatsapp`.
    async fn channel(&self) -> &str {
        &self.0.channel
    }
    /// What the conversation is about.
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
    /// The agent who handles the conversation.
    async fn assigned_agent(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Agent>> {
        match self.0.assigned_agent {
            Some(id) => Agent::of(cx, &self.1.agents, id).await,
            None => Ok(None),
        }
    }
    /// 1 to 5, set when the customer rates the conversation.
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }
    /// Messages in the conversation, both directions.
    async fn message_count(&self) -> i32 {
        self.0.message_count
    }
    /// When the newest message was sent; null without messages.
    async fn last_message_at(&self) -> Option<DateTime> {
        self.0.last_message_at.map(DateTime)
    }
    /// When the conversation was opened.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the conversation last changed.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// When the conversation was resolved; null unless RESOLVED.
    async fn resolved_at(&self) -> Option<DateTime> {
        self.0.resolved_at.map(DateTime)
    }
    /// Oldest first.
    #[graphql(complexity = "list_cost(limit, 50, child_complexity)")]
    async fn messages(
        &self,
        cx: &Context<'_>,
        #[graphql(default = 1, desc = "The page to return, from 1.")] page: Option<i32>,
        #[graphql(
            default = 50,
            desc = "Messages per page, at least 1; above 100 counts as 100."
        )]
        limit: Option<i32>,
    ) -> async_graphql::Result<MessagePage> {
        let page = page_request(page, limit, 50).gql()?;
        let related = Box::pin(self.1.messages(loaders(cx)?, page)).await.gql()?;
        let (items, pagination) = related
            .by_parent
            .get(&self.0.id)
            .cloned()
            .unwrap_or_else(|| (Vec::new(), page.pagination(0)));
        let items = items
            .into_iter()
            .map(|m| Message(m, related.group.clone()))
            .collect();
        Ok(MessagePage {
            items,
            pagination: pagination.into(),
        })
    }
}

/// One message of a conversation.
pub struct Message(pub conversations::Message, pub Arc<MessageGroup>);

impl Message {
    /// A message on its own.
    pub fn one(message: conversations::Message) -> Message {
        alone(message, MessageGroup::new, Message)
    }
}

/// One message of a conversation.
#[Object]
impl Message {
    /// The message's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The conversation the message belongs to.
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    /// INBOUND from the customer, OUTBOUND from the desk.
    async fn direction(&self) -> MessageDirection {
        self.0.direction.into()
    }
    /// The text of the message.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The agent who sent it, for an outbound message.
    async fn agent(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Agent>> {
        match self.0.agent {
            Some(id) => Agent::of(cx, &self.1.agents, id).await,
            None => Ok(None),
        }
    }
    /// When the message was sent.
    async fn sent_at(&self) -> DateTime {
        DateTime(self.0.sent_at)
    }
}

/// A support ticket raised for a customer, optionally from a conversation.
pub struct Ticket(pub tickets::Ticket);

/// A support ticket raised for a customer, optionally from a conversation.
#[Object]
impl Ticket {
    /// The ticket's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The customer the ticket is for.
    async fn customer(&self, cx: &Context<'_>) -> async_graphql::Result<Customer> {
        let found = loaders(cx)?
            .customers()
            .load_one(self.0.customer)
            .await
            .gql()?;
        found
            .map(Customer::one)
            .ok_or_else(|| super::gql_error(&crate::error::Error::NotFound("customer")))
    }
    /// The conversation that raised the ticket, if any.
    async fn conversation(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Conversation>> {
        let Some(id) = self.0.conversation else {
            return Ok(None);
        };
        Ok(loaders(cx)?
            .conversations()
            .load_one(id)
            .await
            .gql()?
            .map(Conversation::one))
    }
    /// What needs to be done.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Whether the ticket still needs work.
    async fn status(&self) -> TicketStatus {
        self.0.status.into()
    }
    /// When the ticket was raised.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the ticket was closed; null while OPEN.
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(DateTime)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
    };
    use async_graphql::{EmptyMutation, EmptySubscription, Request, Schema, ServerResult};
    use chrono::TimeZone;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::conversation as conversation_domain;
    use crate::domain::customer as domain;
    use crate::graphql::inline::Fields;
    use crate::graphql::json::{self, Text};

    /// Customers and conversations answered without a database.
    struct Fixtures;

    #[Object]
    impl Fixtures {
        async fn customers(&self) -> inline::List<CustomerObject> {
            customers().into_iter().map(Customer::one).collect()
        }
        async fn conversations(&self) -> inline::List<ConversationObject> {
            conversations().into_iter().map(Conversation::one).collect()
        }
        /// The customers, with the five newest conversations of each read
        /// with them: all of `conversations()` for the first, none for
        /// the others.
        async fn customers_with_recent(&self) -> inline::List<CustomerObject> {
            let list = customers();
            let recent = HashMap::from([(list[0].id, conversations())]);
            let group = CustomerGroup::read_recent(&list, Columns::ALL, RECENT_DEFAULT, recent);
            list.into_iter()
                .map(|c| Customer::of(c, group.clone()))
                .collect()
        }
        async fn customer_stats(&self) -> Inline<CustomerStats> {
            Inline(stats().into())
        }
        /// The customers as one page of a list.
        async fn customer_page(&self) -> Inline<CustomerPage> {
            let items = customers();
            Inline(CustomerPage {
                pagination: results::Pagination {
                    page: 1,
                    limit: 20,
                    total: i32::try_from(items.len()).unwrap_or(i32::MAX),
                    pages: 1,
                },
                items: items.into_iter().map(Customer::one).collect(),
            })
        }
    }

    /// Dashboard counts: one past what GraphQL's `Int` holds (answered as
    /// its largest), and segments counted and not.
    fn stats() -> customers::Stats {
        customers::Stats {
            summary: customers::Summary {
                total_customers: i64::from(i32::MAX) + 1,
                active_customers: 7,
                vip_customers: 0,
                blocked_customers: 1,
                new_this_month: 2,
            },
            segments: domain::CustomerSegment::ALL
                .iter()
                .enumerate()
                .map(|(i, segment)| (*segment, i as i64 * 3))
                .collect(),
        }
    }

    const AWKWARD: &str = "quote \" backslash \\ newline \n é ✓ 😀 </script>";

    fn at(seconds: i64, millis: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .timestamp_opt(seconds, millis * 1_000_000)
            .single()
            .expect("a valid test time")
    }

    /// One customer with every optional part set, one with none, and one
    /// for each value of each enum.
    fn customers() -> Vec<customers::Customer> {
        let full = |i: usize| customers::Customer {
            id: uuid::Uuid::from_u128(0x1234_5678_9abc + i as u128).into(),
            phone_number: "529991234567".to_owned(),
            first_name: Some(AWKWARD.to_owned()),
            last_name: Some("Pérez".to_owned()),
            email: Some("a@b.example".to_owned()),
            avatar: Some("https://x.example/a.png".to_owned()),
            alternative_phones: vec!["15550001111".to_owned(), "15550002222".to_owned()],
            address: Some(domain::Address {
                street: Some(AWKWARD.to_owned()),
                city: Some("Mérida".to_owned()),
                state: Some("YUC".to_owned()),
                country: Some("MX".to_owned()),
                postal_code: Some("97000".to_owned()),
                coordinates: Some(domain::Coordinates {
                    latitude: 20.967_370_1,
                    longitude: -89.592_585,
                }),
            }),
            tags: vec!["vip".to_owned(), AWKWARD.to_owned()],
            segment: domain::CustomerSegment::ALL[i % domain::CustomerSegment::ALL.len()],
            source: domain::CustomerSource::ALL[i % domain::CustomerSource::ALL.len()],
            custom_fields: serde_json::json!({
                "z": 1, "a": [1.5, -2, 1e300, null, true], "nested": { "k": AWKWARD }, "": {}
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            preferences: customers::PreferencesView {
                language: "es".to_owned(),
                communication_hours: Some(domain::CommunicationHours {
                    start: Some("09:00".to_owned()),
                    end: Some(AWKWARD.to_owned()),
                }),
                preferred_agent: Some(uuid::Uuid::from_u128(0xa9e + i as u128).into()),
            },
            status: domain::CustomerStatus::ALL[i % domain::CustomerStatus::ALL.len()],
            is_blocked: i % 2 == 0,
            block_reason: Some(AWKWARD.to_owned()),
            notes: Some("notes".to_owned()),
            external_id: Some("ext-1".to_owned()),
            statistics: customers::Statistics {
                total_conversations: 3,
                open_conversations: 1,
                resolved_conversations: 2,
                total_messages: i32::MAX,
                total_tickets: -1,
                average_response_time: Some(12.345),
                satisfaction_score: Some(4.0),
            },
            first_contact: Some(at(1_700_000_000, 1)),
            last_interaction: at(1_700_000_100, 999),
            last_message_at: Some(at(1_700_000_050, 0)),
            created_at: at(0, 0),
            updated_at: at(1_700_000_200, 120),
        };
        let empty = customers::Customer {
            first_name: None,
            last_name: None,
            email: None,
            avatar: None,
            alternative_phones: Vec::new(),
            address: None,
            tags: Vec::new(),
            custom_fields: serde_json::Map::new(),
            preferences: customers::PreferencesView {
                language: "en".to_owned(),
                communication_hours: None,
                preferred_agent: None,
            },
            block_reason: None,
            notes: None,
            external_id: None,
            statistics: customers::Statistics {
                average_response_time: None,
                satisfaction_score: None,
                ..full(0).statistics
            },
            first_contact: None,
            last_message_at: None,
            ..full(0)
        };
        let mut list = vec![full(0), empty];
        list.extend((1..6).map(full));
        list
    }

    fn conversations() -> Vec<conversations::Conversation> {
        let statuses = conversation_domain::ConversationStatus::ALL;
        statuses
            .iter()
            .enumerate()
            .map(|(i, status)| conversations::Conversation {
                id: uuid::Uuid::from_u128(0xabc + i as u128).into(),
                customer: uuid::Uuid::from_u128(0x1234_5678_9abc).into(),
                status: *status,
                channel: "whatsapp".to_owned(),
                subject: (i % 2 == 0).then(|| AWKWARD.to_owned()),
                assigned_agent: (i % 2 == 1).then(|| uuid::Uuid::from_u128(0xa9e).into()),
                rating: (i % 2 == 0).then_some(5),
                message_count: 7,
                last_message_at: (i % 2 == 0).then(|| at(1_700_000_000, 5)),
                created_at: at(1_600_000_000, 0),
                updated_at: at(1_650_000_000, 10),
                resolved_at: (i % 2 == 1).then(|| at(1_690_000_000, 0)),
            })
            .collect()
    }

    type TestSchema = Schema<Fixtures, EmptyMutation, EmptySubscription>;

    /// The selection of every field of `type_name` a type writes itself
    /// could write (no arguments, a scalar, an enum or a list of them), and
    /// of the objects answered in place under it, found by introspection.
    async fn every_plain_field(schema: &TestSchema, type_name: &str) -> (String, Vec<String>) {
        const INLINE: &[&str] = &[
            "Address",
            "Coordinates",
            "Preferences",
            "CommunicationHours",
            "Statistics",
            "CustomerSummary",
            "SegmentCount",
        ];
        let query = format!(
            r#"{{ __type(name: "{type_name}") {{ fields {{ name args {{ name }}
                type {{ kind name ofType {{ kind name ofType {{ kind name ofType {{ kind name }} }} }} }} }} }} }}"#
        );
        let response = schema.execute(query).await;
        let data = response.data.into_json().expect("introspection is JSON");
        let mut selection = Vec::new();
        let mut leaves = Vec::new();
        for field in data["__type"]["fields"].as_array().into_iter().flatten() {
            let name = field["name"].as_str().unwrap_or_default().to_owned();
            if !field["args"].as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            let mut ty = &field["type"];
            while ty["kind"] == "NON_NULL" || ty["kind"] == "LIST" {
                ty = &ty["ofType"];
            }
            match (ty["kind"].as_str(), ty["name"].as_str()) {
                (Some("SCALAR" | "ENUM"), _) => {
                    leaves.push(format!("{type_name}.{name}"));
                    selection.push(name);
                }
                (Some("OBJECT"), Some(inner)) if INLINE.contains(&inner) => {
                    let (nested, nested_leaves) = Box::pin(every_plain_field(schema, inner)).await;
                    leaves.extend(nested_leaves);
                    selection.push(format!("{name} {nested}"));
                }
                _ => {}
            }
        }
        (format!("{{ {} }}", selection.join(" ")), leaves)
    }

    /// The answer's data and errors: as text (`as_text`), written by
    /// `json::write`; else as values, serialized by serde_json.
    async fn answer(schema: &TestSchema, query: &str, as_text: bool) -> String {
        let mut request = Request::new(query);
        if as_text {
            request.data.insert(Text { dedupe: false });
        }
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        if !as_text {
            return serde_json::to_string(&response.data).expect("the data serializes");
        }
        let mut out = Vec::new();
        json::write(&mut out, &response.data).expect("the data writes");
        String::from_utf8(out).expect("the text is UTF-8")
    }

    #[test]
    fn preferences_wait_only_to_load_more_of_an_agent_than_its_id() {
        let cases = [
            ("{ preferences { language } }", false),
            (
                "{ preferences { language preferredAgent { id __typename } } }",
                false,
            ),
            ("{ preferences { preferredAgent { id name } } }", true),
            ("{ preferences { preferredAgent { ...A } } }", true),
            ("{ preferences { ... on Preferences { language } } }", true),
            (
                "{ preferences { preferredAgent { id @skip(if: true) } } }",
                true,
            ),
            ("{ history { totalCount } }", true),
            ("{ firstName }", false),
        ];
        for (text, waits) in cases {
            let doc = async_graphql::parser::parse_query(text).expect("the test document parses");
            let async_graphql::parser::types::DocumentOperations::Single(op) = &doc.operations
            else {
                panic!("one operation")
            };
            let Some(Selection::Field(field)) =
                op.node.selection_set.node.items.first().map(|s| &s.node)
            else {
                panic!("a field")
            };
            assert_eq!(CustomerObject::waits(&field.node), waits, "{text}");
        }
    }

    /// Whether `list` in the answer to `query` as text is one JSON text
    /// written in one pass (`inline::List`) rather than a list of values.
    async fn written_at_once(schema: &TestSchema, query: &str, list: &str) -> bool {
        let mut request = Request::new(query);
        request.data.insert(Text { dedupe: false });
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let Value::Object(data) = &response.data else {
            panic!("no data: {:?}", response.data)
        };
        matches!(data.get(list), Some(Value::Binary(_)))
    }

    #[tokio::test]
    async fn lists_are_written_in_one_pass_as_they_would_resolve() {
        let schema = Schema::new(Fixtures, EmptyMutation, EmptySubscription);
        let (customer, _) = every_plain_field(&schema, "Customer").await;
        let (conversation, _) = every_plain_field(&schema, "Conversation").await;
        let agent = "{ id __typename }";
        let cases = [
            // A desk's page of customers (issue 9's S1) and its nested
            // objects, the preferred agent's id, null parts, `__typename`.
            (
                format!(
                    "{{ customers {} }}",
                    customer.replacen(
                        '{',
                        &format!("{{ __typename p: preferences {{ preferredAgent {agent} }}"),
                        1
                    )
                ),
                true,
            ),
            (
                format!(
                    "{{ conversations {} }}",
                    conversation.replacen('{', &format!("{{ assignedAgent {agent}"), 1)
                ),
                true,
            ),
            // Fragments.
            (
                "{ conversations { ... on Conversation { id } ...F } } \
                 fragment F on Conversation { status }"
                    .to_owned(),
                true,
            ),
            // `@skip` and `@include`, applied before execution.
            (
                "{ customers { id firstName @include(if: true) address { city @skip(if: false) street } } }"
                    .to_owned(),
                true,
            ),
            // A field that waits: item by item.
            (
                "{ customers { id preferences { ... on Preferences { language } } } }".to_owned(),
                false,
            ),
        ];
        for (query, at_once) in cases {
            let list = query
                .trim_start_matches("{ ")
                .split(' ')
                .next()
                .unwrap_or_default();
            assert_eq!(
                written_at_once(&schema, &query, list).await,
                at_once,
                "{query}"
            );
            let text = answer(&schema, &query, true).await;
            let values = answer(&schema, &query, false).await;
            assert_eq!(text, values, "{query}");
        }
    }

    #[tokio::test]
    async fn recent_conversations_read_with_their_customers_are_written_at_once() {
        let schema = Schema::new(Fixtures, EmptyMutation, EmptySubscription);
        let (conversation, _) = every_plain_field(&schema, "Conversation").await;
        let written = [
            format!("{{ customersWithRecent {{ id recentConversations {conversation} }} }}"),
            format!("{{ customersWithRecent {{ id recentConversations(limit: 5) {conversation} }} }}"),
            "{ customersWithRecent { ... on Customer { recentConversations { id assignedAgent { id } } } } }"
                .to_owned(),
        ];
        for query in &written {
            assert!(
                written_at_once(&schema, query, "customersWithRecent").await,
                "{query}"
            );
            let text = answer(&schema, query, true).await;
            let values = answer(&schema, query, false).await;
            assert_eq!(text, values, "{query}");
        }
        // Every conversation read is in the answer, under its customer
        // (two of the fixtures share the first one's id).
        let text = answer(&schema, &written[0], true).await;
        let first = customers()[0].id;
        let with_them = customers().iter().filter(|c| c.id == first).count();
        assert_eq!(
            text.matches(r#""channel":"whatsapp""#).count(),
            with_them * conversations().len()
        );
        // Another limit than the one read would be loaded: it waits (and
        // this schema has no loaders, so the field fails).
        let other = "{ customersWithRecent { id recentConversations(limit: 3) { id } } }";
        let mut request = Request::new(other);
        request.data.insert(Text { dedupe: false });
        assert!(!schema.execute(request).await.errors.is_empty());
    }

    #[tokio::test]
    async fn fields_written_are_the_fields_resolved() {
        let schema = Schema::new(Fixtures, EmptyMutation, EmptySubscription);
        let mut written_leaves = 0;
        for (list, type_name) in [("customers", "Customer"), ("conversations", "Conversation")] {
            let (selection, leaves) = every_plain_field(&schema, type_name).await;
            assert!(leaves.len() > 9, "{type_name}: {leaves:?}");
            let query = format!("{{ {list} {selection} }}");
            let values = answer(&schema, &query, false).await;
            let text = answer(&schema, &query, true).await;
            assert_eq!(text, values, "{query}");
            written_leaves += leaves.len();
        }
        // Every plain field is written by its type, none resolved.
        let mut out = Vec::new();
        let customer = &customers()[0];
        let group = CustomerGroup::new(std::slice::from_ref(customer));
        let object = CustomerObject(customer.clone(), group);
        let (_, leaves) = every_plain_field(&schema, "Customer").await;
        for leaf in &leaves {
            let (ty, field) = leaf.split_once('.').unwrap_or_default();
            let address = customer.address.clone().unwrap_or_default();
            let coordinates = address.coordinates.unwrap_or(domain::Coordinates {
                latitude: 0.0,
                longitude: 0.0,
            });
            let hours = customer
                .preferences
                .communication_hours
                .clone()
                .unwrap_or_default();
            let written = match ty {
                "Customer" => object.write(field, &mut out),
                "Address" => values::Address(&address).write(field, &mut out),
                "Coordinates" => values::Coordinates(coordinates).write(field, &mut out),
                "Preferences" => {
                    Preferences(&customer.preferences, &object.1).write(field, &mut out)
                }
                "CommunicationHours" => values::CommunicationHours(&hours).write(field, &mut out),
                "Statistics" => values::Statistics(customer.statistics).write(field, &mut out),
                other => panic!("an unexpected type {other}"),
            };
            assert!(matches!(written, Some(Ok(()))), "{leaf} is not written");
        }
        assert!(written_leaves > 40, "{written_leaves}");
    }

    /// Counts the fields the engine resolves (its `resolve` hook).
    struct CountResolved(Arc<AtomicUsize>);

    impl ExtensionFactory for CountResolved {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(CountResolved(self.0.clone()))
        }
    }

    #[async_trait::async_trait]
    impl Extension for CountResolved {
        async fn resolve(
            &self,
            ctx: &ExtensionContext<'_>,
            info: ResolveInfo<'_>,
            next: NextResolve<'_>,
        ) -> ServerResult<Option<Value>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            next.run(ctx, info).await
        }
    }

    /// How many fields the engine resolves to answer `query` as text.
    async fn engine_resolved(query: &str) -> usize {
        let resolved = Arc::new(AtomicUsize::new(0));
        let schema = Schema::build(Fixtures, EmptyMutation, EmptySubscription)
            .extension(CountResolved(resolved.clone()))
            .finish();
        let mut request = Request::new(query);
        request.data.insert(Text { dedupe: false });
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        resolved.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_page_of_customers_is_written_in_one_pass_as_it_would_resolve() {
        let schema = Schema::new(Fixtures, EmptyMutation, EmptySubscription);
        let (customer, _) = every_plain_field(&schema, "Customer").await;
        let (pagination, leaves) = every_plain_field(&schema, "Pagination").await;
        assert_eq!(leaves.len(), 4, "{leaves:?}");
        // (query, whether the engine resolves the page field alone)
        let cases = [
            // A desk's page (issue 9's S1).
            (
                format!(
                    "{{ customerPage {{ pagination {} items {customer} }} }}",
                    pagination.replacen('{', "{ __typename", 1)
                ),
                true,
            ),
            (
                "{ customerPage { p: pagination { total } ... on CustomerPage { items { id } } } }"
                    .to_owned(),
                true,
            ),
            // A fragment in an item's preferences may wait (it is not
            // looked into): the page is resolved field by field.
            (
                "{ customerPage { pagination { total } \
                 items { id preferences { ... on Preferences { language } } } } }"
                    .to_owned(),
                false,
            ),
        ];
        for (query, alone) in &cases {
            let resolved = engine_resolved(query).await;
            assert_eq!(resolved == 1, *alone, "{query}: {resolved}");
            let text = answer(&schema, query, true).await;
            let values = answer(&schema, query, false).await;
            assert_eq!(text, values, "{query}");
        }
        // An item field that must be resolved (here it fails: these
        // fixtures have no database): the page is resolved field by field,
        // the items one by one, with the same data and errors either way.
        let query = "{ customerPage { pagination { total } items { id history { pageInfo { hasNextPage } } } } }";
        let mut answers = Vec::new();
        for as_text in [true, false] {
            let mut request = Request::new(query);
            if as_text {
                request.data.insert(Text { dedupe: false });
            }
            let response = schema.execute(request).await;
            assert_eq!(response.errors.len(), customers().len(), "{query}");
            let mut data = Vec::new();
            json::write(&mut data, &response.data).expect("the data writes");
            let errors = serde_json::to_string(&response.errors).expect("errors serialize");
            answers.push((String::from_utf8(data).expect("UTF-8"), errors));
        }
        assert_eq!(answers[0], answers[1]);
        assert!(
            answers[0].0.contains(r#""pagination":{"total":7}"#),
            "{}",
            answers[0].0
        );
        // Every number of the pagination is written by its type.
        let mut out = Vec::new();
        let page = results::Pagination {
            page: 1,
            limit: 2,
            total: 3,
            pages: 2,
        };
        for leaf in &leaves {
            let field = leaf.trim_start_matches("Pagination.");
            assert!(
                matches!(page.write(field, &mut out), Some(Ok(()))),
                "{leaf} is not written"
            );
        }
    }

    #[tokio::test]
    async fn dashboard_counts_are_written_in_one_pass_as_they_would_resolve() {
        let schema = Schema::new(Fixtures, EmptyMutation, EmptySubscription);
        let (every, leaves) = every_plain_field(&schema, "CustomerStats").await;
        assert_eq!(leaves.len(), 7, "{leaves:?}");
        let cases = [
            format!("{{ customerStats {every} }}"),
            // Aliases, `__typename`, fragments, `@skip` and `@include`.
            "{ customerStats { __typename s: summary { vipCustomers t: totalCustomers } \
             segments { ... on SegmentCount { count } segment @include(if: true) } } }"
                .to_owned(),
            "{ customerStats { segments { count @skip(if: true) segment } summary { ...S } } } \
             fragment S on CustomerSummary { newThisMonth __typename }"
                .to_owned(),
        ];
        for query in &cases {
            assert!(
                written_at_once(&schema, query, "customerStats").await,
                "{query}"
            );
            // The engine resolves only `customerStats` itself: the rest is
            // written by the types.
            assert_eq!(engine_resolved(query).await, 1, "{query}");
            let text = answer(&schema, query, true).await;
            let values = answer(&schema, query, false).await;
            assert_eq!(text, values, "{query}");
        }
        // Every plain field is written by its type, none resolved.
        let stats = CustomerStats::from(stats());
        let mut out = Vec::new();
        for leaf in &leaves {
            let (ty, field) = leaf.split_once('.').unwrap_or_default();
            let written = match ty {
                "CustomerSummary" => stats.summary.write(field, &mut out),
                "SegmentCount" => stats.segments[0].write(field, &mut out),
                other => panic!("an unexpected type {other}"),
            };
            assert!(matches!(written, Some(Ok(()))), "{leaf} is not written");
        }
    }
}
