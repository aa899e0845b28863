//! Bulk import: every row judged on its own (stored, duplicate or failed),
//! written in batches inside transactions.
//!
//! Rows arrive as a stream (the REST face parses its body while it arrives)
//! and are validated as they come. Nothing is written before the last row is
//! read: an import refused part-way (over the row cap, a malformed body)
//! stores nothing, and no transaction waits on the client's network.

pub mod batch;
pub mod idempotency;
pub mod jobs;
mod seen;
pub mod upsert;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use entity::{agent, customer, customer_phone};
use futures::{Stream, StreamExt};
use sea_orm::{ColumnTrait, DbErr, IntoActiveModel, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::customers::{self, Customer};
use super::events::{ChangeKind, Event};
use super::{customer_rows, insert_chunked, scope, Ctx};
use crate::auth::Actor;
use crate::domain::customer::{CustomerChanges, CustomerInput, Field, Mode};
use crate::domain::ids::CustomerId;
use crate::domain::time;
use crate::error::{is_retryable_conflict, is_unique_violation, Error, FieldError, Result};

/// Most rows one import may carry.
pub const MAX_IMPORT_ROWS: usize = 50_000;
/// Rows written per transaction.
const BATCH: usize = 500;
/// Times a batch is tried when it loses a deadlock or a serialization
/// conflict (nothing of it was written) before the import gives up.
const MAX_ATTEMPTS: u32 = 5;

/// One row as a face read it: the customer input, or why it is not one.
pub type Row = std::result::Result<CustomerInput, Vec<FieldError>>;

/// One row of an import as a face holds it. The service reads each row when
/// it arrives (to judge it) and again when it writes it, so a row waiting for
/// the rest of the list costs only what the face keeps of it: the REST face
/// keeps its JSON text, a few times smaller than the parsed row.
pub trait ImportRow: Send + Sync {
    /// The row as customer input, or why it is not one.
    fn read(&self) -> Row;
}

impl ImportRow for Row {
    fn read(&self) -> Row {
        self.clone()
    }
}

/// A row that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportIssue {
    /// Position of the row in the submitted list, from 0.
    pub index: usize,
    /// The row's phone number (normalized when it could be).
    pub phone_number: Option<String>,
    /// Why the row was not stored.
    pub reason: String,
    /// For a duplicate of a stored customer: that customer's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub existing_id: Option<CustomerId>,
}

impl ImportIssue {
    fn new(index: usize, phone_number: Option<String>, reason: String) -> Self {
        Self {
            index,
            phone_number,
            reason,
            existing_id: None,
        }
    }
}

/// What an import did with each row; every row is in exactly one list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// The ids of the stored customers, in the order of their rows (ids, not
    /// customers: 50,000 stored customers held at once would take more memory
    /// than the whole import; [`stored_customers`] reads them back in pages).
    pub stored: Vec<CustomerId>,
    /// Rows whose number exists, in the store or earlier in the list; by index.
    pub duplicates: Vec<ImportIssue>,
    /// Invalid rows with their reason; by index.
    pub failed: Vec<ImportIssue>,
}

/// A row that passed validation and waits to be written.
struct Valid<R> {
    index: usize,
    /// The row as the face holds it, read again when it is written.
    row: R,
    /// The canonical numbers, primary first.
    phones: Vec<String>,
    preferred_agent: Option<Uuid>,
}

impl<R: ImportRow> Valid<R> {
    /// The row's changes, validated again (as they were when it arrived).
    fn changes(&self, ctx: &Ctx) -> Result<CustomerChanges> {
        self.row
            .read()
            .and_then(|input| input.validate(Mode::Create, ctx.region))
            .map_err(Error::invalid_fields)
    }
}

/// Whether the caller may import (ADMIN). A face calls it before it reads a
/// body, so a refused caller costs no bytes; [`import`] checks it again.
pub fn authorize(actor: &Actor) -> Result<()> {
    actor.require_admin()
}

/// An import running, for the `imports_in_flight` gauge (however it ends).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge!("imports_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("imports_in_flight").decrement(1.0);
    }
}

