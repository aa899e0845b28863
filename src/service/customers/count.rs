//! How many customers a filter takes, exactly, without scanning the tenant
//! where it can be helped: a filter on nothing or on one facet (one status,
//! segment, source or tag) reads its counter ([`counts`]); any other filter
//! is counted by the database once per tenant `version` and cached
//! ([`counts::Cache`]), so repeated lists cost one counter read until a
//! customer of the tenant is written. Imports `counts` and `scope` only.

use entity::{customer, customer_count};
use sea_orm::sea_query::{Expr, Func, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, QueryTrait};

use super::filter::CustomerFilter;
use crate::auth::Actor;
use crate::domain::search;
use crate::error::Result;
use crate::service::{counts, scope, Ctx};

impl CustomerFilter {
    /// The one counter that holds this filter's total, if one does.
    fn counter(&self) -> Option<String> {
        if !search::words(self.search.as_deref().unwrap_or_default()).is_empty() {
            return None;
        }
        let tags = self.clean_tags();
        if tags.len() > 1 {
            return None;
        }
        let keys: Vec<String> = [
            self.status.map(|s| counts::facet("status", s.as_str())),
            self.segment.map(|s| counts::facet("segment", s.as_str())),
            self.source.map(|s| counts::facet("source", s.as_str())),
            tags.first().map(|t| counts::tag(t)),
        ]
        .into_iter()
        .flatten()
        .collect();
        match keys.as_slice() {
            [] => Some(counts::ALL.to_owned()),
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// What identifies the filter's hits in the count cache (tenant aside).
    fn cache_key(&self) -> String {
        let words = search::words(self.search.as_deref().unwrap_or_default());
        format!(
            "{:?}",
            (
                self.status.map(|s| s.as_str()),
                self.segment.map(|s| s.as_str()),
                self.source.map(|s| s.as_str()),
                self.clean_tags(),
                words,
            )
        )
    }
}

/// How many of the caller's tenant's customers `filter` takes.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn count(ctx: &Ctx, actor: &Actor, filter: &CustomerFilter) -> Result<u64> {
    Ok(sizes(ctx, actor, filter).await?.hits)
}

/// How many customers a filter takes, and how many the tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub hits: u64,
    pub all: u64,
}

/// How many of the caller's tenant's customers `filter` takes, and how many
/// the tenant has (its counter, read in the same statement as the filter's
/// counter or the tenant's `version`).
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn sizes(ctx: &Ctx, actor: &Actor, filter: &CustomerFilter) -> Result<Sizes> {
    filter.validate()?;
    let keys = size_keys(filter);
    let read = counts::read(&ctx.db, &actor.tenant, &keys).await?;
    let value = |i: usize| read.get(i).copied().unwrap_or(0);
    sizes_from(ctx, actor, filter, &keys, [value(0), value(1)]).await
}

/// The two counters [`sizes`] starts from: the filter's own, or else the
/// tenant's `version` (which dates the cached counts); then the tenant's
/// total.
pub(super) fn size_keys(filter: &CustomerFilter) -> [String; 2] {
    let first = filter
        .counter()
        .unwrap_or_else(|| counts::VERSION.to_owned());
    [first, counts::ALL.to_owned()]
}

/// [`sizes`] from the values of its two counters (`keys`, from
/// [`size_keys`]), read by the caller: a missing counter is 0.
pub(super) async fn sizes_from(
    ctx: &Ctx,
    actor: &Actor,
    filter: &CustomerFilter,
    keys: &[String; 2],
    [first, all]: [i64; 2],
) -> Result<Sizes> {
    let all = all.max(0).unsigned_abs();
    // No counter is named `version`: the first key is the filter's counter
    // unless it is the version.
    if keys[0] != counts::VERSION {
        let hits = first.max(0).unsigned_abs();
        return Ok(Sizes { hits, all });
    }
    let key = cache_key(actor, filter);
    let hits = ctx
        .counts
        .get_or_count(key, first, || count_with_version(ctx, actor, filter))
        .await?;
    Ok(Sizes { hits, all })
}

/// What identifies the filter's hits in the count cache.
fn cache_key(actor: &Actor, filter: &CustomerFilter) -> String {
    format!("{}\n{}", actor.tenant, filter.cache_key())
}

/// How many customers `filter` took when it was last counted, whatever has
/// been written since: a hint of its size, to choose how to read its page
/// (never a total). None when it has not been counted in this process.
pub(super) fn last_counted(ctx: &Ctx, actor: &Actor, filter: &CustomerFilter) -> Option<u64> {
    ctx.counts.hint(&cache_key(actor, filter))
}

/// The filter's count and the tenant's `version`, read in one statement so
/// both come from the same snapshot.
async fn count_with_version(
    ctx: &Ctx,
    actor: &Actor,
    filter: &CustomerFilter,
) -> Result<(i64, u64)> {
    let backend = ctx.db.get_database_backend();
    let version = Func::coalesce([
        SimpleExpr::SubQuery(
            None,
            Box::new(
                scope::counts(actor)
                    .select_only()
                    .column(customer_count::Column::N)
                    .filter(customer_count::Column::Facet.eq(counts::VERSION))
                    .into_query()
                    .into_sub_query_statement(),
            ),
        ),
        Expr::val(0i64).into(),
    ]);
    let row: Option<(i64, i64)> = filter
        .apply(actor, backend, scope::customers(actor))
        .select_only()
        .column_as(SimpleExpr::from(version), "version")
        .column_as(
            Expr::col((customer::Entity, customer::Column::Id)).count(),
            "n",
        )
        .into_tuple()
        .one(&ctx.db)
        .await?;
    let (version, n) = row.unwrap_or_default();
    Ok((version, n.max(0).unsigned_abs()))
}
