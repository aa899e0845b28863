//! Export: the caller's customers, oldest first, read in keyset pages of a
//! few hundred (JSON) or a thousand (CSV) rows, each page one short query
//! of its own that reads only what the format shows. Between pages nothing
//! of the database is held (no connection, no transaction), so a client that
//! stops reading pins nothing but its own socket; memory stays flat whatever
//! the number of rows.
//!
//! What `total` means: the number of matching customers when the export
//! began. The export is bounded by that moment: it ends at the last matching
//! customer (oldest first: `created_at`, then `id`) that existed when it
//! began, so customers created during the export never appear in it. Each
//! page is read when the client is ready for it, not all at the start, so a
//! customer deleted during a long export (or changed so that it no longer
//! matches the filter) before its page is read is left out, and one changed
//! so that it now matches appears: then the rows sent differ from `total` by
//! exactly those changes. When nothing changes, they are equal.
//!
//! Each tenant streams at most [`ExportSlots`]' cap of exports at once; each
//! holds an [`ExportSlot`] until its rows end or it is dropped (the client
//! went away or was disconnected for not reading).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::customer;
use futures::Stream;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Select, Statement,
};
use serde::Deserialize;
use uuid::Uuid;

use super::customers::{order, Customer, CustomerFilter};
use super::rows::{self, Columns};
use super::{scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{CustomerSegment, CustomerSortField, CustomerStatus, SortOrder};
use crate::error::{Error, Result};
use crate::slots::{Slot, Slots};

/// Seconds a caller refused for too many running exports is asked to wait.
const RETRY_AFTER_SECS: u64 = 10;

/// The customers an export sends: their count when it began, then the rows,
/// oldest first, a page at a time.
pub struct Export<T> {
    pub total: u64,
    pub pages: std::pin::Pin<Box<dyn Stream<Item = Result<Vec<T>>> + Send>>,
}

/// What an export reads of each customer: the whole customer
/// ([`Customer`], for JSON) or only the columns a CSV row shows ([`CsvRow`]).
pub trait ExportRow: Sized + Send + 'static {
    /// Rows read by one page query, which is all an export holds: a page of
    /// whole customers can reach megabytes (notes, custom fields), a page of
    /// CSV columns is some 150 kilobytes.
    const PAGE_ROWS: u64;

    /// The row's place in the export order.
    fn key(&self) -> Key;

    /// Reads one page of `rows` (already filtered, ordered and limited).
    fn read(
        rows: Select<customer::Entity>,
        db: &DatabaseConnection,
    ) -> impl std::future::Future<Output = Result<Vec<Self>>> + Send;
}

impl ExportRow for Customer {
    const PAGE_ROWS: u64 = 256;

    fn key(&self) -> Key {
        Key {
            created_at: self.created_at,
            id: self.id.uuid(),
        }
    }

    /// Whole rows, read by position as lists read them, each made a
    /// [`Customer`] as it is read ([`rows::each_of`]).
    async fn read(rows: Select<customer::Entity>, db: &DatabaseConnection) -> Result<Vec<Self>> {
        let stmt = rows::listed_of(rows, Columns::ALL).build(db.get_database_backend());
        Ok(rows::each_of::<customer::Model, _, _>(db, stmt, Columns::ALL, Customer::from).await?)
    }
}

/// The reference's CSV columns of a customer, read without the rest of its
/// row: no statistics, no JSON objects to decode.
///
/// On SQLite a page of them is read as ONE value: the database builds a
/// JSON array of the page's rows (each an array of the columns, in the order
/// of this struct's fields) and the server decodes it in one pass. Row by
/// row, each SQLite row would be handed from the connection's thread to the
/// task on its own; a page is one handoff. On PostgreSQL the page is read
/// as rows, in sqlx's binary form and by position ([`rows::each_of`]):
/// writing each timestamp and uuid of a JSON array as text cost PostgreSQL
/// more than decoding the rows costs the server (a whole export about 1.5×
/// as fast, `bench/RESULTS.md`, session 28).
#[derive(Debug, Clone, Deserialize)]
pub struct CsvRow {
    pub id: Uuid,
    pub phone_number: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub status: CustomerStatus,
    pub segment: CustomerSegment,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_interaction: DateTime<Utc>,
}

impl From<customer::Model> for CsvRow {
    /// The CSV columns of a row read with only those columns.
    fn from(c: customer::Model) -> Self {
        Self {
            id: c.id,
            phone_number: c.phone_number,
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            status: c.status,
            segment: c.segment,
            tags: c.tags.0,
            notes: c.notes,
            created_at: c.created_at,
            last_interaction: c.last_interaction,
        }
    }
}

