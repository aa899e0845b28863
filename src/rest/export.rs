//! `GET /api/v2/customers/export`: JSON or CSV, read from the database in
//! keyset pages (see [`crate::service::export`]) and written to the socket
//! in small chunks as fast as the client takes them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;

use super::body::{self, customer_doc};
use super::{responses, QueryPairs};
use crate::auth::Keys;
use crate::domain::time;
use crate::error::{Error, Result};
use crate::http::Identity;
use crate::service::customers::Customer;
use crate::service::export::{self, ExportSlots};
use crate::service::export_links::{self, ExportFormat};
use crate::service::Ctx;

/// Rows written per chunk of the response body.
const ROWS_PER_CHUNK: usize = 64;

/// The CSV columns, exactly as the reference shows them.
const CSV_COLUMNS: &str =
    "phoneNumber,firstName,lastName,email,status,segment,tags,notes,createdAt,lastInteraction\n";

use ExportFormat as Format;

#[utoipa::path(
    get,
    path = "/api/v2/customers/export",
    tag = "customers",
    summary = "Export customers as JSON or CSV (streamed)",
    params(super::shapes::ExportParams, super::shapes::FilterParams),
    security((), ("bearer" = [])),
    responses(
        (
            status = 200,
            description = "Every customer that matches, streamed. CSV: exactly the reference's \
                columns, every cell quoted, tags joined by `;`, cells a spreadsheet would run as \
                a formula prefixed with `'`.",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"customers.json\"` (or `.csv`)")),
            content(
                (super::shapes::ExportJson = "application/json"),
                (String = "text/csv"),
            ),
        ),
        responses::Errors,
    )
)]
/// `GET /api/v2/customers/export?format=json|csv&status&segment&source&tags&search`.
/// Takes the caller from the Authorization header (verified once, by the
/// `identify` middleware) or, for `window.open`, from `?token=`; or, with no Authorization needed, an export link's `?link=`
/// (GraphQL `exportLink`), which works only for the format and filter it was
/// minted for. Neither is logged: spans record the path only. A tenant over
/// its cap of running exports is answered 429.
pub async fn export_customers(
    State(ctx): State<Ctx>,
    State(keys): State<Arc<Keys>>,
    State(exports): State<Arc<ExportSlots>>,
    headers: HeaderMap,
    identity: Option<Extension<Identity>>,
    q: QueryPairs,
) -> Result<Response> {
    // Without a link, the caller is checked before anything else is read:
    // an Authorization header was verified by the `identify` middleware.
    let login = match q.get("link") {
        Some(_) => None,
        None if headers.contains_key(header::AUTHORIZATION) => {
            let identity = match identity {
                Some(Extension(identity)) => identity,
                None => Identity::of(&keys, &headers),
            };
            Some(identity.actor()?)
        }
        None => {
            let token = q
                .get("token")
                .filter(|t| !t.is_empty())
                .ok_or(Error::Unauthenticated("missing bearer token"))?;
            Some(keys.verify(token)?)
        }
    };
    let format = match q.get("format").map(str::trim) {
        None | Some("") | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(_) => return Err(Error::invalid("format", "must be one of json, csv")),
    };
    let filter = body::filter(&q)?;
    let actor = match (login, q.get("link")) {
        (Some(actor), _) => actor,
        (None, link) => export_links::open_link(&keys, link.unwrap_or_default(), format, &filter)?,
    };
    let export = export::export(&ctx, &exports, &actor, filter).await?;

    let (head, tail, content_type, filename) = match format {
        Format::Json => (
            format!(
                "{{\"success\":true,\"total\":{},\"customers\":[",
                export.total
            ),
            "]}",
            "application/json",
            "customers.json",
        ),
        Format::Csv => (
            CSV_COLUMNS.to_owned(),
            "",
            "text/csv; charset=utf-8",
            "customers.csv",
        ),
    };
    let mut first = true;
    let rows = export.rows.ready_chunks(ROWS_PER_CHUNK).map(move |chunk| {
        let mut out = Vec::with_capacity(chunk.len() * 256);
        for row in chunk {
            let customer = row?;
            match format {
                Format::Json => {
                    if !first {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut out, &customer_doc(&customer))
                        .map_err(Error::internal)?;
                }
                Format::Csv => csv_row(&mut out, &customer)?,
            }
            first = false;
        }
        Ok::<_, Error>(Bytes::from(out))
    });
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(rows)
        .chain(futures::stream::once(async move {
            Ok(Bytes::from_static(tail.as_bytes()))
        }))
        .map(|chunk| {
            chunk.inspect_err(|e| {
                // The status line is gone; ending the body with an error tells
                // the client the file is incomplete.
                e.log();
            })
        });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(Error::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// A cell a spreadsheet would run as a formula gets a leading `'`.
fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn csv_row(out: &mut Vec<u8>, c: &Customer) -> Result<()> {
    let tags = c.tags.join(";");
    let created = time::format(&c.created_at);
    let last = time::format(&c.last_interaction);
    let cells = [
        c.phone_number.as_str(),
        c.first_name.as_deref().unwrap_or_default(),
        c.last_name.as_deref().unwrap_or_default(),
        c.email.as_deref().unwrap_or_default(),
        c.status.as_str(),
        c.segment.as_str(),
        tags.as_str(),
        c.notes.as_deref().unwrap_or_default(),
        created.as_str(),
        last.as_str(),
    ];
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(out);
    writer
        .write_record(cells.iter().map(|cell| guard(cell).into_owned()))
        .map_err(Error::internal)?;
    writer.flush().map_err(Error::internal)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::guard;

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

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::{csv_row, guard};
        use crate::domain::time;
        use crate::service::customers::strategies;

        /// Starts a spreadsheet evaluates (OWASP's list for CSV injection).
        const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

        proptest! {
            #[test]
            fn a_csv_row_reads_back_as_the_guarded_cells_and_none_starts_a_formula(
                customer in strategies::customer(),
            ) {
                let mut out = Vec::new();
                csv_row(&mut out, &customer).expect("writes");
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
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(out.as_slice());
                let records: Vec<csv::StringRecord> =
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
        }
    }
}
