//! Reading customers: a filtered, ordered page, one by id or by phone
//! number, a batch by ids, and the details view with recent conversations.
//! Imports `conversations` (never the other way round), `counts`,
//! `customer_rows` and `scope`.

use std::num::NonZeroUsize;
use std::sync::{LazyLock, OnceLock};

use entity::{conversation, customer, customer_phone};
use sea_orm::sea_query::{
    CommonTableExpression, Expr, PostgresQueryBuilder, SimpleExpr, WithClause,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    Select, Statement, Value,
};

use super::count::{last_counted, size_keys, sizes, sizes_from, Sizes};
use super::filter::{self, order, sort_key, CustomerFilter, SearchPath};
use super::view::Customer;
use crate::auth::Actor;
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::domain::ids::CustomerId;
use crate::domain::page::{PageRequest, Pagination};
use crate::domain::search;
use crate::error::{Error, Result};
use crate::service::rows::{self, Trailing};
use crate::service::shapes::Shapes;
use crate::service::{conversations, counts, customer_rows, plans, scope, Columns, Ctx};

/// A list request: filter, page and order.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: CustomerFilter,
    pub page: PageRequest,
    pub sort_by: CustomerSortField,
    pub sort_order: SortOrder,
    /// The columns of what the caller shows of each customer (the rest of
    /// its fields are left blank: [`Columns`]); [`Columns::ALL`] for all.
    pub columns: Columns,
}

/// A page of customers and its pagination. The counters the total comes
/// from are read in the page's statement, beside each row, unless how the
/// page is read depends on the total ([`read_after_count`]): one round trip
/// to the database instead of two (on PostgreSQL four, with the one sqlx's
/// pool makes when it takes each connection back). A filter no counter
/// answers is then counted, or its count found in the cache, as by
/// [`sizes`]; an empty page, which has no row to carry the counters, reads
/// them on their own.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
) -> Result<(Vec<Customer>, Pagination)> {
    let (items, total) = if read_after_count(ctx, query) {
        let sizes = sizes(ctx, actor, &query.filter).await?;
        (read_page(ctx, actor, query, Some(sizes)).await?, sizes.hits)
    } else {
        let keys = size_keys(&query.filter);
        let columns = page_columns(query.columns, query.sort_by);
        let page = page_statement(
            ctx,
            actor,
            query,
            columns,
            None,
            route(ctx, actor, query, None),
        )?;
        let (rows, counters) = counted_columns(ctx, actor, page, columns, &keys).await?;
        let sizes = match counters {
            Some(values) => sizes_from(ctx, actor, &query.filter, &keys, values).await?,
            None => sizes(ctx, actor, &query.filter).await?,
        };
        (rows.into_iter().map(Customer::from).collect(), sizes.hits)
    };
    Ok((items, query.page.pagination(total)))
}

/// A page of customers without its total, for a client that did not ask
/// for one.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn page(ctx: &Ctx, actor: &Actor, query: &ListQuery) -> Result<Vec<Customer>> {
    let backend = ctx.db.get_database_backend();
    // Where the total decides an SQLite search's path (exact and usually
    // cached). Not for PostgreSQL's plan: no total is counted that the
    // client did not ask for.
    let sizes = if query.filter.searches_by_index(backend) {
        Some(sizes(ctx, actor, &query.filter).await?)
    } else {
        None
    };
    read_page(ctx, actor, query, sizes).await
}

/// Whether a list reads its page after the total, which decides how: an
/// SQLite trigram search's path to its hits ([`SearchPath`]), and on
/// PostgreSQL whether a filtered page may be planned once ([`plans`]; the
/// total is read anyway, so waiting for it costs a round trip, not work).
fn read_after_count(ctx: &Ctx, query: &ListQuery) -> bool {
    let backend = ctx.db.get_database_backend();
    match backend {
        DbBackend::Postgres => !query.filter.searches() && query.filter.has_facets(),
        _ => query.filter.searches_by_index(backend),
    }
}

/// The rows a page may walk in a sort index for PostgreSQL to plan it once
/// (see [`plans_once`]).
const WALK_BOUND: u64 = 4_096;