impl From<&Customer> for CsvRow {
    /// The CSV columns of a whole customer.
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.uuid(),
            phone_number: c.phone_number.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            status: c.status,
            segment: c.segment,
            tags: c.tags.clone(),
            notes: c.notes.clone(),
            created_at: c.created_at,
            last_interaction: c.last_interaction,
        }
    }
}

/// The columns of a [`CsvRow`], in its fields' order.
const CSV_COLUMNS: [customer::Column; 11] = [
    customer::Column::Id,
    customer::Column::PhoneNumber,
    customer::Column::FirstName,
    customer::Column::LastName,
    customer::Column::Email,
    customer::Column::Status,
    customer::Column::Segment,
    customer::Column::Tags,
    customer::Column::Notes,
    customer::Column::CreatedAt,
    customer::Column::LastInteraction,
];

/// The columns of a [`CsvRow`] as SQLite puts them in a JSON array: ids are
/// 16-byte blobs (sent as hex), tags JSON text (embedded with `json()`),
/// timestamps the stored RFC 3339 text, read back exactly.
const CSV_JSON_SQLITE: &str = "json_array(lower(hex(id)), phone_number, first_name, \
    last_name, email, status, segment, json(tags), notes, created_at, last_interaction)";

impl ExportRow for CsvRow {
    const PAGE_ROWS: u64 = 1024;

    fn key(&self) -> Key {
        Key {
            created_at: self.created_at,
            id: self.id,
        }
    }

    async fn read(rows: Select<customer::Entity>, db: &DatabaseConnection) -> Result<Vec<Self>> {
        let backend = db.get_database_backend();
        if backend == DbBackend::Postgres {
            let columns = Columns::of(CSV_COLUMNS);
            let stmt = rows::listed_of(rows, columns).build(backend);
            return Ok(
                rows::each_of::<customer::Model, _, _>(db, stmt, columns, CsvRow::from).await?,
            );
        }
        let page = rows.select_only().columns(CSV_COLUMNS).build(backend);
        // The page's own order again inside the aggregate: the array lists
        // the rows exactly as the page query ordered them.
        let sql = format!(
            "SELECT json_group_array({CSV_JSON_SQLITE} ORDER BY created_at, id) \
             AS page FROM ({}) AS page",
            page.sql
        );
        let values = page.values.map(|v| v.0).unwrap_or_default();
        let row = db
            .query_one(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        // An empty page is `[]`.
        let text: Option<String> = match row {
            Some(row) => row.try_get("", "page")?,
            None => None,
        };
        match text {
            Some(text) => serde_json::from_str(&text).map_err(Error::internal),
            None => Ok(Vec::new()),
        }
    }
}

/// How many exports each tenant is streaming, and the most it may.
#[derive(Debug)]
pub struct ExportSlots(Slots<String>);

/// One running export of a tenant; its slot is freed when it drops.
#[derive(Debug)]
pub struct ExportSlot {
    _slot: Slot<String>,
}

impl ExportSlots {
    /// At most `max` running exports per tenant (0 is taken as 1).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self(Slots::new(max.max(1))))
    }

    /// A slot for one more export of `tenant`, or RATE_LIMITED when the
    /// tenant already runs as many as it may.
    pub fn acquire(self: &Arc<Self>, tenant: &str) -> Result<ExportSlot> {
        let slot = self.0.take(tenant.to_owned()).ok_or(Error::RateLimited {
            what: "too many exports running for this tenant",
            retry_after: RETRY_AFTER_SECS,
        })?;
        metrics::gauge!("exports_in_flight").increment(1.0);
        Ok(ExportSlot { _slot: slot })
    }

    /// How many exports `tenant` is streaming now.
    pub fn running(&self, tenant: &str) -> usize {
        self.0.held(tenant)
    }
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        metrics::gauge!("exports_in_flight").decrement(1.0);
    }
}

