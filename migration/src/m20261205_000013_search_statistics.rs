//! PostgreSQL: a finer histogram of `customers.search_text` (1,000 buckets
//! instead of the server's 100), so the planner's guess of how many
//! customers a search word finds is near the truth.
//!
//! PostgreSQL guesses how many rows `search_text LIKE '%word%'` keeps from
//! the share of the column's histogram bounds the pattern matches. With 101
//! bounds a word on 2.2 % of the customers (`maria`) matches none about one
//! time in ten (0.978^101), and then the guess is 100 rows of 1,000,000: the
//! planner read all 22,350 hits through the trigram index and sorted them
//! (630 ms cold, 15.7 pages/s under 32 connections, timeouts) instead of
//! walking the order's index until 20 were found (18 ms cold). A freshly
//! seeded 1,000,000-customer database drew such a sample; 1,001 bounds
//! matched 17 times (a guess of 17,017). ANALYZE samples 300,000 rows
//! instead of 30,000 (13.5 s at 1,000,000 customers, done here once for a
//! database that has statistics).
//!
//! SQLite keeps no histogram of the column; it chooses by the exact total.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Buckets of the search text's histogram.
pub const SEARCH_TEXT_STATISTICS: u32 = 1_000;

async fn set(manager: &SchemaManager<'_>, target: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_unprepared(&format!(
        "ALTER TABLE customers ALTER COLUMN search_text SET STATISTICS {target}"
    ))
    .await?;
    // A table with statistics gets them anew now; a fresh one (never
    // analyzed) is left to the first write's ANALYZE
    // (`clientela::db::analyze_if_unplanned`), which reads the new target.
    if !crate::postgres_unanalyzed(db, "customers").await? {
        db.execute_unprepared("ANALYZE customers").await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set(manager, &SEARCH_TEXT_STATISTICS.to_string()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // -1: the server's `default_statistics_target`.
        set(manager, "-1").await
    }
}
