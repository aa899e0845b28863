//! Upsert and import (issue 11, parts 1 and 2):
//!
//! - `idempotency_keys`: the first answer to an upsert sent with an
//!   `Idempotency-Key` header, per tenant and key, with the hash of the body
//!   it answered; `status` NULL while the first request still runs (a second
//!   one with the key then gets a 409 "in progress"). Rows expire after 24 h.
//! - `import_jobs`: an import running in the background, its status and
//!   counts (written in the transaction of each batch, so they never count a
//!   row that was not committed).
//! - `import_errors`: the rows of a job that were not stored, one line per
//!   field error (row number, field, code, message).
//!
//! Lookups by email use the `customers_tenant_email` index of migration 3.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    TenantId,
    Key,
    RequestHash,
    Status,
    Response,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ImportJobs {
    Table,
    Id,
    TenantId,
    Agent,
    Status,
    Mode,
    MatchOn,
    DryRun,
    Format,
    BytesTotal,
    BytesRead,
    RowsRead,
    Created,
    Updated,
    Unchanged,
    Duplicate,
    Failed,
    Error,
    CancelRequested,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ImportErrors {
    Table,
    TenantId,
    JobId,
    Row,
    Seq,
    Field,
    Code,
    Message,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::TenantId).text().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Key).text().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::RequestHash)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::Status).integer().null())
                    .col(ColumnDef::new(IdempotencyKeys::Response).text().null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::TenantId)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_expires_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        let count = |c: ImportJobs| {
            ColumnDef::new(c)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(ImportJobs::Table)
                    .col(
                        ColumnDef::new(ImportJobs::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ImportJobs::TenantId).text().not_null())
                    .col(ColumnDef::new(ImportJobs::Agent).text().not_null())
                    .col(ColumnDef::new(ImportJobs::Status).text().not_null())
                    .col(ColumnDef::new(ImportJobs::Mode).text().not_null())
                    .col(ColumnDef::new(ImportJobs::MatchOn).text().not_null())
                    .col(ColumnDef::new(ImportJobs::DryRun).boolean().not_null())
                    .col(ColumnDef::new(ImportJobs::Format).text().not_null())
                    .col(count(ImportJobs::BytesTotal))
                    .col(count(ImportJobs::BytesRead))
                    .col(count(ImportJobs::RowsRead))
                    .col(count(ImportJobs::Created))
                    .col(count(ImportJobs::Updated))
                    .col(count(ImportJobs::Unchanged))
                    .col(count(ImportJobs::Duplicate))
                    .col(count(ImportJobs::Failed))
                    .col(ColumnDef::new(ImportJobs::Error).text().null())
                    .col(
                        ColumnDef::new(ImportJobs::CancelRequested)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(ImportJobs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ImportJobs::StartedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ImportJobs::FinishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ImportJobs::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("import_jobs_tenant_created")
                    .table(ImportJobs::Table)
                    .col(ImportJobs::TenantId)
                    .col(ImportJobs::CreatedAt)
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
        manager
            .create_table(
                Table::create()
                    .table(ImportErrors::Table)
                    .col(ColumnDef::new(ImportErrors::TenantId).text().not_null())
                    .col(ColumnDef::new(ImportErrors::JobId).uuid().not_null())
                    .col(ColumnDef::new(ImportErrors::Row).big_integer().not_null())
                    .col(ColumnDef::new(ImportErrors::Seq).integer().not_null())
                    .col(ColumnDef::new(ImportErrors::Field).text().not_null())
                    .col(ColumnDef::new(ImportErrors::Code).text().not_null())
                    .col(ColumnDef::new(ImportErrors::Message).text().not_null())
                    .primary_key(
                        Index::create()
                            .col(ImportErrors::TenantId)
                            .col(ImportErrors::JobId)
                            .col(ImportErrors::Row)
                            .col(ImportErrors::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImportErrors::Table.into_iden(),
            ImportJobs::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
