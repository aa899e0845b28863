//! Duplicates and merges:
//!
//! - `customer_merges`, one row per merge of customers: who was kept (the
//!   primary), who was merged into it (the others), who merged and when,
//!   whether and when it was undone, and a JSON snapshot of everything the
//!   undo needs (each other customer's full row, tags and numbers, the ids
//!   of the conversations, messages and tickets that moved, and what the
//!   primary gained). Tenant-led keys like every table since the third step.
//! - Two expression indexes over `customer_phones` that let the duplicate
//!   finder group numbers in SQL (`GROUP BY key HAVING count(*) > 1`)
//!   without a pass over every pair: one on the number with its WhatsApp
//!   variant folded away (Mexico's legacy `52 1`, Argentina's mobile `9`,
//!   Brazil's ninth digit), one on its last seven digits. Each carries
//!   `customer_id`, so the grouping reads the index alone.
//!
//! The server's finder (`service::duplicates`) writes the same expressions;
//! SQLite uses an expression index only for the identical expression, and
//! a test reads the query plan to keep the two the same.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustomerMerges {
    Table,
    TenantId,
    Id,
    PrimaryId,
    OtherIds,
    Agent,
    CreatedAt,
    UndoneAt,
    UndoneBy,
    Snapshot,
}

/// A number with its WhatsApp variant folded: `521` + 10 digits (Mexico's
/// legacy mobile prefix) and `549` + 10 (Argentina's mobile `9`) lose the
/// `1` or `9`; a 13-digit Brazilian mobile (`55` + area + `9` + 8 digits
/// starting 6 to 9) loses its ninth digit.
const VARIANT_KEY: &str = "CASE \
    WHEN length(phone) = 13 AND substr(phone, 1, 3) = '521' THEN '52' || substr(phone, 4) \
    WHEN length(phone) = 13 AND substr(phone, 1, 3) = '549' THEN '54' || substr(phone, 4) \
    WHEN length(phone) = 13 AND substr(phone, 1, 2) = '55' AND substr(phone, 5, 1) = '9' \
    AND substr(phone, 6, 1) IN ('6', '7', '8', '9') THEN substr(phone, 1, 4) || substr(phone, 6) \
    ELSE phone END";

/// The last seven digits of a number.
const SUFFIX_KEY: &str = "substr(phone, length(phone) - 6)";

/// `(name, expression)` of the expression indexes this step creates.
const KEY_INDEXES: &[(&str, &str)] = &[
    ("customer_phones_tenant_variant", VARIANT_KEY),
    ("customer_phones_tenant_suffix", SUFFIX_KEY),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CustomerMerges::Table)
                    .col(ColumnDef::new(CustomerMerges::TenantId).string().not_null())
                    .col(ColumnDef::new(CustomerMerges::Id).uuid().not_null())
                    .col(ColumnDef::new(CustomerMerges::PrimaryId).uuid().not_null())
                    .col(
                        ColumnDef::new(CustomerMerges::OtherIds)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CustomerMerges::Agent).string().not_null())
                    .col(
                        ColumnDef::new(CustomerMerges::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CustomerMerges::UndoneAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(CustomerMerges::UndoneBy).string())
                    .col(
                        ColumnDef::new(CustomerMerges::Snapshot)
                            .json_binary()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("customer_merges_pkey")
                            .col(CustomerMerges::TenantId)
                            .col(CustomerMerges::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("customer_merges_tenant_primary")
                    .table(CustomerMerges::Table)
                    .col(CustomerMerges::TenantId)
                    .col(CustomerMerges::PrimaryId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for (name, key) in KEY_INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX \"{name}\" ON customer_phones (tenant_id, ({key}), customer_id)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in KEY_INDEXES {
            db.execute_unprepared(&format!("DROP INDEX \"{name}\""))
                .await?;
        }
        manager
            .drop_table(Table::drop().table(CustomerMerges::Table).to_owned())
            .await?;
        Ok(())
    }
}
