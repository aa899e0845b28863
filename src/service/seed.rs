//! Writing generated demo data (the generator is `crate::seed`, which
//! imports this module, never the other way round): whole batches inside
//! one transaction each, as multi-row INSERTs.

use entity::{agent, conversation, customer, customer_phone, customer_tag, message, ticket};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, IntoActiveModel, PaginatorTrait, TransactionTrait,
};

use super::{counts, insert_chunked, scope};
use crate::error::Result;

/// Rows of one batch of customers, ready to insert.
#[derive(Debug, Default)]
pub struct Batch {
    /// Customer rows, their statistics already exact.
    pub customers: Vec<customer::Model>,
    /// Their phone rows.
    pub phones: Vec<customer_phone::Model>,
    /// Their tag rows.
    pub tags: Vec<customer_tag::Model>,
    /// Their conversations.
    pub conversations: Vec<conversation::Model>,
    /// The conversations' messages.
    pub messages: Vec<message::Model>,
    /// Their tickets.
    pub tickets: Vec<ticket::Model>,
}

/// Tunes a one-connection SQLite pool for a bulk load: a large page cache
/// (the indexes of a million customers stay in memory) and no fsync per
/// commit (a crash mid-seed loses only demo data). PostgreSQL is left as is.
#[tracing::instrument(skip_all, err)]
pub async fn tune_for_bulk_load(db: &DatabaseConnection) -> Result<()> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA cache_size = -524288").await?;
        db.execute_unprepared("PRAGMA synchronous = OFF").await?;
        db.execute_unprepared("PRAGMA temp_store = MEMORY").await?;
    }
    Ok(())
}

/// Whether the tenant has no customers yet (seeding refuses to mix with real data).
#[tracing::instrument(skip_all, fields(tenant.id = %tenant), err)]
pub async fn tenant_is_empty(db: &DatabaseConnection, tenant: &str) -> Result<bool> {
    Ok(scope::customers_in(tenant).count(db).await? == 0)
}

/// Writes the demo agents.
#[tracing::instrument(skip_all, err)]
pub async fn write_agents(db: &DatabaseConnection, agents: Vec<agent::Model>) -> Result<()> {
    insert_chunked(
        db,
        agents
            .into_iter()
            .map(IntoActiveModel::into_active_model)
            .collect(),
    )
    .await
}

/// Writes one batch in one transaction: all of its rows or none.
#[tracing::instrument(skip_all, fields(customers = batch.customers.len()), err)]
pub async fn write_batch(db: &DatabaseConnection, batch: Batch) -> Result<()> {
    fn active<M: IntoActiveModel<A>, A: sea_orm::ActiveModelTrait>(rows: Vec<M>) -> Vec<A> {
        rows.into_iter()
            .map(IntoActiveModel::into_active_model)
            .collect()
    }
    let mut tally = counts::Tally::default();
    for c in &batch.customers {
        tally.added(c);
    }
    let txn = db.begin().await?;
    insert_chunked(&txn, active(batch.customers)).await?;
    insert_chunked(&txn, active(batch.phones)).await?;
    insert_chunked(&txn, active(batch.tags)).await?;
    insert_chunked(&txn, active(batch.conversations)).await?;
    insert_chunked(&txn, active(batch.messages)).await?;
    insert_chunked(&txn, active(batch.tickets)).await?;
    tally.write(&txn).await?;
    txn.commit().await?;
    Ok(())
}
