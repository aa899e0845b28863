//! The change history, the erasure receipts and what a restore from the
//! trash needs:
//!
//! - `customer_changes`: one row per changed field of a customer write
//!   (field, old and new value as JSON text, the writer's `sub`, the source,
//!   the time), keyed by tenant and read per customer newest first, so the
//!   index is `(tenant_id, customer_id, at, id)`. No foreign key to
//!   `customers`: the history outlives a hard delete.
//! - `erasures`: the receipt of each erasure of a customer's personal data
//!   (who, when, what, how many rows), kept after the customer is gone.
//! - `customers.status_before_delete`: the status a soft delete replaced
//!   (of the customer, or the one unblock returns to when it was blocked),
//!   which a restore puts back.
//! - `customers_deleted_at`: the trash sweep looks for expired customers
//!   across tenants (the tenant-led index of migration 5 serves a tenant's
//!   trash list); NULLs, the customers not in the trash, sort out of its way.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    StatusBeforeDelete,
    DeletedAt,
}

#[derive(DeriveIden)]
enum CustomerChanges {
    Table,
    TenantId,
    Id,
    CustomerId,
    Field,
    OldValue,
    NewValue,
    Agent,
    Source,
    At,
}

#[derive(DeriveIden)]
enum Erasures {
    Table,
    TenantId,
    Id,
    CustomerId,
    ErasedAt,
    Agent,
    Items,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(ColumnDef::new(Customers::StatusBeforeDelete).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customers_deleted_at")
                    .table(Customers::Table)
                    .col(Customers::DeletedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CustomerChanges::Table)
                    .col(ColumnDef::new(CustomerChanges::TenantId).text().not_null())
                    .col(ColumnDef::new(CustomerChanges::Id).uuid().not_null())
                    .col(
                        ColumnDef::new(CustomerChanges::CustomerId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CustomerChanges::Field).text().not_null())
                    .col(ColumnDef::new(CustomerChanges::OldValue).text().null())
                    .col(ColumnDef::new(CustomerChanges::NewValue).text().null())
                    .col(ColumnDef::new(CustomerChanges::Agent).text().not_null())
                    .col(ColumnDef::new(CustomerChanges::Source).text().not_null())
                    .col(
                        ColumnDef::new(CustomerChanges::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(CustomerChanges::TenantId)
                            .col(CustomerChanges::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_changes_tenant_customer_at")
                    .table(CustomerChanges::Table)
                    .col(CustomerChanges::TenantId)
                    .col(CustomerChanges::CustomerId)
                    .col((CustomerChanges::At, IndexOrder::Desc))
                    .col((CustomerChanges::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Erasures::Table)
                    .col(ColumnDef::new(Erasures::TenantId).text().not_null())
                    .col(ColumnDef::new(Erasures::Id).uuid().not_null())
                    .col(ColumnDef::new(Erasures::CustomerId).uuid().not_null())
                    .col(
                        ColumnDef::new(Erasures::ErasedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Erasures::Agent).text().not_null())
                    .col(ColumnDef::new(Erasures::Items).text().not_null())
                    .primary_key(Index::create().col(Erasures::TenantId).col(Erasures::Id))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("erasures_tenant_customer")
                    .table(Erasures::Table)
                    .col(Erasures::TenantId)
                    .col(Erasures::CustomerId)
                    .col(Erasures::ErasedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Erasures::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CustomerChanges::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("customers_deleted_at")
                    .table(Customers::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .drop_column(Customers::StatusBeforeDelete)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