/// Whether PostgreSQL may plan this page once for all its values
/// ([`plans`]): a page without search, whose plan walks a sort index. With
/// no other filter, every value is served as well by that walk. With
/// status, segment, source or tags, the walk passes about `all / hits`
/// rows per row it keeps, which is cheap only when the hits are many: a
/// plan made once for a common tag walked the whole index for a rare one.
/// A page whose walk would pass more than [`WALK_BOUND`] rows is planned
/// for its values each time, as before.
fn plans_once(filter: &CustomerFilter, page: &PageRequest, sizes: Option<Sizes>) -> bool {
    if filter.searches() {
        return false;
    }
    if !filter.has_facets() {
        return true;
    }
    sizes.is_some_and(|s| {
        let walked = (page.offset() + page.limit).saturating_mul(s.all) / s.hits.max(1);
        s.hits > 0 && walked <= WALK_BOUND
    })
}

/// Reads a page; `sizes` are the filter's and the tenant's totals where
/// they decide how ([`read_after_count`]).
async fn read_page(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
    sizes: Option<Sizes>,
) -> Result<Vec<Customer>> {
    let columns = page_columns(query.columns, query.sort_by);
    let route = route(ctx, actor, query, sizes);
    let stmt = page_statement(ctx, actor, query, columns, sizes, route)?;
    let mut rows = read_all(ctx, stmt, columns).await?;
    let short = u64::try_from(rows.len()).unwrap_or(u64::MAX) < query.page.limit;
    if short && route.bound.is_some() {
        // The walk met its bound before the page's end: the hits lie
        // further along the order than their number let expect (or the
        // page is the last). Their trigrams find them wherever they are.
        let route = Route {
            path: indexed_path(ctx, actor, query, sizes),
            bound: None,
        };
        let stmt = page_statement(ctx, actor, query, columns, sizes, route)?;
        rows = read_all(ctx, stmt, columns).await?;
    }
    Ok(rows.into_iter().map(Customer::from).collect())
}

/// How a page reaches its rows: its path to a search's hits, and for a
/// bounded walk ([`SearchPath::ByWalk`]) how many entries it may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    path: SearchPath,
    bound: Option<u64>,
}

/// The route of a page of `query`; `sizes` are the filter's and the
/// tenant's totals where they decide it ([`read_after_count`]).
fn route(ctx: &Ctx, actor: &Actor, query: &ListQuery, sizes: Option<Sizes>) -> Route {
    let backend = ctx.db.get_database_backend();
    let walk = sizes
        .filter(|_| {
            query.filter.searches_by_index(backend) && query.filter.walkable(backend, query.sort_by)
        })
        .and_then(|s| {
            let (offset, limit) = (query.page.offset(), query.page.limit);
            SearchPath::walk_bound(s.hits, s.all, offset, limit).map(|bound| (bound, s.all))
        });
    match walk {
        // A bound past the tenant's end is no bound: the walk is exact.
        Some((bound, all)) => Route {
            path: SearchPath::ByWalk,
            bound: (bound < all).then_some(bound),
        },
        None => Route {
            path: indexed_path(ctx, actor, query, sizes),
            bound: None,
        },
    }
}

/// The path of a page to its hits through an index of the search, not by
/// a walk of the order's ([`route`], and the re-read of a walk that met its
/// bound): read first on PostgreSQL when they were few; on SQLite as
/// [`SearchPath::cheaper`] says where the totals are known.
fn indexed_path(ctx: &Ctx, actor: &Actor, query: &ListQuery, sizes: Option<Sizes>) -> SearchPath {
    let backend = ctx.db.get_database_backend();
    if reads_hits_first(ctx, actor, &query.filter) {
        return SearchPath::HitsFirst;
    }
    match sizes {
        Some(s) if query.filter.searches_by_index(backend) => {
            SearchPath::cheaper(s.hits, s.all, query.page.offset(), query.page.limit)
        }
        _ => SearchPath::ByHits,
    }
}

