//! Paging of the lists ordered newest first by a time and an id (the
//! history, the trash): cursor pages (GraphQL connections) and numbered
//! pages (REST), one query shape for both lists.

use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use crate::domain::page::{PageRequest, Pagination};
use crate::error::{Error, Result};

/// Most entries one page holds; more asked counts as this.
pub const MAX_FIRST: i64 = 100;

/// Entries a page holds when the caller does not say.
pub const DEFAULT_FIRST: i64 = 20;

/// How many entries a cursor page takes for `first`: [`DEFAULT_FIRST`]
/// when absent, at most [`MAX_FIRST`]; 400 when negative.
fn first_of(first: Option<i64>) -> Result<u64> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    if first < 0 {
        return Err(Error::invalid("first", "must be 0 or more"));
    }
    Ok(first.min(MAX_FIRST).unsigned_abs())
}

/// The cursor of an entry of a list ordered by a time and an id, both
/// descending (the history, the trash): base64url of `millis|uuid`.
pub(crate) fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", at.timestamp_millis()))
}

/// The rows after `(at, id)` in a list ordered by `at_column` then
/// `id_column`, both descending: the keyset condition of [`decode_cursor`]'s
/// cursors.
fn before<C: ColumnTrait>(
    at_column: C,
    id_column: C,
    (at, id): (DateTime<Utc>, Uuid),
) -> Condition {
    Condition::any()
        .add(at_column.lt(at))
        .add(Condition::all().add(at_column.eq(at)).add(id_column.lt(id)))
}

/// Reads an [`encode_cursor`] cursor given as `after`; 400 when it is not one.
fn decode_cursor(text: &str) -> Result<(DateTime<Utc>, Uuid)> {
    let bad = || Error::invalid("after", "not a cursor of this list");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ms, id) = text.split_once('|').ok_or_else(bad)?;
    let at = ms
        .parse::<i64>()
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// A cursor page of `select`, ordered newest first by the columns `at` then
/// `id`: `first` rows after the cursor `after`, and whether more follow.
/// 400 for a negative `first` or an `after` that is no cursor.
pub(crate) async fn after_cursor<E>(
    db: &DatabaseConnection,
    select: Select<E>,
    (at, id): (E::Column, E::Column),
    first: Option<i64>,
    after: Option<&str>,
) -> Result<(Vec<E::Model>, bool)>
where
    E: EntityTrait,
{
    let first = first_of(first)?;
    let mut q = select;
    if let Some(after) = after {
        q = q.filter(before(at, id, decode_cursor(after)?));
    }
    let mut rows = q
        .order_by_desc(at)
        .order_by_desc(id)
        .limit(first + 1)
        .all(db)
        .await?;
    let has_next_page = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok((rows, has_next_page))
}

/// A numbered page of `select`, ordered newest first by the columns `at`
/// then `id`, with its pagination.
pub(crate) async fn numbered<E>(
    db: &DatabaseConnection,
    select: Select<E>,
    (at, id): (E::Column, E::Column),
    page: PageRequest,
) -> Result<(Vec<E::Model>, Pagination)>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Sync,
{
    let total = select.clone().count(db).await?;
    let rows = select
        .order_by_desc(at)
        .order_by_desc(id)
        .offset(page.offset())
        .limit(page.limit)
        .all(db)
        .await?;
    Ok((rows, page.pagination(total)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time;

    #[test]
    fn cursors_read_back() {
        let (at, id) = (time::now(), Uuid::now_v7());
        assert_eq!(
            decode_cursor(&encode_cursor(at, id)).expect("reads"),
            (at, id)
        );
        assert!(decode_cursor("nope").is_err());
    }
}
