//! Two customer columns the data-quality features stand on:
//!
//! - `external_id`: the id a customer has in another system (a shop, a
//!   marketing list), unique per tenant, matched by upsert and import.
//! - `deleted_at`: when a soft delete put the customer in the trash; NULL
//!   for every customer not in it. Restore clears it; the purge sweep erases
//!   rows whose time in the trash ran out.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    TenantId,
    ExternalId,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(ColumnDef::new(Customers::ExternalId).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(
                        ColumnDef::new(Customers::DeletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Unique per tenant; NULLs (no external id) never collide.
        manager
            .create_index(
                Index::create()
                    .name("customers_tenant_external_id")
                    .table(Customers::Table)
                    .col(Customers::TenantId)
                    .col(Customers::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customers_tenant_deleted_at")
                    .table(Customers::Table)
                    .col(Customers::TenantId)
                    .col(Customers::DeletedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "customers_tenant_deleted_at",
            "customers_tenant_external_id",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Customers::Table).to_owned())
                .await?;
        }
        for column in [Customers::DeletedAt, Customers::ExternalId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Customers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
