//! Which customers a list, connection or export takes, and in what order:
//! the filter (status, segment, source, tags, search words) and the one
//! table of sort keys that both page ordering and keyset paging read.
//! Imports `scope` only.

use entity::{customer, customer_tag};
use sea_orm::sea_query::{Expr, LikeExpr, NullOrdering, SimpleExpr};
use sea_orm::{
    ColumnTrait, DbBackend, Order, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};

use crate::auth::Actor;
use crate::domain::customer::{
    check_text, CustomerSegment, CustomerSortField, CustomerSource, CustomerStatus, Errors,
    SortOrder,
};
use crate::domain::search;
use crate::error::{Error, Result};
use crate::service::scope;

/// Which customers a list or export takes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerFilter {
    pub search: Option<String>,
    pub status: Option<CustomerStatus>,
    pub segment: Option<CustomerSegment>,
    pub source: Option<CustomerSource>,
    /// Customers with ANY of these tags.
    pub tags: Vec<String>,
}

/// Longest search string accepted.
const MAX_SEARCH_CHARS: usize = 200;
/// Most tags one filter may name.
const MAX_FILTER_TAGS: usize = 100;

impl CustomerFilter {
    /// Checks the filter's free-form parts.
    pub fn validate(&self) -> Result<()> {
        let mut e = Errors::default();
        if let Some(search) = &self.search {
            check_text(&mut e, "search", search, MAX_SEARCH_CHARS);
        }
        if self.tags.len() > MAX_FILTER_TAGS {
            e.push("tags", format!("at most {MAX_FILTER_TAGS} tags"));
        }
        for tag in &self.tags {
            check_text(&mut e, "tags", tag, 1000);
        }
        if e.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(e.0))
        }
    }

    /// The filter's tags as it applies them: trimmed, without empty ones,
    /// sorted, each once.
    pub(super) fn clean_tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> = self
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// Whether the filter searches (has a word to find).
    pub(super) fn searches(&self) -> bool {
        !search::words(self.search.as_deref().unwrap_or_default()).is_empty()
    }

    /// Whether the filter asks for a status, segment, source or tag.
    pub(super) fn has_facets(&self) -> bool {
        self.status.is_some()
            || self.segment.is_some()
            || self.source.is_some()
            || !self.clean_tags().is_empty()
    }

    /// Whether the filter searches through SQLite's trigram index, whose
    /// hits a page may read by rowid or by walking a sort index
    /// ([`SearchPath`]).
    pub(super) fn searches_by_index(&self, backend: DbBackend) -> bool {
        backend == DbBackend::Sqlite
            && search::words(self.search.as_deref().unwrap_or_default())
                .iter()
                .any(|w| w.chars().count() >= 3)
    }

    /// Whether a page of the filter in `sort_by` order may be read by
    /// walking the index of the default order ([`SearchPath::ByWalk`]): on
    /// SQLite, a search without status, segment, source or tags (whose
    /// tests would read each row walked), in the order whose index holds
    /// the search text.
    pub(super) fn walkable(&self, backend: DbBackend, sort_by: CustomerSortField) -> bool {
        backend == DbBackend::Sqlite
            && sort_by == CustomerSortField::LastInteraction
            && self.searches()
            && !self.has_facets()
    }

    /// Whether every word of the filter's search is long enough for the
    /// trigram index (three characters), so that its hits can be read
    /// through the index alone ([`SearchPath::HitsFirst`]).
    pub(super) fn searches_by_trigrams(&self) -> bool {
        let words = search::words(self.search.as_deref().unwrap_or_default());
        !words.is_empty() && words.iter().all(|w| w.chars().count() >= 3)
    }

    /// Applies the filter to a tenant-scoped select.
    pub(crate) fn apply(
        &self,
        actor: &Actor,
        backend: DbBackend,
        q: Select<customer::Entity>,
    ) -> Select<customer::Entity> {
        self.apply_via(actor, backend, SearchPath::ByHits, q)
    }

    /// Applies the filter, reaching the hits of a search by `path`.
    pub(super) fn apply_via(
        &self,
        actor: &Actor,
        backend: DbBackend,
        path: SearchPath,
        mut q: Select<customer::Entity>,
    ) -> Select<customer::Entity> {
        use customer::Column;
        if let Some(s) = self.status {
            q = q.filter(Column::Status.eq(s));
        }
        if let Some(s) = self.segment {
            q = q.filter(Column::Segment.eq(s));
        }
        if let Some(s) = self.source {
            q = q.filter(Column::Source.eq(s));
        }
        let tags = self.clean_tags();
        if !tags.is_empty() {
            // A probe of the customer's own tag rows (their primary key), so
            // a page walking a sort index stops after `limit` hits instead of
            // first collecting every customer holding one of the tags.
            q = q.filter(Expr::exists(
                scope::tags(actor)
                    .select_only()
                    // Written, not bound: a list's statement binds only
                    // its request's values ([`crate::service::shapes`]).
                    .expr(Expr::cust("1"))
                    .filter(
                        Expr::col((customer_tag::Entity, customer_tag::Column::CustomerId))
                            .equals((customer::Entity, customer::Column::Id)),
                    )
                    .filter(customer_tag::Column::Tag.is_in(tags))
                    .into_query(),
            ));
        }
        for word in search::words(self.search.as_deref().unwrap_or_default()) {
            q = q.filter(search_condition(backend, path, &word));
        }
        q
    }
}

