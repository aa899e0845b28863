//! File uploads to `POST /graphql`: a `multipart/form-data` body as the
//! GraphQL multipart request spec says (what Apollo Client's upload link
//! sends): an `operations` part (the request, or a batch of them, as JSON),
//! a `map` part (`{"0": ["variables.file"]}`: which variables each file
//! fills), then the files.
//!
//! Read as it arrives, never whole in memory: `operations` within the body
//! limit of the caller's JSON requests, `map` within [`MAP_LIMIT`], and the
//! file, written to an anonymous temporary file as it comes, within the
//! import jobs' upload limit for agents and admins (the only callers whose
//! operations take a file) and the ordinary body limit for anyone else.
//! Past a limit the answer is 413. The requests then pass the same checks
//! as a JSON body ([`super::edges::batch_request`]).

use std::collections::HashMap;
use std::io;

use async_graphql::{BatchRequest, UploadValue};
use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderMap;
use futures::TryStreamExt;

use super::edges::{self, Refusal};
use crate::auth::Actor;
use crate::config::GraphqlConfig;
use crate::error::Error;
use crate::service::import::jobs;

/// Largest `map` part.
const MAP_LIMIT: usize = 64 * 1024;
/// Files one request may carry (`startImportJob` takes one).
const MAX_FILES: usize = 1;

/// Whether a request's body is `multipart/form-data`.
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The largest file `actor` may upload.
fn file_limit(actor: &Actor, operations_limit: usize) -> usize {
    if actor.require_writer().is_ok() {
        jobs::UPLOAD_LIMIT
    } else {
        operations_limit
    }
}

/// A multipart body's failure as a refusal: 413 past a limit, 400 otherwise.
fn refusal(e: &multer::Error) -> Refusal {
    match e {
        multer::Error::FieldSizeExceeded { limit, field_name } => Refusal::too_large(format!(
            "the multipart part {:?} is over its limit of {limit} bytes",
            field_name.as_deref().unwrap_or("")
        )),
        multer::Error::StreamSizeExceeded { limit } => Refusal::too_large(format!(
            "the multipart body is over its limit of {limit} bytes"
        )),
        other => Refusal::input(format!("malformed multipart body: {other}")),
    }
}

/// Reads a multipart request of `actor` whose `operations` may have up to
/// `operations_limit` bytes: the requests, each upload set where `map` says.
pub async fn batch_request(
    headers: &HeaderMap,
    body: Body,
    actor: &Actor,
    operations_limit: usize,
    limits: &GraphqlConfig,
) -> Result<BatchRequest, Refusal> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| Refusal::input(format!("malformed multipart body: {e}")))?;
    let file_limit = file_limit(actor, operations_limit);
    let whole = (file_limit * MAX_FILES + operations_limit + MAP_LIMIT) as u64;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > whole) {
        return Err(Refusal::from(Error::PayloadTooLarge));
    }
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(whole)
            .per_field(file_limit as u64)
            .for_field("operations", operations_limit as u64)
            .for_field("map", MAP_LIMIT as u64),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut operations = None;
    let mut map: Option<HashMap<String, Vec<String>>> = None;
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| refusal(&e))? {
        match field.name() {
            Some("operations") => {
                operations = Some(field.bytes().await.map_err(|e| refusal(&e))?);
            }
            Some("map") => {
                let bytes = field.bytes().await.map_err(|e| refusal(&e))?;
                map = Some(serde_json::from_slice(&bytes).map_err(|e| {
                    Refusal::input(format!(
                        "the multipart `map` must be a JSON object of lists of paths: {e}"
                    ))
                })?);
            }
            Some(name) => {
                if files.len() == MAX_FILES {
                    return Err(Refusal::input(format!(
                        "a request may carry at most {MAX_FILES} file"
                    )));
                }
                let name = name.to_owned();
                let filename = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(ToString::to_string);
                let content = save(field).await?;
                files.push((
                    name,
                    UploadValue {
                        filename,
                        content_type,
                        content,
                    },
                ));
            }
            None => {}
        }
    }
    let operations = operations.ok_or_else(|| {
        Refusal::input("a multipart request needs an `operations` part (the GraphQL request)")
    })?;
    let mut batch = edges::batch_request(&operations, limits)?;
    let mut map = map.ok_or_else(|| {
        Refusal::input("a multipart request needs a `map` part (which variables the files fill)")
    })?;
    for (name, upload) in files {
        let Some(paths) = map.remove(&name) else {
            continue;
        };
        for path in paths {
            let value = upload
                .try_clone()
                .map_err(|e| Refusal::from(Error::internal(e)))?;
            match &mut batch {
                BatchRequest::Single(request) => request.set_upload(&path, value),
                BatchRequest::Batch(requests) => {
                    let (index, inner) = path.split_once('.').unwrap_or((&path, ""));
                    if let Some(request) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| requests.get_mut(i))
                    {
                        request.set_upload(inner, value);
                    }
                }
            }
        }
    }
    if let Some(name) = map.keys().next() {
        return Err(Refusal::input(format!(
            "the multipart `map` names the file {name:?}, which the body does not carry"
        )));
    }
    Ok(batch)
}

/// Writes a file part to an anonymous temporary file as it arrives (on a
/// blocking thread); the file, read from its start.
async fn save(field: multer::Field<'static>) -> Result<std::fs::File, Refusal> {
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
        field.map_err(io::Error::other),
    ));
    let saved = tokio::task::spawn_blocking(move || -> io::Result<std::fs::File> {
        let mut reader = reader;
        let mut file = tempfile::tempfile()?;
        {
            let mut writer = io::BufWriter::new(&mut file);
            io::copy(&mut reader, &mut writer)?;
            io::Write::flush(&mut writer)?;
        }
        io::Seek::rewind(&mut file)?;
        Ok(file)
    })
    .await
    .map_err(|e| Refusal::from(Error::internal(e)))?;
    saved.map_err(|e| {
        match e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<multer::Error>())
        {
            Some(multipart) => refusal(multipart),
            None => Refusal::from(Error::internal(e)),
        }
    })
}
