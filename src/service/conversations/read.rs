//! Reading conversations and messages: newest first, singly, by page, or
//! batched for DataLoaders (one statement for any number of parents).

use std::collections::HashMap;

use entity::{conversation, message};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::view::{Conversation, Message};
use crate::auth::Actor;
use crate::domain::conversation::ConversationStatus;
use crate::domain::ids::{ConversationId, CustomerId};
use crate::domain::page::{PageRequest, Pagination};
use crate::error::{Error, Result};
use crate::service::{customer_rows, scope, Ctx};

/// The contract's "newest first": by last message (or creation) time, then id.
fn newest_first(q: sea_orm::Select<conversation::Entity>) -> sea_orm::Select<conversation::Entity> {
    q.order_by_desc(conversation::Column::ActivityAt)
        .order_by_desc(conversation::Column::Id)
}

/// The `limit` newest conversations of a customer the caller may see.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn recent(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: CustomerId,
    limit: u64,
) -> Result<Vec<Conversation>> {
    let rows = newest_first(
        scope::conversations(actor).filter(conversation::Column::CustomerId.eq(customer_id)),
    )
    .limit(limit)
    .all(&ctx.db)
    .await?;
    Ok(rows.into_iter().map(Conversation::from).collect())
}

/// A page of a customer's conversations, newest first; NOT_FOUND for an
/// unknown (or another tenant's) customer.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn list_for_customer(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: CustomerId,
    page: PageRequest,
    status: Option<ConversationStatus>,
) -> Result<(Vec<Conversation>, Pagination)> {
    let customer = customer_rows::find(&ctx.db, actor, customer_id)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let mut q =
        scope::conversations(actor).filter(conversation::Column::CustomerId.eq(customer.id));
    if let Some(s) = status {
        q = q.filter(conversation::Column::Status.eq(s));
    }
    let total = q.clone().count(&ctx.db).await?;
    let rows = newest_first(q)
        .offset(page.offset())
        .limit(page.limit)
        .all(&ctx.db)
        .await?;
    let items = rows.into_iter().map(Conversation::from).collect();
    Ok((items, page.pagination(total)))
}

/// The conversation with this id, or none.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn find(ctx: &Ctx, actor: &Actor, id: ConversationId) -> Result<Option<Conversation>> {
    Ok(scope::conversations(actor)
        .filter(conversation::Column::Id.eq(id))
        .one(&ctx.db)
        .await?
        .map(Conversation::from))
}

/// Conversations by id, for batching; unknown and foreign ids are absent.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn by_ids(ctx: &Ctx, actor: &Actor, ids: &[ConversationId]) -> Result<Vec<Conversation>> {
    let rows = scope::conversations(actor)
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(Conversation::from).collect())
}

/// Rows `offset+1 ..= offset+limit` of each partition, numbered by a window
/// function, so a per-parent limit costs one statement for any number of parents.
fn windowed(
    mut inner: SelectStatement,
    partition: &str,
    order: &str,
    offset: u64,
    limit: u64,
) -> SelectStatement {
    inner.expr_as(
        Expr::cust(format!(
            "ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {order})"
        )),
        Alias::new("rn"),
    );
    Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("numbered"))
        .and_where(Expr::col(Alias::new("rn")).gt(offset as i64))
        .and_where(Expr::col(Alias::new("rn")).lte((offset + limit) as i64))
        .order_by(Alias::new(partition), sea_orm::Order::Asc)
        .order_by(Alias::new("rn"), sea_orm::Order::Asc)
        .to_owned()
}

/// The caller's conversations of these customers (with one status), as a
/// statement to window or count.
fn conversations_of(
    actor: &Actor,
    customer_ids: &[CustomerId],
    status: Option<ConversationStatus>,
) -> SelectStatement {
    let mut q = scope::conversations(actor)
        .filter(conversation::Column::CustomerId.is_in(customer_ids.iter().copied()));
    if let Some(s) = status {
        q = q.filter(conversation::Column::Status.eq(s));
    }
    q.into_query()
}

const NEWEST_FIRST: &str = "activity_at DESC, id DESC";