/// The most hits a search may have had when last counted for its page to
/// be read through its hits ([`hits_first`]). Reading and sorting that many
/// costs about what planning the search for its words costs (0.15–0.3 ms),
/// and a plan made for the words of a search that finds so few reads them
/// the same way, after planning.
const HITS_FIRST_BOUND: u64 = 256;

/// The statement of a page of customers selecting `columns` (those of
/// [`page_columns`], which the caller reads the rows with: [`rows::listed_of`]);
/// `sizes` are the filter's and the tenant's totals where they decide how
/// ([`read_after_count`]).
///
/// A page after the first is a deferred join: the ids of the page are
/// chosen by walking the sort index alone (index-only: the skipped rows are
/// never read), then only those rows are read. On PostgreSQL, a page whose
/// best plan does not depend on its values has its limit and offset written
/// into its text, so that it is planned once ([`plans`]), and a search that
/// found few when last counted reads its hits first ([`hits_first`]).
fn page_statement(
    ctx: &Ctx,
    actor: &Actor,
    query: &ListQuery,
    columns: Columns,
    sizes: Option<Sizes>,
    route: Route,
) -> Result<Statement> {
    query.filter.validate()?;
    let backend = ctx.db.get_database_backend();
    let hits_first = route.path == SearchPath::HitsFirst;
    let plan_once = hits_first || plans_once(&query.filter, &query.page, sizes);
    let words = search::words(query.filter.search.as_deref().unwrap_or_default());
    let shape = PageShape::of(backend, query, &words, columns, route);
    let inputs = page_inputs(actor, backend, query, &words, route);
    Ok(PAGES.statement(shape, &inputs, plan_once, || {
        build_page(actor, backend, query, columns, route)
    }))
}

/// Page statements by their shape ([`Shapes`]): a list's are few (a desk's
/// filters and orders), each a few kilobytes of text.
static PAGES: LazyLock<Shapes<PageShape>> =
    LazyLock::new(|| Shapes::new(NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN)));

/// What decides the text of a page's statement ([`page_statement`]): all of
/// its request but the values it binds ([`page_inputs`]).
#[derive(PartialEq, Eq, Hash)]
struct PageShape {
    /// Whether it is PostgreSQL's (else SQLite's).
    postgres: bool,
    /// Whether it filters by status, segment, source.
    facets: [bool; 3],
    tags: usize,
    /// Of each search word, whether SQLite finds it through its trigram
    /// index ([`filter::by_fts`]).
    words: Vec<bool>,
    sort_by: CustomerSortField,
    sort_order: SortOrder,
    columns: Columns,
    /// Whether it is a page after the first (a deferred join).
    deep: bool,
    path: SearchPath,
    /// Whether its walk has a bound ([`walk_end`]).
    bounded: bool,
}

impl PageShape {
    /// The shape of `query` with its search `words` ([`search::words`]),
    /// read by `route`.
    fn of(
        backend: DbBackend,
        query: &ListQuery,
        words: &[String],
        columns: Columns,
        route: Route,
    ) -> Self {
        let f = &query.filter;
        PageShape {
            postgres: backend == DbBackend::Postgres,
            facets: [f.status.is_some(), f.segment.is_some(), f.source.is_some()],
            tags: f.clean_tags().len(),
            words: words
                .iter()
                .map(|w| filter::by_fts(backend, route.path, w))
                .collect(),
            sort_by: query.sort_by,
            sort_order: query.sort_order,
            columns,
            deep: query.page.offset() > 0,
            path: route.path,
            bounded: route.bound.is_some(),
        }
    }
}

/// The values a page's statement binds, by kind in the order of
/// [`PageShape`]'s fields (which says which are there): the tenant, the
/// status, segment and source, the tags, each search word's value, the
/// limit and the offset, and where a bounded walk ends ([`walk_end`]).
fn page_inputs(
    actor: &Actor,
    backend: DbBackend,
    query: &ListQuery,
    words: &[String],
    route: Route,
) -> Vec<Value> {
    let f = &query.filter;
    let mut inputs: Vec<Value> = vec![actor.tenant.as_str().into()];
    inputs.extend(f.status.map(Into::<Value>::into));
    inputs.extend(f.segment.map(Into::<Value>::into));
    inputs.extend(f.source.map(Into::<Value>::into));
    inputs.extend(f.clean_tags().into_iter().map(Value::from));
    inputs.extend(
        words
            .iter()
            .map(|w| Value::from(filter::search_value(backend, route.path, w))),
    );
    inputs.push(query.page.limit.into());
    if query.page.offset() > 0 {
        inputs.push(query.page.offset().into());
    }
    inputs.extend(route.bound.map(|b| Value::from(b.saturating_sub(1))));
    inputs
}

