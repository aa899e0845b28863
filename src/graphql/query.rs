//! Queries.

use async_graphql::{Context, MergedObject, Object, ID};

use super::documents::Hollow;
use super::inline::Inline;
use super::inputs::CustomerFilter;
use super::types::enums::{CustomerSortField, SortOrder};
use super::types::{
    page_request, Agent, Conversation, ConversationPage, Customer, CustomerPage, CustomerStats,
    Shown, Viewer,
};
use super::{caller, GqlResult};
use crate::domain::ids::{ConversationId, CustomerId};
use crate::service::customers::ListQuery;
use crate::service::{agents, conversations, customers};

/// The root of reads, one part per noun.
#[derive(MergedObject, Default)]
pub struct Query(
    CustomerQuery,
    super::connection::CustomerConnectionQuery,
    super::export_link::ExportQuery,
    super::history::HistoryQuery,
    super::merges::MergeQuery,
    super::imports::ImportQuery,
);

/// Reads of customers, conversations and agents.
#[derive(Default)]
pub struct CustomerQuery;

/// Reads of customers, conversations and agents.
#[Object]
impl CustomerQuery {
    /// Offset pagination, as the REST list. limit is clamped to 100.
    #[graphql(complexity = "super::types::list_cost(limit, 20, child_complexity)")]
    async fn customers(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "Which customers to list; all when omitted.")] filter: Option<
            CustomerFilter,
        >,
        #[graphql(default = 1, desc = "The page to return, from 1.")] page: Option<i32>,
        #[graphql(
            default = 20,
            desc = "Customers per page, at least 1; above 100 counts as 100."
        )]
        limit: Option<i32>,
        #[graphql(
            default_with = "Some(CustomerSortField::LastInteraction)",
            desc = "What to sort by; nulls sort last, ties break on id."
        )]
        sort_by: Option<CustomerSortField>,
        #[graphql(
            default_with = "Some(SortOrder::Desc)",
            desc = "Ascending or descending."
        )]
        sort_order: Option<SortOrder>,
    ) -> async_graphql::Result<Inline<CustomerPage>> {
        let (ctx, actor) = caller(cx)?;
        // Root of a hollow copy (`documents::HOLLOW_ROOTS`).
        let cx = &Hollow::selected(cx);
        let selections = cx.look_ahead().field("items").selection_fields();
        let shown = Shown::of(&selections);
        let query = ListQuery {
            filter: filter.into(),
            page: page_request(page, limit, 20).gql()?,
            // Null (an omitted nullable variable) means the default.
            sort_by: sort_by.unwrap_or(CustomerSortField::LastInteraction).into(),
            sort_order: sort_order.unwrap_or(SortOrder::Desc).into(),
            columns: shown.customers,
        };
        // The total is counted only when a field that shows it is selected.
        let pagination = cx.look_ahead().field("pagination");
        let (items, pagination) =
            if pagination.field("total").exists() || pagination.field("pages").exists() {
                customers::list(ctx, actor, &query).await.gql()?
            } else {
                let items = customers::page(ctx, actor, &query).await.gql()?;
                (items, query.page.pagination(0))
            };
        let items = Customer::list_reading(ctx, actor, items, shown, &selections)
            .await
            .gql()?;
        Ok(Inline(CustomerPage {
            items: items.into(),
            pagination: pagination.into(),
        }))
    }

    /// Null for an unknown id or another tenant's customer.
    async fn customer(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer's id.")] id: ID,
    ) -> async_graphql::Result<Option<Customer>> {
        let (ctx, actor) = caller(cx)?;
        // An id that cannot be one names no customer: null, like an unknown one.
        let Ok(id) = id.parse::<CustomerId>() else {
            return Ok(None);
        };
        // Conversations the selection shows are read with the customer, in
        // the same statement.
        if let Some(limit) = Customer::recent_limit(&Hollow::selected(cx).field()) {
            let found = customers::find_with_recent(ctx, actor, id, limit)
                .await
                .gql()?;
            return Ok(found.map(|(c, recent)| Customer::with_recent(c, limit, recent)));
        }
        Ok(customers::find(ctx, actor, id)
            .await
            .gql()?
            .map(Customer::one))
    }

    /// Accepts any common spelling of the number; it is normalized first.
    async fn customer_by_phone(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The number in any common spelling, e.g. +52 (999) 123-4567.")]
        phone_number: String,
    ) -> async_graphql::Result<Option<Customer>> {
        let (ctx, actor) = caller(cx)?;
        Ok(customers::find_by_phone(ctx, actor, &phone_number)
            .await
            .gql()?
            .map(Customer::one))
    }

    /// Dashboard counts and customers per segment.
    async fn customer_stats(
        &self,
        cx: &Context<'_>,
    ) -> async_graphql::Result<Inline<CustomerStats>> {
        let (ctx, actor) = caller(cx)?;
        Ok(Inline(customers::stats(ctx, actor).await.gql()?.into()))
    }

    /// A customer's conversations, newest first.
    #[graphql(complexity = "super::types::list_cost(limit, 20, child_complexity)")]
    async fn customer_conversations(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer whose conversations to list.")] customer_id: ID,
        #[graphql(default = 1, desc = "The page to return, from 1.")] page: Option<i32>,
        #[graphql(
            default = 20,
            desc = "Conversations per page, at least 1; above 100 counts as 100."
        )]
        limit: Option<i32>,
    ) -> async_graphql::Result<ConversationPage> {
        let (ctx, actor) = caller(cx)?;
        let page = page_request(page, limit, 20).gql()?;
        let (items, pagination) = conversations::list_for_customer(
            ctx,
            actor,
            customer_id.parse::<CustomerId>().gql()?,
            page,
            None,
        )
        .await
        .gql()?;
        Ok(ConversationPage {
            items: Conversation::list(items).into(),
            pagination: pagination.into(),
        })
    }

    /// Null for an unknown id or another tenant's conversation.
    async fn conversation(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The conversation's id.")] id: ID,
    ) -> async_graphql::Result<Option<Conversation>> {
        let (ctx, actor) = caller(cx)?;
        let Ok(id) = id.parse::<ConversationId>() else {
            return Ok(None);
        };
        Ok(conversations::find(ctx, actor, id)
            .await
            .gql()?
            .map(Conversation::one))
    }

    /// The agents of the caller's tenant, by name.
    async fn agents(&self, cx: &Context<'_>) -> async_graphql::Result<Vec<Agent>> {
        let (ctx, actor) = caller(cx)?;
        Ok(agents::list(ctx, actor)
            .await
            .gql()?
            .into_iter()
            .map(Agent)
            .collect())
    }

    /// The caller, as its token says.
    async fn me(&self, cx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let (_, actor) = caller(cx)?;
        Ok(Viewer {
            agent_id: ID(actor.agent.clone()),
            role: actor.role,
            tenant: actor.tenant.clone(),
        })
    }
}
