//! The safe edges of the public endpoint, besides the engine's own
//! complexity limit: a cap on depth (with introspection measured by its own
//! rule), a cap on aliases, a cap on batched operations, queries (never
//! mutations) over GET, and CSRF prevention. Every refusal is a
//! GraphQL error with `extensions.code`, answered at once.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{BatchRequest, Request, ServerError, Variables};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::config::GraphqlConfig;
use crate::error::Error;

/// The message of a mutation sent over GET (the handler answers it 405).
pub const MUTATION_OVER_GET: &str = "mutations must use POST: GET /graphql runs queries only";

/// A request refused before it runs: the error and, where it says more
/// than the error's own text, the words it is told in.
#[derive(Debug)]
pub struct Refusal {
    error: Error,
    message: Option<String>,
}

impl Refusal {
    /// 400 BAD_USER_INPUT saying `message`.
    pub(super) fn input(message: impl Into<String>) -> Self {
        Self {
            error: super::input_error(message),
            message: None,
        }
    }

    /// 413 PAYLOAD_TOO_LARGE saying `message`.
    pub(super) fn too_large(message: impl Into<String>) -> Self {
        Self {
            error: Error::PayloadTooLarge,
            message: Some(message.into()),
        }
    }

    /// The refusal as the answer to a request with these headers.
    pub fn respond(self, request: &HeaderMap) -> Response {
        super::respond(&self.error, self.message, request)
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self {
            error,
            message: None,
        }
    }
}

/// The media type of a request (`type/subtype`, lowercase), if it names one.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
}

/// A POST must say JSON: a browser's simple request (a form, `text/plain`)
/// cannot, so a cross-site page cannot send one without a preflight. A file
/// upload (`multipart/form-data`, which a form can send) must also carry a
/// preflight header, as Apollo Server asks of it (Apollo Client's upload
/// link sends `apollo-require-preflight: true`).
pub fn check_post(headers: &HeaderMap) -> Result<(), Refusal> {
    match media_type(headers).as_deref() {
        Some("application/json") | Some("application/graphql-response+json") => Ok(()),
        Some("multipart/form-data") if has_preflight_header(headers) => Ok(()),
        Some("multipart/form-data") => Err(Refusal::input(
            "a multipart POST /graphql (a file upload) needs an `apollo-require-preflight: true` \
             header; any other POST needs Content-Type: application/json (CSRF prevention)",
        )),
        _ => Err(Refusal::input(
            "POST /graphql needs Content-Type: application/json, or multipart/form-data for a \
             file upload (CSRF prevention)",
        )),
    }
}

/// Whether a request carries a header a browser's simple request cannot:
/// `apollo-require-preflight` or `x-apollo-operation-name` (Apollo Server's rule).
fn has_preflight_header(headers: &HeaderMap) -> bool {
    ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| !v.trim().is_empty())
        })
}

/// A GET runs only when it could not be a browser's simple request: it has a
/// Content-Type other than the three simple ones, or an
/// `apollo-require-preflight` or `x-apollo-operation-name` header (Apollo
/// Server's rule).
pub fn check_get(headers: &HeaderMap) -> Result<(), Refusal> {
    let non_simple = media_type(headers).is_some_and(|m| {
        !matches!(
            m.as_str(),
            "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
        )
    });
    if non_simple || has_preflight_header(headers) {
        Ok(())
    } else {
        Err(Refusal::input(
            "GET /graphql needs an `apollo-require-preflight: true` header (or a non-simple \
             Content-Type such as application/json) (CSRF prevention)",
        ))
    }
}

/// Whether a GET's query string asks to run an operation.
pub fn asks_to_run(query: Option<&str>) -> bool {
    let Some(query) = query else { return false };
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map(|pairs| pairs.iter().any(|(k, _)| k == "query" || k == "extensions"))
        .unwrap_or(true)
}

/// Refuses a query document over `CLIENTELA_GRAPHQL_MAX_DOCUMENT` bytes
/// before it is parsed (variables are bounded by the body limit).
fn check_document(request: &Request, limits: &GraphqlConfig) -> Result<(), Refusal> {
    let size = request.query.len();
    if size > limits.graphql_max_document {
        return Err(Refusal::too_large(format!(
            "the query document has {size} bytes; at most {} are allowed",
            limits.graphql_max_document
        )));
    }
    Ok(())
}

/// The request in a GET's query string: `query`, `variables` (JSON),
/// `operationName`, `extensions` (JSON, for persisted queries).
pub fn get_request(query: &str, limits: &GraphqlConfig) -> Result<Request, Refusal> {
    let bad = Refusal::input;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| bad("malformed query string".to_owned()))?;
    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let mut request = Request::new(get("query").unwrap_or_default());
    if let Some(name) = get("operationName").filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(variables) = get("variables").filter(|v| !v.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(variables)
            .map_err(|e| bad(format!("variables must be a JSON object: {e}")))?;
        request = request.variables(Variables::from_json(value));
    }
    if let Some(extensions) = get("extensions").filter(|v| !v.is_empty()) {
        request.extensions = serde_json::from_str(extensions)
            .map_err(|e| bad(format!("extensions must be a JSON object: {e}")))?;
    }
    check_document(&request, limits)?;
    Ok(request)
}

