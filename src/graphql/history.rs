//! The change history, the trash and erasure on GraphQL: `customerHistory`
//! (its types are in [`super::changes`], shared with `Customer.history`),
//! `deletedCustomers` and `erasureReceipts`, and the `restoreCustomer` and
//! `eraseCustomer` mutations. Calls `service::history`, `service::trash` and
//! `service::erasure`; never sea_orm.

use async_graphql::{Context, Object, SimpleObject, ID};

use super::changes::{customer_history, CustomerChangeConnection};
use super::connection::PageInfo;
use super::scalars::DateTime;
use super::types::{list_cost, Customer};
use super::{caller, GqlResult};
use crate::domain::ids::CustomerId;
use crate::service::{erasure, history, trash};

/// A customer in the trash.
#[derive(SimpleObject)]
pub struct TrashedCustomer {
    /// The customer (status INACTIVE, as the soft delete left it).
    pub customer: Customer,
    /// When the soft delete put it in the trash.
    pub deleted_at: DateTime,
    /// When the trash sweep may delete it for good; until then restoreCustomer brings it back.
    pub purge_at: DateTime,
}

/// A page of the trash, newest deletion first.
#[derive(SimpleObject)]
pub struct TrashedCustomerConnection {
    /// The customers of this page, each with its cursor.
    pub edges: Vec<TrashedCustomerEdge>,
    /// Whether more customers follow (ask with `after: pageInfo.endCursor`).
    pub page_info: PageInfo,
}

/// A customer of the trash and its cursor.
#[derive(SimpleObject)]
pub struct TrashedCustomerEdge {
    /// Opaque; valid as `after` of deletedCustomers.
    pub cursor: String,
    /// The customer, with its trash times.
    pub node: TrashedCustomer,
}

/// What one erased kind of personal data was, and how many values or rows.
#[derive(SimpleObject)]
pub struct ErasedItem {
    /// `customer.<field>` for a field of the customer, or phoneNumbers, messageBodies, conversationSubjects, ticketSubjects, historyValues, mergeRecords (merge records that kept some of the person's data), mergedCustomers (customers merged into this one, erased with it).
    pub what: String,
    /// How many values or rows.
    pub count: i32,
}

/// The receipt of an erasure of a customer's personal data; kept after the customer is gone.
#[derive(SimpleObject)]
pub struct ErasureReceipt {
    /// The receipt's id.
    pub id: ID,
    /// The customer erased.
    pub customer_id: ID,
    /// When the erasure committed.
    pub erased_at: DateTime,
    /// The `sub` of the admin who erased.
    pub actor: String,
    /// What was erased, with counts.
    pub items: Vec<ErasedItem>,
}

impl From<erasure::Receipt> for ErasureReceipt {
    fn from(r: erasure::Receipt) -> Self {
        Self {
            id: ID(r.id.to_string()),
            customer_id: ID(r.customer_id.to_string()),
            erased_at: DateTime(r.erased_at),
            actor: r.actor,
            items: r
                .items
                .into_iter()
                .map(|i| ErasedItem {
                    what: i.what,
                    count: i32::try_from(i.count).unwrap_or(i32::MAX),
                })
                .collect(),
        }
    }
}

/// Reads of the history, the trash and erasure receipts.
#[derive(Default)]
pub struct HistoryQuery;

/// Reads of the history, the trash and erasure receipts.
#[Object]
impl HistoryQuery {
    /// A customer's change history, newest first, also after the customer was deleted for good. NOT_FOUND for an id the tenant never had.
    #[graphql(complexity = "list_cost(first, 20, child_complexity)")]
    async fn customer_history(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer's id.")] customer_id: ID,
        #[graphql(desc = "Entries to take, 0 to 100 (20 when omitted).")] first: Option<i32>,
        #[graphql(desc = "Take entries after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<CustomerChangeConnection> {
        let (ctx, actor) = caller(cx)?;
        let id = customer_id.parse::<CustomerId>().gql()?;
        history::known(ctx, actor, id).await.gql()?;
        customer_history(cx, id, first, after).await
    }

    /// Soft-deleted customers (the trash), newest deletion first; each can be restored until its purgeAt.
    #[graphql(complexity = "list_cost(first, 20, child_complexity)")]
    async fn deleted_customers(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "Customers to take, 0 to 100 (20 when omitted).")] first: Option<i32>,
        #[graphql(desc = "Take customers after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<TrashedCustomerConnection> {
        let (ctx, actor) = caller(cx)?;
        let page = trash::connection(ctx, actor, first.map(i64::from), after.as_deref())
            .await
            .gql()?;
        let (cursors, items): (Vec<String>, Vec<trash::Trashed>) = page.items.into_iter().unzip();
        let times: Vec<_> = items.iter().map(|t| (t.deleted_at, t.purge_at)).collect();
        // One list, so the customers' nested fields batch together.
        let customers = Customer::list(items.into_iter().map(|t| t.customer).collect());
        let edges: Vec<TrashedCustomerEdge> = cursors
            .into_iter()
            .zip(customers)
            .zip(times)
            .map(
                |((cursor, customer), (deleted_at, purge_at))| TrashedCustomerEdge {
                    cursor,
                    node: TrashedCustomer {
                        customer,
                        deleted_at: DateTime(deleted_at),
                        purge_at: DateTime(purge_at),
                    },
                },
            )
            .collect();
        Ok(TrashedCustomerConnection {
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page: false,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        })
    }

    /// Needs ADMIN. Receipts of erasures, newest first: of one customer when customerId is given (also after it was deleted), else of the whole tenant.
    async fn erasure_receipts(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "Only this customer's receipts.")] customer_id: Option<ID>,
    ) -> async_graphql::Result<Vec<ErasureReceipt>> {
        let (ctx, actor) = caller(cx)?;
        let found = match customer_id {
            Some(id) => erasure::of_customer(ctx, actor, id.parse::<CustomerId>().gql()?)
                .await
                .gql()?,
            None => erasure::receipts(ctx, actor, None).await.gql()?,
        };
        Ok(found.into_iter().map(ErasureReceipt::from).collect())
    }
}

/// Restore and erase.
#[derive(Default)]
pub struct HistoryMutation;

/// Restore and erase.
#[Object]
impl HistoryMutation {
    /// Needs AGENT or ADMIN. Takes a soft-deleted customer out of the trash within CLIENTELA_TRASH_DAYS (default 30) of its deletion: the status it had before returns. BAD_USER_INPUT when it is not in the trash or its time there ran out.
    async fn restore_customer(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to restore.")] id: ID,
    ) -> async_graphql::Result<Customer> {
        let (ctx, actor) = caller(cx)?;
        let restored = trash::restore(ctx, actor, id.parse::<CustomerId>().gql()?)
            .await
            .gql()?;
        Ok(Customer::one(restored))
    }

    /// Needs ADMIN. Erases the customer's personal data (names, email, avatar, address, notes, custom fields, numbers, message bodies, conversation and ticket subjects, personal values in its history), keeps its anonymous statistics, and returns the stored receipt.
    async fn erase_customer(
        &self,
        cx: &Context<'_>,
        #[graphql(desc = "The customer to erase.")] id: ID,
    ) -> async_graphql::Result<ErasureReceipt> {
        let (ctx, actor) = caller(cx)?;
        let receipt = erasure::erase(ctx, actor, id.parse::<CustomerId>().gql()?)
            .await
            .gql()?;
        Ok(receipt.into())
    }
}
