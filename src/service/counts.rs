//! Per-tenant counters of customers, kept by the write transactions, so
//! totals and the dashboard read a few rows instead of scanning the tenant.
//!
//! Each customer row counts once under each of its facets: `all`,
//! `status:<s>`, `segment:<s>`, `source:<s>`, `blocked` (when blocked),
//! `tag:<t>` per tag and `created:<YYYY-MM>` (UTC). A write transaction
//! collects what it added, removed and changed in a [`Tally`] and writes the
//! sums just before its commit, in the same transaction, so a counter and the
//! rows it counts are committed together or not at all.
//!
//! The `version` row counts instead the transactions that changed customer
//! rows (any field: a name change moves a search's hits). Filtered counts
//! that no single counter answers are cached keyed on it
//! (`customers::count`); message and conversation writes change statistics
//! only, never what a filter selects, so they leave it alone.
//!
//! Every writer bumps `version` first and the other counters after it, in
//! key order, so on PostgreSQL the `version` row orders the counter writes
//! of a tenant: no two writers deadlock on counters, and a recount holding
//! it sees every writer before or after it, never halfway.
//!
//! Imports `scope` only.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use entity::{customer, customer_count};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::scope;

use crate::error::Result;

/// Every customer of the tenant.
pub const ALL: &str = "all";
/// Blocked customers.
pub const BLOCKED: &str = "blocked";
/// Customer writes so far (not a count of customers).
pub const VERSION: &str = "version";

/// The counter of one status, segment or source spelling (`status`, `active`).
pub fn facet(kind: &str, value: &str) -> String {
    format!("{kind}:{value}")
}

/// The counter of customers with a tag.
pub fn tag(tag: &str) -> String {
    facet("tag", tag)
}

/// The counter of customers created in the month (UTC) of `at`.
pub fn created(at: DateTime<Utc>) -> String {
    facet("created", &at.format("%Y-%m").to_string())
}

/// The counters one customer row counts under.
pub fn facets(m: &customer::Model) -> Vec<String> {
    let mut keys = vec![
        ALL.to_owned(),
        facet("status", m.status.as_str()),
        facet("segment", m.segment.as_str()),
        facet("source", m.source.as_str()),
        created(m.created_at),
    ];
    if m.is_blocked {
        keys.push(BLOCKED.to_owned());
    }
    let mut tags: Vec<&String> = m.tags.0.iter().collect();
    tags.sort();
    tags.dedup();
    keys.extend(tags.into_iter().map(|t| tag(t)));
    keys
}

/// What one transaction did to its tenants' customers, written by
/// [`Tally::write`] before the commit.
#[derive(Debug, Default)]
pub struct Tally {
    /// Net change per `(tenant, counter)`.
    deltas: BTreeMap<(String, String), i64>,
    /// Tenants whose customer rows changed (their `version` is bumped).
    touched: BTreeMap<String, ()>,
}

impl Tally {
    fn shift(&mut self, m: &customer::Model, by: i64) {
        self.touched.insert(m.tenant_id.clone(), ());
        for key in facets(m) {
            *self.deltas.entry((m.tenant_id.clone(), key)).or_default() += by;
        }
    }

    /// Marks a tenant's customers as written (its `version` is bumped) without
    /// changing a counter.
    pub fn touch(&mut self, tenant: &str) {
        self.touched.insert(tenant.to_owned(), ());
    }

    /// A customer row was inserted.
    pub fn added(&mut self, m: &customer::Model) {
        self.shift(m, 1);
    }

    /// A customer row was deleted.
    pub fn removed(&mut self, m: &customer::Model) {
        self.shift(m, -1);
    }

    /// A customer row changed from `old` to `new`.
    pub fn changed(&mut self, old: &customer::Model, new: &customer::Model) {
        self.shift(old, -1);
        self.shift(new, 1);
    }

    /// Writes the sums: each touched tenant's `version` first, then its
    /// counters in key order. Call it last in the transaction.
    pub async fn write<C: ConnectionTrait>(self, db: &C) -> Result<()> {
        for tenant in self.touched.keys() {
            add(db, vec![(tenant.clone(), VERSION.to_owned(), 1)]).await?;
        }
        let rows: Vec<(String, String, i64)> = self
            .deltas
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .map(|((tenant, key), n)| (tenant, key, n))
            .collect();
        // One statement per chunk, under both backends' parameter limits.
        for chunk in rows.chunks(5000) {
            add(db, chunk.to_vec()).await?;
        }
        Ok(())
    }
}

