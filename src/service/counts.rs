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
//! Imports the crate's leaf `sync` only. Its reads are one-line SQL texts
//! that filter by `tenant_id` themselves ([`read`], [`beside`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use entity::{customer, customer_count};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Set, Statement};

use crate::error::Result;
use crate::sync::lock;

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

/// Two of a tenant's counters as two scalar subqueries, for a statement to
/// read beside its rows ([`read`] in another statement's clothes): SQL text
/// with `?` placeholders, and the values they take. A counter never
/// written is NULL there, where [`read`] says 0.
pub fn beside(tenant: &str, keys: &[String; 2]) -> (&'static str, [sea_orm::Value; 4]) {
    (
        "(SELECT n FROM customer_counts WHERE tenant_id = ? AND facet = ?), \
         (SELECT n FROM customer_counts WHERE tenant_id = ? AND facet = ?)",
        [tenant, &keys[0], tenant, &keys[1]].map(sea_orm::Value::from),
    )
}

/// The counters `keys` of a tenant, in the order asked; 0 for a counter never written.
pub async fn read<C: ConnectionTrait>(db: &C, tenant: &str, keys: &[String]) -> Result<Vec<i64>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let values: Vec<sea_orm::Value> = std::iter::once(tenant.into())
        .chain(keys.iter().map(|k| k.as_str().into()))
        .collect();
    let rows = db
        .query_all(Statement::from_sql_and_values(
            backend,
            read_sql(backend, keys.len()),
            values,
        ))
        .await?;
    let found = rows
        .iter()
        .map(|row| Ok((row.try_get_by_index::<String>(0)?, row.try_get_by_index(1)?)))
        .collect::<std::result::Result<Vec<(String, i64)>, sea_orm::DbErr>>()?;
    Ok(keys
        .iter()
        .map(|k| found.iter().find(|(f, _)| f == k).map_or(0, |(_, n)| *n))
        .collect())
}

/// [`read`]'s statement for `keys` counters, written as text: sea-query
/// took some 30,000 instructions to build this one-line statement, a fifth
/// of the dashboard's whole request (`callgrind`, `bench/RESULTS.md`).
fn read_sql(backend: DbBackend, keys: usize) -> String {
    let builder = backend.get_query_builder();
    // `$1, $2, ...` on PostgreSQL, `?` on SQLite: the backend's own marks.
    let (mark, numbered) = builder.placeholder();
    let param = |i: usize| {
        if numbered {
            format!("{mark}{i}")
        } else {
            mark.to_owned()
        }
    };
    let facets: Vec<String> = (2..keys + 2).map(param).collect();
    format!(
        "SELECT facet, n FROM customer_counts WHERE tenant_id = {} AND facet IN ({})",
        param(1),
        facets.join(", ")
    )
}

/// Filtered counts no single counter answers, each with the tenant `version`
/// it was counted at: valid while the version is unchanged, since every
/// transaction that changes a customer row bumps it. Bounded in entries,
/// least recently used dropped first; per process, and safe across
/// processes because the version is read from the database.
///
/// One count per key at a time ([`Cache::get_or_count`]): requests that miss
/// together wait for the first one's count instead of each counting, so a
/// new filter under load costs one count, not one per connection (32
/// concurrent counts of one filter on a million customers exhausted the
/// pool).
#[derive(Debug)]
pub struct Cache {
    entries: Mutex<lru::LruCache<String, (i64, u64)>>,
    /// Keys being counted now, each with the lock its counters take turns on.
    counting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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
            counting: Mutex::new(HashMap::new()),
        }
    }
}

impl Cache {
    /// The count under `key` if it was counted at `version`.
    fn get(&self, key: &str, version: i64) -> Option<u64> {
        match lock(&self.entries).get(key) {
            Some((v, n)) if *v == version => Some(*n),
            _ => None,
        }
    }

    /// The count last kept under `key`, at whatever version: a hint of how
    /// many a filter takes (to choose how to read its page), never a total.
    pub fn hint(&self, key: &str) -> Option<u64> {
        lock(&self.entries).peek(key).map(|(_, n)| *n)
    }

    /// Keeps a count made at `version`.
    fn put(&self, key: String, version: i64, n: u64) {
        lock(&self.entries).put(key, (version, n));
    }

    /// The count under `key` at `version`, from the cache or else from
    /// `count` (which answers the version it counted at and the count). At
    /// most one `count` per key runs at a time: a caller that finds one
    /// running waits for it, then takes its result if it was made at the
    /// same version, or counts in turn.
    pub async fn get_or_count<F, Fut>(&self, key: String, version: i64, count: F) -> Result<u64>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(i64, u64)>>,
    {
        if let Some(n) = self.get(&key, version) {
            return Ok(n);
        }
        let turn = Turn::take(self, key).await;
        if let Some(n) = self.get(&turn.key, version) {
            return Ok(n);
        }
        let (counted_at, n) = count().await?;
        self.put(turn.key.clone(), counted_at, n);
        Ok(n)
    }

