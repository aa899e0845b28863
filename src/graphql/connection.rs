//! `customersConnection`: cursor pagination of customers. Calls
//! `service::customers::connection` and wraps what it returns; never sea_orm.

use async_graphql::{Context, Object, SimpleObject};

use super::inline::List;
use super::inputs::CustomerFilter;
use super::types::enums::{CustomerSortField, SortOrder};
use super::types::{Customer, CustomerObject, Shown};
use super::{caller, GqlResult};
use crate::service::customers::{self, ConnectionQuery};

/// Cursor-paginated reads of customers.
#[derive(Default)]
pub struct CustomerConnectionQuery;

/// Cursor-paginated reads of customers.
#[Object]
impl CustomerConnectionQuery {
    /// Cursor pagination for Apollo's fetchMore and relay-style clients.
    #[expect(clippy::too_many_arguments, reason = "one per GraphQL argument")]
    #[graphql(complexity = "super::types::list_cost(first.or(last), 20, child_complexity)")]
    async fn customers_connection(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "Which customers to list; all when omitted.")] filter: Option<
            CustomerFilter,
        >,
        #[graphql(
            desc = "Take this many customers from the start of the list (or after `after`); 0 or more, above 100 counts as 100, 20 when neither first nor last is given. Not with `last`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Take customers after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Take this many customers from the end of the list (or before `before`); 0 or more, above 100 counts as 100. Not with `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Take customers before this cursor (an edge's `cursor`).")] before: Option<
            String,
        >,
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
    ) -> async_graphql::Result<CustomerConnection> {
        let (ctx, actor) = caller(cx)?;
        // What a customer shows, in `nodes` and in `edges { node }` alike.
        let selections = [
            cx.look_ahead().field("nodes").selection_fields(),
            cx.look_ahead()
                .field("edges")
                .field("node")
                .selection_fields(),
        ]
        .concat();
        let shown = Shown::of(&selections);
        let query = ConnectionQuery {
            filter: filter.into(),
            // Null (an omitted nullable variable) means the default.
            sort_by: sort_by.unwrap_or(CustomerSortField::LastInteraction).into(),
            sort_order: sort_order.unwrap_or(SortOrder::Desc).into(),
            first: first.map(i64::from),
            after,
            last: last.map(i64::from),
            before,
            with_total: cx.look_ahead().field("totalCount").exists(),
            columns: shown.customers,
        };
        let mut page = customers::connection(ctx, actor, &query).await.gql()?;
        // One list, so the nested fields of edges and nodes batch together.
        let items = std::mem::take(&mut page.items);
        let cursor = |c: &Customer| page.cursor(&c.0 .0).gql();
        let nodes = Customer::list_reading(ctx, actor, items, shown, &selections)
            .await
            .gql()?;
        // Edges (a copy of each customer and its cursor) only when shown.
        let edges = if cx.look_ahead().field("edges").exists() {
            let edge = |node: &Customer| {
                let (cursor, node) = (cursor(node)?, node.clone());
                Ok(CustomerEdge { cursor, node })
            };
            nodes
                .iter()
                .map(edge)
                .collect::<async_graphql::Result<_>>()?
        } else {
            Vec::new()
        };
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: nodes.first().map(cursor).transpose()?,
            end_cursor: nodes.last().map(cursor).transpose()?,
        };
        Ok(CustomerConnection {
            edges,
            nodes: nodes.into(),
            page_info,
            // Zero where it was not selected (and so not counted).
            total_count: i32::try_from(page.total_count.unwrap_or(0)).unwrap_or(i32::MAX),
        })
    }
}

/// A page of customers with a cursor for each.
#[derive(SimpleObject)]
pub struct CustomerConnection {
    /// The customers of this page, each with its cursor.
    pub edges: Vec<CustomerEdge>,
    /// The customers of `edges`, without their cursors.
    pub nodes: List<CustomerObject>,
    /// Whether there are more pages, and the cursors of this one's ends.
    pub page_info: PageInfo,
    /// Customers matching the filter, whatever the cursors.
    pub total_count: i32,
}

/// A customer and its cursor.
#[derive(SimpleObject)]
pub struct CustomerEdge {
    /// Opaque; valid as `after`/`before` of a query with the same `sortBy`.
    pub cursor: String,
    /// The customer.
    pub node: Customer,
}

/// Where a page sits in the list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more customers follow this page (ask with `after: endCursor`).
    pub has_next_page: bool,
    /// Whether more customers precede this page (ask with `before: startCursor`).
    pub has_previous_page: bool,
    /// The cursor of the first edge; null for an empty page.
    pub start_cursor: Option<String>,
    /// The cursor of the last edge; null for an empty page.
    pub end_cursor: Option<String>,
}
