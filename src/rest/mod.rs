//! The `/api/v2/customers` REST shim that keeps frontends written against the
//! old Node/Mongoose service working: its paths, envelopes (`success`, `_id`)
//! and status codes. Handlers parse, call one `service::` function and shape
//! the answer; they never touch sea_orm. Errors are rendered in one
//! function, [`error_response`]. Builds on [`crate::http`]; never imports
//! the GraphQL face.

mod body;
mod bulk;
mod customers;
mod export;
mod history;
mod import_formats;
mod imports;
mod merges;
pub mod openapi;
pub mod responses;
pub mod shapes;

pub use import_formats::rows as import_file_rows;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::{Actor, Keys};
use crate::error::Error;
use crate::http::{AppState, Identity, BODY_LIMIT};

/// Largest body of a bulk import.
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The REST routes. The fixed paths are declared with the `{id}` ones; the
/// router prefers a fixed segment over a capture, as the contract requires.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/customers",
            get(customers::list_customers).post(customers::create_customer),
        )
        .route("/api/v2/customers/stats/summary", get(customers::get_stats))
        .route("/api/v2/customers/duplicates", get(merges::list_duplicates))
        .route(
            "/api/v2/customers/{id}/merge",
            post(merges::merge_customers),
        )
        .route("/api/v2/customers/merges/{id}", get(merges::get_merge))
        .route(
            "/api/v2/customers/merges/{id}/undo",
            post(merges::undo_merge),
        )
        .route("/api/v2/customers/export", get(export::export_customers))
        .route(
            "/api/v2/customers/bulk/import",
            // Reads its body itself, as it arrives, up to IMPORT_BODY_LIMIT.
            post(customers::import_customers),
        )
        .route(
            "/api/v2/customers/upsert",
            post(imports::upsert_customers)
                .layer(DefaultBodyLimit::max(imports::UPSERT_BODY_LIMIT)),
        )
        .route(
            "/api/v2/customers/imports",
            get(imports::list_import_jobs).post(imports::start_import_job),
        )
        .route(
            "/api/v2/customers/imports/{id}",
            get(imports::get_import_job),
        )
        .route(
            "/api/v2/customers/imports/{id}/cancel",
            post(imports::cancel_import_job),
        )
        .route(
            "/api/v2/customers/imports/{id}/errors.csv",
            get(imports::import_job_errors),
        )
        .route(
            "/api/v2/customers/{id}",
            get(customers::get_customer)
                .put(customers::update_customer)
                .delete(customers::delete_customer),
        )
        .route("/api/v2/customers/{id}/tags", patch(customers::update_tags))
        .route(
            "/api/v2/customers/{id}/block",
            patch(customers::set_blocked),
        )
        .route(
            "/api/v2/customers/{id}/conversations",
            get(customers::list_conversations),
        )
        .route("/api/v2/customers/trash", get(history::list_trash))
        .route("/api/v2/customers/{id}/history", get(history::list_history))
        .route(
            "/api/v2/customers/{id}/restore",
            post(history::restore_customer),
        )
        .route(
            "/api/v2/customers/{id}/erase",
            post(history::erase_customer),
        )
        .route(
            "/api/v2/customers/{id}/erasure",
            get(history::list_erasures),
        )
        .route("/api/v2/openapi.json", get(openapi::openapi_json))
        .route("/api/v2/docs", get(openapi::docs_page))
        .route("/api/v2/docs/{file}", get(openapi::docs_asset))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        error_response(&self)
    }
}

