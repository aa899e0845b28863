//! `customersConnection`: cursor pagination of customers. Calls
//! `service::customers::connection` and wraps what it returns; never sea_orm.

use async_graphql::{Context, Object, SimpleObject};

use super::inputs::CustomerFilter;
use super::types::Customer;
use super::{caller, GqlResult};
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::service::customers::{self, ConnectionQuery};

/// Cursor-paginated reads of customers.
#[derive(Default)]
pub struct CustomerConnectionQuery;

#[Object]
impl CustomerConnectionQuery {
    /// Cursor pagination for Apollo's fetchMore and relay-style clients.
    #[expect(clippy::too_many_arguments, reason = "one per GraphQL argument")]
    #[graphql(complexity = "super::types::list_cost(first.or(last), 20, child_complexity)")]
    async fn customers_connection(
        &self,
        cx: &Context<'_>,
        filter: Option<CustomerFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default_with = "Some(CustomerSortField::LastInteraction)")] sort_by: Option<
            CustomerSortField,
        >,
        #[graphql(default_with = "Some(SortOrder::Desc)")] sort_order: Option<SortOrder>,
    ) -> async_graphql::Result<CustomerConnection> {
        let (ctx, actor) = caller(cx)?;
        let query = ConnectionQuery {
            filter: filter.into(),
            // Null (an omitted nullable variable) means the default.
            sort_by: sort_by.unwrap_or(CustomerSortField::LastInteraction),
            sort_order: sort_order.unwrap_or(SortOrder::Desc),
            first: first.map(i64::from),
            after,
            last: last.map(i64::from),
            before,
        };
        let page = customers::connection(ctx, actor, &query).await.gql()?;
        let (cursors, items): (Vec<String>, Vec<customers::Customer>) =
            page.items.into_iter().unzip();
        // One list, so the nested fields of edges and nodes batch together.
        let nodes = Customer::list(items);
        let edges: Vec<CustomerEdge> = cursors
            .into_iter()
            .zip(&nodes)
            .map(|(cursor, node)| CustomerEdge {
                cursor,
                node: Customer(node.0.clone(), node.1.clone()),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        };
        Ok(CustomerConnection {
            edges,
            nodes,
            page_info,
            total_count: i32::try_from(page.total_count).unwrap_or(i32::MAX),
        })
    }
}

/// A page of customers with a cursor for each.
#[derive(SimpleObject)]
pub struct CustomerConnection {
    pub edges: Vec<CustomerEdge>,
    /// The customers of `edges`, without their cursors.
    pub nodes: Vec<Customer>,
    pub page_info: PageInfo,
    /// Customers matching the filter, whatever the cursors.
    pub total_count: i32,
}

/// A customer and its cursor.
#[derive(SimpleObject)]
pub struct CustomerEdge {
    /// Opaque; valid as `after`/`before` of a query with the same `sortBy`.
    pub cursor: String,
    pub node: Customer,
}

/// Where a page sits in the list.
#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}
