//! The GraphQL face: schema, HTTP route, and the mapping of the crate's
//! errors to `extensions.code`. Resolvers call `service::` functions and
//! wrap what they return; they never touch sea_orm.

mod connection;
mod conversation_mutation;
mod edges;
mod export_link;
mod inputs;
pub mod loaders;
mod mutation;
mod playground;
mod query;
mod scalars;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{BatchRequest, BatchResponse, ErrorExtensions, Schema};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::auth::{Actor, Keys};
use crate::config::GraphqlConfig;
use crate::error::Error;
use crate::service::Ctx;
use crate::AppState;

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

/// The schema type served at /graphql.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Largest GraphQL request body.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Builds the schema over a service context, with the endpoint's limits
/// (depth, complexity, aliases, introspection, persisted queries).
pub fn build_schema(ctx: Ctx, keys: Arc<Keys>, limits: &GraphqlConfig) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(ctx)
        .data(keys)
        .limit_depth(limits.graphql_max_depth)
        .limit_complexity(limits.graphql_max_complexity);
    if !limits.graphql_introspection {
        builder = builder.disable_introspection();
    }
    if let Some(capacity) = std::num::NonZeroUsize::new(limits.graphql_apq_cache) {
        builder = builder.extension(ApolloPersistedQueries::new(LruCacheStorage::new(
            capacity.get(),
        )));
    }
    builder
        .extension(edges::DocumentGuard {
            max_aliases: limits.graphql_max_aliases,
            introspection: limits.graphql_introspection,
        })
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}

/// The GraphQL routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/graphql",
            post(graphql_handler)
                .layer(DefaultBodyLimit::max(BODY_LIMIT))
                .layer(axum::middleware::from_fn(refuse_declared_oversize))
                .get(graphql_get),
        )
        .route("/graphql/ws", axum::routing::get(ws_handler))
        .route(
            "/graphql/assets/{file}",
            axum::routing::get(playground::asset),
        )
}

/// Subscriptions over graphql-ws (and the legacy subscriptions-transport-ws):
/// the token comes in `connection_init`'s payload, as `{"Authorization":
/// "Bearer <jwt>"}` (what GraphiQL and Apollo's graphql-ws link send) or
/// `{"token": "<jwt>"}`; a connection without a valid one is refused.
async fn ws_handler(
    State(state): State<AppState>,
    protocol: async_graphql_axum::GraphQLProtocol,
    upgrade: axum::extract::WebSocketUpgrade,
) -> axum::response::Response {
    let schema = state.schema.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            async_graphql_axum::GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move { connection_data(&state, &payload) })
                .serve()
        })
}

/// The request data of a WebSocket connection, from its `connection_init`.
fn connection_data(
    state: &AppState,
    payload: &serde_json::Value,
) -> async_graphql::Result<async_graphql::Data> {
    let text = |key: &str| payload.get(key).and_then(serde_json::Value::as_str);
    let token = match text("Authorization").or_else(|| text("authorization")) {
        Some(header) => crate::auth::bearer(header).map_err(|e| gql_error(&e))?,
        None => text("token")
            .ok_or_else(|| gql_error(&Error::Unauthenticated("missing bearer token")))?,
    };
    let actor = state.keys.verify(token).map_err(|e| gql_error(&e))?;
    let mut data = async_graphql::Data::default();
    data.insert(loaders::Loaders::new(state.ctx.clone(), actor.clone()));
    data.insert(Caller(Ok(actor)));
    Ok(data)
}

/// The caller of a GraphQL request, or why there is none.
/// (Authentication only ever fails as UNAUTHENTICATED; the text says why.)
struct Caller(Result<Actor, &'static str>);

/// `POST /graphql`: one operation, or a JSON array of at most
/// `CLIENTELA_GRAPHQL_MAX_BATCH`; the body must say JSON (CSRF prevention).
async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(refusal) = edges::check_post(&headers) {
        return refusal.into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_refusal(rejection),
    };
    match edges::batch_request(&body, state.graphql.graphql_max_batch) {
        Ok(batch) => execute(&state, &headers, batch).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// A body that could not be read (over the 8 MiB limit, or cut off) as a
/// GraphQL error with its code.
fn body_refusal(rejection: BytesRejection) -> Response {
    let status = rejection.status();
    let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge
    } else {
        Error::invalid("body", "could not read the request body")
    };
    error_response(&error)
}

/// Refuses a body whose declared length is over the limit before reading any
/// of it (a body without a length is cut off at the limit while it is read).
async fn refuse_declared_oversize(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return error_response(&Error::PayloadTooLarge);
    }
    next.run(req).await
}

