//! Upsert and import jobs on the REST face: `POST /api/v2/customers/upsert`
//! (with `Idempotency-Key`), `POST /api/v2/customers/imports` (a job over an
//! uploaded CSV, NDJSON or JSON body), `GET .../imports`, `GET .../imports/{id}`,
//! `POST .../imports/{id}/cancel` and `GET .../imports/{id}/errors.csv`.
//! Handlers parse, call the service and shape the answer.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::body::{customer_input, flag};
use super::import_formats;
use super::{error_response, is_json, Auth, QueryPairs};
use crate::auth::Actor;
use crate::error::{Error, FieldError, Result};
use crate::service::import::batch::{ImportMode, MatchKey, RowResult};
use crate::service::import::idempotency::{self, Begin};
use crate::service::import::jobs;
use crate::service::import::upsert::{self, UpsertReport};
use crate::service::Ctx;

/// Largest upsert body (1,000 customers of a few KiB each).
pub const UPSERT_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// The upsert route, as its idempotency keys are bound to it.
const UPSERT_ROUTE: &str = "POST /api/v2/customers/upsert";

/// One row's result as REST shows it.
pub fn row_json(r: &RowResult, index_name: &str) -> Value {
    json!({
        index_name: r.row,
        "status": r.outcome.as_str(),
        "id": r.id.map(|id| id.to_string()),
        "matchedOn": r.matched_on.map(MatchKey::as_str),
        "matchedValue": r.matched_value,
        "errors": r.errors,
    })
}

fn upsert_json(report: &UpsertReport) -> Value {
    json!({
        "success": true,
        "results": {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "failed": report.failed,
        },
        "items": report.items.iter().map(|r| row_json(r, "index")).collect::<Vec<_>>(),
    })
}

/// A match key as a client may write it: its name in any case, or
/// `external_id`.
fn match_key(text: &str) -> Option<MatchKey> {
    match text.trim().to_ascii_lowercase().as_str() {
        "externalid" | "external_id" => Some(MatchKey::ExternalId),
        other => MatchKey::parse(other),
    }
}

/// Reads `match` of a body or query: a list of `phone`, `email`, `externalId`.
fn match_keys(value: Option<&Value>) -> Result<Vec<MatchKey>> {
    let bad = || Error::invalid("match", "must be a list of phone, email, externalId");
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().and_then(match_key).ok_or_else(bad))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| match_key(p).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// Runs an upsert body (already read) and renders its answer or error.
async fn run_upsert(ctx: &Ctx, actor: &Actor, bytes: &[u8]) -> Result<Response> {
    let map = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(Error::invalid("body", "must be a JSON object")),
        Err(e) => return Err(Error::invalid("body", format!("malformed JSON: {e}"))),
    };
    let keys = match_keys(map.get("match"))?;
    let Some(Value::Array(list)) = map.get("customers") else {
        return Err(Error::invalid("customers", "must be a list of customers"));
    };
    if list.len() > upsert::MAX_UPSERT_ITEMS {
        return Err(Error::invalid(
            "customers",
            format!("at most {} items per upsert", upsert::MAX_UPSERT_ITEMS),
        ));
    }
    let items = list
        .iter()
        .map(|v| match v {
            Value::Object(m) => customer_input(m),
            _ => Err(vec![FieldError::new("customer", "must be an object")]),
        })
        .collect();
    let report = upsert::upsert(ctx, actor, items, keys).await?;
    Ok(Json(upsert_json(&report)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v2/customers/upsert",
    tag = "customers",
    summary = "Create or update up to 1,000 customers, matched by phone, email or externalId",
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body within 24 h: the first answer again, nothing written; another body: 409")),
    request_body(content = super::shapes::UpsertBody, content_type = "application/json"),
    responses(
        (status = 200, description = "One result per item", body = super::shapes::UpsertAnswer),
        (status = 409, description = "The Idempotency-Key was used with another body, or its first request still runs", body = super::shapes::ErrorBody),
        super::responses::Errors, super::responses::Forbidden, super::responses::BodyErrors,
    )
)]
/// `POST /api/v2/customers/upsert` with `{customers: [...], match?: [...]}`
/// (AGENT or ADMIN). With an `Idempotency-Key` header the first answer
/// (status and body) is kept 24 h and sent again for the same key and body.
pub async fn upsert_customers(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    req: Request,
) -> Result<Response> {
    actor.require_writer()?;
    if !is_json(req.headers()) {
        return Err(Error::UnsupportedMediaType);
    }
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()?;
    let bytes = Bytes::from_request(req, &()).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge
        } else {
            Error::invalid("body", "could not read the request body")
        }
    })?;
    let Some(key) = key else {
        return run_upsert(&ctx, &actor, &bytes).await;
    };
    match idempotency::begin(&ctx, &actor, &key, UPSERT_ROUTE, &bytes).await? {
        Begin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((
                status,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (
                        header::HeaderName::from_static("idempotent-replayed"),
                        HeaderValue::from_static("true"),
                    ),
                ],
                body,
            )
                .into_response())
        }
        Begin::Run => {
            let response = match run_upsert(&ctx, &actor, &bytes).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            };
            let status = response.status();
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, UPSERT_BODY_LIMIT * 4)
                .await
                .map_err(Error::internal)?;
            let text = String::from_utf8_lossy(&body).into_owned();
            idempotency::finish(&ctx, &actor, &key, status.as_u16(), text).await?;
            Ok(Response::from_parts(parts, Body::from(body)))
        }
    }
}

