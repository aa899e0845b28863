//! PostgreSQL's `COPY (query) TO STDOUT (FORMAT binary)`: the rows of a
//! built statement, streamed by the database as it reads them, each handed
//! over as its cells (in PostgreSQL's binary form) the moment it is whole.
//! Binary, not CSV: writing times, ids and numbers as text cost PostgreSQL,
//! the busier side of an export, a fifth more (`bench/RESULTS.md`).
//!
//! `COPY` runs through the simple query protocol, which binds no values: the
//! statement's values are written into its text as literals
//! ([`with_literals`]), each in a form that is read back as exactly that
//! value whatever the session's settings.

use std::fmt::Write as _;

use futures::TryStreamExt;
use sea_orm::sea_query::Value;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr, Statement};

use crate::error::{Error, Result};
use crate::service::plans;

/// The most cells a copied row may have.
const MAX_CELLS: usize = 16;

/// A copied row's cells, in PostgreSQL's binary form (none for a NULL).
pub type Cells<'a> = [Option<&'a [u8]>];

/// Copies the rows `stmt` answers on `db`, which must be PostgreSQL's,
/// calling `each` with the cells of every row in order. Answers how many
/// rows there were.
pub async fn rows(
    db: &DatabaseConnection,
    stmt: &Statement,
    mut each: impl FnMut(&Cells) -> Result<()>,
) -> Result<u64> {
    let sql = format!("COPY ({}) TO STDOUT (FORMAT binary)", with_literals(stmt)?);
    let started = std::time::Instant::now();
    let copied = async {
        // PostgreSQL's backend is sqlx's pool (the caller checked).
        let pool = db.get_postgres_connection_pool();
        let mut chunks = pool.copy_out_raw(&sql).await.map_err(database)?;
        let mut rows = Rows::default();
        while let Some(chunk) = chunks.try_next().await.map_err(database)? {
            rows.feed(&chunk, &mut each)?;
        }
        rows.finish()
    }
    .await;
    // Timed as sea-orm's statements are (`http::metrics::time_statements`).
    let outcome = if copied.is_ok() { "ok" } else { "error" };
    metrics::histogram!("db_statement_duration_seconds", "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    copied
}

/// A sqlx error as sea-orm reports a query's, so that it is classified as
/// every other database error is (an unreachable database is a 503).
fn database(e: sea_orm::sqlx::Error) -> Error {
    DbErr::Query(RuntimeErr::SqlxError(e)).into()
}

/// The start of PostgreSQL's binary copy format.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Rows of PostgreSQL's binary copy format, read from pieces of any size
/// (PostgreSQL sends one message a row, but nothing promises it).
#[derive(Debug, Default)]
struct Rows {
    /// What arrived after the last whole row.
    pending: Vec<u8>,
    /// Whether the header has been read.
    started: bool,
    /// Whether the end mark has been read.
    ended: bool,
    rows: u64,
}

impl Rows {
    /// Reads `piece` on from where the last one ended, calling `each` for
    /// every row it completes.
    fn feed(&mut self, piece: &[u8], each: &mut impl FnMut(&Cells) -> Result<()>) -> Result<()> {
        if self.pending.is_empty() {
            let used = self.read(piece, each)?;
            self.pending.extend_from_slice(&piece[used..]);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(piece);
            let used = self.read(&pending, each)?;
            pending.drain(..used);
            self.pending = pending;
        }
        Ok(())
    }

    /// The end of the copy: how many rows it held; an error when it
    /// stopped before its end mark.
    fn finish(self) -> Result<u64> {
        if !self.ended || !self.pending.is_empty() {
            return Err(Error::internal(anyhow::anyhow!(
                "a copy that ended before its end mark"
            )));
        }
        Ok(self.rows)
    }

    /// Reads every whole row at the start of `input`; answers how many
    /// bytes they took.
    fn read(&mut self, input: &[u8], each: &mut impl FnMut(&Cells) -> Result<()>) -> Result<usize> {
        let broken = |what: &str| Error::internal(anyhow::anyhow!("a copy with {what}"));
        let mut at = 0;
        if !self.started {
            let Some(fixed) = input.get(..SIGNATURE.len() + 8) else {
                return Ok(0);
            };
            let (signature, rest) = fixed.split_at(SIGNATURE.len());
            let flags = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let extension = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            if signature != SIGNATURE || flags & (1 << 16) != 0 {
                return Err(broken("a header that is not PostgreSQL's binary format"));
            }
            if input.len() < fixed.len() + extension {
                return Ok(0);
            }
            at = fixed.len() + extension;
            self.started = true;
        }
        while !self.ended {
            let mut cells: [Option<&[u8]>; MAX_CELLS] = [None; MAX_CELLS];
            let mut next = at;
            let Some(count) = input.get(next..next + 2) else {
                break;
            };
            let count = i16::from_be_bytes([count[0], count[1]]);
            next += 2;
            if count == -1 {
                self.ended = true;
                at = next;
                break;
            }
            let count = usize::try_from(count)
                .ok()
                .filter(|&n| n <= MAX_CELLS)
                .ok_or_else(|| broken("a row of too many cells"))?;
            let mut whole = true;
            for cell in cells.iter_mut().take(count) {
                let Some(len) = input.get(next..next + 4) else {
                    whole = false;
                    break;
                };
                let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                next += 4;
                if len == -1 {
                    continue;
                }
                if len < 0 {
                    return Err(broken("a cell of a negative length"));
                }
                let Some(bytes) = input.get(next..next + len as usize) else {
                    whole = false;
                    break;
                };
                *cell = Some(bytes);
                next += len as usize;
            }
            if !whole {
                break;
            }
            self.rows += 1;
            each(&cells[..count])?;
            at = next;
        }
        if self.ended && at < input.len() {
            return Err(broken("bytes after its end mark"));
        }
        Ok(at)
    }
}

/// The text of `stmt` (PostgreSQL, values as `$1`, `$2`, ...) with each
/// placeholder replaced by its value as a literal. Quoted names and string
/// literals in the text are passed over whole, so a `$` inside them is left
/// as it is ([`plans::placeholders`]); a `$` anywhere else that is not a
/// placeholder of a value is an error, as is a quote never closed or a
/// value of a kind not written here.
pub fn with_literals(stmt: &Statement) -> Result<String> {
    let values = stmt
        .values
        .as_ref()
        .map(|v| v.0.as_slice())
        .unwrap_or_default();
    let sql = stmt.sql.as_str();
    let unwritable =
        |what: &str| Error::internal(anyhow::anyhow!("cannot write {what} into a COPY"));
    let scan = plans::placeholders(sql);
    if let Some(what) = scan.irregular {
        return Err(unwritable(what));
    }
    let mut out = String::with_capacity(sql.len() + 32 * values.len());
    let mut copied = 0;
    for p in &scan.found {
        let value = p
            .index
            .checked_sub(1)
            .and_then(|n| values.get(n))
            .ok_or_else(|| unwritable("a placeholder without a value"))?;
        out.push_str(&sql[copied..p.start]);
        literal(value, &mut out)?;
        copied = p.end;
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// `value` as a PostgreSQL literal. Text is an escape string (`E'...'`)
/// with its backslashes and quotes escaped, read the same whatever
/// `standard_conforming_strings` says; uuids and times are typed text.
fn literal(value: &Value, out: &mut String) -> Result<()> {
    let unwritable = || Error::internal(anyhow::anyhow!("cannot write {value:?} into a COPY"));
    if let Some(n) = plans::integer(value) {
        return write!(out, "{n}").map_err(Error::internal);
    }
    match value {
        Value::String(Some(s)) => {
            if s.contains('\0') {
                return Err(Error::invalid("text", "must not contain NUL characters"));
            }
            out.push_str("E'");
            for c in s.chars() {
                if matches!(c, '\\' | '\'') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('\'');
        }
        Value::Bool(Some(b)) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        Value::Uuid(Some(u)) => {
            write!(out, "'{}'::uuid", u.hyphenated()).map_err(Error::internal)?
        }
        Value::ChronoDateTimeUtc(Some(t)) => write!(
            out,
            "'{}'::timestamptz",
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
        .map_err(Error::internal)?,
        _ => return Err(unwritable()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::Value;
    use sea_orm::{DbBackend, Statement};

    use super::{with_literals, Cells, Rows};
    use crate::error::Result;

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    #[test]
    fn placeholders_take_their_values_as_literals() {
        let id = uuid::Uuid::nil();
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-15T10:30:00.123456Z")
            .expect("a time")
            .to_utc();
        let stmt = statement(
            r#"SELECT "a" FROM "t" WHERE "x" = $1 AND "y" = $2 AND "z" >= $3 AND "s" LIKE $4 ESCAPE E'\\' LIMIT $10"#,
            vec![
                Value::from(id),
                Value::from(t),
                Value::from(true),
                Value::from(r"%it's \ 100\%%"),
                Value::from(0),
                Value::from(0),
                Value::from(0),
                Value::from(0),
                Value::from(0),
                Value::from(1024u64),
            ],
        );
        assert_eq!(
            with_literals(&stmt).expect("writes"),
            r#"SELECT "a" FROM "t" WHERE "x" = '00000000-0000-0000-0000-000000000000'::uuid AND "y" = '2024-01-15T10:30:00.123456Z'::timestamptz AND "z" >= TRUE AND "s" LIKE E'%it\'s \\ 100\\%%' ESCAPE E'\\' LIMIT 1024"#
        );
    }

    #[test]
    fn a_dollar_inside_a_literal_or_a_name_is_text() {
        let stmt = statement(
            r#"SELECT 'costs $1', E'it\'s $2', 'it''s $3', "a$1""b" FROM "t" WHERE "x" = $1"#,
            vec![Value::from("v")],
        );
        assert_eq!(
            with_literals(&stmt).expect("writes"),
            r#"SELECT 'costs $1', E'it\'s $2', 'it''s $3', "a$1""b" FROM "t" WHERE "x" = E'v'"#
        );
    }

    #[test]
    fn what_cannot_be_written_is_an_error_not_a_guess() {
        for (sql, values) in [
            ("SELECT $2", vec![Value::from("one")]),
            ("SELECT $0", vec![Value::from("one")]),
            ("SELECT $x", vec![]),
            ("SELECT 'open", vec![]),
            (r#"SELECT "open"#, vec![]),
            ("SELECT $1", vec![Value::from("nul\0")]),
            ("SELECT $1", vec![Value::from(1.5f64)]),
            ("SELECT $1", vec![Value::String(None)]),
        ] {
            assert!(with_literals(&statement(sql, values)).is_err(), "{sql}");
        }
    }

    /// A copy in PostgreSQL's binary format of `rows` (none for a NULL).
    fn binary(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(b"ext");
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for cell in row {
                match cell {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(bytes) => {
                        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    /// Rows as owned cells (none for a NULL).
    type Owned = Vec<Vec<Option<Vec<u8>>>>;

    fn read_in_pieces(copy: &[u8], size: usize) -> Result<(u64, Owned)> {
        let mut got = Vec::new();
        let mut each = |cells: &Cells| -> Result<()> {
            got.push(cells.iter().map(|c| c.map(<[u8]>::to_vec)).collect());
            Ok(())
        };
        let mut rows = Rows::default();
        for piece in copy.chunks(size) {
            rows.feed(piece, &mut each)?;
        }
        let n = rows.finish()?;
        Ok((n, got))
    }

    /// Rows split anywhere across pieces read as the whole copy does.
    #[test]
    fn rows_are_read_whole_whatever_pieces_the_copy_arrives_in() {
        let rows: Vec<Vec<Option<&[u8]>>> = vec![
            vec![Some(b"a"), None, Some("línea\nnueva".as_bytes())],
            vec![Some(b""), Some(&[0, 1, 2, 255]), None],
            vec![],
        ];
        let copy = binary(&rows);
        let want: Owned = rows
            .iter()
            .map(|r| r.iter().map(|c| c.map(<[u8]>::to_vec)).collect())
            .collect();
        for size in 1..=copy.len() {
            let (n, got) = read_in_pieces(&copy, size).expect("reads");
            assert_eq!(n, 3);
            assert_eq!(got, want, "pieces of {size}");
        }
    }

    #[test]
    fn a_copy_cut_short_or_malformed_is_an_error() {
        let copy = binary(&[vec![Some(b"abc".as_slice())]]);
        for cut in 0..copy.len() {
            assert!(read_in_pieces(&copy[..cut], 7).is_err(), "cut at {cut}");
        }
        let mut wrong = copy.clone();
        wrong[0] = b'X';
        assert!(read_in_pieces(&wrong, 64).is_err(), "another signature");
        let mut after = copy.clone();
        after.push(0);
        assert!(
            read_in_pieces(&after, 64).is_err(),
            "bytes after the end mark"
        );
        let many = binary(&[vec![None; 17]]);
        assert!(read_in_pieces(&many, 64).is_err(), "a row of 17 cells");
    }
}
