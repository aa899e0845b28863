//! The core: the only code with business rules and SQL. Every function takes
//! the caller's [`Actor`](crate::auth::Actor); tenancy and roles are enforced
//! here, once, so neither face (GraphQL, REST) can forget them. Faces call
//! these functions and shape the answer; they never touch sea_orm.
//!
//! Layers inside, arrows only downward (no module imports one that imports
//! it back): `trash`, `erasure` → `customers`, `import`, `export`, `recount` → `conversations`,
//! `tickets` → `customer_rows`, `ledger`, `events`, `input` → `scope`,
//! `counts`, `fixed`, `shapes` → `plans`, `rows`. This file holds what all of them share (the context,
//! transactions with their counters, chunked inserts, ids as query values)
//! and imports only `events`, `counts` and `history`.
//!
//! Functions take ids already parsed ([`crate::domain::ids`]): the faces
//! parse what a client sent, once, at the edge.

pub mod agents;
pub mod conversations;
pub(crate) mod counts;
mod customer_rows;
pub mod customers;
pub mod duplicates;
pub mod erasure;
pub mod events;
pub mod export;
pub mod export_links;
mod fixed;
pub mod history;
pub mod import;
mod input;
pub mod ledger;
pub mod merges;
mod plans;
pub mod recount;
mod rows;
mod scope;
pub mod seed;
mod shapes;
pub mod tickets;
pub mod trash;

/// Which of a model's columns a read takes (a list's, for what its caller shows).
pub use rows::Columns;

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::Actor;
use crate::domain::ids::{AgentId, ConversationId, CustomerId, MessageId, TicketId};
use crate::error::Result;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// What every service call needs besides the caller: the database and the
/// settings that shape business rules.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub db: DatabaseConnection,
    /// Region for phone numbers written without a country code.
    pub region: phonenumber::country::Id,
    /// Change events for subscriptions.
    pub events: events::Events,
    /// Filtered customer counts, valid while their tenant's version holds.
    pub(crate) counts: Arc<counts::Cache>,
    /// How long a soft-deleted customer stays restorable before the sweep
    /// purges it ([`trash`]).
    pub trash_window: chrono::TimeDelta,
    /// This server process's id, made at random once per process: the owner
    /// of the import jobs it runs ([`import::jobs`]).
    pub instance: uuid::Uuid,
    /// How long an import job's owner may go without a heartbeat before any
    /// server's recovery takes it for stopped ([`import::jobs::recover`]).
    pub job_lease: std::time::Duration,
    /// Serializes write transactions on SQLite, which has one writer at a
    /// time: a deferred transaction that reads and then writes would fail
    /// with SQLITE_BUSY when another writer got there first.
    sqlite_writer: Arc<Mutex<()>>,
}

/// A write transaction (holding the SQLite writer slot where there is one),
/// with the counter changes of the customers it writes ([`counts::Tally`])
/// and their change history ([`history::Log`]), both written by
/// [`WriteTxn::commit`].
pub struct WriteTxn {
    txn: DatabaseTransaction,
    tally: std::sync::Mutex<counts::Tally>,
    history: history::SharedLog,
    /// Who writes, and through what.
    origin: history::Origin,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn {
    /// Who writes in this transaction, and through what.
    pub(crate) fn origin(&self) -> &history::Origin {
        &self.origin
    }

    /// Commits (the history and the counters last, with the rows they
    /// describe), then frees the writer slot.
    pub async fn commit(self) -> Result<()> {
        let log = std::mem::take(&mut *crate::sync::lock(&self.history));
        log.write(&self.txn, self.origin(), crate::domain::time::now())
            .await?;
        let tally = self
            .tally
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tally.write(&self.txn).await?;
        self.txn.commit().await?;
        Ok(())
    }

    /// Records in this transaction's history what `f` records.
    fn record(&self, f: impl FnOnce(&mut history::Log)) {
        f(&mut crate::sync::lock(&self.history));
    }

    /// Changes this transaction's counters by what `f` records.
    fn count(&self, f: impl FnOnce(&mut counts::Tally)) {
        f(&mut crate::sync::lock(&self.tally));
    }

    /// Counts a customer row this transaction inserted, and records its
    /// fields in the history.
    pub(crate) fn customer_added(&self, m: &entity::customer::Model) {
        self.count(|t| t.added(m));
        self.record(|h| h.added(m));
    }

    /// Uncounts a customer row this transaction deleted, and records the
    /// removal in the history.
    pub(crate) fn customer_removed(&self, m: &entity::customer::Model) {
        self.count(|t| t.removed(m));
        self.record(|h| h.removed(m));
    }

    /// Recounts a customer row this transaction changed, and records the
    /// fields that moved in the history.
    pub(crate) fn customer_changed(
        &self,
        old: &entity::customer::Model,
        new: &entity::customer::Model,
    ) {
        self.count(|t| t.changed(old, new));
        self.record(|h| h.changed(old, new));
    }
}

impl Ctx {
    /// A context over a connected, migrated database.
    pub fn new(db: DatabaseConnection, region: phonenumber::country::Id) -> Self {
        Self {
            db,
            region,
            events: events::Events::default(),
            counts: Arc::default(),
            trash_window: chrono::TimeDelta::days(trash::DEFAULT_DAYS.into()),
            instance: uuid::Uuid::now_v7(),
            job_lease: import::jobs::DEFAULT_LEASE,
            sqlite_writer: Arc::new(Mutex::new(())),
        }
    }

