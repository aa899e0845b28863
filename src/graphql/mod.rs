//! The GraphQL face: schema, HTTP route, and (in `errors`) the mapping of the crate's
//! errors to `extensions.code` (in one function, `graphql_error`).
//! Resolvers call `service::` functions and wrap what they return; they
//! never touch sea_orm. Builds on [`crate::http`] (state, the caller, body
//! limits); never imports the REST face.

mod changes;
mod connection;
mod conversation_mutation;
mod documents;
mod edges;
mod errors;
mod export_link;
mod history;
mod imports;
mod inline;
mod inputs;
mod json;
pub mod loaders;
mod merges;
mod mutation;
mod playground;
mod query;
mod scalars;
mod subscription;
mod types;
mod upload;
mod validated;
mod ws;

use std::sync::Arc;

use async_graphql::{BatchRequest, BatchResponse, Schema};
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{Actor, Keys};
use crate::config::GraphqlConfig;
use crate::error::Error;
use crate::http::{AppState, Identity};
use crate::service::import::jobs::ReadRows;
use crate::service::Ctx;

pub use errors::error_response;
use errors::{add_code, gql_error, graphql_error, input_error, respond, GqlResult};
pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;
pub use ws::MAX_OPERATIONS_PER_SOCKET;

/// The schema type served at /graphql.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Largest GraphQL request body, an admin's (bulk import); other callers
/// may send [`crate::http::BODY_LIMIT`].
pub const ADMIN_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// Builds the schema over a service context, with the engine's limits
/// (complexity, introspection). It has no extensions: with any, the engine
/// wraps every field of every answer in their hooks (a boxed future per
/// extension and two registry lookups per field), which cost more than the
/// rest of a list's resolution; what they would do is done by [`Endpoint`]
/// before the engine gets the request.
/// `read_rows` reads the files of import jobs started over GraphQL.
pub fn build_schema(
    ctx: Ctx,
    keys: Arc<Keys>,
    limits: &GraphqlConfig,
    read_rows: ReadRows,
) -> AppSchema {
    schema_validating(
        ctx,
        keys,
        limits,
        read_rows,
        (async_graphql::ValidationMode::Strict, false),
    )
}

/// [`build_schema`] with validation in `mode`, and with the extension
/// that remembers validation ([`validated::Remembered`]) if `remembering`.
fn schema_validating(
    ctx: Ctx,
    keys: Arc<Keys>,
    limits: &GraphqlConfig,
    read_rows: ReadRows,
    (mode, remembering): (async_graphql::ValidationMode, bool),
) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(ctx)
        .data(keys)
        .data(imports::FileRows(read_rows))
        .limit_complexity(limits.graphql_max_complexity)
        .validation_mode(mode);
    if remembering {
        builder = builder.extension(validated::Remembered);
    }
    if !limits.graphql_introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema as both transports run it: each request gets its parsed
/// document from the cache (or parsed, and cached), passes the document
/// guard, and only then reaches the engine; every error of its answer
/// leaves with a code.
///
/// A request of a cached document runs on a twin of the schema that
/// remembers what validation said of its verdict ([`validated`]): validated
/// in full the first time, and then not at all, or, for a document whose
/// answers the engine builds from many pieces, on a third twin that only
/// counts its cost and looks for fragment cycles.
#[derive(Clone)]
pub struct Endpoint {
    schema: AppSchema,
    /// The same schema, remembering validation ([`validated::Remembered`]).
    remembering: AppSchema,
    /// The same schema, validating in the engine's `Fast` mode.
    validated: AppSchema,
    documents: Option<documents::Documents>,
    guard: edges::DocumentGuard,
    /// A permit for each HTTP request executed at once
    /// ([`Self::running_at_most`]).
    running: Arc<tokio::sync::Semaphore>,
}

/// A prepared request, and where its verdict is kept (the cached document
/// and the verdict), when its document is cached. A request with a verdict
/// has no parsed document yet: [`Endpoint::execute_validated`] gives it the
/// cached one or its hollow copy.
type Prepared = (
    async_graphql::Request,
    Option<(documents::Cached, documents::Verdict)>,
);

