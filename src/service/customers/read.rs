//! Reading customers: a filtered, ordered page, one by id or by phone
//! number, a batch by ids, and the details view with recent conversations.
//! Imports `conversations` (never the other way round), `customer_rows`
//! and `scope`.

use entity::{customer, customer_phone};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, QueryTrait};

use super::count::count;
use super::filter::{order, CustomerFilter, SearchPath};
use super::view::Customer;
use crate::auth::Actor;
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::domain::ids::CustomerId;
use crate::domain::page::{PageRequest, Pagination};
use crate::error::{Error, Result};
use crate::service::{conversations, counts, customer_rows, scope, Ctx};

/// A list request: filter, page and order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: CustomerFilter,
    pub page: PageRequest,
    pub sort_by: CustomerSortField,
    pub sort_order: SortOrder,
}

/// A page of customers and its pagination: the page and the total are read
/// at the same time, on two pooled connections, except for an SQLite
/// search, whose page is planned from its total (see [`SearchPath`]).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
) -> Result<(Vec<Customer>, Pagination)> {
    let backend = ctx.db.get_database_backend();
    let (items, total) = if query.filter.searches_by_index(backend) {
        let total = count(ctx, actor, &query.filter).await?;
        (read_page(ctx, actor, query, Some(total)).await?, total)
    } else {
        tokio::try_join!(
            read_page(ctx, actor, query, None),
            count(ctx, actor, &query.filter)
        )?
    };
    Ok((items, query.page.pagination(total)))
}

/// A page of customers without its total, for a client that did not ask
/// for one.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn page(ctx: &Ctx, actor: &Actor, query: &ListQuery) -> Result<Vec<Customer>> {
    let backend = ctx.db.get_database_backend();
    let hits = if query.filter.searches_by_index(backend) {
        // Exact and usually cached; it decides how the page is read.
        Some(count(ctx, actor, &query.filter).await?)
    } else {
        None
    };
    read_page(ctx, actor, query, hits).await
}

/// Reads a page; `hits` is the filter's total where it decides the path to
/// an SQLite search's hits.
///
/// A page after the first is a deferred join: the ids of the page are
/// chosen by walking the sort index alone (index-only: the skipped rows are
/// never read), then only those rows are read.
async fn read_page(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
    hits: Option<u64>,
) -> Result<Vec<Customer>> {
    query.filter.validate()?;
    let backend = ctx.db.get_database_backend();
    let path = match hits {
        Some(hits) => {
            let total = counts::read_one(&ctx.db, &actor.tenant, counts::ALL).await?;
            let total = total.max(0).unsigned_abs();
            SearchPath::cheaper(hits, total, query.page.offset(), query.page.limit)
        }
        None => SearchPath::ByHits,
    };
    let filtered = query
        .filter
        .apply_via(actor, backend, path, scope::customers(actor));
    let page = if query.page.offset() == 0 {
        order(filtered, query.sort_by, query.sort_order).limit(query.page.limit)
    } else {
        let ids = order(filtered, query.sort_by, query.sort_order)
            .select_only()
            .column(customer::Column::Id)
            .offset(query.page.offset())
            .limit(query.page.limit)
            .into_query();
        order(
            scope::customers(actor).filter(customer::Column::Id.in_subquery(ids)),
            query.sort_by,
            query.sort_order,
        )
    };
    let rows = page.all(&ctx.db).await?;
    Ok(rows.into_iter().map(Customer::from).collect())
}

/// The customer with this id, or NOT_FOUND (also for another tenant's).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn get(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Customer> {
    customer_rows::find(&ctx.db, actor, id)
        .await?
        .map(Customer::from)
        .ok_or(Error::NotFound("customer"))
}

/// Customers by id, for batching; unknown and foreign ids are absent.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn by_ids(ctx: &Ctx, actor: &Actor, ids: &[CustomerId]) -> Result<Vec<Customer>> {
    let rows = scope::customers(actor)
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(Customer::from).collect())
}

/// The customer with this id, or none (also for another tenant's).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn find(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Option<Customer>> {
    Ok(customer_rows::find(&ctx.db, actor, id)
        .await?
        .map(Customer::from))
}

/// The customer answering to a phone number in any common spelling (primary
/// or alternative); none when no customer has it.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn find_by_phone(ctx: &Ctx, actor: &Actor, phone: &str) -> Result<Option<Customer>> {
    let phone = crate::domain::phone::normalize(phone, ctx.region)
        .map_err(|e| Error::invalid("phoneNumber", e.to_string()))?;
    let holder = scope::phones(actor)
        .filter(customer_phone::Column::Phone.eq(phone.as_str()))
        .one(&ctx.db)
        .await?;
    match holder {
        Some(h) => Ok(customer_rows::find(&ctx.db, actor, h.customer_id.into())
            .await?
            .map(Customer::from)),
        None => Ok(None),
    }
}

/// What the details route shows of a customer.
#[derive(Debug, Clone)]
pub struct Details {
    pub customer: Customer,
    pub recent_conversations: Vec<conversations::Conversation>,
}

/// How many conversations the details show.
pub const RECENT_CONVERSATIONS: u64 = 5;

/// A customer with its five newest conversations, both read at once (the
/// conversations of an unknown id are none, and the answer a 404).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn details(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Details> {
    let (customer, recent_conversations) = tokio::try_join!(
        get(ctx, actor, id),
        conversations::recent(ctx, actor, id, RECENT_CONVERSATIONS)
    )?;
    Ok(Details {
        customer,
        recent_conversations,
    })
}