/// A POST body: one request or a JSON array of at most
/// `CLIENTELA_GRAPHQL_MAX_BATCH`, each document within its size cap.
pub fn batch_request(body: &[u8], limits: &GraphqlConfig) -> Result<BatchRequest, Refusal> {
    let max_batch = limits.graphql_max_batch;
    let batch: BatchRequest = serde_json::from_slice(body).map_err(|e| {
        Refusal::input(format!(
            "the body must be a GraphQL request or a JSON array of them: {e}"
        ))
    })?;
    if let BatchRequest::Batch(requests) = &batch {
        if requests.is_empty() {
            return Err(Refusal::input(
                "a batched request needs at least one operation",
            ));
        }
        if requests.len() > max_batch {
            return Err(Refusal::input(format!(
                "a batched request may carry at most {max_batch} operations; this one has {}",
                requests.len()
            )));
        }
    }
    batch.iter().try_for_each(|r| check_document(r, limits))?;
    Ok(batch)
}

/// The checks every parsed document passes before it runs (a cached or
/// persisted one too): no deeper than `max_depth`, no more than
/// `max_aliases` aliases, no mutation over GET, and, with introspection
/// off, no `__schema` or `__type` (refused with a message that says so).
/// Its cost is checked by the engine's validation (`max_complexity`; see
/// [`too_costly`]).
#[derive(Clone, Copy)]
pub struct DocumentGuard {
    /// Deepest field nesting outside introspection (see [`Depth`]).
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_complexity: usize,
    pub introspection: bool,
}

/// A document refused by the guard: BAD_USER_INPUT saying `message`.
fn input_error(message: String) -> ServerError {
    super::gql_error(&super::input_error(message)).into_server_error(Default::default())
}

/// The engine's words for an operation over its complexity limit.
const ENGINE_TOO_COMPLEX: &str = "Query is too complex.";

/// What the guard measures of a whole document, whatever operation runs:
/// worked out once per parsed document and cached with it
/// ([`super::documents`]): walking a cached document again for every request
/// cost 6,600 instructions of a 470,000-instruction request (`callgrind`,
/// `bench/RESULTS.md`, session 27).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub depth: Depth,
    pub aliases: usize,
    /// Whether it asks for `__schema` or `__type` anywhere.
    pub introspects: bool,
}

impl Shape {
    pub fn of(doc: &ExecutableDocument) -> Shape {
        Shape {
            depth: Depth::of(doc),
            aliases: count_aliases(doc),
            introspects: introspects(doc),
        }
    }
}

impl DocumentGuard {
    /// Refuses `doc`, whose [`Shape`] is `shape`, if it breaks a limit;
    /// `operation_name` is the one that would run, `via_get` whether it came
    /// over GET (queries only).
    pub fn check(
        &self,
        doc: &ExecutableDocument,
        shape: &Shape,
        operation_name: Option<&str>,
        via_get: bool,
    ) -> Result<(), ServerError> {
        let Shape {
            depth,
            aliases,
            introspects,
        } = *shape;
        if depth.fields > self.max_depth {
            return Err(input_error("Query is nested too deep.".to_owned()));
        }
        if depth.introspection_lists > MAX_INTROSPECTION_LISTS
            || depth.introspection > MAX_INTROSPECTION_DEPTH
        {
            return Err(input_error(format!(
                "introspection is nested too deep: at most {MAX_INTROSPECTION_LISTS} nested lists \
                 and {MAX_INTROSPECTION_DEPTH} levels under __schema or __type"
            )));
        }
        if aliases > self.max_aliases {
            return Err(input_error(format!(
                "the document uses {aliases} aliases; at most {} are allowed",
                self.max_aliases
            )));
        }
        if !self.introspection && introspects {
            return Err(input_error(
                "introspection is disabled on this server (CLIENTELA_GRAPHQL_INTROSPECTION)"
                    .to_owned(),
            ));
        }
        if via_get && writes(doc, operation_name) {
            return Err(input_error(MUTATION_OVER_GET.to_owned()));
        }
        Ok(())
    }

    /// The engine refuses an operation over `max_complexity` before anything
    /// runs; this says so in the contract's words (the limit, and what to do).
    pub fn too_costly(&self, error: &mut ServerError) {
        if error.message == ENGINE_TOO_COMPLEX && error.extensions.is_none() {
            *error = input_error(format!(
                "the operation costs more than it may: at most {} is allowed \
                 (CLIENTELA_GRAPHQL_MAX_COMPLEXITY): ask for fewer rows (limit, first) or fewer \
                 nested lists",
                self.max_complexity
            ));
        }
    }
}