impl Endpoint {
    /// The endpoint over a schema built from `ctx` and `keys`, with the
    /// limits of `limits` (depth, complexity, aliases, introspection, the
    /// document cache and persisted queries); `read_rows` reads the files
    /// of import jobs.
    pub fn new(ctx: Ctx, keys: Arc<Keys>, limits: &GraphqlConfig, read_rows: ReadRows) -> Self {
        use async_graphql::ValidationMode::{Fast, Strict};
        let running = Self::running_at_most(limits, &ctx.db);
        Endpoint {
            running: Arc::new(tokio::sync::Semaphore::new(running)),
            schema: build_schema(ctx.clone(), keys.clone(), limits, read_rows),
            remembering: schema_validating(
                ctx.clone(),
                keys.clone(),
                limits,
                read_rows,
                (Strict, true),
            ),
            validated: schema_validating(ctx, keys, limits, read_rows, (Fast, false)),
            documents: std::num::NonZeroUsize::new(limits.graphql_apq_cache)
                .map(|entries| documents::Documents::new(entries, limits.graphql_apq_cache_bytes)),
            guard: edges::DocumentGuard {
                // Depth is measured by the guard rather than the engine's
                // `limit_depth`, so that introspection has a rule of its own.
                max_depth: limits.graphql_max_depth,
                max_aliases: limits.graphql_max_aliases,
                max_complexity: limits.graphql_max_complexity,
                introspection: limits.graphql_introspection,
            },
        }
    }

    /// How many HTTP requests run at once: as configured, else twice the
    /// database pool. The others wait for a turn before they execute,
    /// holding only their request. Each running answer holds its rows and
    /// the values made of them until its JSON is written: 32 answers of 50
    /// customers with 5 conversations each built at once took 10 MB more
    /// than 8 did on 2 CPUs (SQLite's pool of 4), for no more answers a
    /// second, since two CPUs and four connections were all they had to
    /// run on (`bench/RESULTS.md`, session 24).
    fn running_at_most(limits: &GraphqlConfig, db: &sea_orm::DatabaseConnection) -> usize {
        match limits.graphql_max_running {
            Some(configured) => usize::try_from(configured).unwrap_or(usize::MAX),
            None => {
                let (_, _, pool) = crate::db::pool_state(db);
                usize::try_from(pool).map_or(usize::MAX, |p| p.max(1).saturating_mul(2))
            }
        }
    }

    /// Finds `request`'s parsed document (cached, or parsed into the
    /// request) and checks it with the guard; why it is refused, if it is.
    /// A request of a cached document with a verdict is given no document
    /// yet ([`Prepared`]); one without a verdict is given the cached one.
    /// A text that does not parse is refused here in the parser's words.
    /// With `as_text`, the answer will be written by [`json::respond`], so
    /// objects are answered as text where the document allows
    /// ([`json::Text`]).
    fn prepare(
        &self,
        mut request: async_graphql::Request,
        via_get: bool,
        as_text: bool,
    ) -> Result<Prepared, async_graphql::ServerError> {
        let cached = match &self.documents {
            Some(documents) => documents.prepare(&mut request)?,
            None => None,
        };
        let operation = request.operation_name.clone();
        // An uncached document is borrowed from the request mutably.
        let variables = std::mem::take(&mut request.variables);
        let doc = match &cached {
            Some(cached) => &cached.doc,
            None => request.parsed_query()?,
        };
        let shape = match &cached {
            Some(cached) => cached.shape,
            None => edges::Shape::of(doc),
        };
        self.guard
            .check(doc, &shape, operation.as_deref(), via_get)?;
        let text = match (as_text, &cached) {
            (false, _) => None,
            (true, Some(cached)) => json::Text::for_repeats(cached.repeats),
            (true, None) => json::Text::for_document(doc),
        };
        let verdict = cached
            .as_ref()
            .and_then(|_| documents::verdict(doc, operation.as_deref(), &variables));
        let verdict = match (cached, verdict) {
            (Some(cached), Some(verdict)) => Some((cached, verdict)),
            (Some(cached), None) => {
                request.set_parsed_query(cached.doc.as_ref().clone());
                None
            }
            (None, _) => None,
        };
        request.variables = variables;
        if let Some(text) = text {
            request.data.insert(text);
        }
        Ok((request, verdict))
    }