/// A crate error as a GraphQL response with its HTTP status.
fn error_response(error: &Error) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": error.to_string(), "extensions": { "code": error.code() } }] });
    (error.status(), axum::Json(body)).into_response()
}

/// `GET /graphql`: the playground for a browser; a query from the query
/// string (`query`, `variables`, `operationName`, `extensions`) for a client
/// that sent a preflight header; never a mutation.
async fn graphql_get(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if playground::is_browser(&headers) || !edges::asks_to_run(uri.query()) {
        return playground::playground(headers).await;
    }
    if let Err(refusal) = edges::check_get(&headers) {
        return refusal.into_response();
    }
    match edges::get_request(uri.query().unwrap_or_default()) {
        Ok(request) => execute(&state, &headers, BatchRequest::Single(request)).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Runs a request (or a batch) as the caller of the Authorization header.
async fn execute(state: &AppState, headers: &HeaderMap, batch: BatchRequest) -> Response {
    // One verification per HTTP request, whatever the number of operations.
    let caller = match crate::rest::bearer_token(headers) {
        Ok(Some(token)) => state.keys.verify(token),
        Ok(None) => Err(Error::Unauthenticated("missing bearer token")),
        Err(e) => Err(e),
    };
    let caller = caller.map_err(|e| match e {
        Error::Unauthenticated(why) => why,
        _ => "invalid credentials",
    });
    let with_caller = |req: async_graphql::Request| {
        let req = match &caller {
            Ok(actor) => req.data(loaders::Loaders::new(state.ctx.clone(), actor.clone())),
            Err(_) => req,
        };
        req.data(Caller(caller.clone()))
    };
    let batch = match batch {
        BatchRequest::Single(req) => BatchRequest::Single(with_caller(req)),
        BatchRequest::Batch(reqs) => {
            BatchRequest::Batch(reqs.into_iter().map(with_caller).collect())
        }
    };
    let mut response = state.schema.execute_batch(batch).await;
    let mut mutation_over_get = false;
    match &mut response {
        BatchResponse::Single(one) => {
            with_codes(&mut one.errors);
            mutation_over_get = one
                .errors
                .iter()
                .any(|e| e.message == edges::MUTATION_OVER_GET);
        }
        BatchResponse::Batch(many) => many.iter_mut().for_each(|one| with_codes(&mut one.errors)),
    }
    let mut response = GraphQLResponse::from(response).into_response();
    if mutation_over_get {
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response.headers_mut().insert(
            axum::http::header::ALLOW,
            axum::http::HeaderValue::from_static("POST"),
        );
    }
    response
}

/// Errors raised by the engine itself (a malformed query, an argument of the
/// wrong type, an unknown enum value) carry no code; the contract gives every
/// failed operation one, and these are all the caller's input.
fn with_codes(errors: &mut [async_graphql::ServerError]) {
    errors.iter_mut().for_each(add_code);
}

/// Gives an error its code unless it has one: PERSISTED_QUERY_NOT_FOUND for
/// an unknown persisted-query hash, BAD_USER_INPUT for the rest.
fn add_code(error: &mut async_graphql::ServerError) {
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

/// [`add_code`] for an owned error.
fn with_code(mut error: async_graphql::ServerError) -> async_graphql::ServerError {
    add_code(&mut error);
    error
}

/// The service context and the authenticated caller of a resolver.
fn caller<'a>(cx: &async_graphql::Context<'a>) -> async_graphql::Result<(&'a Ctx, &'a Actor)> {
    let ctx = cx.data::<Ctx>()?;
    match &cx.data::<Caller>()?.0 {
        Ok(actor) => Ok((ctx, actor)),
        Err(why) => Err(gql_error(&Error::Unauthenticated(why))),
    }
}

/// The request's DataLoaders (present once the caller is authenticated).
fn loaders<'a>(cx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a loaders::Loaders> {
    caller(cx)?;
    cx.data::<loaders::Loaders>()
}

/// The crate error as a GraphQL error with the contract's extensions.
fn gql_error(e: &Error) -> async_graphql::Error {
    e.log();
    async_graphql::Error::new(e.to_string()).extend_with(|_, ext| {
        ext.set("code", e.code());
        match e {
            Error::BadUserInput { fields, .. } => {
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
            _ => {}
        }
    })
}

/// `.gql()` turns the crate's result into a resolver result without letting
/// async-graphql's blanket `From<Display>` send internal error text.
trait GqlResult<T> {
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
