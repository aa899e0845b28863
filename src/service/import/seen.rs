//! The keys an import's earlier rows claimed ([`Seen`]), so that a later row
//! sharing one is judged a duplicate: 64-bit hashes of each key with the row
//! that claimed it.
//!
//! An upsert call is one batch and keeps its keys in memory. A job may read
//! a million rows: its keys go to a scratch SQLite file of its own (deleted
//! with the job's [`Seen`]), so the job's memory stays the same whatever the
//! file's length; each batch asks for its own keys in one query.

use std::collections::HashMap;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use crate::error::{Error, Result};

/// Keys per statement: two parameters each, under SQLite's 32,766.
const CHUNK: usize = 10_000;

/// The keys an import's committed (or, in a dry run, rolled back) batches claimed.
#[derive(Debug, Default)]
pub struct Seen {
    memory: HashMap<u64, u32>,
    disk: Option<Disk>,
}

/// The scratch file of a job's keys.
#[derive(Debug)]
struct Disk {
    db: DatabaseConnection,
    /// Removes the file when dropped (after the connection closes).
    _file: tempfile::TempPath,
}

/// The claims an earlier batch made on one batch's keys: what the batch may read.
#[derive(Debug, Default)]
pub struct Known(HashMap<u64, u32>);

impl Known {
    /// Adds the claims of another lookup.
    pub fn extend(&mut self, other: Known) {
        self.0.extend(other.0);
    }

    /// The row that claimed `key` first, if an earlier batch did.
    pub fn get(&self, key: u64) -> Option<u32> {
        self.0.get(&key).copied()
    }
}

/// SQLite stores signed 64-bit integers: a key's bits as one.
fn signed(key: u64) -> i64 {
    i64::from_ne_bytes(key.to_ne_bytes())
}

impl Seen {
    /// Keys kept in a scratch file (an import job's).
    pub async fn on_disk() -> Result<Seen> {
        let file = tempfile::Builder::new()
            .prefix("clientela-import-keys-")
            .tempfile()
            .map_err(Error::internal)?
            .into_temp_path();
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        // Scratch data: a crash loses the job anyway, so no journal, no syncs,
        // and a small page cache (the file is read by key, never scanned).
        for sql in [
            "PRAGMA journal_mode = OFF",
            "PRAGMA synchronous = OFF",
            "PRAGMA cache_size = -2048",
            "CREATE TABLE seen (key INTEGER PRIMARY KEY, row INTEGER NOT NULL)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(Seen {
            memory: HashMap::new(),
            disk: Some(Disk { db, _file: file }),
        })
    }

    /// The claims on `keys` (duplicates allowed).
    pub async fn known(&self, keys: &[u64]) -> Result<Known> {
        let Some(disk) = &self.disk else {
            return Ok(Known(
                keys.iter()
                    .filter_map(|k| Some((*k, *self.memory.get(k)?)))
                    .collect(),
            ));
        };
        let mut found = HashMap::new();
        for chunk in keys.chunks(CHUNK) {
            let marks = vec!["?"; chunk.len()].join(",");
            let rows = disk
                .db
                .query_all(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!("SELECT key, row FROM seen WHERE key IN ({marks})"),
                    chunk.iter().map(|k| signed(*k).into()),
                ))
                .await?;
            for r in rows {
                let key: i64 = r.try_get("", "key")?;
                let row: i64 = r.try_get("", "row")?;
                found.insert(
                    u64::from_ne_bytes(key.to_ne_bytes()),
                    u32::try_from(row).unwrap_or(u32::MAX),
                );
            }
        }
        Ok(Known(found))
    }

    /// Adds a batch's claims; a key claimed before keeps its first row.
    pub async fn record(&mut self, claimed: Vec<(u64, u32)>) -> Result<()> {
        let Some(disk) = &self.disk else {
            for (k, row) in claimed {
                self.memory.entry(k).or_insert(row);
            }
            return Ok(());
        };
        for chunk in claimed.chunks(CHUNK) {
            let marks = vec!["(?,?)"; chunk.len()].join(",");
            disk.db
                .execute(Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    format!("INSERT OR IGNORE INTO seen (key, row) VALUES {marks}"),
                    chunk
                        .iter()
                        .flat_map(|(k, row)| [signed(*k).into(), i64::from(*row).into()]),
                ))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn claims_and_finds(mut seen: Seen) {
        seen.record(vec![(1, 10), (u64::MAX, 11), (1, 12)])
            .await
            .expect("record");
        seen.record(vec![(2, 20)]).await.expect("record");
        let known = seen.known(&[1, 2, 3, u64::MAX, 1]).await.expect("known");
        assert_eq!(known.get(1), Some(10), "the first claim stays");
        assert_eq!(known.get(2), Some(20));
        assert_eq!(known.get(3), None);
        assert_eq!(known.get(u64::MAX), Some(11), "every bit of a key counts");
    }

    #[tokio::test]
    async fn memory_keeps_the_first_claim_of_each_key() {
        claims_and_finds(Seen::default()).await;
    }

    #[tokio::test]
    async fn disk_keeps_the_first_claim_of_each_key_and_removes_its_file() {
        let seen = Seen::on_disk().await.expect("scratch file");
        let path = seen.disk.as_ref().map(|d| d._file.to_path_buf());
        claims_and_finds(seen).await;
        let path = path.expect("a file");
        assert!(!path.exists(), "{} is left behind", path.display());
    }

    #[tokio::test]
    async fn disk_answers_more_keys_than_one_statement_takes() {
        let mut seen = Seen::on_disk().await.expect("scratch file");
        let claims: Vec<(u64, u32)> = (0..25_000u32).map(|i| (u64::from(i) * 7919, i)).collect();
        seen.record(claims).await.expect("record");
        let keys: Vec<u64> = (0..25_000u64).map(|i| i * 7919).collect();
        let known = seen.known(&keys).await.expect("known");
        assert_eq!(known.0.len(), 25_000);
        assert_eq!(known.get(24_999 * 7919), Some(24_999));
    }
}