/// How a page reaches the customers a trigram search finds. On SQLite the
/// caller chooses by the search's exact total ([`SearchPath::cheaper`]); on
/// PostgreSQL the planner weighs its trigram index against the sort index
/// for each call's words, unless the caller knows the hits are few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum SearchPath {
    /// Read each hit by rowid, then sort them: for a few hits. (PostgreSQL:
    /// the planner chooses, as for any path but the last.)
    ByHits,
    /// Walk the sort index and keep the rows that are hits, stopping at the
    /// page's end: for many hits, when reading all of them to sort them
    /// would cost more than the walk.
    BySort,
    /// PostgreSQL, for a search known to find few: each word written as
    /// `(SELECT $n)`, a value its planner cannot see, so that the one plan
    /// it makes for a statement reading the hits through the trigram index
    /// before sorting them serves every word (`customers::read`). Planning
    /// a search for its words cost twice its reading (0.15–0.3 ms against
    /// 0.08–0.15 ms for a 5-digit phone fragment at 100,000 customers).
    HitsFirst,
    /// SQLite, for a search that finds many, in the default order: walk the
    /// index of that order, which holds each customer's search text, and
    /// keep the entries whose text has every word (`LIKE`), stopping at the
    /// page's end. No row is read but the page's, and no hit is read before
    /// the walk finds it. The walk may stop at the entry
    /// [`SearchPath::walk_bound`] entries in (a value the statement binds),
    /// so that hits gathered at the far end of the order cannot make it
    /// read the whole tenant; a page it leaves short is read again by
    /// another path (`customers::read`).
    ByWalk,
}

impl SearchPath {
    /// The cheaper path to rows `offset .. offset + limit` of `hits` hits
    /// among `total` customers: a walk passes about `total / hits` index
    /// entries per row it keeps; reading a hit by rowid costs about as much
    /// as passing ten index entries.
    pub(super) fn cheaper(hits: u64, total: u64, offset: u64, limit: u64) -> Self {
        let walked = (offset + limit).saturating_mul(total) / hits.max(1);
        if walked < hits.saturating_mul(10) {
            Self::BySort
        } else {
            Self::ByHits
        }
    }

    /// How many entries of the default order's index ([`Self::ByWalk`]) a
    /// walk to rows `offset .. offset + limit` of `hits` hits among `total`
    /// customers may pass: twice what it passes when the hits are spread
    /// evenly along the order. None when that is more than the hits: the
    /// trigram index reads each hit at least once (each of the word's
    /// trigrams lists it), at about what passing an entry costs, so it is
    /// then the cheaper way (at 100,000 customers `maria`'s 2,174 hits cost
    /// 2.2 ms through it, 0.5 ms by a walk of some 900 entries).
    pub(super) fn walk_bound(hits: u64, total: u64, offset: u64, limit: u64) -> Option<u64> {
        let spread = (offset + limit).saturating_mul(total) / hits.max(1);
        let bound = spread.saturating_mul(2);
        (hits > 0 && bound <= hits).then_some(bound)
    }
}

/// Whether a search word is matched through SQLite's trigram index (long
/// enough for trigrams: three characters, and not on a walk that tests
/// each entry's text), not by a plain substring test.
pub(super) fn by_fts(backend: DbBackend, path: SearchPath, word: &str) -> bool {
    backend == DbBackend::Sqlite && path != SearchPath::ByWalk && word.chars().count() >= 3
}