/// Adds `n` to each `(tenant, counter)`, creating missing counters.
async fn add<C: ConnectionTrait>(db: &C, rows: Vec<(String, String, i64)>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows
        .into_iter()
        .map(|(tenant_id, facet, n)| customer_count::ActiveModel {
            tenant_id: Set(tenant_id),
            facet: Set(facet),
            n: Set(n),
        });
    customer_count::Entity::insert_many(models)
        .on_conflict(
            OnConflict::columns([
                customer_count::Column::TenantId,
                customer_count::Column::Facet,
            ])
            .value(
                customer_count::Column::N,
                Expr::cust("\"customer_counts\".\"n\" + \"excluded\".\"n\""),
            )
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The counters `keys` of a tenant, in the order asked; 0 for a counter never written.
pub async fn read<C: ConnectionTrait>(db: &C, tenant: &str, keys: &[String]) -> Result<Vec<i64>> {
    let rows: Vec<(String, i64)> = scope::counts_in(tenant)
        .select_only()
        .column(customer_count::Column::Facet)
        .column(customer_count::Column::N)
        .filter(customer_count::Column::Facet.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    let found: BTreeMap<String, i64> = rows.into_iter().collect();
    Ok(keys
        .iter()
        .map(|k| found.get(k).copied().unwrap_or(0))
        .collect())
}

/// One counter of a tenant; 0 when never written.
pub async fn read_one<C: ConnectionTrait>(db: &C, tenant: &str, key: &str) -> Result<i64> {
    Ok(read(db, tenant, &[key.to_owned()])
        .await?
        .first()
        .copied()
        .unwrap_or(0))
}

/// Filtered counts no single counter answers, each with the tenant `version`
/// it was counted at: valid while the version is unchanged, since every
/// transaction that changes a customer row bumps it. Bounded in entries,
/// least recently used dropped first; per process, and safe across
/// processes because the version is read from the database.
#[derive(Debug)]
pub struct Cache {
    entries: Mutex<lru::LruCache<String, (i64, u64)>>,
}

/// Filtered counts one process keeps.
const CACHED_COUNTS: NonZeroUsize = match NonZeroUsize::new(10_000) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

impl Default for Cache {
    fn default() -> Self {
        Self {
            entries: Mutex::new(lru::LruCache::new(CACHED_COUNTS)),
        }
    }
}

impl Cache {
    fn entries(&self) -> std::sync::MutexGuard<'_, lru::LruCache<String, (i64, u64)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The count under `key` if it was counted at `version`.
    pub fn get(&self, key: &str, version: i64) -> Option<u64> {
        match self.entries().get(key) {
            Some((v, n)) if *v == version => Some(*n),
            _ => None,
        }
    }

    /// Keeps a count made at `version`.
    pub fn put(&self, key: String, version: i64, n: u64) {
        self.entries().put(key, (version, n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{CustomerSegment, CustomerStatus};
    use crate::service::ledger;
    use chrono::TimeZone;
    use entity::json::StringList;

    fn customer(tags: &[&str], blocked: bool) -> customer::Model {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 9, 10, 0, 0)
            .single()
            .expect("a time");
        customer::Model {
            tags: StringList(tags.iter().map(|t| (*t).to_owned()).collect()),
            is_blocked: blocked,
            status: if blocked {
                CustomerStatus::Blocked
            } else {
                CustomerStatus::Active
            },
            segment: CustomerSegment::Vip,
            ..ledger::new_customer("t", uuid::Uuid::nil(), at)
        }
    }

    #[test]
    fn a_row_counts_once_under_each_of_its_facets() {
        let keys = facets(&customer(&["b", "a"], true));
        assert_eq!(
            keys,
            [
                "all",
                "status:blocked",
                "segment:vip",
                "source:whatsapp",
                "created:2026-03",
                "blocked",
                "tag:a",
                "tag:b"
            ]
        );
    }

    #[test]
    fn a_change_counts_only_what_moved_and_touches_the_version() {
        let mut tally = Tally::default();
        let old = customer(&["a", "b"], false);
        let new = customer(&["b", "c"], true);
        tally.changed(&old, &new);
        let moved: BTreeMap<&str, i64> = tally
            .deltas
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|((_, k), n)| (k.as_str(), *n))
            .collect();
        assert_eq!(
            moved,
            BTreeMap::from([
                ("blocked", 1),
                ("status:active", -1),
                ("status:blocked", 1),
                ("tag:a", -1),
                ("tag:c", 1),
            ])
        );
        assert!(tally.touched.contains_key("t"));
    }
}