/// An error in the REST envelope: `{success: false, error, code, details?}`,
/// with its status (and `Retry-After` where it has one). The one place REST
/// errors are rendered.
pub fn error_response(error: &Error) -> Response {
    error.log();
    let details = match error {
        Error::BadUserInput { fields, .. } => Some(
            fields
                .iter()
                .map(|f| shapes::ErrorDetail {
                    field: f.field.clone(),
                    message: f.message.clone(),
                    existing_id: None,
                })
                .collect(),
        ),
        Error::PhoneTaken {
            field, existing_id, ..
        } => Some(vec![shapes::ErrorDetail {
            field: field.clone(),
            message: error.to_string(),
            existing_id: Some(existing_id.clone()),
        }]),
        Error::ExternalIdTaken { existing_id } => Some(vec![shapes::ErrorDetail {
            field: "externalId".to_owned(),
            message: error.to_string(),
            existing_id: Some(existing_id.clone()),
        }]),
        _ => None,
    };
    let body = shapes::ErrorBody {
        success: shapes::Failed,
        error: error.to_string(),
        code: error.code(),
        details,
    };
    let mut response = (error.status(), Json(body)).into_response();
    crate::http::set_retry_after(&mut response, error);
    response
}

/// The caller, from `Authorization: Bearer <jwt>` (verified once per request
/// by [`crate::http::identify`]).
pub struct Auth(pub Actor);

impl<S> FromRequestParts<S> for Auth
where
    Arc<Keys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let keys = Arc::<Keys>::from_ref(state);
        Identity::from_parts(parts, &keys).actor().map(Auth)
    }
}

/// A JSON object body: 415 unless the request says JSON, 413 over the route's
/// limit, 400 when malformed; each in the API's error shape.
pub struct JsonObject(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !is_json(req.headers()) {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Error::PayloadTooLarge
                } else {
                    Error::invalid("body", "could not read the request body")
                }
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(Error::invalid("body", "must be a JSON object")),
            Err(e) => Err(Error::invalid("body", format!("malformed JSON: {e}"))),
        }
    }
}

/// Whether a request says its body is JSON (`application/json` or `application/*+json`).
fn is_json(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Query string pairs in order, repeated keys kept; 400 when malformed.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        QueryPairs::parse(parts.uri.query().unwrap_or_default())
    }
}

impl QueryPairs {
    /// Reads a query string (without the `?`); 400 when malformed.
    pub fn parse(query: &str) -> Result<Self, Error> {
        serde_urlencoded::from_str(query)
            .map(QueryPairs)
            .map_err(|_| Error::invalid("query", "malformed query string"))
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (and `key[]`), comma lists split, blanks dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracketed)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::super::QueryPairs;
        use crate::error::Error;

        proptest! {
            #[test]
            fn any_query_string_is_read_or_refused_as_bad_input(
                query in prop_oneof![any::<String>(), "[a-z\\[\\]=&%+0-9A-F;#]{0,60}"],
            ) {
                match QueryPairs::parse(&query) {
                    Ok(_) => {}
                    Err(Error::BadUserInput { .. }) => {}
                    Err(other) => prop_assert!(false, "{query:?}: {other:?}"),
                }
            }

            #[test]
            fn encoded_pairs_read_back_in_order_with_the_last_value_winning(
                pairs in prop::collection::vec(("\\PC{1,8}", "\\PC{0,12}"), 0..8),
            ) {
                let query = serde_urlencoded::to_string(&pairs).expect("encodes");
                let q = QueryPairs::parse(&query).expect("reads");
                prop_assert_eq!(&q.0, &pairs);
                for (key, _) in &pairs {
                    let last = pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
                    prop_assert_eq!(q.get(key), last);
                }
            }

            #[test]
            fn list_values_are_every_trimmed_comma_separated_item_of_the_key_and_its_brackets(
                items in prop::collection::vec(("[ ,]{0,2}", "[^,\\s]{1,8}", "[ ,]{0,2}", any::<bool>()), 0..8),
            ) {
                let pairs: Vec<(String, String)> = items
                    .iter()
                    .map(|(before, item, after, bracket)| {
                        let key = if *bracket { "tags[]" } else { "tags" };
                        (key.to_owned(), format!("{before}{item}{after}"))
                    })
                    .chain([("other".to_owned(), "x".to_owned())])
                    .collect();
                let q = QueryPairs::parse(&serde_urlencoded::to_string(&pairs).expect("encodes"))
                    .expect("reads");
                let want: Vec<String> = items.iter().map(|(_, item, _, _)| item.clone()).collect();
                prop_assert_eq!(q.list("tags"), want);
            }
        }
    }
}
