//! The CSV export's pages: the reference's columns of each customer, every
//! cell quoted, tags joined by `;`, a missing value an empty cell, times
//! as the API writes them, and a cell a spreadsheet would run as a formula
//! prefixed with `'`. A page is the text of its lines, sent as it is.
//!
//! How a page is read depends on the database:
//! - PostgreSQL: one `COPY (page query) TO STDOUT (FORMAT binary)`
//!   ([`super::copy`]). The database streams the page's columns in its
//!   binary form; each row is written as the export's line as it arrives,
//!   so the database reads the next rows while the server writes the last
//!   ones, and no row is decoded into values of its own.
//! - SQLite: the page's columns as ONE value, a JSON array of the rows
//!   (each an array of [`CsvRow`]'s fields, in order), decoded in one pass:
//!   row by row, each SQLite row would be handed from the connection's
//!   thread to the task on its own; a page is one handoff.

use chrono::{DateTime, Utc};
use entity::customer;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, QuerySelect, QueryTrait, Select, Statement,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{copy, ExportPage, Key, Read};
use crate::domain::customer::{CustomerSegment, CustomerStatus};
use crate::domain::time;
use crate::error::{Error, Result};
#[cfg(test)]
use crate::service::customers::Customer;

/// The text of a page of CSV lines, each ending in `\n`.
#[derive(Debug, Default)]
pub struct CsvPage(pub Vec<u8>);

impl ExportPage for CsvPage {
    /// On PostgreSQL each page is a statement of its own to plan and start,
    /// a pause in its streaming: pages of 16,384 rows (some 2.5 MB of
    /// lines) made a whole export of 1,000,000 a third faster than pages of
    /// 1,024 (`bench/RESULTS.md`, session 32). A SQLite page is decoded
    /// whole as one JSON value first, so its pages stay small.
    fn page_rows(backend: DbBackend) -> u64 {
        match backend {
            DbBackend::Postgres => 16_384,
            _ => 1024,
        }
    }

    async fn read(rows: Select<customer::Entity>, db: &DatabaseConnection) -> Result<Read<Self>> {
        match db.get_database_backend() {
            DbBackend::Postgres => read_copied(rows, db).await,
            _ => read_json(rows, db).await,
        }
    }
}

/// The reference's CSV columns of a customer as SQLite reads them, then
/// what places it in the export order with `created_at` (`id`).
#[derive(Debug, Clone, Deserialize)]
struct CsvRow {
    phone_number: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    status: CustomerStatus,
    segment: CustomerSegment,
    tags: Vec<String>,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    last_interaction: DateTime<Utc>,
    id: Uuid,
}

#[cfg(test)]
impl From<&Customer> for CsvRow {
    /// The CSV columns of a whole customer.
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.uuid(),
            phone_number: c.phone_number.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            status: c.status,
            segment: c.segment,
            tags: c.tags.clone(),
            notes: c.notes.clone(),
            created_at: c.created_at,
            last_interaction: c.last_interaction,
        }
    }
}

/// The columns a page reads, in the order of the export's cells, then
/// what places the row in the export order: a [`CsvRow`]'s fields.
const COLUMNS: [customer::Column; 11] = [
    customer::Column::PhoneNumber,
    customer::Column::FirstName,
    customer::Column::LastName,
    customer::Column::Email,
    customer::Column::Status,
    customer::Column::Segment,
    customer::Column::Tags,
    customer::Column::Notes,
    customer::Column::CreatedAt,
    customer::Column::LastInteraction,
    customer::Column::Id,
];

/// [`COLUMNS`] as SQLite puts them in a JSON array: tags JSON text
/// (embedded with `json()`), timestamps the stored RFC 3339 text, read back
/// exactly, ids 16-byte blobs (sent as hex).
const COLUMNS_JSON_SQLITE: &str = "json_array(phone_number, first_name, last_name, email, \
    status, segment, json(tags), notes, created_at, last_interaction, lower(hex(id)))";

