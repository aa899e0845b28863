//! The plain-SQL ceiling of `bench/run` on SQLite, where there is no pgbench:
//! runs the statements of one scenario script (`bench/sql/sqlite/S*.sql`) as
//! fast as 32 concurrent tasks on a pool can, first for a warm-up, then for
//! the measured duration, and prints one machine-readable line
//!
//! ```text
//! RESULT requests=.. duration_us=.. rps=.. p50_us=.. p99_us=.. errors=..
//! ```
//!
//! One "request" is every statement of the script, in order, on one pooled
//! connection (as pgbench runs a script as one transaction), with `?1` bound
//! to an id drawn at random from `--ids` when the script has one. Statements
//! are prepared once per connection (sqlx's statement cache), like
//! `pgbench -M prepared`. Every row is fetched; nothing is serialized.
//! Before the load it runs the script once and prints a `SANITY` line with
//! the rows each statement returned and, for a one-row integer answer (a
//! count), its value, so a broken query shows.
//!
//! ```text
//! cargo run --release --example sql_ceiling -- --url 'sqlite:///var/tmp/x.db' \
//!     --script bench/sql/sqlite/S4.sql --ids ids.txt --duration 10 --warmup 3
//! ```

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sea_orm::sqlx::{self, Row};
use uuid::Uuid;

/// Command line of the ceiling runner.
#[derive(Parser, Debug)]
#[command(about = "Plain-SQL ceiling of one bench scenario on SQLite")]
struct Args {
    /// Database URL: sqlite://path (the file the server uses; it is only read).
    #[arg(long)]
    url: String,
    /// The scenario script: statements separated by `;`, `--` comment lines.
    #[arg(long)]
    script: String,
    /// File of ids, one a line; each request binds one of them, at random, to `?1`.
    #[arg(long)]
    ids: Option<String>,
    /// Concurrent tasks (each runs one request at a time).
    #[arg(long, default_value_t = 32)]
    tasks: usize,
    /// Pooled connections.
    #[arg(long, default_value_t = 32)]
    pool: u32,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

/// The statements of a script: `--` comment lines dropped, split on `;`.
fn statements(text: &str) -> Vec<String> {
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Runs every statement once, binding `id` where the statement has `?1`;
/// returns, per statement, the rows fetched and the first row's first
/// column when it is an integer.
async fn run_once(
    pool: &SqlitePool,
    stmts: &[String],
    id: Option<Uuid>,
) -> Result<Vec<(usize, Option<i64>)>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut out = Vec::with_capacity(stmts.len());
    for sql in stmts {
        let mut q = sqlx::query(sql);
        if let (Some(id), true) = (id, sql.contains("?1")) {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let first = rows.first().and_then(|r| r.try_get::<i64, _>(0).ok());
        out.push((rows.len(), first));
    }
    Ok(out)
}

/// What one task measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
}

/// Runs requests back to back until `until`; records them when `record`.
async fn drive(
    pool: SqlitePool,
    stmts: Arc<Vec<String>>,
    ids: Arc<Vec<Uuid>>,
    seed: u64,
    until: Instant,
    record: bool,
    first_error: Arc<AtomicU64>,
) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    while Instant::now() < until {
        let id = (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())]);
        let started = Instant::now();
        let result = run_once(&pool, &stmts, id).await;
        let took = started.elapsed().as_micros() as u64;
        match result {
            Ok(_) => {
                if record {
                    tally.latencies_us.push(took);
                }
            }
            Err(e) => {
                if first_error.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("# sql_ceiling: first error: {e}");
                }
                if record {
                    tally.errors += 1;
                }
            }
        }
    }
    tally
}

/// Runs one phase (warm-up or measured) with every task; returns the merged
/// tally and the phase's wall time.
async fn phase(
    args: &Args,
    pool: &SqlitePool,
    stmts: &Arc<Vec<String>>,
    ids: &Arc<Vec<Uuid>>,
    seconds: f64,
    record: bool,
) -> anyhow::Result<(Tally, Duration)> {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds.max(0.0));
    let first_error = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..args.tasks)
        .map(|t| {
            tokio::spawn(drive(
                pool.clone(),
                stmts.clone(),
                ids.clone(),
                12_345 + t as u64,
                until,
                record,
                first_error.clone(),
            ))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.context("a load task panicked")?;
        all.latencies_us.extend(t.latencies_us);
        all.errors += t.errors;
    }
    Ok((all, started.elapsed()))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((p / 100.0) * sorted.len() as f64) as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.url.starts_with("sqlite:") {
        bail!("--url must be a sqlite:// URL (PostgreSQL's ceiling is pgbench)");
    }
    let text = std::fs::read_to_string(&args.script)
        .with_context(|| format!("could not read {}", args.script))?;
    let stmts = Arc::new(statements(&text));
    if stmts.is_empty() {
        bail!("{} has no statements", args.script);
    }
    let ids: Vec<Uuid> = match &args.ids {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("could not read {path}"))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Uuid::parse_str(l).with_context(|| format!("bad id {l:?} in {path}")))
            .collect::<anyhow::Result<_>>()?,
        None => Vec::new(),
    };
    if stmts.iter().any(|s| s.contains("?1")) && ids.is_empty() {
        bail!("{} binds ?1: give --ids", args.script);
    }
    let ids = Arc::new(ids);
    // The server's file, only read here; the server may write it meanwhile
    // (busy desk), hence the busy timeout.
    let options = SqliteConnectOptions::from_str(&args.url)?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(args.pool)
        .min_connections(args.pool)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .with_context(|| format!("could not open {}", args.url))?;

    let once = run_once(&pool, &stmts, ids.first().copied())
        .await
        .context("the script failed on its first run")?;
    let sanity: Vec<String> = once
        .iter()
        .enumerate()
        .map(|(i, (rows, first))| match (rows, first) {
            (1, Some(v)) => format!("stmt{}_rows=1 stmt{}_value={v}", i + 1, i + 1),
            _ => format!("stmt{}_rows={rows}", i + 1),
        })
        .collect();
    println!("SANITY {}", sanity.join(" "));

    phase(&args, &pool, &stmts, &ids, args.warmup, false).await?;
    let (mut tally, took) = phase(&args, &pool, &stmts, &ids, args.duration, true).await?;
    tally.latencies_us.sort_unstable();
    let requests = tally.latencies_us.len() as u64;
    println!(
        "RESULT requests={requests} duration_us={} rps={:.1} p50_us={} p99_us={} errors={}",
        took.as_micros(),
        requests as f64 / took.as_secs_f64().max(1e-9),
        percentile(&tally.latencies_us, 50.0),
        percentile(&tally.latencies_us, 99.0),
        tally.errors
    );
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn comments_are_dropped_and_statements_split() {
        let s = statements("-- a\nSELECT 1;\n-- b\nSELECT\n 2 ;\n\n");
        assert_eq!(s, ["SELECT 1", "SELECT\n 2"]);
    }
}
