//! Reading customers: a filtered, ordered page, one by id or by phone
//! number, a batch by ids, and the details view with recent conversations.
//! Imports `conversations` (never the other way round), `customer_rows`
//! and `scope`.

use entity::{customer, customer_phone};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, QueryTrait};

use super::count::count;
use super::filter::{order, CustomerFilter};
use super::view::Customer;
use crate::auth::Actor;
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::domain::ids::CustomerId;
use crate::domain::page::{PageRequest, Pagination};
use crate::error::{Error, Result};
use crate::service::{conversations, customer_rows, scope, Ctx};

/// A list request: filter, page and order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: CustomerFilter,
    pub page: PageRequest,
    pub sort_by: CustomerSortField,
    pub sort_order: SortOrder,
}

/// A page of customers and its pagination: the page and the total are read
/// at the same time, on two pooled connections.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
) -> Result<(Vec<Customer>, Pagination)> {
    let (items, total) =
        tokio::try_join!(page(ctx, actor, query), count(ctx, actor, &query.filter))?;
    Ok((items, query.page.pagination(total)))
}

/// A page of customers without its total, for a client that did not ask
/// for one.
///
/// A page after the first is a deferred join: the ids of the page are
/// chosen by walking the sort index alone (index-only: the skipped rows are
/// never read), then only those rows are read.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn page(ctx: &Ctx, actor: &Actor, query: &ListQuery) -> Result<Vec<Customer>> {
    query.filter.validate()?;
    let backend = ctx.db.get_database_backend();
    let filtered = query.filter.apply(actor, backend, scope::customers(actor));
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