/// SQLite: the page as one JSON value, decoded into rows, written as lines.
async fn read_json(
    rows: Select<customer::Entity>,
    db: &DatabaseConnection,
) -> Result<Read<CsvPage>> {
    let backend = db.get_database_backend();
    let page = rows.select_only().columns(COLUMNS).build(backend);
    // The page's own order again inside the aggregate: the array lists
    // the rows exactly as the page query ordered them.
    let sql = format!(
        "SELECT json_group_array({COLUMNS_JSON_SQLITE} ORDER BY created_at, id) \
         AS page FROM ({}) AS page",
        page.sql
    );
    let values = page.values.map(|v| v.0).unwrap_or_default();
    let row = db
        .query_one(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    // An empty page is `[]`.
    let text: Option<String> = match row {
        Some(row) => row.try_get("", "page")?,
        None => None,
    };
    let rows: Vec<CsvRow> = match text {
        Some(text) => serde_json::from_str(&text).map_err(Error::internal)?,
        None => Vec::new(),
    };
    Ok(Read {
        page: CsvPage(csv_rows(&rows)?),
        rows: rows.len() as u64,
        last: rows.last().map(|r| Key {
            created_at: r.created_at,
            id: r.id,
        }),
    })
}

/// PostgreSQL: the page copied in binary, each row written as the
/// export's line as it arrives. Text is UTF-8 (sqlx's connections set
/// `client_encoding`), a NULL an empty cell, tags JSON text after a version
/// byte (`jsonb`), times microseconds since 2000 (`timestamptz`).
async fn read_copied(
    rows: Select<customer::Entity>,
    db: &DatabaseConnection,
) -> Result<Read<CsvPage>> {
    let stmt = rows
        .select_only()
        .columns(COLUMNS)
        .build(DbBackend::Postgres);
    let mut out = Lines::new(CsvPage::page_rows(DbBackend::Postgres) as usize);
    let mut last = None;
    let mut tags = String::new();
    let rows = copy::rows(db, &stmt, |cells| {
        let &[phone, first, last_name, email, status, segment, tag_json, notes, created, last_at, id] =
            cells
        else {
            return Err(Error::internal(anyhow::anyhow!(
                "a copied row of {} cells, not 11",
                cells.len()
            )));
        };
        tags.clear();
        join_tags(jsonb(tag_json)?, &mut tags)?;
        let created = timestamptz(created)?;
        time::with_text(&created, |created| {
            time::with_text(&timestamptz(last_at)?, |last_at| {
                out.write([
                    text(phone)?,
                    text(first)?,
                    text(last_name)?,
                    text(email)?,
                    text(status)?,
                    text(segment)?,
                    &tags,
                    text(notes)?,
                    created,
                    last_at,
                ])
            })
        })?;
        let id = id
            .and_then(|id| Uuid::from_slice(id).ok())
            .ok_or_else(|| Error::internal(anyhow::anyhow!("a copied id that is not a uuid")))?;
        last = Some(Key { created_at: created, id });
        Ok(())
    })
    .await?;
    Ok(Read {
        page: CsvPage(out.finish()?),
        rows,
        last,
    })
}

/// A copied `text` or `varchar` cell; a NULL is empty.
fn text(cell: Option<&[u8]>) -> Result<&str> {
    std::str::from_utf8(cell.unwrap_or_default()).map_err(Error::internal)
}

/// A copied `jsonb` cell: its version byte (1), then its JSON text.
fn jsonb(cell: Option<&[u8]>) -> Result<&str> {
    match cell {
        Some([1, json @ ..]) => std::str::from_utf8(json).map_err(Error::internal),
        _ => Err(Error::internal(anyhow::anyhow!(
            "a copied jsonb cell of another version"
        ))),
    }
}

/// Seconds from the Unix epoch to PostgreSQL's, 2000-01-01.
const POSTGRES_EPOCH: i64 = 946_684_800;

/// A copied `timestamptz` cell: microseconds since 2000-01-01 UTC.
fn timestamptz(cell: Option<&[u8]>) -> Result<DateTime<Utc>> {
    cell.and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(i64::from_be_bytes)
        .and_then(|micros| micros.checked_add(POSTGRES_EPOCH * 1_000_000))
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a copied time out of range")))
}

/// Tags as PostgreSQL writes a JSON array of text (`["a", "b"]`), joined
/// by `;`. Without a backslash no tag holds a `"` (JSON would escape it),
/// so each `", "` is a border between two tags; else the text is decoded.
fn join_tags(json: &str, out: &mut String) -> Result<()> {
    if json == "[]" {
        return Ok(());
    }
    if !json.contains('\\') {
        if let Some(inner) = json.strip_prefix("[\"").and_then(|t| t.strip_suffix("\"]")) {
            for (i, tag) in inner.split("\", \"").enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(tag);
            }
            return Ok(());
        }
    }
    let tags: Vec<String> = serde_json::from_str(json).map_err(Error::internal)?;
    out.push_str(&tags.join(";"));
    Ok(())
}

