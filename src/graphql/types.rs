//! GraphQL output types. Objects wrap service structs; nested fields resolve
//! through service functions, so tenancy stays in the service layer. Enums
//! and value objects are the face's own (`enums`, `values`): the domain and
//! the service import no GraphQL.

pub mod enums;
pub mod values;

use async_graphql::{ComplexObject, Context, Json, Object, SimpleObject, ID};

use std::sync::Arc;

use self::enums::{
    ConversationStatus, CustomerSegment, CustomerSource, CustomerStatus, MessageDirection,
    TicketStatus,
};
use self::values::{Address, CommunicationHours, Statistics};
use super::loaders::{ConversationGroup, CustomerGroup, MessageGroup};
use super::scalars::DateTime;
use super::{loaders, GqlResult};
use crate::auth::Role;
use crate::domain::page::{PageRequest, Pagination as PageBlock};
use crate::service::conversations;
use crate::service::customers;
use crate::service::{agents, import, tickets};

/// Page numbers and totals of an offset page.
#[derive(SimpleObject)]
pub struct Pagination {
    /// This page's number, from 1.
    pub page: i32,
    /// The most items a page holds (the request's limit, at most 100).
    pub limit: i32,
    /// Items on all pages together.
    pub total: i32,
    /// Number of pages: total divided by limit, rounded up.
    pub pages: i32,
}

fn int(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<PageBlock> for Pagination {
    fn from(p: PageBlock) -> Self {
        Pagination {
            page: int(p.page),
            limit: int(p.limit),
            total: int(p.total),
            pages: int(p.pages),
        }
    }
}

/// Reads GraphQL `page`/`limit` arguments under the contract's rules; null
/// (an omitted nullable variable) means the default.
pub fn page_request(
    page: Option<i32>,
    limit: Option<i32>,
    default_limit: u64,
) -> crate::error::Result<PageRequest> {
    PageRequest::new(page.map(i64::from), limit.map(i64::from), default_limit)
}

/// The cost of a list field: the rows it may return (its `limit` or
/// `first`, else `default`, at most the page maximum) times the cost of
/// each row's selection, plus one for the field itself. Saturates rather
/// than overflows, so an absurd nesting is simply over any limit.
pub fn list_cost(limit: Option<i32>, default: i32, child_complexity: usize) -> usize {
    let rows = limit
        .unwrap_or(default)
        .clamp(0, crate::domain::page::MAX_LIMIT as i32);
    (rows as usize)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// A customer.
pub struct Customer(pub customers::Customer, pub Arc<CustomerGroup>);

impl Customer {
    /// The items of a list: they share one group, so nested fields batch.
    pub fn list(items: Vec<customers::Customer>) -> Vec<Customer> {
        let group = CustomerGroup::new(&items);
        items
            .into_iter()
            .map(|c| Customer(c, group.clone()))
            .collect()
    }

    /// A customer on its own.
    pub fn one(customer: customers::Customer) -> Customer {
        let group = CustomerGroup::new(std::slice::from_ref(&customer));
        Customer(customer, group)
    }
}

/// A customer of the desk, with its contact data, preferences and statistics.
#[Object]
impl Customer {
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
    async fn address(&self) -> Option<Address<'_>> {
        self.0.address.as_ref().map(Address)
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
    async fn preferences(&self) -> Preferences<'_> {
        Preferences(&self.0.preferences, &self.1)
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
    /// Counts and averages over the customer's conversations, messages and tickets.
    async fn statistics(&self) -> Statistics {
        Statistics(self.0.statistics)
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
        let related = self
            .1
            .pages(loaders(cx)?, page, status.map(Into::into))
            .await
            .gql()?;
        let (items, pagination) = related
            .by_parent
            .get(&self.0.id)
            .cloned()
            .unwrap_or_else(|| (Vec::new(), page.pagination(0)));
        let items = items
            .into_iter()
            .map(|c| Conversation(c, related.group.clone()))
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
    ) -> async_graphql::Result<Vec<Conversation>> {
        let page = page_request(None, limit, 5).gql()?;
        let related = self.1.recent(loaders(cx)?, page.limit).await.gql()?;
        let items = related
            .by_parent
            .get(&self.0.id)
            .cloned()
            .unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|c| Conversation(c, related.group.clone()))
            .collect())
    }
}