/// A page's statement as sea-query builds it, its limit and offset bound
/// ([`page_statement`]).
fn build_page(
    actor: &Actor,
    backend: DbBackend,
    query: &ListQuery,
    columns: Columns,
    route: Route,
) -> Statement {
    let path = route.path;
    let mut filtered = query
        .filter
        .apply_via(actor, backend, path, scope::customers(actor));
    if let Some(bound) = route.bound {
        filtered = filtered.filter(walk_end(actor, query.sort_order, bound));
    }
    if path == SearchPath::HitsFirst {
        let mut page = order(customer::Entity::find(), query.sort_by, query.sort_order)
            .limit(query.page.limit);
        if query.page.offset() > 0 {
            page = page.offset(query.page.offset());
        }
        return hits_first(filtered, page, columns);
    }
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
    rows::listed_of(page, columns).build(backend)
}

/// Where a bounded walk of the default order's index ends (SQLite,
/// [`SearchPath::ByWalk`]): at or before the entry `bound` entries in,
/// whose key an index-only walk finds (passing an entry costs it a fifth
/// of what the search walk pays to test one). Should the tenant have fewer
/// entries by the time it reads, no entry is that far and the walk finds
/// nothing: a short page, read again by another path.
fn walk_end(actor: &Actor, dir: SortOrder, bound: u64) -> SimpleExpr {
    let (cmp, order) = match dir {
        SortOrder::Desc => (">=", "DESC"),
        SortOrder::Asc => ("<=", "ASC"),
    };
    Expr::cust_with_values(
        format!(
            r#"("customers"."last_interaction", "customers"."id") {cmp} (SELECT "last_interaction", "id" FROM "customers" WHERE "tenant_id" = ? ORDER BY "last_interaction" {order}, "id" {order} LIMIT 1 OFFSET ?)"#
        ),
        [
            Value::from(actor.tenant.as_str()),
            Value::from(bound.saturating_sub(1)),
        ],
    )
}

/// Whether a PostgreSQL read of `filter`'s customers is to read its hits
/// first ([`hits_first`]): a search through the trigram index (every word
/// of three characters or more) that found at most [`HITS_FIRST_BOUND`]
/// customers when this process last counted it.
pub(super) fn reads_hits_first(ctx: &Ctx, actor: &Actor, filter: &CustomerFilter) -> bool {
    ctx.db.get_database_backend() == DbBackend::Postgres
        && filter.searches_by_trigrams()
        && last_counted(ctx, actor, filter).is_some_and(|n| n <= HITS_FIRST_BOUND)
}