/// A cell a spreadsheet would run as a formula gets a leading `'`.
fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// CSV lines as the export writes them: every cell quoted and guarded,
/// one writer (and one buffer) for a whole page.
struct Lines(::csv::Writer<Vec<u8>>);

impl Lines {
    fn new(rows: usize) -> Self {
        Self(
            ::csv::WriterBuilder::new()
                .quote_style(::csv::QuoteStyle::Always)
                .from_writer(Vec::with_capacity(rows * 160)),
        )
    }

    fn write(&mut self, cells: [&str; 10]) -> Result<()> {
        let cells = cells.map(guard);
        self.0
            .write_record(cells.iter().map(|cell| cell.as_bytes()))
            .map_err(Error::internal)
    }

    fn finish(self) -> Result<Vec<u8>> {
        self.0
            .into_inner()
            .map_err(|e| Error::internal(e.into_error()))
    }
}

/// The CSV lines of `rows`.
fn csv_rows(rows: &[CsvRow]) -> Result<Vec<u8>> {
    let mut lines = Lines::new(rows.len());
    for row in rows {
        let tags = row.tags.join(";");
        let created = time::format(&row.created_at);
        let last = time::format(&row.last_interaction);
        lines.write([
            row.phone_number.as_str(),
            row.first_name.as_deref().unwrap_or_default(),
            row.last_name.as_deref().unwrap_or_default(),
            row.email.as_deref().unwrap_or_default(),
            row.status.as_str(),
            row.segment.as_str(),
            tags.as_str(),
            row.notes.as_deref().unwrap_or_default(),
            created.as_str(),
            last.as_str(),
        ])?;
    }
    lines.finish()
}

#[cfg(test)]
mod tests {
    use super::{guard, join_tags, timestamptz};