/// The value a search word's condition binds ([`search_condition`]): an
/// FTS5 string literal ([`by_fts`]), else a `LIKE` pattern.
pub(super) fn search_value(backend: DbBackend, path: SearchPath, word: &str) -> String {
    if by_fts(backend, path, word) {
        // An FTS5 string literal: the trigram tokenizer matches it as a substring.
        return format!("\"{}\"", word.replace('"', "\"\""));
    }
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One search word as SQL: through the trigram index where the word is long
/// enough for trigrams (three characters), a plain substring test otherwise.
fn search_condition(backend: DbBackend, path: SearchPath, word: &str) -> SimpleExpr {
    if by_fts(backend, path, word) {
        let phrase = search_value(backend, path, word);
        // A unary `+` keeps SQLite from reading the hits by rowid, so it
        // walks the index of the page's order instead.
        let sql = match path {
            SearchPath::BySort => "+\"customers\".\"rowid\" IN (SELECT rowid FROM customer_search WHERE customer_search MATCH ?)",
            _ => "\"customers\".\"rowid\" IN (SELECT rowid FROM customer_search WHERE customer_search MATCH ?)",
        };
        return Expr::cust_with_values(sql, [phrase]);
    }
    let pattern = search_value(backend, path, word);
    if backend == DbBackend::Postgres && path == SearchPath::HitsFirst {
        // sea-query numbers a custom expression's PostgreSQL values from `$1`.
        return Expr::cust_with_values(
            r#""customers"."search_text" LIKE (SELECT CAST($1 AS text)) ESCAPE E'\\'"#,
            [pattern],
        );
    }
    Expr::col((customer::Entity, customer::Column::SearchText))
        .like(LikeExpr::new(pattern).escape('\\'))
}

/// How a sort field is stored: its column, whether it may be null, and
/// whether its values are timestamps (else text).
#[derive(Debug, Clone, Copy)]
pub(super) struct SortKey {
    /// The column sorted on (ties broken on id).
    pub column: customer::Column,
    /// Whether it may be null (nulls sort last).
    pub nullable: bool,
    /// Whether it holds timestamps (else text).
    pub time: bool,
}

/// The one table of sort keys: the column behind each sort field, read by
/// [`order`], [`reverse_order`] and the keyset cursors alike.
pub(super) fn sort_key(field: CustomerSortField) -> SortKey {
    use customer::Column;
    let (column, nullable, time) = match field {
        CustomerSortField::LastInteraction => (Column::LastInteraction, false, true),
        CustomerSortField::CreatedAt => (Column::CreatedAt, false, true),
        CustomerSortField::UpdatedAt => (Column::UpdatedAt, false, true),
        CustomerSortField::PhoneNumber => (Column::PhoneNumber, false, false),
        CustomerSortField::FirstContact => (Column::FirstContact, true, true),
        CustomerSortField::LastMessageAt => (Column::LastMessageAt, true, true),
        CustomerSortField::FirstName => (Column::FirstName, true, false),
        CustomerSortField::LastName => (Column::LastName, true, false),
        CustomerSortField::Email => (Column::Email, true, false),
    };
    SortKey {
        column,
        nullable,
        time,
    }
}

/// Orders a select by a sort field, nulls last, ties broken on id.
pub fn order(
    q: Select<customer::Entity>,
    field: CustomerSortField,
    dir: SortOrder,
) -> Select<customer::Entity> {
    let key = sort_key(field);
    let order = match dir {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    let q = if key.nullable {
        q.order_by_with_nulls(key.column, order.clone(), NullOrdering::Last)
    } else {
        q.order_by(key.column, order.clone())
    };
    q.order_by(customer::Column::Id, order)
}

/// The list order reversed, so `last` can read the tail of a window first:
/// nulls come first and ties break on id the other way.
pub(super) fn reverse_order(
    q: Select<customer::Entity>,
    key: SortKey,
    dir: SortOrder,
) -> Select<customer::Entity> {
    let reversed = match dir {
        SortOrder::Asc => Order::Desc,
        SortOrder::Desc => Order::Asc,
    };
    let q = if key.nullable {
        q.order_by_with_nulls(key.column, reversed.clone(), NullOrdering::First)
    } else {
        q.order_by(key.column, reversed.clone())
    };
    q.order_by(customer::Column::Id, reversed)
}

#[cfg(test)]
mod tests {
    use super::SearchPath;

    #[test]
    fn many_hits_walk_the_sort_index_and_few_are_read_by_rowid() {
        // 21,000 of 1,000,000 (a common name): page 1 passes ~950 entries.
        assert_eq!(
            SearchPath::cheaper(21_000, 1_000_000, 0, 20),
            SearchPath::BySort
        );
        // 6 hits (a phone fragment): read the six rows.
        assert_eq!(SearchPath::cheaper(6, 1_000_000, 0, 20), SearchPath::ByHits);
        // Deep in many hits, the walk gets long: read them by rowid.
        assert_eq!(
            SearchPath::cheaper(2_000, 100_000, 1_980, 20),
            SearchPath::ByHits
        );
        // No hits at all: nothing to walk for.
        assert_eq!(SearchPath::cheaper(0, 1_000, 0, 20), SearchPath::ByHits);
    }

    #[test]
    fn a_walk_testing_each_entry_may_pass_twice_its_even_share_if_no_more_than_the_hits() {
        // `maria` at 1,000,000 customers (22,350 hits): ~895 entries for
        // page 1, so up to 1,788.
        assert_eq!(
            SearchPath::walk_bound(22_350, 1_000_000, 0, 20),
            Some(1_788)
        );
        // ... and at 100,000 (2,174 hits): 1,838 entries, fewer than the hits.
        assert_eq!(SearchPath::walk_bound(2_174, 100_000, 0, 20), Some(1_838));
        // The same share of a tenant ten times as large: the trigram index
        // reads 2,174 hits where the walk would pass 18,398 entries.
        assert_eq!(SearchPath::walk_bound(2_174, 1_000_000, 0, 20), None);
        // Deep pages pass more: page 10 of `maria` at 100,000 no longer pays.
        assert_eq!(SearchPath::walk_bound(2_174, 100_000, 180, 20), None);
        // A phone fragment's few hits, and none at all.
        assert_eq!(SearchPath::walk_bound(6, 1_000_000, 0, 20), None);
        assert_eq!(SearchPath::walk_bound(0, 1_000, 0, 20), None);
        // Every customer a hit: the page's own rows, twice.
        assert_eq!(SearchPath::walk_bound(500, 500, 0, 20), Some(40));
    }
}
