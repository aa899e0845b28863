//! GraphQL output types. Objects wrap service structs; nested fields resolve
//! through service functions, so tenancy stays in the service layer.

use async_graphql::{ComplexObject, Context, Json, Object, SimpleObject, ID};

use std::sync::Arc;

use super::loaders::{ConversationGroup, CustomerGroup, MessageGroup};
use super::scalars::DateTime;
use super::{loaders, GqlResult};
use crate::auth::Role;
use crate::domain::customer::{
    Address, CommunicationHours, CustomerSegment, CustomerSource, CustomerStatus,
};
use crate::domain::page::{PageRequest, Pagination as PageBlock};
use crate::service::conversations::{self, ConversationStatus, MessageDirection};
use crate::service::customers::{self, Statistics};
use crate::service::{agents, import, tickets};

/// Page numbers and totals of an offset page.
#[derive(SimpleObject)]
pub struct Pagination {
    pub page: i32,
    pub limit: i32,
    pub total: i32,
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

#[Object]
impl Customer {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Canonical digits, country code first, no '+', e.g. 529991234567.
    async fn phone_number(&self) -> &str {
        &self.0.phone_number
    }
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn avatar(&self) -> Option<&str> {
        self.0.avatar.as_deref()
    }
    async fn alternative_phones(&self) -> &[String] {
        &self.0.alternative_phones
    }
    async fn address(&self) -> Option<&Address> {
        self.0.address.as_ref()
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn segment(&self) -> CustomerSegment {
        self.0.segment
    }
    async fn source(&self) -> CustomerSource {
        self.0.source
    }
    async fn custom_fields(&self) -> Json<&serde_json::Map<String, serde_json::Value>> {
        Json(&self.0.custom_fields)
    }
    async fn preferences(&self) -> Preferences<'_> {
        Preferences(&self.0.preferences, &self.1)
    }
    async fn status(&self) -> CustomerStatus {
        self.0.status
    }
    async fn is_blocked(&self) -> bool {
        self.0.is_blocked
    }
    async fn block_reason(&self) -> Option<&str> {
        self.0.block_reason.as_deref()
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn statistics(&self) -> Statistics {
        self.0.statistics
    }
    async fn first_contact(&self) -> Option<DateTime> {
        self.0.first_contact.map(DateTime)
    }
    async fn last_interaction(&self) -> Option<DateTime> {
        Some(DateTime(self.0.last_interaction))
    }
    async fn last_message_at(&self) -> Option<DateTime> {
        self.0.last_message_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// Newest first. Batched across customers: a page of customers costs a constant number of queries.
    #[graphql(complexity = "list_cost(limit, 20, child_complexity)")]
    async fn conversations(
        &self,
        cx: &Context<'_>,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 20)] limit: Option<i32>,
        status: Option<ConversationStatus>,
    ) -> async_graphql::Result<ConversationPage> {
        let page = page_request(page, limit, 20).gql()?;
        let related = self.1.pages(loaders(cx)?, page, status).await.gql()?;
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
        #[graphql(default = 5)] limit: Option<i32>,
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

#[Object]
impl Preferences<'_> {
    async fn language(&self) -> &str {
        &self.0.language
    }
    async fn communication_hours(&self) -> Option<&CommunicationHours> {
        self.0.communication_hours.as_ref()
    }
    async fn preferred_agent(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Agent>> {
        let Some(id) = self.0.preferred_agent else {
            return Ok(None);
        };
        Ok(self.1.agents.get(loaders(cx)?, id).await.gql()?.map(Agent))
    }
}

/// An agent of the service desk.
pub struct Agent(pub agents::Agent);

#[Object]
impl Agent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
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

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
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
    async fn status(&self) -> ConversationStatus {
        self.0.status
    }
    async fn channel(&self) -> &str {
        &self.0.channel
    }
    async fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }
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
    async fn message_count(&self) -> i32 {
        self.0.message_count
    }
    async fn last_message_at(&self) -> Option<DateTime> {
        self.0.last_message_at.map(DateTime)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    async fn resolved_at(&self) -> Option<DateTime> {
        self.0.resolved_at.map(DateTime)
    }
    /// Oldest first.
    #[graphql(complexity = "list_cost(limit, 50, child_complexity)")]
    async fn messages(
        &self,
        cx: &Context<'_>,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 50)] limit: Option<i32>,
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

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    async fn direction(&self) -> MessageDirection {
        self.0.direction
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn agent(&self, cx: &Context<'_>) -> async_graphql::Result<Option<Agent>> {
        let Some(id) = self.0.agent else {
            return Ok(None);
        };
        Ok(self.1.agents.get(loaders(cx)?, id).await.gql()?.map(Agent))
    }
    async fn sent_at(&self) -> DateTime {
        DateTime(self.0.sent_at)
    }
}

/// A page of customers.
#[derive(SimpleObject)]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    pub pagination: Pagination,
}

/// A page of conversations.
#[derive(SimpleObject)]
pub struct ConversationPage {
    pub items: Vec<Conversation>,
    pub pagination: Pagination,
}

/// A page of messages.
#[derive(SimpleObject)]
pub struct MessagePage {
    pub items: Vec<Message>,
    pub pagination: Pagination,
}

/// Dashboard counts.
#[derive(SimpleObject)]
pub struct CustomerSummary {
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
    pub segment: CustomerSegment,
    pub count: i32,
}

/// Dashboard statistics.
#[derive(SimpleObject)]
pub struct CustomerStats {
    pub summary: CustomerSummary,
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
                    segment,
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
    pub phone_number: Option<String>,
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
    pub success: Vec<Customer>,
    pub duplicates: Vec<ImportIssue>,
    pub failed: Vec<ImportIssue>,
}

/// What an import did.
#[derive(SimpleObject)]
pub struct ImportResult {
    pub imported: i32,
    pub duplicates: i32,
    pub failed: i32,
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
    pub success: bool,
    /// Human-readable, e.g. 'Customer deactivated' or 'Customer permanently deleted'.
    pub message: String,
    pub permanent: bool,
}

/// The caller, as its token says.
#[derive(SimpleObject)]
pub struct Viewer {
    pub agent_id: ID,
    pub role: Role,
    pub tenant: String,
}

/// A support ticket raised for a customer, optionally from a conversation.
pub struct Ticket(pub tickets::Ticket);

#[Object]
impl Ticket {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
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
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn status(&self) -> tickets::TicketStatus {
        self.0.status
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(DateTime)
    }
}
