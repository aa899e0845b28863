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
use crate::error::{Error, Result};
use crate::http::Identity;
use crate::service::customers::Customer;
use crate::service::export::{self, CsvPage, ExportSlots};
use crate::service::export_links::{self, ExportFormat};
use crate::service::Ctx;

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
    // Each page of rows leaves as one chunk of the body.
    let (total, pages) = match format {
        Format::Json => {
            let export = export::export::<Vec<Customer>>(&ctx, &exports, &actor, filter).await?;
            let mut first = true;
            let pages = export.pages.map(move |page| {
                let mut out = Vec::with_capacity(page.as_ref().map_or(0, Vec::len) * 1024);
                for customer in page? {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    serde_json::to_writer(&mut out, &customer_doc(&customer))
                        .map_err(Error::internal)?;
                }
                Ok::<_, Error>(Bytes::from(out))
            });
            (export.total, pages.boxed())
        }
        Format::Csv => {
            let export = export::export::<CsvPage>(&ctx, &exports, &actor, filter).await?;
            let pages = export
                .pages
                .map(|page| page.map(|lines| Bytes::from(lines.0)));
            (export.total, pages.boxed())
        }
    };
    let (head, tail, content_type, filename) = match format {
        Format::Json => (
            format!("{{\"success\":true,\"total\":{total},\"customers\":["),
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
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(pages)
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