/// A PostgreSQL read of a search that finds few: its `hits` (a select of
/// the tenant's customers with the filter applied by
/// [`SearchPath::HitsFirst`], its words hidden from the planner) read
/// first, through the trigram index, as a materialized common table; then
/// `page` (a select of `customer::Entity` with its order, limit and offset)
/// over them, its limit and offset to be written into its text by the
/// caller. The planner then has one plan to make whatever the words, so it
/// makes it once ([`plans`]): pgbench read a 5-digit phone fragment's page 2.4 times as
/// often this way as planned for its words each call (14,000 against 5,700
/// statements per second, 100,000 customers). Should the words now find
/// many, the page is still exact, only slower: every hit read and sorted.
///
/// The common table is named `customers`, like the table it reads: inside
/// it the name is the table (a common table is not in scope in its own
/// definition), after it the name is the hits, so the page is the same
/// select of the model's columns and order as any other.
pub(super) fn hits_first(
    hits: Select<customer::Entity>,
    page: Select<customer::Entity>,
    columns: Columns,
) -> Statement {
    let cte = CommonTableExpression::new()
        .query(rows::listed_of(hits, columns).into_query())
        .table_name(customer::Entity)
        .materialized(true)
        .to_owned();
    let (sql, values) = rows::listed_of(page, columns)
        .into_query()
        .with(WithClause::new().cte(cte).to_owned())
        .build(PostgresQueryBuilder);
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The customers `q` selects, `columns` of their columns, read by position
/// ([`rows`]); with `plan_once`, its limit and offset are written into its
/// text so that PostgreSQL plans it once ([`plans`]). Cursor windows read
/// their rows here.
pub(super) async fn read_columns(
    ctx: &Ctx,
    q: Select<customer::Entity>,
    columns: Columns,
    plan_once: bool,
) -> Result<Vec<customer::Model>> {
    let stmt = rows::listed_of(q, columns).build(ctx.db.get_database_backend());
    read_all(ctx, planned(stmt, plan_once), columns).await
}

/// The customers of a statement of [`rows::listed_of`] `columns`, as
/// [`read_columns`] reads them.
pub(super) async fn read_all(
    ctx: &Ctx,
    stmt: Statement,
    columns: Columns,
) -> Result<Vec<customer::Model>> {
    Ok(rows::all_of(&ctx.db, stmt, columns).await?)
}

/// The columns a page of customers reads: those of what its caller shows,
/// its id, and its sort key's (the page is ordered on them, a page of hits
/// read first sorts them, and a cursor is made of them).
pub(super) fn page_columns(shown: Columns, sort_by: CustomerSortField) -> Columns {
    shown.and(Columns::of([
        customer::Column::Id,
        sort_key(sort_by).column,
    ]))
}

/// `stmt`, with its limit and offset written into its text when it is to
/// be planned once ([`plans`]).
fn planned(stmt: Statement, plan_once: bool) -> Statement {
    if plan_once {
        plans::limits_inline(stmt)
    } else {
        stmt
    }
}

/// The customers of a page's statement ([`page_statement`]), each row with
/// the values of the tenant's counters `keys` read beside it (the same on
/// every row, from the same snapshot as the rows); the values are none when
/// there are no rows, or when the statement could not take them
/// (`rows::with_columns`).
async fn counted_columns(
    ctx: &Ctx,
    actor: &Actor,
    stmt: Statement,
    columns: Columns,
    keys: &[String; 2],
) -> Result<(Vec<customer::Model>, Option<[i64; 2]>)> {
    let (counters, values) = counts::beside(&actor.tenant, keys);
    match rows::with_columns::<customer::Model>(stmt, columns, counters, values) {
        Ok(stmt) => {
            let read = rows::all_trailing::<customer::Model, 2, _>(&ctx.db, stmt, columns);
            let read = read.await?;
            // A counter not written yet has no row: 0, as `counts::read` says.
            let counters = read
                .first()
                .map(|Trailing(_, values)| values.map(|v| v.unwrap_or(0)));
            Ok((read.into_iter().map(|Trailing(m, _)| m).collect(), counters))
        }
        Err(stmt) => Ok((read_all(ctx, stmt, columns).await?, None)),
    }
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

/// A customer with its five newest conversations ([`find_with_recent`]);
/// NOT_FOUND for an unknown (or another tenant's) customer.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn details(ctx: &Ctx, actor: &Actor, id: CustomerId) -> Result<Details> {
    let (customer, recent_conversations) = find_with_recent(ctx, actor, id, RECENT_CONVERSATIONS)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    Ok(Details {
        customer,
        recent_conversations,
    })
}

/// The customer with this id and its `limit` newest conversations, or none
/// (also for another tenant's), in one statement: one round trip to the
/// database instead of two. On PostgreSQL each statement also costs the
/// pool a second round trip when it takes its connection back (sqlx makes
/// sure the connection still answers), so a details page went from four
/// round trips to two.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn find_with_recent(
    ctx: &Ctx,
    actor: &Actor,
    id: CustomerId,
    limit: u64,
) -> Result<Option<(Customer, Vec<conversations::Conversation>)>> {
    let backend = ctx.db.get_database_backend();
    // Written in, not bound, as for every window of conversations: a bound
    // limit would have PostgreSQL plan the statement on every call
    // (`service::plans`).
    let sql = format!(
        "{}{})",
        with_recent_head(backend),
        limit.min(i64::MAX as u64)
    );
    let (tenant, id) = (actor.tenant.as_str(), uuid::Uuid::from(id));
    let values: [sea_orm::Value; 4] = [tenant.into(), id.into(), tenant.into(), id.into()];
    let rows = ctx
        .db
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut found = None;
    let mut recent = Vec::new();
    for row in &rows {
        match rows::Either::<customer::Model, conversation::Model>::read(row)? {
            rows::Either::First(c) => found = Some(c),
            rows::Either::Second(c) => recent.push(c),
        }
    }
    // Newest first, as the second part of the statement reads them (a
    // compound statement's order is not promised without an outer ORDER BY,
    // which would sort the customer's row among them).
    recent.sort_by_key(|c| std::cmp::Reverse((c.activity_at, c.id)));
    Ok(found.map(|c| {
        let recent = recent
            .into_iter()
            .map(conversations::Conversation::from)
            .collect();
        (Customer::from(c), recent)
    }))
}