/// Whether the operation that would run (or, unnamed among many, any) is not a query.
fn writes(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let not_query = |ty: OperationType| ty != OperationType::Query;
    match &doc.operations {
        DocumentOperations::Single(op) => not_query(op.node.ty),
        DocumentOperations::Multiple(ops) => match operation_name.and_then(|n| ops.get(n)) {
            Some(op) => not_query(op.node.ty),
            None => ops.values().any(|op| not_query(op.node.ty)),
        },
    }
}

/// Most list fields (`types`, `fields`, `args`, ...) nested under `__schema`
/// or `__type`. Each can multiply the answer by the size of the schema, so
/// they are capped tightly; the standard introspection query of GraphiQL,
/// Apollo and graphql-core nests 3 (`types { fields { args } }`).
pub const MAX_INTROSPECTION_LISTS: usize = 4;
/// Deepest nesting under `__schema` or `__type`. The standard query nests
/// `ofType` 7 to 9 times, which only follows one type's wrappers.
pub const MAX_INTROSPECTION_DEPTH: usize = 24;

/// Introspection fields whose value is a list.
const INTROSPECTION_LISTS: &[&str] = &[
    "types",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

/// How deep a document nests, fragments followed.
///
/// `fields` is the engine's depth (every field one level), except that a
/// `__schema` or `__type` field counts as one level whatever it selects:
/// the standard introspection query nests deeper than any useful data query,
/// and tools (GraphiQL's docs, code generators) need it. What it selects is
/// measured by `introspection` (levels) and `introspection_lists` (nested
/// list fields), which are capped on their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub fields: usize,
    pub introspection: usize,
    pub introspection_lists: usize,
}

impl Depth {
    /// The deepest of every operation of a document.
    pub fn of(doc: &ExecutableDocument) -> Depth {
        let mut walk = DepthWalk {
            doc,
            memo: HashMap::new(),
            active: HashSet::new(),
        };
        doc.operations
            .iter()
            .map(|(_, op)| walk.set(&op.node.selection_set.node, false))
            .fold(Depth::default(), Depth::max)
    }

    fn max(self, other: Depth) -> Depth {
        Depth {
            fields: self.fields.max(other.fields),
            introspection: self.introspection.max(other.introspection),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
        }
    }
}

/// Walks selections with each fragment measured once (a document may spread
/// fragments that spread others many times over).
struct DepthWalk<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<(&'a str, bool), Depth>,
    /// Fragments being measured: a cycle (refused by the engine's
    /// validation later) is cut here.
    active: HashSet<&'a str>,
}

impl<'a> DepthWalk<'a> {
    fn set(&mut self, set: &'a SelectionSet, inside: bool) -> Depth {
        let mut deepest = Depth::default();
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    let root = !inside && matches!(name, "__schema" | "__type");
                    let child = self.set(&field.node.selection_set.node, inside || root);
                    if inside || root {
                        Depth {
                            fields: 1,
                            introspection: child.introspection + 1,
                            introspection_lists: child.introspection_lists
                                + usize::from(inside && INTROSPECTION_LISTS.contains(&name)),
                        }
                    } else {
                        Depth {
                            fields: child.fields + 1,
                            ..child
                        }
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node, inside)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), inside)
                }
            };
            deepest = deepest.max(depth);
        }
        deepest
    }

    fn fragment(&mut self, name: &'a str, inside: bool) -> Depth {
        if let Some(depth) = self.memo.get(&(name, inside)) {
            return *depth;
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Depth::default();
        };
        if !self.active.insert(name) {
            return Depth::default();
        }
        let depth = self.set(&fragment.node.selection_set.node, inside);
        self.active.remove(name);
        self.memo.insert((name, inside), depth);
        depth
    }
}

/// Whether a document asks for `__schema` or `__type` anywhere.
fn introspects(doc: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
                    || in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => in_set(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| in_set(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| in_set(&f.node.selection_set.node))
}

/// Field aliases written in a document (each fragment counted once).
pub fn count_aliases(doc: &ExecutableDocument) -> usize {
    let operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| in_set(&op.node.selection_set.node))
        .sum();
    let fragments: usize = doc
        .fragments
        .values()
        .map(|f| in_set(&f.node.selection_set.node))
        .sum();
    operations + fragments
}

fn in_set(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => in_set(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query { a: me { b: tenant } ...F ... on Query { c: me { role } } } fragment F on Query { d: me { agentId } }",
        )
        .expect("parse");
        assert_eq!(count_aliases(&doc), 4);
    }

    #[test]
    fn only_queries_run_over_get() {
        let doc = async_graphql::parser::parse_query("query A { me { role } } mutation B { x }")
            .expect("parse");
        assert!(!writes(&doc, Some("A")));
        assert!(writes(&doc, Some("B")));
        assert!(writes(&doc, None));
    }
}