    /// Keys being counted now (for tests).
    #[cfg(test)]
    fn counting(&self) -> usize {
        lock(&self.counting).len()
    }
}

/// A caller's turn to count one key; dropping it (done, failed or
/// cancelled) lets the next waiter in, and forgets the key's lock when no
/// one else holds it.
struct Turn<'a> {
    cache: &'a Cache,
    key: String,
    gate: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<'a> Turn<'a> {
    async fn take(cache: &'a Cache, key: String) -> Turn<'a> {
        let gate = lock(&cache.counting)
            .entry(key.clone())
            .or_default()
            .clone();
        // Made before the wait, so that a caller cancelled while waiting
        // still forgets the key's lock (its drop runs).
        let mut turn = Turn {
            cache,
            key,
            gate,
            guard: None,
        };
        turn.guard = Some(turn.gate.clone().lock_owned().await);
        turn
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.guard = None;
        let mut counting = lock(&self.cache.counting);
        // Held by the map, this turn and (if any) callers waiting: with
        // none waiting, the key's lock goes.
        if counting
            .get(&self.key)
            .is_some_and(|g| Arc::ptr_eq(g, &self.gate) && Arc::strong_count(g) <= 2)
        {
            counting.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{CustomerSegment, CustomerStatus};
    use crate::service::ledger;
    use chrono::TimeZone;
    use entity::json::StringList;

    /// A count that takes a while and says how often it ran.
    async fn slow_count(
        runs: &std::sync::atomic::AtomicUsize,
        at: i64,
        n: u64,
    ) -> Result<(i64, u64)> {
        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok((at, n))
    }

    #[tokio::test]
    async fn misses_at_once_count_once() {
        let cache = Cache::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let answers = futures::future::join_all(
            (0..16).map(|_| cache.get_or_count("acme\nvip".into(), 7, || slow_count(&runs, 7, 42))),
        )
        .await;
        assert!(answers.iter().all(|a| matches!(a, Ok(42))), "{answers:?}");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(cache.get("acme\nvip", 7), Some(42));
        assert_eq!(cache.counting(), 0, "no lock is kept for a key counted");
    }

    #[tokio::test]
    async fn a_hint_outlives_its_version_and_is_never_an_answer() {
        let cache = Cache::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        assert_eq!(cache.hint("k"), None);
        let at7 = cache.get_or_count("k".into(), 7, || slow_count(&runs, 7, 3));
        assert_eq!(at7.await.ok(), Some(3));
        // Written since: the count is counted again, the hint still says 3.
        assert_eq!(cache.get("k", 8), None);
        assert_eq!(cache.hint("k"), Some(3));
        let at8 = cache.get_or_count("k".into(), 8, || slow_count(&runs, 8, 400));
        assert_eq!(at8.await.ok(), Some(400));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(cache.hint("k"), Some(400));
        assert_eq!(cache.hint("other"), None);
    }

    #[tokio::test]
    async fn a_waiter_at_another_version_counts_again() {
        let cache = Cache::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let (old, new) = tokio::join!(
            cache.get_or_count("k".into(), 7, || slow_count(&runs, 7, 1)),
            cache.get_or_count("k".into(), 8, || slow_count(&runs, 8, 2)),
        );
        assert_eq!((old.ok(), new.ok()), (Some(1), Some(2)));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(cache.counting(), 0);
    }

    #[tokio::test]
    async fn a_failed_count_lets_the_next_caller_count() {
        let cache = Cache::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let (failed, counted) = tokio::join!(
            cache.get_or_count("k".into(), 7, || async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Err(crate::error::Error::invalid("search", "no"))
            }),
            cache.get_or_count("k".into(), 7, || slow_count(&runs, 7, 3)),
        );
        assert!(failed.is_err());
        assert_eq!(counted.ok(), Some(3));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(cache.counting(), 0);
    }

    #[tokio::test]
    async fn a_caller_cancelled_while_waiting_leaves_no_lock_behind() {
        let cache = Cache::default();
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let first = cache.get_or_count("k".into(), 7, || slow_count(&runs, 7, 5));
        // The second waits behind the first and is dropped before its turn.
        let second = cache.get_or_count("k".into(), 7, || slow_count(&runs, 7, 6));
        let (first, gave_up) = tokio::join!(first, async {
            tokio::time::timeout(std::time::Duration::from_millis(10), second).await
        });
        assert_eq!(first.ok(), Some(5));
        assert!(gave_up.is_err(), "the waiter was cancelled");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(cache.counting(), 0);
    }

    #[test]
    fn counters_are_read_by_one_statement_per_backend() {
        assert_eq!(
            read_sql(DbBackend::Postgres, 3),
            "SELECT facet, n FROM customer_counts WHERE tenant_id = $1 AND facet IN ($2, $3, $4)"
        );
        assert_eq!(
            read_sql(DbBackend::Sqlite, 1),
            "SELECT facet, n FROM customer_counts WHERE tenant_id = ? AND facet IN (?)"
        );
    }

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