    /// The same context with customers restorable for `days` after a soft
    /// delete (and purged after).
    pub fn with_trash_days(mut self, days: u32) -> Self {
        self.trash_window = chrono::TimeDelta::days(days.into());
        self
    }

    /// The same context with import jobs leased for `lease` (see [`Ctx::job_lease`]).
    pub fn with_job_lease(mut self, lease: std::time::Duration) -> Self {
        self.job_lease = lease;
        self
    }

    /// Begins a transaction that will write, as the server itself
    /// ([`history::Origin::system`]).
    pub async fn write(&self) -> Result<WriteTxn> {
        self.write_by(history::Origin::system()).await
    }

    /// Begins a transaction that will write for `actor` through `source`.
    pub async fn write_as(&self, actor: &Actor, source: history::Source) -> Result<WriteTxn> {
        self.write_by(history::Origin::of(actor, source)).await
    }

    /// Begins a transaction that will write for `origin`.
    pub async fn write_by(&self, origin: history::Origin) -> Result<WriteTxn> {
        let started = std::time::Instant::now();
        let writer = match self.db.get_database_backend() {
            DbBackend::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            _ => None,
        };
        let txn = self.db.begin().await?;
        // The wait for the writer slot and a pooled connection.
        metrics::histogram!("db_write_wait_seconds").record(started.elapsed().as_secs_f64());
        Ok(WriteTxn {
            txn,
            tally: Default::default(),
            history: Default::default(),
            origin,
            _writer: writer,
        })
    }
}

/// Runs `task` every `period` (the first run at once) until `stop`
/// resolves; a run under way when it does is dropped, so a transaction it
/// had open rolls back. A failed run is logged (as `what`) and the next
/// period tries again. The background work of `serve` (the trash sweep,
/// import job recovery) runs this way.
pub async fn every<F, Fut>(
    period: std::time::Duration,
    what: &'static str,
    stop: impl std::future::Future<Output = ()>,
    mut task: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut stop = std::pin::pin!(stop);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = &mut stop => break,
            done = task() => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, "{what} failed; retrying next period");
                }
            }
        }
    }
}

/// Most bound parameters one INSERT carries, under SQLite's limit (32766)
/// and PostgreSQL's (65535).
const MAX_INSERT_PARAMS: usize = 30_000;

/// Inserts rows in as few multi-row statements as the parameter limits allow.
pub(crate) async fn insert_chunked<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    let columns = <<A::Entity as EntityTrait>::Column as sea_orm::Iterable>::iter()
        .count()
        .max(1);
    let per_statement = (MAX_INSERT_PARAMS / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Writes every column of a row back, found by its primary key (which an
/// update never sets).
pub(crate) async fn save_row<A>(
    db: &impl ConnectionTrait,
    model: <A::Entity as EntityTrait>::Model,
) -> Result<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    use sea_orm::IntoActiveModel;
    Ok(model.into_active_model().reset_all().update(db).await?)
}

/// Ids go into queries as the UUIDs they are (`Column::Id.eq(id)`).
macro_rules! id_values {
    ($($id:ty),*) => {
        $(
            impl From<$id> for sea_orm::Value {
                fn from(id: $id) -> Self {
                    id.uuid().into()
                }
            }
        )*
    };
}

id_values!(CustomerId, ConversationId, MessageId, TicketId, AgentId);

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use super::every;
    use crate::error::Error;

    #[tokio::test]
    async fn every_keeps_going_after_a_failure_and_stops_when_told() {
        let runs = AtomicU32::new(0);
        let (tell, stop) = tokio::sync::oneshot::channel::<()>();
        let task = every(
            Duration::from_millis(10),
            "a test task",
            async move {
                let _ = stop.await;
            },
            || async {
                // Every run fails; the next period tries again.
                runs.fetch_add(1, Ordering::SeqCst);
                Err::<u64, _>(Error::internal(anyhow::anyhow!("failing on purpose")))
            },
        );
        let stopper = async {
            while runs.load(Ordering::SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = tell.send(());
        };
        tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(task, stopper)
        })
        .await
        .expect("every stops once told");
        let after = runs.load(Ordering::SeqCst);
        assert!(after >= 3, "{after} runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(runs.load(Ordering::SeqCst), after, "no run after the stop");
    }
}