/// Imports customers; needs ADMIN, checked before any row is pulled from
/// `rows`. An `Err` item (a body that cannot be read) ends the import with
/// that error, as does a row past [`MAX_IMPORT_ROWS`], which is refused as
/// soon as it arrives (the face then stops reading); either way nothing is
/// written. Rows whose phone number already exists, in the store or earlier
/// in the list, are duplicates; invalid rows fail with their reason; valid
/// rows are stored even when others fail.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant, rows = tracing::field::Empty))]
pub async fn import<S, R>(ctx: &Ctx, actor: &Actor, rows: S) -> Result<ImportReport>
where
    S: Stream<Item = Result<R>> + Send,
    R: ImportRow,
{
    authorize(actor)?;
    let too_many = || {
        Error::invalid(
            "customers",
            format!("at most {MAX_IMPORT_ROWS} customers per import"),
        )
    };
    // A list already in memory (GraphQL) is refused at once.
    if rows.size_hint().0 > MAX_IMPORT_ROWS {
        return Err(too_many());
    }
    let _in_flight = InFlight::start();
    let mut report = ImportReport::default();
    let mut read = Vec::new();
    let mut rows = Box::pin(rows);
    let mut index = 0;
    while let Some(row) = rows.next().await {
        let row = row?;
        if index == MAX_IMPORT_ROWS {
            return Err(too_many());
        }
        match check(ctx, index, row) {
            Ok(valid) => read.push(valid),
            Err(issue) => report.failed.push(issue),
        }
        index += 1;
    }
    drop(rows);
    tracing::Span::current().record("rows", index);

    // A row naming an unknown agent fails before it may claim its numbers:
    // a later valid row with the same number is then stored, not a duplicate.
    let agents = known_agents(ctx, actor, &read).await?;
    let mut seen: HashSet<String> = HashSet::new();
    read.retain(|row| {
        let primary = || row.phones.first().cloned();
        if row.preferred_agent.is_some_and(|a| !agents.contains(&a)) {
            let reason = "preferences.preferredAgentId: unknown agent".to_owned();
            report
                .failed
                .push(ImportIssue::new(row.index, primary(), reason));
            return false;
        }
        if let Some(p) = row.phones.iter().find(|p| seen.contains(*p)) {
            let reason = format!("phone number {p} appears earlier in the list");
            report
                .duplicates
                .push(ImportIssue::new(row.index, primary(), reason));
            return false;
        }
        seen.extend(row.phones.iter().cloned());
        true
    });
    drop(seen);

    let mut valid = read.into_iter();
    loop {
        let mut batch: Vec<Valid<R>> = valid.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        // Every writer takes the unique keys of its numbers in one order, so
        // imports of overlapping rows wait for each other, never in a circle.
        batch.sort_by(|a, b| a.phones.cmp(&b.phones));
        let mut stored = Vec::new();
        store_batch(ctx, actor, &batch, &mut stored, &mut report).await?;
        plan_with_statistics(ctx).await;
        stored.sort_by_key(|(index, _)| *index);
        metrics::counter!("import_rows_total").increment(stored.len() as u64);
        report.stored.extend(stored.into_iter().map(|(_, id)| id));
    }
    report.duplicates.sort_by_key(|i| i.index);
    report.failed.sort_by_key(|i| i.index);
    Ok(report)
}

/// After a batch: statistics for the customers table if it has none yet
/// ([`crate::db::analyze_if_unplanned`]), so the next batches' foreign-key
/// checks look customers up by key. The batch is committed either way: a
/// failure here is logged, not the import's.
async fn plan_with_statistics(ctx: &Ctx) {
    if let Err(e) = crate::db::analyze_if_unplanned(&ctx.db, "customers").await {
        tracing::warn!(error = %e, "could not analyze customers after an import batch");
    }
}

/// The customers an import stored, in the order of `ids`, read in pages of
/// [`BATCH`] (one deleted since is left out). A face that streams its answer
/// calls it for one page at a time.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant), err(level = "debug"))]
pub async fn stored_customers(
    ctx: &Ctx,
    actor: &Actor,
    ids: &[CustomerId],
) -> Result<Vec<Customer>> {
    let mut out = Vec::with_capacity(ids.len());
    for page in ids.chunks(BATCH) {
        let mut found: HashMap<CustomerId, customer::Model> = stored_page(actor, page)
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|m| (CustomerId::from(m.id), m))
            .collect();
        for id in page {
            if let Some(m) = found.remove(id) {
                out.push(Customer::from(m));
            }
        }
    }
    Ok(out)
}

/// The caller's customers with these ids: one primary-key lookup per id
/// (tenant and id), on both databases. Filtered by id alone, as this was
/// once, PostgreSQL has no index to serve it and SQLite scans the table:
/// every page of an import's answer read all customers of every tenant,
/// 43 ms a page at 200,000 customers and most of an import's time at
/// 1,000,000.
fn stored_page(actor: &Actor, page: &[CustomerId]) -> sea_orm::Select<customer::Entity> {
    scope::customers(actor).filter(customer::Column::Id.is_in(page.iter().copied()))
}

