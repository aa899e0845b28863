//! The one place the crate's errors become GraphQL errors
//! ([`graphql_error`]), and GraphQL error bodies over HTTP ([`respond`]).

use async_graphql::ErrorExtensions;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::loaders;
use crate::error::Error;

/// A crate error as a GraphQL response with its HTTP status (and
/// `Retry-After` where it has one): what the HTTP layer answers for this
/// face (see [`crate::http::Faces`]), and what every refusal made here
/// outside the engine comes to (see [`respond`]).
pub fn error_response(error: &Error, request: &HeaderMap) -> Response {
    respond(error, None, request)
}

/// The one place a GraphQL error leaves over HTTP outside the engine:
/// `{"errors": [...]}` holding [`graphql_error`]'s rendering of `error`
/// (in `message`'s words when given), with the error's status and
/// `Retry-After`. A client that accepts `application/graphql-response+json`
/// (Apollo Client 4 does) gets that media type, which tells it a non-2xx
/// body is still a GraphQL result with `errors` (GraphQL over HTTP).
pub(super) fn respond(error: &Error, message: Option<String>, request: &HeaderMap) -> Response {
    const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
    let body = serde_json::json!({ "errors": [graphql_error(error, message)] });
    let mut response = (error.status(), axum::Json(body)).into_response();
    let accepts_graphql_response = request
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE));
    if accepts_graphql_response {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(
                "application/graphql-response+json; charset=utf-8",
            ),
        );
    }
    crate::http::set_retry_after(&mut response, error);
    response
}

/// A refusal of a request as a whole (no one field to name): 400
/// BAD_USER_INPUT in `message`'s words.
pub(super) fn input_error(message: impl Into<String>) -> Error {
    Error::BadUserInput {
        message: message.into(),
        fields: Vec::new(),
    }
}

/// Gives an error its code unless it has one: PERSISTED_QUERY_NOT_FOUND for
/// an unknown persisted-query hash, BAD_USER_INPUT for the rest. Errors
/// raised by the engine itself (a malformed query, an argument of the wrong
/// type, an unknown enum value) carry no code; the contract gives every
/// failed operation one, and these are all the caller's input.
pub(super) fn add_code(error: &mut async_graphql::ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        // Apollo clients retry with the full query on this exact code.
        let code = if error.message == "PersistedQueryNotFound" {
            "PERSISTED_QUERY_NOT_FOUND"
        } else {
            "BAD_USER_INPUT"
        };
        extensions.set("code", code);
    }
}

/// The crate error as a GraphQL error with the contract's extensions (see
/// [`graphql_error`]).
pub(super) fn gql_error(e: &Error) -> async_graphql::Error {
    graphql_error(e, None)
}

/// The one place a crate error becomes a GraphQL error: its message (or
/// `message`, where a refusal words it more specifically, naming the limit
/// it hit), `extensions.code`, and what the variant adds (`fields` for bad
/// input; `field` and `existingId` for a taken phone). Resolvers, the
/// engine's guards, HTTP refusals and WebSocket `error` messages all take
/// their errors from here. Logs a server-side failure once.
pub(super) fn graphql_error(e: &Error, message: Option<String>) -> async_graphql::Error {
    e.log();
    let message = message.unwrap_or_else(|| e.to_string());
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", e.code());
        match e {
            Error::BadUserInput { fields, .. } if !fields.is_empty() => {
                let list: Vec<async_graphql::Value> = fields
                    .iter()
                    .map(|f| {
                        let mut obj = async_graphql::indexmap::IndexMap::new();
                        obj.insert(
                            async_graphql::Name::new("field"),
                            async_graphql::Value::from(f.field.as_str()),
                        );
                        obj.insert(
                            async_graphql::Name::new("message"),
                            async_graphql::Value::from(f.message.as_str()),
                        );
                        async_graphql::Value::Object(obj)
                    })
                    .collect();
                ext.set("fields", list);
            }
            Error::PhoneTaken {
                field, existing_id, ..
            } => {
                ext.set("field", field.as_str());
                ext.set("existingId", existing_id.as_str());
            }
            Error::ExternalIdTaken { existing_id } => {
                ext.set("field", "externalId");
                ext.set("existingId", existing_id.as_str());
            }
            _ => {}
        }
    })
}

/// `.gql()` turns the crate's result into a resolver result without letting
/// async-graphql's blanket `From<Display>` send internal error text.
pub(super) trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T, Error> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| gql_error(&e))
    }
}

impl<T> GqlResult<T> for Result<T, loaders::LoadError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| gql_error(&e))
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        gql_error(self)
    }
}