/// A customer's preferences.
pub struct Preferences<'a>(&'a customers::PreferencesView, &'a CustomerGroup);

/// How a customer likes to be served.
#[Object]
impl Preferences<'_> {
    /// Language code to address the customer in, e.g. `es` (the default) or `en`.
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// Hours the customer likes to be contacted.
    async fn communication_hours(&self) -> Option<CommunicationHours<'_>> {
        self.0.communication_hours.as_ref().map(CommunicationHours)
    }
    /// The agent who should serve the customer.
    async fn preferred_agent(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Agent>> {
        let Some(id) = self.0.preferred_agent else {
            return Ok(None);
        };
        Ok(self.1.agents.get(loaders(cx)?, id).await.gql()?.map(Agent))
    }
}

/// An agent of the service desk.
pub struct Agent(pub agents::Agent);

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

/// A conversation between a customer and the desk.
pub struct Conversation(pub conversations::Conversation, pub Arc<ConversationGroup>);

impl Conversation {
    /// The items of a list: they share one group, so nested fields batch.
    pub fn list(items: Vec<conversations::Conversation>) -> Vec<Conversation> {
        let group = ConversationGroup::new(&items);
        items
            .into_iter()
            .map(|c| Conversation(c, group.clone()))
            .collect()
    }

    /// A conversation on its own.
    pub fn one(conversation: conversations::Conversation) -> Conversation {
        let group = ConversationGroup::new(std::slice::from_ref(&conversation));
        Conversation(conversation, group)
    }
}

/// A conversation between a customer and the desk.
#[Object]
impl Conversation {
    /// The conversation's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The customer the conversation is with.
    async fn customer(&self, cx: &Context<'_>) -> async_graphql::Result<Customer> {
        let found = self
            .1
            .customers
            .get(loaders(cx)?, self.0.customer)
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
        let Some(id) = self.0.assigned_agent else {
            return Ok(None);
        };
        Ok(self.1.agents.get(loaders(cx)?, id).await.gql()?.map(Agent))
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
        let related = self.1.messages(loaders(cx)?, page).await.gql()?;
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
        let group = MessageGroup::new(std::slice::from_ref(&message));
        Message(message, group)
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
        let Some(id) = self.0.agent else {
            return Ok(None);
        };
        Ok(self.1.agents.get(loaders(cx)?, id).await.gql()?.map(Agent))
    }
    /// When the message was sent.
    async fn sent_at(&self) -> DateTime {
        DateTime(self.0.sent_at)
    }
}

/// A page of customers.
#[derive(SimpleObject)]
pub struct CustomerPage {
    /// The customers of this page.
    pub items: Vec<Customer>,
    /// Where this page sits and how many there are.
    pub pagination: Pagination,
}

/// A page of conversations.
#[derive(SimpleObject)]
pub struct ConversationPage {
    /// The conversations of this page, newest first.
    pub items: Vec<Conversation>,
    /// Where this page sits and how many there are.
    pub pagination: Pagination,
}

/// A page of messages.
#[derive(SimpleObject)]
pub struct MessagePage {
    /// The messages of this page, oldest first.
    pub items: Vec<Message>,
    /// Where this page sits and how many there are.
    pub pagination: Pagination,
}

/// Dashboard counts.
#[derive(SimpleObject)]
pub struct CustomerSummary {
    /// Every customer of the tenant, whatever its status.
    pub total_customers: i32,
    /// status = ACTIVE
    pub active_customers: i32,
    /// segment = VIP
    pub vip_customers: i32,
    /// isBlocked = true
    pub blocked_customers: i32,
    /// createdAt within the current calendar month, UTC
    pub new_this_month: i32,
}

