//! The GraphQL face: schema, HTTP route, and the mapping of the crate's
//! errors to `extensions.code`. Resolvers call `service::` functions and
//! wrap what they return; they never touch sea_orm.

mod conversation_mutation;
mod inputs;
pub mod loaders;
mod mutation;
mod playground;
mod query;
mod scalars;
mod types;

use async_graphql::{EmptySubscription, ErrorExtensions, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::Actor;
use crate::error::Error;
use crate::service::Ctx;
use crate::AppState;

pub use mutation::Mutation;
pub use query::Query;

/// The schema type served at /graphql.
pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// Largest GraphQL request body.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Deepest selection a query may nest.
const MAX_DEPTH: usize = 16;

/// Builds the schema over a service context.
pub fn build_schema(ctx: Ctx) -> AppSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(ctx)
        .limit_depth(MAX_DEPTH)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

/// The GraphQL routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/graphql",
            post(graphql_handler)
                .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
                .get(playground::playground),
        )
        .route(
            "/graphql/assets/{file}",
            axum::routing::get(playground::asset),
        )
}

/// The caller of a GraphQL request, or why there is none.
struct Caller(Result<Actor, Error>);

async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> GraphQLResponse {
    let caller = match crate::rest::bearer_token(&headers) {
        Ok(Some(token)) => state.keys.verify(token),
        Ok(None) => Err(Error::Unauthenticated("missing bearer token")),
        Err(e) => Err(e),
    };
    let mut req = req.into_inner();
    if let Ok(actor) = &caller {
        req = req.data(loaders::Loaders::new(state.ctx.clone(), actor.clone()));
    }
    let mut response = state.schema.execute(req.data(Caller(caller))).await;
    with_codes(&mut response.errors);
    response.into()
}

/// Errors raised by the engine itself (a malformed query, an argument of the
/// wrong type, an unknown enum value) carry no code; the contract gives every
/// failed operation one, and these are all the caller's input.
fn with_codes(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
}

/// The service context and the authenticated caller of a resolver.
fn caller<'a>(cx: &async_graphql::Context<'a>) -> async_graphql::Result<(&'a Ctx, &'a Actor)> {
    let ctx = cx.data::<Ctx>()?;
    match &cx.data::<Caller>()?.0 {
        Ok(actor) => Ok((ctx, actor)),
        Err(e) => Err(gql_error(e)),
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