    /// Runs one request (refused, if the guard refuses it); `as_text` as
    /// for [`Self::prepare`].
    async fn run(
        &self,
        request: async_graphql::Request,
        via_get: bool,
        as_text: bool,
    ) -> async_graphql::Response {
        let mut response = match self.prepare(request, via_get, as_text) {
            Ok((request, verdict)) => self.execute_validated(request, verdict).await,
            Err(refused) => async_graphql::Response::from_errors(vec![refused]),
        };
        self.finish(&mut response);
        response
    }

    /// Runs a prepared request: one whose document is cached on the schema
    /// that remembers validation, unless its verdict passed before and does
    /// not skip validation ([`validated::skips`]), which runs on the `Fast`
    /// one; any other on the full one. A request whose verdict skips
    /// validation runs on the document's hollow copy, if it has one
    /// ([`documents::Hollow`]). Counts each kind
    /// (`graphql_validations_total`, `graphql_hollow_documents_total`).
    async fn execute_validated(
        &self,
        mut request: async_graphql::Request,
        verdict: Option<(documents::Cached, documents::Verdict)>,
    ) -> async_graphql::Response {
        use crate::http::metrics::{graphql_hollow_document, graphql_validation, Validation};
        let (Some(documents), Some((cached, verdict))) = (&self.documents, verdict) else {
            graphql_validation(Validation::Full);
            return self.schema.execute(request).await;
        };
        let passed = documents.passed(&cached.text, verdict);
        if passed.is_some_and(|p| !p.skips) {
            graphql_validation(Validation::Fast);
            request.set_parsed_query(cached.doc.as_ref().clone());
            return self.validated.execute(request).await;
        }
        graphql_validation(match passed {
            Some(_) => Validation::Remembered,
            None => Validation::Full,
        });
        match (&passed, &cached.hollow) {
            (Some(_), Some(hollow)) => {
                graphql_hollow_document();
                request.set_parsed_query(hollow.as_ref().clone());
                request = request.data(documents::Hollow(cached.doc.clone()));
            }
            _ => request.set_parsed_query(cached.doc.as_ref().clone()),
        }
        let request = request.data(validated::Remembering {
            documents: documents.clone(),
            text: cached.text,
            verdict,
            fields: cached.fields,
            known: passed.map(|p| p.result),
        });
        self.remembering.execute(request).await
    }

    /// Runs a request or a batch of the HTTP routes, each operation on its
    /// own, for [`json::respond`] to write.
    async fn run_batch(&self, batch: BatchRequest, via_get: bool) -> BatchResponse {
        match batch {
            BatchRequest::Single(request) => {
                BatchResponse::Single(self.run(request, via_get, true).await)
            }
            BatchRequest::Batch(requests) => {
                use futures::StreamExt;
                let runs: futures::stream::FuturesOrdered<_> = requests
                    .into_iter()
                    .map(|request| self.run(request, via_get, true))
                    .collect();
                BatchResponse::Batch(runs.collect().await)
            }
        }
    }

    /// Words an over-cost refusal as the contract does, and gives every
    /// error a code.
    fn finish(&self, response: &mut async_graphql::Response) {
        for error in &mut response.errors {
            self.guard.too_costly(error);
            add_code(error);
        }
    }
}

/// The WebSocket transport runs operations through the endpoint too.
impl async_graphql::Executor for Endpoint {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.run(request, false, false).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> futures::stream::BoxStream<'static, async_graphql::Response> {
        use futures::StreamExt;
        match self.prepare(request, false, false) {
            Ok((mut request, verdict)) => {
                if let Some((cached, _)) = verdict {
                    request.set_parsed_query(cached.doc.as_ref().clone());
                }
                let this = self.clone();
                async_graphql::Executor::execute_stream(&self.schema, request, session_data)
                    .map(move |mut response| {
                        this.finish(&mut response);
                        response
                    })
                    .boxed()
            }
            Err(refused) => {
                let mut refused = async_graphql::Response::from_errors(vec![refused]);
                self.finish(&mut refused);
                futures::stream::once(async move { refused }).boxed()
            }
        }
    }
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .finish()
        .sdl()
}