    #[test]
    fn cells_that_spreadsheets_would_evaluate_are_prefixed() {
        for (cell, want) in [
            ("=1+1", "'=1+1"),
            ("+52", "'+52"),
            ("-x", "'-x"),
            ("@a", "'@a"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
        ] {
            assert_eq!(guard(cell), want);
        }
        assert_eq!(guard("John"), "John");
        assert_eq!(guard(""), "");
    }

    #[test]
    fn copied_tags_are_joined_whatever_they_hold() {
        for (json, want) in [
            ("[]", ""),
            (r#"["a"]"#, "a"),
            (r#"["premium", "loyal"]"#, "premium;loyal"),
            (r#"["a, b", "c"]"#, "a, b;c"),
            (r#"["say \"hi\"", "x"]"#, r#"say "hi";x"#),
            (r#"["\", \"", "back\\slash"]"#, r#"", ";back\slash"#),
            (r#"["línea\nnueva", "😀"]"#, "línea\nnueva;😀"),
        ] {
            let mut out = String::new();
            join_tags(json, &mut out).expect(json);
            assert_eq!(out, want, "{json}");
        }
        assert!(join_tags("[1, 2]", &mut String::new()).is_err());
    }

    #[test]
    fn copied_times_are_microseconds_since_2000() {
        let at = |micros: i64| timestamptz(Some(&micros.to_be_bytes())).map(|t| t.to_rfc3339());
        assert_eq!(at(0).expect("a time"), "2000-01-01T00:00:00+00:00");
        assert_eq!(at(-1).expect("a time"), "1999-12-31T23:59:59.999999+00:00");
        assert_eq!(
            at(758_629_800_123_456).expect("a time"),
            "2024-01-15T10:30:00.123456+00:00"
        );
        // PostgreSQL's infinity, and cells that are not eight bytes.
        assert!(at(i64::MAX).is_err());
        assert!(timestamptz(Some(&[0; 7])).is_err());
        assert!(timestamptz(None).is_err());
    }

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::{csv_rows, guard, join_tags, timestamptz, CsvRow};
        use crate::domain::time;
        use crate::service::customers::strategies;

        /// Starts a spreadsheet evaluates (OWASP's list for CSV injection).
        const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

        proptest! {
            #[test]
            fn a_csv_row_reads_back_as_the_guarded_cells_and_none_starts_a_formula(
                customer in strategies::customer(),
            ) {
                let out = csv_rows(&[CsvRow::from(&customer)]).expect("writes");
                let written = [
                    customer.phone_number.clone(),
                    customer.first_name.clone().unwrap_or_default(),
                    customer.last_name.clone().unwrap_or_default(),
                    customer.email.clone().unwrap_or_default(),
                    customer.status.as_str().to_owned(),
                    customer.segment.as_str().to_owned(),
                    customer.tags.join(";"),
                    customer.notes.clone().unwrap_or_default(),
                    time::format(&customer.created_at),
                    time::format(&customer.last_interaction),
                ];
                let mut reader = ::csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(out.as_slice());
                let records: Vec<::csv::StringRecord> =
                    reader.records().collect::<Result<_, _>>().expect("parses");
                prop_assert_eq!(records.len(), 1, "{:?}", String::from_utf8_lossy(&out));
                let cells: Vec<&str> = records[0].iter().collect();
                prop_assert_eq!(cells.len(), written.len());
                for (cell, original) in cells.iter().zip(&written) {
                    if original.starts_with(FORMULA_STARTS) {
                        prop_assert_eq!(*cell, format!("'{original}"));
                    } else {
                        prop_assert_eq!(cell, original);
                    }
                    prop_assert!(!cell.starts_with(FORMULA_STARTS), "{:?}", cell);
                    prop_assert_eq!(guard(original), *cell);
                }
            }

            #[test]
            fn the_guard_only_ever_adds_one_quote_in_front(cell in strategies::text()) {
                let guarded = guard(&cell);
                prop_assert!(!guarded.starts_with(FORMULA_STARTS));
                let unguarded = guarded.strip_prefix('\'').filter(|_| guarded != cell.as_str());
                prop_assert_eq!(unguarded.unwrap_or(&guarded), cell.as_str());
            }

            /// Tags as PostgreSQL's JSON text (serde_json writes the same
            /// escapes; PostgreSQL puts a space after each comma).
            #[test]
            fn copied_tags_join_as_the_tags_do(
                tags in proptest::collection::vec(strategies::text(), 0..6),
            ) {
                let json = if tags.is_empty() {
                    "[]".to_owned()
                } else {
                    let each: Vec<String> = tags
                        .iter()
                        .map(|t| serde_json::to_string(t).expect("a string"))
                        .collect();
                    format!("[{}]", each.join(", "))
                };
                let mut out = String::new();
                join_tags(&json, &mut out).expect("joins");
                prop_assert_eq!(out, tags.join(";"));
            }

            #[test]
            fn copied_times_read_back_as_the_times_written(customer in strategies::customer()) {
                let t = customer.last_interaction;
                let micros = t.timestamp_micros() - 946_684_800_000_000;
                let copied = timestamptz(Some(&micros.to_be_bytes())).expect("a time");
                prop_assert_eq!(copied.timestamp_micros(), t.timestamp_micros());
            }
        }
    }
}
