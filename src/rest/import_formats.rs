//! The bodies an import job reads: CSV (a header row naming the export's
//! columns), NDJSON (one customer object per line) and JSON (`{customers:
//! [...]}`, an export, or a bare list). Each is parsed on a blocking thread
//! as it is read from the uploaded file, one row at a time, and handed over
//! a bounded channel: memory does not grow with the file.
//!
//! CSV: the export's columns (`phoneNumber, firstName, lastName, email,
//! status, segment, tags, notes, createdAt, lastInteraction`) and also
//! `externalId`, `source`, `alternativePhones`, `avatar`; `tags` and
//! `alternativePhones` are `;`-separated; unknown and read-only columns are
//! ignored; an empty cell leaves the field as it is. A cell the export
//! guarded against spreadsheet formulas (`'=...`, `'+...`) is read without
//! its quote, so an export re-imports unchanged.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::body::customer_input;
use super::bulk::{parse_body, RawRow};
use crate::error::{Error, FieldError, Result};
use crate::service::import::batch::Item;
use crate::service::import::jobs::{self, ImportFormat as Format};
use crate::service::import::ImportRow;

/// Rows parsed ahead of the job.
const ROWS_AHEAD: usize = 256;

/// The format a Content-Type names; 415 for any other.
pub fn format_of(content_type: Option<&str>) -> Result<Format> {
    content_type
        .and_then(jobs::format_of_media_type)
        .ok_or(Error::UnsupportedMediaType)
}

/// A reader that counts the bytes read through it (a job's progress).
pub struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Starts parsing an uploaded file as `format` on a blocking thread: the
/// rows in order, numbered from 1, then the error that ended them, if any.
/// `read` counts the bytes consumed. Both faces' import jobs read their
/// files with it (a [`crate::service::import::jobs::ReadRows`]).
pub fn rows(
    reader: std::fs::File,
    format: Format,
    read: Arc<AtomicU64>,
) -> mpsc::Receiver<Result<Item>> {
    let (tx, rx) = mpsc::channel(ROWS_AHEAD);
    let reader = Counted {
        inner: reader,
        read,
    };
    tokio::task::spawn_blocking(move || {
        let ended = match format {
            Format::Csv => csv_rows(reader, &tx),
            Format::Ndjson => ndjson_rows(reader, &tx),
            Format::Json => {
                json_rows(reader, &tx);
                Ok(())
            }
        };
        if let Err(e) = ended {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// A row from a JSON value: an object's customer input, or why not.
fn from_value(
    value: std::result::Result<Value, String>,
) -> std::result::Result<crate::domain::customer::CustomerInput, Vec<FieldError>> {
    match value {
        Ok(Value::Object(map)) => customer_input(&map),
        Ok(_) => Err(vec![FieldError::new("customer", "must be an object")]),
        Err(e) => Err(vec![FieldError::new(
            "customer",
            format!("could not be read: {e}"),
        )]),
    }
}

fn ndjson_rows(reader: impl Read, tx: &mpsc::Sender<Result<Item>>) -> Result<()> {
    let reader = io::BufReader::with_capacity(64 * 1024, reader);
    let mut row = 0u64;
    for line in reader.lines() {
        let line =
            line.map_err(|_| Error::invalid("body", "could not read the body as UTF-8 lines"))?;
        if line.trim().is_empty() {
            continue;
        }
        row += 1;
        let input = from_value(serde_json::from_str::<Value>(&line).map_err(|e| e.to_string()));
        if tx.blocking_send(Ok(Item { row, input })).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn json_rows(reader: impl Read + Send + 'static, tx: &mpsc::Sender<Result<Item>>) {
    let (raw_tx, mut raw_rx) = mpsc::channel::<Result<RawRow>>(ROWS_AHEAD);
    let parser = std::thread::spawn(move || parse_body(reader, &raw_tx, true));
    let mut row = 0u64;
    while let Some(raw) = raw_rx.blocking_recv() {
        let item = raw.map(|raw| {
            row += 1;
            Item {
                row,
                input: raw.read(),
            }
        });
        if tx.blocking_send(item).is_err() {
            break;
        }
    }
    drop(raw_rx);
    let _ = parser.join();
}

/// A cell the export guarded (`'` before a formula start), without its guard.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// Columns read as `;`-separated lists.
const LIST_COLUMNS: [&str; 2] = ["tags", "alternativePhones"];

fn csv_rows(reader: impl Read, tx: &mpsc::Sender<Result<Item>>) -> Result<()> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let headers: Vec<String> = csv
        .headers()
        .map_err(|e| Error::invalid("body", format!("malformed CSV header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    if !headers
        .iter()
        .any(|h| h == "phoneNumber" || h == "email" || h == "externalId")
    {
        return Err(Error::invalid(
            "body",
            "the CSV header must name phoneNumber, email or externalId (the export's columns)",
        ));
    }
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                return Err(Error::invalid(
                    "body",
                    format!("malformed CSV after row {row}: {e}"),
                ))
            }
        }
        row += 1;
        let mut map = Map::new();
        for (name, cell) in headers.iter().zip(record.iter()) {
            let cell = unguard(cell);
            if cell.is_empty() {
                continue;
            }
            let value = if LIST_COLUMNS.contains(&name.as_str()) {
                Value::Array(
                    cell.split(';')
                        .map(|t| Value::String(t.to_owned()))
                        .collect(),
                )
            } else {
                Value::String(cell.to_owned())
            };
            map.insert(name.clone(), value);
        }
        let input = customer_input(&map);
        if tx.blocking_send(Ok(Item { row, input })).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_cells_lose_only_their_guard() {
        assert_eq!(unguard("'=1+1"), "=1+1");
        assert_eq!(unguard("'+52"), "+52");
        assert_eq!(unguard("'plain"), "'plain");
        assert_eq!(unguard("x"), "x");
    }

    #[test]
    fn formats_follow_the_content_type() {
        assert_eq!(
            format_of(Some("text/csv; charset=utf-8")).ok(),
            Some(Format::Csv)
        );
        assert_eq!(
            format_of(Some("application/x-ndjson")).ok(),
            Some(Format::Ndjson)
        );
        assert_eq!(format_of(Some("application/json")).ok(), Some(Format::Json));
        assert!(format_of(Some("text/plain")).is_err());
        assert!(format_of(None).is_err());
    }
}