async fn grouped<M, K>(
    ctx: &Ctx,
    stmt: SelectStatement,
    key: impl Fn(&M) -> K,
) -> Result<HashMap<K, Vec<M>>>
where
    M: sea_orm::FromQueryResult,
    K: std::hash::Hash + Eq,
{
    let rows = M::find_by_statement(ctx.db.get_database_backend().build(&stmt))
        .all(&ctx.db)
        .await?;
    let mut out: HashMap<K, Vec<M>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct GroupCount {
    parent: Uuid,
    n: i64,
}

async fn counts(ctx: &Ctx, mut stmt: SelectStatement, by: &str) -> Result<HashMap<Uuid, u64>> {
    stmt.clear_selects();
    stmt.expr_as(Expr::col(Alias::new(by)), Alias::new("parent"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .group_by_col(Alias::new(by));
    let stmt = ctx.db.get_database_backend().build(&stmt);
    let rows = GroupCount::find_by_statement(stmt).all(&ctx.db).await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.parent, r.n.unsigned_abs()))
        .collect())
}

/// The `limit` newest conversations of each customer, in one statement.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn recent_for(
    ctx: &Ctx,
    actor: &Actor,
    customer_ids: &[CustomerId],
    limit: u64,
) -> Result<HashMap<CustomerId, Vec<Conversation>>> {
    let stmt = windowed(
        conversations_of(actor, customer_ids, None),
        "customer_id",
        NEWEST_FIRST,
        0,
        limit,
    );
    let rows = grouped(ctx, stmt, |m: &conversation::Model| {
        CustomerId::from(m.customer_id)
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(Conversation::from).collect()))
        .collect())
}

/// One page of each customer's conversations (newest first) with totals, in two statements.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn pages_for(
    ctx: &Ctx,
    actor: &Actor,
    customer_ids: &[CustomerId],
    page: PageRequest,
    status: Option<ConversationStatus>,
) -> Result<HashMap<CustomerId, (Vec<Conversation>, Pagination)>> {
    let base = conversations_of(actor, customer_ids, status);
    let parent = |m: &conversation::Model| CustomerId::from(m.customer_id);
    pages_of(
        ctx,
        base,
        ("customer_id", parent),
        NEWEST_FIRST,
        customer_ids,
        page,
    )
    .await
}

/// One page of each parent's children and each parent's total, in two
/// statements: a grouped count and a window over `base`.
async fn pages_of<M, T, K>(
    ctx: &Ctx,
    base: SelectStatement,
    (column, parent_of): (&str, fn(&M) -> K),
    order: &str,
    parents: &[K],
    page: PageRequest,
) -> Result<HashMap<K, (Vec<T>, Pagination)>>
where
    M: FromQueryResult,
    T: From<M>,
    K: Copy + std::hash::Hash + Eq,
    Uuid: From<K>,
{
    let totals = counts(ctx, base.clone(), column).await?;
    let stmt = windowed(base, column, order, page.offset(), page.limit);
    let mut rows = grouped(ctx, stmt, parent_of).await?;
    Ok(parents
        .iter()
        .map(|id| {
            let items = rows
                .remove(id)
                .unwrap_or_default()
                .into_iter()
                .map(T::from)
                .collect();
            let total = totals.get(&Uuid::from(*id)).copied().unwrap_or(0);
            (*id, (items, page.pagination(total)))
        })
        .collect())
}

/// One page of each conversation's messages (oldest first) with totals, in two statements.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn message_pages_for(
    ctx: &Ctx,
    actor: &Actor,
    conversation_ids: &[ConversationId],
    page: PageRequest,
) -> Result<HashMap<ConversationId, (Vec<Message>, Pagination)>> {
    let base = scope::messages(actor)
        .filter(message::Column::ConversationId.is_in(conversation_ids.iter().copied()))
        .into_query();
    let parent = |m: &message::Model| ConversationId::from(m.conversation_id);
    pages_of(
        ctx,
        base,
        ("conversation_id", parent),
        "sent_at ASC, id ASC",
        conversation_ids,
        page,
    )
    .await
}
