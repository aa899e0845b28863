//! Export: the caller's customers, oldest first, read in keyset pages of a
//! few hundred (JSON) or thousands (CSV) of rows, each page one short query
//! of its own that reads only what the format shows (a CSV page on
//! PostgreSQL one `COPY`, see [`csv`]). Between pages nothing of the
//! database is held (no connection, no transaction), so a client that stops
//! reading pins nothing but its own socket; memory stays flat whatever the
//! number of rows.
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
    QueryFilter, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

use super::customers::{order, Customer, CustomerFilter};
use super::rows::{self, Columns};
use super::{scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{CustomerSortField, SortOrder};
use crate::error::{Error, Result};
use crate::slots::{Slot, Slots};

mod copy;
mod csv;

pub use self::csv::CsvPage;

/// Seconds a caller refused for too many running exports is asked to wait.
const RETRY_AFTER_SECS: u64 = 10;

/// The customers an export sends: their count when it began, then the
/// pages, oldest first, each what one page query read ([`ExportPage`]).
pub struct Export<T> {
    pub total: u64,
    pub pages: std::pin::Pin<Box<dyn Stream<Item = Result<T>> + Send>>,
}

/// What one page query read: the page as the format sends it, how many
/// rows it holds, and the last one's place in the export order (none when
/// the page is empty).
pub struct Read<T> {
    pub page: T,
    pub rows: u64,
    pub last: Option<Key>,
}

/// A page of an export as its format sends it: whole customers (JSON) or
/// the text of CSV lines ([`CsvPage`]).
pub trait ExportPage: Sized + Send + 'static {
    /// Rows read by one page query on `backend`, which is all an export
    /// holds: a page of whole customers can reach megabytes (notes, custom
    /// fields), a page of CSV lines is some 150 bytes a row.
    fn page_rows(backend: DbBackend) -> u64;

    /// Reads one page of `rows` (already filtered, ordered and limited).
    fn read(
        rows: Select<customer::Entity>,
        db: &DatabaseConnection,
    ) -> impl std::future::Future<Output = Result<Read<Self>>> + Send;
}

impl ExportPage for Vec<Customer> {
    fn page_rows(_: DbBackend) -> u64 {
        256
    }

    /// Whole rows, read by position as lists read them, each made a
    /// [`Customer`] as it is read ([`rows::each_of`]).
    async fn read(rows: Select<customer::Entity>, db: &DatabaseConnection) -> Result<Read<Self>> {
        let stmt = rows::listed_of(rows, Columns::ALL).build(db.get_database_backend());
        let page =
            rows::each_of::<customer::Model, _, _>(db, stmt, Columns::ALL, Customer::from).await?;
        Ok(Read {
            rows: page.len() as u64,
            last: page.last().map(|c| Key {
                created_at: c.created_at,
                id: c.id.uuid(),
            }),
            page,
        })
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

impl<T: ExportPage> Pages<T> {
    /// The next page, oldest first; one short query on a pooled connection
    /// that goes back to the pool before the rows are sent.
    async fn next(&mut self) -> Result<T> {
        let mut page = self.rows.clone();
        if let Some(after) = self.after {
            page = page.filter(after.rows_after());
        }
        let rows = T::page_rows(self.db.get_database_backend());
        let page = order(page, CustomerSortField::CreatedAt, SortOrder::Asc).limit(rows);
        let read = T::read(page, &self.db).await?;
        self.done = read.rows < rows;
        metrics::counter!("export_rows_total").increment(read.rows);
        self.after = read.last.or(self.after);
        Ok(read.page)
    }
}

/// Starts an export of the caller's customers that match `filter`: takes one
/// of the tenant's export slots (RATE_LIMITED when none is free), fixes the
/// export's last row and counts the rows up to it. See the module's text for
/// what `total` means while rows change.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant))]
pub async fn export<T: ExportPage>(
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