/// Validates one row: a row to write, or why it failed.
fn check<R: ImportRow>(
    ctx: &Ctx,
    index: usize,
    row: R,
) -> std::result::Result<Valid<R>, ImportIssue> {
    let input = row
        .read()
        .map_err(|fields| ImportIssue::new(index, None, customers::describe(&fields)))?;
    let raw_phone = match &input.phone_number {
        Field::Value(p) => Some(p.clone()),
        _ => None,
    };
    let changes = input
        .validate(Mode::Create, ctx.region)
        .map_err(|fields| ImportIssue::new(index, raw_phone, customers::describe(&fields)))?;
    let phones = canonical_phones(&changes);
    let preferred_agent = changes
        .preferences
        .as_ref()
        .and_then(|p| p.preferred_agent_id);
    Ok(Valid {
        index,
        row,
        phones,
        preferred_agent,
    })
}

/// A row's canonical numbers, primary first (none when it gives none).
fn canonical_phones(changes: &CustomerChanges) -> Vec<String> {
    changes
        .phone_number
        .iter()
        .chain(changes.alternative_phones.iter().flatten())
        .map(|p| p.as_str().to_owned())
        .collect()
}

/// The preferred agents named by the rows that exist in the caller's tenant.
async fn known_agents<R>(ctx: &Ctx, actor: &Actor, rows: &[Valid<R>]) -> Result<HashSet<Uuid>> {
    let wanted: HashSet<Uuid> = rows.iter().filter_map(|r| r.preferred_agent).collect();
    let mut known = HashSet::new();
    for chunk in wanted.into_iter().collect::<Vec<_>>().chunks(BATCH) {
        let ids: Vec<Uuid> = scope::agents(actor)
            .filter(agent::Column::Id.is_in(chunk.iter().copied()))
            .select_only()
            .column(agent::Column::Id)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        known.extend(ids);
    }
    Ok(known)
}

/// The database error behind an error, if it is one.
fn db_error(e: &Error) -> Option<&DbErr> {
    match e {
        Error::Internal(cause) => cause.downcast_ref::<DbErr>(),
        _ => None,
    }
}

/// What one committed batch did.
#[derive(Default)]
struct Written {
    /// Row index and id of each stored customer.
    stored: Vec<(usize, CustomerId)>,
    duplicates: Vec<ImportIssue>,
}

/// Writes a batch (sorted by phone) and records each of its rows exactly
/// once: a try that did not commit adds nothing to the report.
async fn store_batch<R: ImportRow>(
    ctx: &Ctx,
    actor: &Actor,
    batch: &[Valid<R>],
    stored: &mut Vec<(usize, CustomerId)>,
    report: &mut ImportReport,
) -> Result<()> {
    let mut attempt = 1;
    loop {
        let error = match write_batch(ctx, actor, batch).await {
            Ok(written) => {
                stored.extend(written.stored);
                report.duplicates.extend(written.duplicates);
                return Ok(());
            }
            Err(e) => e,
        };
        let cause = db_error(&error);
        // The database names the key: a phone another writer took.
        let taken = matches!(error, Error::Taken(_)) || cause.is_some_and(is_unique_violation);
        if !taken && !cause.is_some_and(is_retryable_conflict) {
            return Err(error);
        }
        if attempt < MAX_ATTEMPTS {
            // Nothing of the batch was written. A deadlock or serialization
            // loser simply tries again; after a unique violation (another
            // writer committed one of these numbers after this try read the
            // holders) the next try sees that writer's numbers as duplicates.
            // The pause is jittered so writers that collided do not collide
            // again in step.
            let pause = 5 * u64::from(attempt) + rand::random::<u64>() % 10;
            tracing::debug!(attempt, taken, "import batch lost a race; trying again");
            tokio::time::sleep(Duration::from_millis(pause)).await;
            attempt += 1;
            continue;
        }
        if !taken {
            return Err(error);
        }
        // Numbers keep being taken under this batch: judge its rows one by one.
        if let [row] = batch {
            let reason = "phone number already belongs to a customer".to_owned();
            report.duplicates.push(ImportIssue::new(
                row.index,
                row.phones.first().cloned(),
                reason,
            ));
            return Ok(());
        }
        for row in batch {
            Box::pin(store_batch(
                ctx,
                actor,
                std::slice::from_ref(row),
                stored,
                report,
            ))
            .await?;
        }
        return Ok(());
    }
}

