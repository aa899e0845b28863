//! Import jobs held by a lease (issue 11, part 2: status that survives a
//! restart with several servers on one database):
//!
//! - `import_jobs.owner`: the id of the server process that runs the job (a
//!   random id each process makes at start). The upload is on that server's
//!   disk, so only it can run the job.
//! - `import_jobs.heartbeat_at`: when the owner last said it still runs the
//!   job. A queued or running job whose heartbeat is older than the lease
//!   (or NULL: a row made before this migration) is one whose owner stopped,
//!   and any server's recovery marks it failed.
//! - `import_jobs_status_heartbeat` (status, heartbeat_at) serves that
//!   recovery query; it replaces `import_jobs_status`, which it leads with.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ImportJobs {
    Table,
    Status,
    Owner,
    HeartbeatAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJobs::Table)
                    .add_column(ColumnDef::new(ImportJobs::Owner).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ImportJobs::Table)
                    .add_column(
                        ColumnDef::new(ImportJobs::HeartbeatAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("import_jobs_status")
                    .table(ImportJobs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_jobs_status_heartbeat")
                    .table(ImportJobs::Table)
                    .col(ImportJobs::Status)
                    .col(ImportJobs::HeartbeatAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("import_jobs_status_heartbeat")
                    .table(ImportJobs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_jobs_status")
                    .table(ImportJobs::Table)
                    .col(ImportJobs::Status)
                    .to_owned(),
            )
            .await?;
        for column in [ImportJobs::HeartbeatAt, ImportJobs::Owner] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ImportJobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