/// A customer's place in the export order: `created_at`, then `id`.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl Key {
    fn of(c: &customer::Model) -> Self {
        Self {
            created_at: c.created_at,
            id: c.id,
        }
    }

    /// Rows strictly after this key. The plain `created_at >=` bound lets
    /// the `(tenant_id, created_at, id)` index seek to the page's start.
    fn rows_after(self) -> Condition {
        use customer::Column;
        Condition::all()
            .add(Column::CreatedAt.gte(self.created_at))
            .add(
                Condition::any()
                    .add(Column::CreatedAt.gt(self.created_at))
                    .add(Column::Id.gt(self.id)),
            )
    }

    /// Rows up to and including this key.
    fn rows_up_to(self) -> Condition {
        use customer::Column;
        Condition::all()
            .add(Column::CreatedAt.lte(self.created_at))
            .add(
                Condition::any()
                    .add(Column::CreatedAt.lt(self.created_at))
                    .add(Column::Id.lte(self.id)),
            )
    }
}

/// Reads an export page by page; holds the tenant's export slot.
struct Pages<T> {
    db: DatabaseConnection,
    /// The filtered, tenant-scoped rows up to the export's last row.
    rows: Select<customer::Entity>,
    /// The last row sent; none before the first page.
    after: Option<Key>,
    /// Whether the last page has been read.
    done: bool,
    _slot: ExportSlot,
    _rows: std::marker::PhantomData<fn() -> T>,
}

impl<T: ExportRow> Pages<T> {
    /// The next page, oldest first; one short query on a pooled connection
    /// that goes back to the pool before the rows are sent.
    async fn next(&mut self) -> Result<Vec<T>> {
        let mut page = self.rows.clone();
        if let Some(after) = self.after {
            page = page.filter(after.rows_after());
        }
        let page = order(page, CustomerSortField::CreatedAt, SortOrder::Asc).limit(T::PAGE_ROWS);
        let rows = T::read(page, &self.db).await?;
        self.done = (rows.len() as u64) < T::PAGE_ROWS;
        metrics::counter!("export_rows_total").increment(rows.len() as u64);
        self.after = rows.last().map(T::key).or(self.after);
        Ok(rows)
    }
}

/// Starts an export of the caller's customers that match `filter`: takes one
/// of the tenant's export slots (RATE_LIMITED when none is free), fixes the
/// export's last row and counts the rows up to it. See the module's text for
/// what `total` means while rows change.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn export<T: ExportRow>(
    ctx: &Ctx,
    slots: &Arc<ExportSlots>,
    actor: &Actor,
    filter: CustomerFilter,
) -> Result<Export<T>> {
    filter.validate()?;
    let slot = slots.acquire(&actor.tenant)?;
    let db = ctx.db.clone();
    let filtered = filter.apply(actor, db.get_database_backend(), scope::customers(actor));
    // The newest matching row now is the export's last one: rows created
    // from here on are not part of it. Counting only up to it keeps `total`
    // and the rows in agreement without a transaction.
    let last = order(
        filtered.clone(),
        CustomerSortField::CreatedAt,
        SortOrder::Desc,
    )
    .limit(1)
    .all(&db)
    .await?
    .first()
    .map(Key::of);
    let Some(last) = last else {
        return Ok(Export {
            total: 0,
            pages: Box::pin(futures::stream::empty()),
        });
    };
    let rows = filtered.filter(last.rows_up_to());
    let total = rows.clone().count(&db).await?;
    let pages = Pages {
        db,
        rows,
        after: None,
        done: false,
        _slot: slot,
        _rows: std::marker::PhantomData,
    };
    // The pager (and with it the slot) drops when the rows end, or when the
    // response body is dropped because the client is gone.
    let pages = futures::stream::unfold(pages, |mut pages| async move {
        if pages.done {
            return None;
        }
        let page = pages.next().await;
        if page.is_err() {
            pages.done = true;
        }
        Some((page, pages))
    });
    Ok(Export {
        total,
        pages: Box::pin(pages),
    })
}

#[cfg(test)]
mod tests {
    use super::ExportSlots;
    use crate::error::Error;

    #[test]
    fn a_tenant_runs_at_most_its_cap_of_exports_and_a_dropped_slot_is_free_again() {
        let slots = ExportSlots::new(2);
        let a = slots.acquire("t1").expect("first");
        let _b = slots.acquire("t1").expect("second");
        match slots.acquire("t1") {
            Err(Error::RateLimited { retry_after, .. }) => assert!(retry_after > 0),
            other => panic!("a third export is refused, got {other:?}"),
        }
        let _other = slots.acquire("t2").expect("another tenant has its own cap");
        assert_eq!(slots.running("t1"), 2);
        drop(a);
        assert_eq!(slots.running("t1"), 1);
        let _c = slots.acquire("t1").expect("a freed slot is taken again");
        assert_eq!(slots.running("t2"), 1);
    }
}
