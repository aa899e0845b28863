//! `Customer.history` and the history's GraphQL types (`CustomerChange` and
//! its connection), used by `types` (the field) and `history` (the
//! `customerHistory` query). Imports neither, so neither loops back.

use async_graphql::{Context, Object, SimpleObject, ID};

use super::scalars::DateTime;
use super::{caller, GqlResult};
use crate::domain::ids::CustomerId;
use crate::service::history;

/// One recorded change of a customer's field.
pub struct CustomerChange(pub history::Change);

/// One recorded change of a customer's field: who changed what, from what to what, through which path, when.
#[Object]
impl CustomerChange {
    /// The entry's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The customer changed.
    async fn customer_id(&self) -> ID {
        ID(self.0.customer_id.to_string())
    }
    /// The field's GraphQL name (firstName, tags, status, deletedAt, ...); `*` when the customer was deleted for good.
    async fn field(&self) -> &str {
        &self.0.field
    }
    /// The value before, as JSON text (enums as their GraphQL names); null when the field was not there (a creation). "[erased]" after an erasure.
    async fn old_value(&self) -> Option<&str> {
        self.0.old_value.as_deref()
    }
    /// The value after, as JSON text; null when the customer was deleted for good.
    async fn new_value(&self) -> Option<&str> {
        self.0.new_value.as_deref()
    }
    /// Who wrote: the token's `sub`, or `system` for the server's own writes (the trash sweep).
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// Through what: api, import, merge, block, restore, erase or system.
    async fn source(&self) -> &str {
        self.0.source.as_str()
    }
    /// When the write committed.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
}

/// A page of a customer's history, newest first.
#[derive(SimpleObject)]
pub struct CustomerChangeConnection {
    /// The entries of this page, each with its cursor.
    pub edges: Vec<CustomerChangeEdge>,
    /// Whether more entries follow, and the cursor to ask for them with.
    pub page_info: CustomerChangePageInfo,
}

/// Where a page of history sits: it is read forward only, newest first.
#[derive(SimpleObject)]
pub struct CustomerChangePageInfo {
    /// Whether older entries follow this page (ask with `after: endCursor`).
    pub has_next_page: bool,
    /// The cursor of the last edge; null for an empty page.
    pub end_cursor: Option<String>,
}

/// An entry of the history and its cursor.
#[derive(SimpleObject)]
pub struct CustomerChangeEdge {
    /// Opaque; valid as `after` of the same customer's history.
    pub cursor: String,
    /// The entry.
    pub node: CustomerChange,
}

/// A page of the history as GraphQL shows it.
pub fn change_connection(page: history::ChangePage) -> CustomerChangeConnection {
    let edges: Vec<CustomerChangeEdge> = page
        .items
        .into_iter()
        .map(|(cursor, c)| CustomerChangeEdge {
            cursor,
            node: CustomerChange(c),
        })
        .collect();
    CustomerChangeConnection {
        page_info: CustomerChangePageInfo {
            has_next_page: page.has_next_page,
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
    }
}

/// `Customer.history`: the customer's history, newest first.
pub async fn customer_history(
    cx: &Context<'_>,
    id: CustomerId,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<CustomerChangeConnection> {
    let (ctx, actor) = caller(cx)?;
    let page = history::connection(ctx, actor, id, first.map(i64::from), after.as_deref())
        .await
        .gql()?;
    Ok(change_connection(page))
}
