//! Reading conversations and messages: newest first, singly, by page, or
//! batched for DataLoaders (one statement for any number of parents).

use std::collections::HashMap;

use entity::{conversation, message};
use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement,
};
use uuid::Uuid;

use super::view::{Conversation, Message};
use crate::auth::Actor;
use crate::domain::conversation::ConversationStatus;
use crate::domain::ids::{ConversationId, CustomerId};
use crate::domain::page::{PageRequest, Pagination};
use crate::error::{Error, Result};
use crate::service::rows::{self, ByPosition};
use crate::service::{customer_rows, scope, Columns, Ctx};

/// The contract's "newest first": by last message (or creation) time, then id.
fn newest_first(q: sea_orm::Select<conversation::Entity>) -> sea_orm::Select<conversation::Entity> {
    q.order_by_desc(conversation::Column::ActivityAt)
        .order_by_desc(conversation::Column::Id)
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

/// What [`per_parent`] reads: children of `table` by their `parent`
/// column, in `order` (columns with their direction, the order of an index
/// led by `tenant_id, parent`), optionally only those whose `column` equals
/// a value.
struct Children {
    table: &'static str,
    parent: &'static str,
    order: &'static [&'static str],
    only: Option<(&'static str, sea_orm::Value)>,
}

/// How [`per_parent_statement`] answers the children's columns: as rows
/// (this select list), or, on SQLite, as one JSON array of them all (each
/// row this `json_array`: [`rows::all_of_json`]). Fifty customers' five
/// conversations each were 250 rows of eight values, each value copied by
/// sqlx on the connection's thread and freed on the runtime's, and each row
/// handed between the two.
enum Listed {
    Rows(std::borrow::Cow<'static, str>),
    Json(String),
}

/// [`newest_first`] as SQL text, for statements written by hand.
pub const CONVERSATIONS_NEWEST_FIRST: &[&str] = &["activity_at DESC", "id DESC"];
const MESSAGES_OLDEST_FIRST: &[&str] = &["sent_at ASC", "id ASC"];

/// The statement behind [`per_parent`]: each parent's slice is a subquery
/// of its own, `WHERE tenant_id = ? AND parent = ? ORDER BY .. LIMIT ..
/// OFFSET ..`, which an index led by `(tenant_id, parent, order..)` serves
/// by reading only the rows it returns, however many children a parent has
/// (a window function over all the parents' children would number every
/// one of them). PostgreSQL runs the subquery per parent as a `LATERAL`
/// join; SQLite, which has no `LATERAL`, as a correlated subquery giving the
/// rowids to fetch. Rows come grouped by parent, each group in `order`
/// (on SQLite with many parents, as the elements of one JSON array:
/// [`Listed`]).
fn per_parent_statement(
    backend: DbBackend,
    tenant: &str,
    listed: &Listed,
    children: &Children,
    parents: &[Uuid],
    offset: u64,
    limit: u64,
) -> Statement {
    let Children {
        table,
        parent,
        order,
        only,
    } = children;
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(parents.len() + 4);
    let mut bind = |value: sea_orm::Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    // Placeholders are made in the order they appear in the text, so `?`
    // (SQLite) and `$n` (PostgreSQL) bind the same list.
    let one = match parents {
        [only] => Some(*only),
        _ => None,
    };
    let list: Vec<String> = match one {
        Some(_) => Vec::new(),
        None => parents
            .iter()
            .map(|id| format!("({})", bind((*id).into())))
            .collect(),
    };
    let list = list.join(", ");
    let tenant_is = bind(tenant.into());
    let parent_is = match one {
        Some(id) => bind(id.into()),
        None => "p.parent".to_owned(),
    };
    let mut slice = format!("WHERE tenant_id = {tenant_is} AND {parent} = {parent_is}");
    if let Some((column, value)) = only {
        slice.push_str(&format!(" AND {column} = {}", bind(value.clone())));
    }
    let inner_order = order.join(", ");
    // Written in, not bound: each slice walks its parent's index whatever
    // the values, and a bound limit would have PostgreSQL plan the
    // statement on every call (`service::plans`).
    let (limit, offset) = (limit.min(i64::MAX as u64), offset.min(i64::MAX as u64));
    slice.push_str(&format!(
        " ORDER BY {inner_order} LIMIT {limit} OFFSET {offset}"
    ));
    let outer_order: Vec<String> = std::iter::once(format!("t.{parent}"))
        .chain(order.iter().map(|o| format!("t.{o}")))
        .collect();
    let outer_order = outer_order.join(", ");
    // The model's columns in its order, not `*` (the table's order), so
    // that the rows are read by position (`service::rows`).
    let sql = match (listed, backend, one) {
        // One parent (a customer's details): its slice is the statement.
        (Listed::Rows(columns), _, Some(_)) => format!("SELECT {columns} FROM {table} {slice}"),
        (Listed::Rows(columns), DbBackend::Postgres, None) => format!(
            "SELECT t.* FROM (VALUES {list}) AS p (parent) \
             CROSS JOIN LATERAL (SELECT {columns} FROM {table} {slice}) AS t \
             ORDER BY {outer_order}"
        ),
        // `p` has one column, `parent`, which no child table has: the
        // children's columns need no `t.` (SQLite would refuse an
        // ambiguous name).
        (Listed::Rows(columns), _, None) => format!(
            "WITH p (parent) AS (VALUES {list}) \
             SELECT {columns} FROM p JOIN {table} AS t \
             ON t.rowid IN (SELECT rowid FROM {table} {slice}) \
             ORDER BY {outer_order}"
        ),
        // The same rows, in the same order, as one value.
        (Listed::Json(array), ..) => format!(
            "WITH p (parent) AS (VALUES {list}) \
             SELECT json_group_array({array} ORDER BY {outer_order}) FROM p JOIN {table} AS t \
             ON t.rowid IN (SELECT rowid FROM {table} {slice})"
        ),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Rows `offset+1 ..= offset+limit` of each parent's children (see
/// [`per_parent_statement`]), in one statement for any number of parents,
/// grouped by parent; a parent without any is absent.
/// `columns` are the children's columns read (the others left blank:
/// [`Columns`]): at least the parent's and the order's.
async fn per_parent<M, K>(
    ctx: &Ctx,
    actor: &Actor,
    (children, columns): (&Children, Columns),
    parents: &[K],
    (offset, limit): (u64, u64),
    parent_of: impl Fn(&M) -> K,
) -> Result<HashMap<K, Vec<M>>>
where
    M: ByPosition,
    K: Copy + std::hash::Hash + Eq,
    Uuid: From<K>,
{
    let mut out: HashMap<K, Vec<M>> = HashMap::new();
    if parents.is_empty() || limit == 0 {
        return Ok(out);
    }
    // A parent listed twice would have its rows twice.
    let mut ids: Vec<Uuid> = parents.iter().map(|k| Uuid::from(*k)).collect();
    ids.sort_unstable();
    ids.dedup();
    let backend = ctx.db.get_database_backend();
    // SQLite answers the rows of many parents as one value ([`Listed`]).
    let listed = match backend {
        DbBackend::Sqlite if ids.len() > 1 => Listed::Json(rows::json_array_of::<M>(columns)),
        _ => Listed::Rows(rows::column_list_of::<M>(columns)),
    };
    let stmt = per_parent_statement(
        backend,
        &actor.tenant,
        &listed,
        children,
        &ids,
        offset,
        limit,
    );
    let read = match listed {
        Listed::Json(_) => rows::all_of_json::<M, _>(&ctx.db, stmt, columns).await?,
        Listed::Rows(_) => rows::all_of::<M, _>(&ctx.db, stmt, columns).await?,
    };
    // Sized for the rows of each parent, so that none grows row by row.
    let each = usize::try_from(limit).unwrap_or(usize::MAX).min(16);
    out.reserve(ids.len());
    for row in read {
        out.entry(parent_of(&row))
            .or_insert_with(|| Vec::with_capacity(each))
            .push(row);
    }
    Ok(out)
}

/// The caller's conversations of these customers (with one status), as a
/// statement to count.
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

/// A customer's conversations (with one status), newest first.
fn conversations_by_customer(status: Option<ConversationStatus>) -> Children {
    Children {
        table: "conversations",
        parent: "customer_id",
        order: CONVERSATIONS_NEWEST_FIRST,
        only: status.map(|s| ("status", s.into())),
    }
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

/// The `limit` newest conversations of each customer, in one statement that
/// reads only those, and of them only the columns `shown` (the columns of
/// what the caller shows: [`columns_of`]) and those the statement orders on.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn recent_for(
    ctx: &Ctx,
    actor: &Actor,
    customer_ids: &[CustomerId],
    limit: u64,
    shown: Columns,
) -> Result<HashMap<CustomerId, Vec<Conversation>>> {
    use conversation::Column::{ActivityAt, CustomerId as Parent, Id};
    let columns = shown.and(Columns::of([Id, Parent, ActivityAt]));
    let rows = per_parent(
        ctx,
        actor,
        (&conversations_by_customer(None), columns),
        customer_ids,
        (0, limit),
        |m: &conversation::Model| CustomerId::from(m.customer_id),
    )
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
    let totals = counts(
        ctx,
        conversations_of(actor, customer_ids, status),
        "customer_id",
    );
    let children = conversations_by_customer(status);
    let rows = per_parent(
        ctx,
        actor,
        (&children, Columns::ALL),
        customer_ids,
        (page.offset(), page.limit),
        |m: &conversation::Model| CustomerId::from(m.customer_id),
    );
    let (totals, rows) = tokio::try_join!(totals, rows)?;
    Ok(paged(customer_ids, page, &totals, rows))
}

/// Each parent's page of `rows` with its total.
fn paged<K, M, T>(
    parents: &[K],
    page: PageRequest,
    totals: &HashMap<Uuid, u64>,
    mut rows: HashMap<K, Vec<M>>,
) -> HashMap<K, (Vec<T>, Pagination)>
where
    K: Copy + std::hash::Hash + Eq,
    Uuid: From<K>,
    T: From<M>,
{
    parents
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
        .collect()
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
    let totals = counts(ctx, base, "conversation_id");
    let children = Children {
        table: "messages",
        parent: "conversation_id",
        order: MESSAGES_OLDEST_FIRST,
        only: None,
    };
    let rows = per_parent(
        ctx,
        actor,
        (&children, Columns::ALL),
        conversation_ids,
        (page.offset(), page.limit),
        |m: &message::Model| ConversationId::from(m.conversation_id),
    );
    let (totals, rows) = tokio::try_join!(totals, rows)?;
    Ok(paged(conversation_ids, page, &totals, rows))
}