/// Error lines read per query of the errors CSV.
const ERROR_PAGE: u64 = 5000;

/// An uploaded job body, removed when dropped.
struct Upload(std::path::PathBuf);

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Streams a request body into a new temporary file (never whole in memory);
/// 413 over `limit`. The file and its size.
async fn save_body(req: Request, limit: usize) -> Result<(Upload, u64)> {
    use futures::TryStreamExt;
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    super::bulk::refuse_declared_over(&req, limit)?;
    let path = std::env::temp_dir().join(format!("clientela-import-{}", uuid::Uuid::now_v7()));
    let upload = Upload(path.clone());
    let bytes = Limited::new(req.into_body(), limit)
        .into_data_stream()
        .map_err(std::io::Error::other);
    let mut reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(bytes));
    let copied = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let n = std::io::copy(&mut reader, &mut file)?;
        std::io::Write::flush(&mut file)?;
        Ok(n)
    })
    .await
    .map_err(Error::internal)?;
    match copied {
        Ok(n) => Ok((upload, n)),
        Err(e) => {
            let too_large = e
                .get_ref()
                .is_some_and(|inner| inner.is::<LengthLimitError>());
            if too_large {
                Err(Error::PayloadTooLarge)
            } else {
                Err(Error::invalid("body", "could not read the request body"))
            }
        }
    }
}

/// A job as REST shows it.
fn job_json(job: &jobs::Job) -> Value {
    json!({ "success": true, "job": job })
}

#[utoipa::path(
    post,
    path = "/api/v2/customers/imports",
    tag = "customers",
    summary = "Start an import job over a CSV, NDJSON or JSON body (202 with the job)",
    params(super::shapes::ImportJobParams),
    request_body(
        description = "CSV with a header row of the export's columns, NDJSON (one customer per line), or JSON (`{customers: [...]}`, an export, or a bare list)",
        content(
            (String = "text/csv"),
            (String = "application/x-ndjson"),
            (super::shapes::ImportBody = "application/json"),
        ),
    ),
    responses(
        (status = 202, description = "The job, queued", body = super::shapes::ImportJobAnswer),
        super::responses::Errors, super::responses::Forbidden, super::responses::BodyErrors,
    )
)]
/// `POST /api/v2/customers/imports?mode=create|update|upsert&dryRun=&match=`
/// (AGENT or ADMIN): the body is saved to a temporary file as it arrives
/// (bounded memory), then imported in the background; the answer is 202
/// with the job, which `GET .../imports/{id}` follows.
pub async fn start_import_job(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    q: QueryPairs,
    req: Request,
) -> Result<Response> {
    actor.require_writer()?;
    let format = import_formats::format_of(
        req.headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )?;
    let mode = match q.get("mode").map(str::trim).filter(|m| !m.is_empty()) {
        None => ImportMode::Upsert,
        Some(m) => ImportMode::parse(&m.to_ascii_lowercase())
            .ok_or_else(|| Error::invalid("mode", ImportMode::expected()))?,
    };
    let dry_run = flag(&q, "dryRun", false)?;
    let keys = match_keys(q.get("match").map(|m| Value::String(m.to_owned())).as_ref())?;
    let spec = jobs::spec(mode, keys, dry_run, format);
    let (upload, size) = save_body(req, jobs::UPLOAD_LIMIT).await?;
    let file = std::fs::File::open(&upload.0).map_err(Error::internal)?;
    let job = jobs::start(&ctx, &actor, spec, file, size, import_formats::rows, upload).await?;
    Ok((StatusCode::ACCEPTED, Json(job_json(&job))).into_response())
}