/// Customers in one segment.
#[derive(SimpleObject)]
pub struct SegmentCount {
    /// The segment.
    pub segment: CustomerSegment,
    /// Customers in it.
    pub count: i32,
}

/// Dashboard statistics.
#[derive(SimpleObject)]
pub struct CustomerStats {
    /// Counts of all customers and of notable groups.
    pub summary: CustomerSummary,
    /// Customers per segment, largest first; segments without customers left out.
    pub segments: Vec<SegmentCount>,
}

impl From<customers::Stats> for CustomerStats {
    fn from(s: customers::Stats) -> Self {
        let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        CustomerStats {
            summary: CustomerSummary {
                total_customers: n(s.summary.total_customers),
                active_customers: n(s.summary.active_customers),
                vip_customers: n(s.summary.vip_customers),
                blocked_customers: n(s.summary.blocked_customers),
                new_this_month: n(s.summary.new_this_month),
            },
            segments: s
                .segments
                .into_iter()
                .map(|(segment, count)| SegmentCount {
                    segment: segment.into(),
                    count: n(count),
                })
                .collect(),
        }
    }
}

/// A row of an import that was not stored.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ImportIssue {
    /// Position of the row in the submitted list, from 0.
    pub index: i32,
    /// The row's phone number, when it had one.
    pub phone_number: Option<String>,
    /// Why the row was not stored.
    pub reason: String,
    #[graphql(skip)]
    pub existing: Option<uuid::Uuid>,
}

#[ComplexObject]
impl ImportIssue {
    /// For a duplicate of a stored customer: that customer's id.
    async fn existing_id(&self) -> Option<ID> {
        self.existing.map(|id| ID(id.to_string()))
    }
}

impl From<import::ImportIssue> for ImportIssue {
    fn from(i: import::ImportIssue) -> Self {
        ImportIssue {
            index: int(i.index as u64),
            phone_number: i.phone_number,
            reason: i.reason,
            existing: i.existing_id,
        }
    }
}

/// Each row of an import, by outcome.
#[derive(SimpleObject)]
pub struct ImportDetails {
    /// The customers stored.
    pub success: Vec<Customer>,
    /// Rows whose phone number already exists, in the store or earlier in the list.
    pub duplicates: Vec<ImportIssue>,
    /// Rows refused as invalid, with the reason.
    pub failed: Vec<ImportIssue>,
}

/// What an import did.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// Rows stored.
    pub imported: i32,
    /// Rows skipped as duplicates.
    pub duplicates: i32,
    /// Rows refused as invalid.
    pub failed: i32,
    /// Each row, by outcome.
    pub details: ImportDetails,
}

impl ImportResult {
    /// An import's result from its report and the customers it stored.
    pub fn new(r: import::ImportReport, stored: Vec<customers::Customer>) -> Self {
        ImportResult {
            imported: int(r.stored.len() as u64),
            duplicates: int(r.duplicates.len() as u64),
            failed: int(r.failed.len() as u64),
            details: ImportDetails {
                success: Customer::list(stored),
                duplicates: r.duplicates.into_iter().map(Into::into).collect(),
                failed: r.failed.into_iter().map(Into::into).collect(),
            },
        }
    }
}

/// What a delete did.
#[derive(SimpleObject)]
pub struct DeleteResult {
    /// Always true: a delete that fails answers an error instead.
    pub success: bool,
    /// Human-readable, e.g. 'Customer deactivated' or 'Customer permanently deleted'.
    pub message: String,
    /// Whether the customer was removed (true) or only deactivated (false).
    pub permanent: bool,
}

/// The caller, as its token says.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The agent's id: the token's `sub`.
    pub agent_id: ID,
    /// What the caller may do: the token's `role`.
    pub role: Role,
    /// Whose data the caller sees: the token's `tenant`.
    pub tenant: String,
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
            .customers
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
            .conversations
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
