//! PostgreSQL's trigram search index with a short pending list
//! (`gin_pending_list_limit` of 256 kB instead of the server's 4 MB).
//!
//! Every message a desk stores moves its customer's `last_interaction`,
//! which several indexes hold, so the update is not HOT and each index,
//! the trigram GIN index included, gets an entry for the new row version.
//! GIN keeps such entries unsorted in a pending list until it reaches the
//! limit, and every search reads the whole list. Measured at 1,000,000
//! customers with a phone-fragment search (plain SQL, 32 clients): 1,195
//! requests/s with the list empty, 342/s with 448 pending pages (what 4,500
//! messages build under the 4 MB limit). With this limit the list never
//! passes 32 pages: 0.94 of the empty list's rate after 27,000 such updates,
//! which cost 0.48 ms each against 0.34 ms under the 4 MB limit and 0.71 ms
//! with no list at all (`fastupdate = off`, the other way to keep searches
//! even, which doubles what every write pays for the index).
//!
//! SQLite's FTS5 index has no such list: nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER INDEX customers_search_trgm SET (gin_pending_list_limit = 256)",
            )
            .await?;
            // A longer list already pending is merged now, not at the next
            // write that finds it over the new limit.
            db.execute_unprepared("SELECT gin_clean_pending_list('customers_search_trgm')")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER INDEX customers_search_trgm RESET (gin_pending_list_limit)",
            )
            .await?;
        }
        Ok(())
    }
}