fn job_id(id: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(id.trim()).map_err(|_| Error::NotFound("import job"))
}

#[utoipa::path(
    get,
    path = "/api/v2/customers/imports",
    tag = "customers",
    summary = "The tenant's import jobs, newest first (at most 100)",
    responses(
        (status = 200, description = "The jobs", body = super::shapes::ImportJobList),
        super::responses::Errors,
    )
)]
/// `GET /api/v2/customers/imports` (any role).
pub async fn list_import_jobs(State(ctx): State<Ctx>, Auth(actor): Auth) -> Result<Response> {
    let list = jobs::list(&ctx, &actor).await?;
    Ok(Json(json!({ "success": true, "jobs": list })).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v2/customers/imports/{id}",
    tag = "customers",
    summary = "An import job: status, counts and progress",
    params(super::shapes::JobPath),
    responses(
        (status = 200, description = "The job", body = super::shapes::ImportJobAnswer),
        super::responses::Errors, super::responses::NotFound,
    )
)]
/// `GET /api/v2/customers/imports/{id}` (any role; another tenant's is 404).
pub async fn get_import_job(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let job = jobs::get(&ctx, &actor, job_id(&id)?).await?;
    Ok(Json(job_json(&job)).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v2/customers/imports/{id}/cancel",
    tag = "customers",
    summary = "Cancel an import job (batches already committed stay)",
    params(super::shapes::JobPath),
    responses(
        (status = 200, description = "The job", body = super::shapes::ImportJobAnswer),
        super::responses::Errors, super::responses::Forbidden, super::responses::NotFound,
    )
)]
/// `POST /api/v2/customers/imports/{id}/cancel` (AGENT or ADMIN).
pub async fn cancel_import_job(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let job = jobs::cancel(&ctx, &actor, job_id(&id)?).await?;
    Ok(Json(job_json(&job)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v2/customers/imports/{id}/errors.csv",
    tag = "customers",
    summary = "The rows an import job did not store, as CSV (row, field, code, message)",
    params(super::shapes::JobPath),
    responses(
        (status = 200, description = "`row,field,code,message`, one line per field error", content((String = "text/csv"))),
        super::responses::Errors, super::responses::NotFound,
    )
)]
/// `GET /api/v2/customers/imports/{id}/errors.csv` (any role), streamed a page at a time.
pub async fn import_job_errors(
    State(ctx): State<Ctx>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = id.strip_suffix(".csv").unwrap_or(&id).to_owned();
    let id = job_id(&id)?;
    jobs::get(&ctx, &actor, id).await?;
    let pages = futures::stream::unfold(Some(0i64), move |after| {
        let (ctx, actor) = (ctx.clone(), actor.clone());
        async move {
            let after = after?;
            let mut lines = match jobs::errors(&ctx, &actor, id, after, ERROR_PAGE).await {
                Ok(lines) => lines,
                Err(e) => {
                    e.log();
                    return Some((Err(std::io::Error::other("internal error")), None));
                }
            };
            let full = lines.len() as u64 == ERROR_PAGE;
            let mut next = None;
            if full {
                // The last row may go on in the next page: read it whole there.
                let last = lines.last().map_or(after, |l| l.row);
                if lines.iter().any(|l| l.row != last) {
                    lines.retain(|l| l.row != last);
                    next = lines.last().map(|l| l.row);
                } else {
                    next = Some(last);
                }
            }
            let mut out = Vec::new();
            {
                let mut w = csv::Writer::from_writer(&mut out);
                for l in &lines {
                    let row = l.row.to_string();
                    let _ = w.write_record([row.as_str(), &l.field, &l.code, &l.message]);
                }
                let _ = w.flush();
            }
            Some((Ok::<_, std::io::Error>(Bytes::from(out)), next))
        }
    });
    let head = futures::stream::once(async { Ok(Bytes::from_static(b"row,field,code,message\n")) });
    use futures::StreamExt;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"import-errors.csv\""),
            ),
        ],
        Body::from_stream(head.chain(pages)),
    )
        .into_response())
}