/// The state of the GraphQL routes: the shared state and the endpoint
/// built over it, behind one pointer. Axum clones a route's state twice for
/// every request it serves, and these two hold about twenty reference
/// counts that two request threads would otherwise both increment and
/// decrement several times a request.
#[derive(Clone)]
struct GraphqlState(Arc<Graphql>);

/// What [`GraphqlState`] points to.
struct Graphql {
    app: AppState,
    endpoint: Endpoint,
}

impl FromRef<GraphqlState> for AppState {
    fn from_ref(state: &GraphqlState) -> Self {
        state.0.app.clone()
    }
}

impl FromRef<GraphqlState> for Endpoint {
    fn from_ref(state: &GraphqlState) -> Self {
        state.0.endpoint.clone()
    }
}

/// The GraphQL routes, over a schema built from `state` (its service
/// context, keys and GraphQL limits). `read_rows` reads the files of import
/// jobs (`startImportJob`): the app hands over the REST face's readers, so
/// both faces read a file alike without this face importing that one.
pub fn routes(state: &AppState, read_rows: ReadRows) -> Router<AppState> {
    let endpoint = Endpoint::new(
        state.ctx.clone(),
        state.keys.clone(),
        &state.graphql,
        read_rows,
    );
    Router::new()
        .route(
            "/graphql",
            post(graphql_handler)
                .layer(DefaultBodyLimit::disable())
                .get(graphql_get),
        )
        .route("/graphql/ws", get(ws::handler))
        .route("/graphql/assets/{file}", get(playground::asset))
        .with_state(GraphqlState(Arc::new(Graphql {
            app: state.clone(),
            endpoint,
        })))
}

/// The authenticated caller of a GraphQL request. Both transports verify the
/// token before anything runs, so an operation without one never executes.
struct Caller(Actor);

/// `POST /graphql`: one operation, or a JSON array of at most
/// `CLIENTELA_GRAPHQL_MAX_BATCH`; the body must say JSON (CSRF prevention),
/// or be a file upload (`multipart/form-data` with a preflight header, see
/// [`upload`]).
///
/// The caller is known before the body is read: without a valid token the
/// answer is 401 and nothing of the body is read, parsed or cached. Only an
/// admin (bulk import) may send up to 8 MiB; other roles, whose operations
/// never need that much, up to the 1 MiB of an ordinary request.
async fn graphql_handler(
    State(routes): State<GraphqlState>,
    req: axum::extract::Request,
) -> Response {
    let Graphql {
        app: state,
        endpoint,
    } = &*routes.0;
    let (parts, body) = req.into_parts();
    let actor = match Identity::from_parts(&parts, &state.keys).actor() {
        Ok(actor) => actor,
        Err(e) => return error_response(&e, &parts.headers),
    };
    if let Err(refusal) = edges::check_post(&parts.headers) {
        return refusal.respond(&parts.headers);
    }
    let limit = body_limit(&actor);
    if upload::is_multipart(&parts.headers) {
        return match upload::batch_request(&parts.headers, body, &actor, limit, &state.graphql)
            .await
        {
            Ok(batch) => execute(&state.ctx, endpoint, actor, batch, false).await,
            Err(refusal) => refusal.respond(&parts.headers),
        };
    }
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A declared length over the limit is refused before a byte is read; a
    // body without one is cut off at the limit while it is read.
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(&Error::PayloadTooLarge, &parts.headers);
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let error = if too_large {
                Error::PayloadTooLarge
            } else {
                Error::invalid("body", "could not read the request body")
            };
            return error_response(&error, &parts.headers);
        }
    };
    match edges::batch_request(&body, &state.graphql) {
        Ok(batch) => execute(&state.ctx, endpoint, actor, batch, false).await,
        Err(refusal) => refusal.respond(&parts.headers),
    }
}