/// [`find_with_recent`]'s statement up to its limit: the customer's row,
/// then its newest conversations' rows, the two models' columns side by
/// side with NULL in the other's (`rows::Either`). Values: tenant,
/// customer, tenant, customer. Written once per backend.
fn with_recent_head(backend: DbBackend) -> &'static str {
    static HEAD: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let (slot, params) = match backend {
        DbBackend::Postgres => (&HEAD[0], ["$1", "$2", "$3", "$4"]),
        _ => (&HEAD[1], ["?"; 4]),
    };
    slot.get_or_init(|| {
        use rows::ByPosition;
        let nulls = |n: usize| vec!["NULL"; n].join(", ");
        let customers = customer::Model::column_list();
        let conversations = conversation::Model::column_list();
        let first = format!(
            "SELECT {customers}, {} FROM customers WHERE tenant_id = {} AND id = {}",
            nulls(conversation::Model::columns().len()),
            params[0],
            params[1],
        );
        let second = format!(
            "SELECT {}, {conversations} FROM conversations \
             WHERE tenant_id = {} AND customer_id = {} ORDER BY {} LIMIT ",
            nulls(customer::Model::columns().len()),
            params[2],
            params[3],
            conversations::CONVERSATIONS_NEWEST_FIRST.join(", "),
        );
        // SQLite takes a part with its own ORDER BY and LIMIT only as a
        // subquery; PostgreSQL in parentheses.
        match backend {
            DbBackend::Postgres => format!("{first} UNION ALL ({second}"),
            _ => format!("{first} UNION ALL SELECT * FROM ({second}"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{plans_once, Sizes};
    use crate::domain::page::PageRequest;
    use crate::service::customers::CustomerFilter;

    #[test]
    fn a_page_is_planned_once_only_when_its_walk_is_short_whatever_the_values() {
        let first = PageRequest { page: 1, limit: 20 };
        let sizes = |hits, all| Some(Sizes { hits, all });
        let tagged = CustomerFilter {
            tags: vec!["vip".into()],
            ..Default::default()
        };
        // The whole tenant: a walk from its start, whatever the tenant.
        assert!(plans_once(&CustomerFilter::default(), &first, None));
        // A search's plan depends on how many the word finds.
        let search = CustomerFilter {
            search: Some("maria".into()),
            ..Default::default()
        };
        assert!(!plans_once(&search, &first, sizes(1_000_000, 1_000_000)));
        // A filter: only when its total shows the walk is short.
        assert!(!plans_once(&tagged, &first, None));
        assert!(plans_once(&tagged, &first, sizes(9_469, 1_000_000)));
        assert!(!plans_once(&tagged, &first, sizes(30, 1_000_000)));
        assert!(!plans_once(&tagged, &first, sizes(0, 10)));
        let page_200 = PageRequest {
            page: 200,
            limit: 20,
        };
        assert!(!plans_once(&tagged, &page_200, sizes(9_469, 1_000_000)));
    }

    /// Two requests of each shape a desk's lists take, with other values:
    /// the first's statement is kept, the second's only bound, and it is
    /// the statement sea-query builds for it.
    #[test]
    fn a_page_of_a_shape_seen_binds_its_values_into_the_text_kept() {
        use super::{build_page, page_inputs, ListQuery, PageShape, Route, SearchPath};
        use crate::auth::{Actor, Role};
        use crate::domain::customer::{CustomerSegment, CustomerSource};
        use crate::domain::customer::{CustomerSortField, CustomerStatus, SortOrder};
        use crate::service::shapes::Shapes;
        use crate::service::Columns;
        use sea_orm::DbBackend;
        use std::num::NonZeroUsize;

        let actor = |tenant: &str| Actor {
            agent: "a1".into(),
            role: Role::Agent,
            tenant: tenant.into(),
        };
        let query = |filter: CustomerFilter, page| ListQuery {
            filter,
            page: PageRequest { page, limit: 20 },
            sort_by: CustomerSortField::LastInteraction,
            sort_order: SortOrder::Desc,
            columns: Columns::ALL,
        };
        let words = |q: &ListQuery| {
            crate::domain::search::words(q.filter.search.as_deref().unwrap_or_default())
        };
        let search = |s: &str| CustomerFilter {
            search: Some(s.into()),
            ..Default::default()
        };
        let faceted = |status, segment, source, tags: &[&str]| CustomerFilter {
            status: Some(status),
            segment: Some(segment),
            source: Some(source),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        };
        let pairs = [
            (
                query(CustomerFilter::default(), 1),
                query(CustomerFilter::default(), 1),
            ),
            (
                query(CustomerFilter::default(), 200),
                query(CustomerFilter::default(), 7),
            ),
            (
                query(
                    faceted(
                        CustomerStatus::Active,
                        CustomerSegment::Vip,
                        CustomerSource::Whatsapp,
                        &["premium", "loyal"],
                    ),
                    1,
                ),
                query(
                    faceted(
                        CustomerStatus::Inactive,
                        CustomerSegment::Regular,
                        CustomerSource::Referral,
                        &["x", "y"],
                    ),
                    1,
                ),
            ),
            (query(search("john"), 1), query(search("maría"), 1)),
            (query(search("55512"), 3), query(search("12345"), 2)),
            (query(search("jo smith"), 1), query(search("an lee"), 1)),
        ];
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let route = |path| Route { path, bound: None };
            let walk = |bound: u64| Route {
                path: SearchPath::ByWalk,
                bound: Some(bound),
            };
            let routes = [
                [route(SearchPath::ByHits); 2],
                [route(SearchPath::BySort); 2],
                [route(SearchPath::HitsFirst); 2],
                [route(SearchPath::ByWalk); 2],
                [walk(1_840), walk(900)],
            ];
            for [one, other] in routes {
                let path = one.path;
                if backend == DbBackend::Sqlite && path == SearchPath::HitsFirst
                    || backend == DbBackend::Postgres && path == SearchPath::ByWalk
                {
                    continue;
                }
                for (first, second) in &pairs {
                    let shapes = Shapes::new(NonZeroUsize::MIN);
                    for (q, tenant, route) in [(first, "acme", one), (second, "globex", other)] {
                        let actor = actor(tenant);
                        let words = words(q);
                        let shape = PageShape::of(backend, q, &words, Columns::ALL, route);
                        let stmt = shapes.statement(
                            shape,
                            &page_inputs(&actor, backend, q, &words, route),
                            false,
                            || build_page(&actor, backend, q, Columns::ALL, route),
                        );
                        assert_eq!(stmt, build_page(&actor, backend, q, Columns::ALL, route));
                    }
                    let shape = PageShape::of(backend, second, &words(second), Columns::ALL, other);
                    assert!(shapes.is_kept(&shape), "{backend:?} {path:?} {second:?}");
                }
            }
        }
    }
}