/// One try at a batch in one transaction: rows whose number is stored are
/// duplicates, the others are inserted (customers, then their numbers in
/// phone order, then tags).
async fn write_batch<R: ImportRow>(
    ctx: &Ctx,
    actor: &Actor,
    batch: &[Valid<R>],
) -> Result<Written> {
    let txn = ctx
        .write_as(actor, crate::service::history::Source::Import)
        .await?;
    let holders: HashMap<String, CustomerId> = scope::phones(actor)
        .filter(
            customer_phone::Column::Phone
                .is_in(batch.iter().flat_map(|r| r.phones.iter().cloned())),
        )
        .all(&*txn)
        .await?
        .into_iter()
        .map(|h| (h.phone, CustomerId::from(h.customer_id)))
        .collect();
    let now = time::now();
    let mut written = Written::default();
    let mut models = Vec::with_capacity(batch.len());
    for row in batch {
        if let Some((phone, id)) = row
            .phones
            .iter()
            .find_map(|p| holders.get(p).map(|id| (p, *id)))
        {
            let reason = format!("phone number {phone} already belongs to a customer");
            written.duplicates.push(ImportIssue {
                existing_id: Some(id),
                ..ImportIssue::new(row.index, row.phones.first().cloned(), reason)
            });
            continue;
        }
        let changes = row.changes(ctx)?;
        let tags = changes.tags.clone().unwrap_or_default();
        let model = customers::new_model(actor, changes, now)?;
        models.push((row.index, model, &row.phones[1..], tags));
    }
    insert_chunked(
        &*txn,
        models
            .iter()
            .map(|(_, m, _, _)| m.clone().into_active_model())
            .collect(),
    )
    .await?;
    for (_, m, _, _) in &models {
        txn.customer_added(m);
    }
    let mut phones: Vec<(&String, customer_phone::ActiveModel)> = models
        .iter()
        .flat_map(|(_, m, alts, _)| {
            std::iter::once(&m.phone_number)
                .chain(alts.iter())
                .zip(customer_rows::phone_rows(m, alts))
        })
        .collect();
    phones.sort_by(|a, b| a.0.cmp(b.0));
    insert_chunked(&*txn, phones.into_iter().map(|(_, row)| row).collect()).await?;
    let tags = models
        .iter()
        .flat_map(|(_, m, _, tags)| customer_rows::tag_rows(m, tags))
        .collect();
    insert_chunked(&*txn, tags).await?;
    written.stored = models
        .iter()
        .map(|(index, m, _, _)| (*index, CustomerId::from(m.id)))
        .collect();
    drop(models);
    txn.commit().await?;
    let events = written
        .stored
        .iter()
        .map(|(_, id)| Event::customer(&actor.tenant, ChangeKind::Created, *id));
    ctx.events.publish(&ctx.db, events.collect()).await;
    Ok(written)
}

/// One batch of upsert or import written, tried again (up to
/// [`MAX_ATTEMPTS`] times, with a jittered pause) when it lost a race to
/// another writer: a number or external id taken meanwhile (the next try
/// sees its holder), a deadlock or a serialization failure. Nothing of a
/// try that failed stands.
#[tracing::instrument(skip_all, fields(tenant.id = %actor.tenant, rows = items.len()), err(level = "debug"))]
pub(crate) async fn write_retrying(
    ctx: &Ctx,
    actor: &Actor,
    options: &batch::Options,
    items: &[batch::Item],
    seen: &batch::Seen,
) -> Result<batch::Written> {
    let mut attempt = 1;
    loop {
        let error = match batch::write_batch(ctx, actor, options, items.to_vec(), seen).await {
            Ok(written) => {
                plan_with_statistics(ctx).await;
                return Ok(written);
            }
            Err(e) => e,
        };
        let cause = db_error(&error);
        let lost = matches!(error, Error::Taken(_))
            || cause.is_some_and(|c| is_unique_violation(c) || is_retryable_conflict(c));
        if !lost || attempt >= MAX_ATTEMPTS {
            return Err(error);
        }
        let pause = 5 * u64::from(attempt) + rand::random::<u64>() % 10;
        tracing::debug!(attempt, "import batch lost a race; trying again");
        tokio::time::sleep(Duration::from_millis(pause)).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

    use super::*;
    use crate::auth::Role;

    /// An import's answer reads its customers back by primary key, even on
    /// a fresh file whose planner has no statistics yet (the first import
    /// of a new desk), never by a scan of every tenant's customers.
    #[tokio::test]
    async fn sqlite_reads_stored_customers_back_by_primary_key() {
        let db = crate::db::connect_and_migrate("sqlite::memory:", 1)
            .await
            .expect("migrate");
        let actor = Actor {
            agent: "a1".into(),
            role: Role::Admin,
            tenant: "acme".into(),
        };
        let ids: Vec<CustomerId> = (0..BATCH)
            .map(|_| CustomerId::from(Uuid::now_v7()))
            .collect();
        let query = stored_page(&actor, &ids).build(DbBackend::Sqlite);
        let explain = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", query.sql),
            query.values.expect("bound values").0,
        );
        let plan: Vec<String> = db
            .query_all(explain)
            .await
            .expect("plan")
            .iter()
            .map(|r| r.try_get_by_index::<String>(3).unwrap_or_default())
            .collect();
        assert_eq!(
            plan,
            ["SEARCH customers USING INDEX sqlite_autoindex_customers_1 (tenant_id=? AND id=?)"],
            "one lookup per id"
        );
    }
}