/// The largest body `actor` may POST to /graphql.
fn body_limit(actor: &Actor) -> usize {
    match actor.role {
        crate::auth::Role::Admin => ADMIN_BODY_LIMIT,
        _ => crate::http::BODY_LIMIT,
    }
}

/// `GET /graphql`: the playground for a browser (public); a query from the
/// query string (`query`, `variables`, `operationName`, `extensions`) for an
/// authenticated client that sent a preflight header; never a mutation.
async fn graphql_get(State(routes): State<GraphqlState>, req: axum::extract::Request) -> Response {
    let Graphql {
        app: state,
        endpoint,
    } = &*routes.0;
    let (parts, _) = req.into_parts();
    let (headers, uri) = (&parts.headers, &parts.uri);
    if playground::is_browser(headers) || !edges::asks_to_run(uri.query()) {
        return playground::playground(headers.clone()).await;
    }
    let actor = match Identity::from_parts(&parts, &state.keys).actor() {
        Ok(actor) => actor,
        Err(e) => return error_response(&e, headers),
    };
    if let Err(refusal) = edges::check_get(headers) {
        return refusal.respond(headers);
    }
    match edges::get_request(uri.query().unwrap_or_default(), &state.graphql) {
        Ok(request) => {
            let batch = BatchRequest::Single(request);
            execute(&state.ctx, endpoint, actor, batch, true).await
        }
        Err(refusal) => refusal.respond(headers),
    }
}

/// Runs a request (or a batch) as `actor`; `via_get` when it came over GET.
async fn execute(
    ctx: &Ctx,
    endpoint: &Endpoint,
    actor: Actor,
    batch: BatchRequest,
    via_get: bool,
) -> Response {
    let with_caller = |req: async_graphql::Request| {
        req.data(loaders::Loaders::new(ctx.clone(), actor.clone()))
            .data(Caller(actor.clone()))
    };
    if let BatchRequest::Single(req) = &batch {
        if let Some(name) = &req.operation_name {
            tracing::Span::current().record("operation", name.as_str());
        }
    }
    let batch = match batch {
        BatchRequest::Single(req) => BatchRequest::Single(with_caller(req)),
        BatchRequest::Batch(reqs) => {
            BatchRequest::Batch(reqs.into_iter().map(with_caller).collect())
        }
    };
    let names: Vec<Option<String>> = batch.iter().map(|r| r.operation_name.clone()).collect();
    // Held until the answer is written (`json::respond`); never closed.
    let _turn = endpoint.running.acquire().await;
    let response = endpoint.run_batch(batch, via_get).await;
    let outcomes: Vec<bool> = match &response {
        BatchResponse::Single(one) => vec![one.errors.is_empty()],
        BatchResponse::Batch(many) => many.iter().map(|one| one.errors.is_empty()).collect(),
    };
    for (name, ok) in names.iter().zip(outcomes) {
        crate::http::metrics::graphql_operation(name.as_deref(), ok);
    }
    let mutation_over_get = match &response {
        BatchResponse::Single(one) => one
            .errors
            .iter()
            .any(|e| e.message == edges::MUTATION_OVER_GET),
        BatchResponse::Batch(_) => false,
    };
    let mut response = json::respond(response);
    if mutation_over_get {
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response.headers_mut().insert(
            axum::http::header::ALLOW,
            axum::http::HeaderValue::from_static("POST"),
        );
    }
    response
}

/// The service context and the authenticated caller of a resolver.
fn caller<'a>(cx: &async_graphql::Context<'a>) -> async_graphql::Result<(&'a Ctx, &'a Actor)> {
    let ctx = cx.data::<Ctx>()?;
    let Caller(actor) = cx
        .data_opt::<Caller>()
        .ok_or_else(|| gql_error(&Error::Unauthenticated("missing bearer token")))?;
    Ok((ctx, actor))
}

/// The request's DataLoaders (present once the caller is authenticated).
fn loaders<'a>(cx: &async_graphql::Context<'a>) -> async_graphql::Result<&'a loaders::Loaders> {
    caller(cx)?;
    cx.data::<loaders::Loaders>()
}
