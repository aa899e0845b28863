//! Writing generated demo data (see `crate::seed`): whole batches inside one
//! transaction each, as multi-row INSERTs.

use entity::{agent, customer};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, TransactionTrait,
};

use super::insert_chunked;
use crate::error::Result;
use crate::seed::Batch;

/// Tunes a one-connection SQLite pool for a bulk load: a large page cache
/// (the indexes of a million customers stay in memory) and no fsync per
/// commit (a crash mid-seed loses only demo data). PostgreSQL is left as is.
pub async fn tune_for_bulk_load(db: &DatabaseConnection) -> Result<()> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA cache_size = -524288").await?;
        db.execute_unprepared("PRAGMA synchronous = OFF").await?;
        db.execute_unprepared("PRAGMA temp_store = MEMORY").await?;
    }
    Ok(())
}

/// Whether the tenant has no customers yet (seeding refuses to mix with real data).
pub async fn tenant_is_empty(db: &DatabaseConnection, tenant: &str) -> Result<bool> {
    Ok(customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant))
        .count(db)
        .await?
        == 0)
}

/// Writes the demo agents.
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
pub async fn write_batch(db: &DatabaseConnection, batch: Batch) -> Result<()> {
    fn active<M: IntoActiveModel<A>, A: sea_orm::ActiveModelTrait>(rows: Vec<M>) -> Vec<A> {
        rows.into_iter()
            .map(IntoActiveModel::into_active_model)
            .collect()
    }
    let txn = db.begin().await?;
    insert_chunked(&txn, active(batch.customers)).await?;
    insert_chunked(&txn, active(batch.phones)).await?;
    insert_chunked(&txn, active(batch.tags)).await?;
    insert_chunked(&txn, active(batch.conversations)).await?;
    insert_chunked(&txn, active(batch.messages)).await?;
    insert_chunked(&txn, active(batch.tickets)).await?;
    txn.commit().await?;
    Ok(())
}
