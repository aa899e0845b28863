//! Parsed documents, cached by their text for every request: a query a
//! client sends again is not parsed again (parsing costs more than the rest
//! of a small operation), and an Apollo automatic persisted query runs by its
//! hash alone once registered. The cache is bounded in entries and in bytes
//! of parsed documents (weighed node by node: a parsed document takes 25 to
//! 200 times the bytes of its text) and of their texts.
//!
//! A request sent in full finds its document by its text, hashed with the
//! cache's own hasher and compared byte for byte. Only a persisted query is
//! named by its SHA-256, which is then worked out once, when the text is
//! registered: for every other request it cost more than the rest of
//! finding the document (some 40,000 instructions for an 800-byte query
//! against one or two thousand, `callgrind`, `bench/RESULTS.md`).
//!
//! Only the parse, and what validation said, is cached. Every request, hit
//! or miss, still goes through the document guard (depth, aliases,
//! introspection, mutations over GET) and is validated against its own
//! variables and operation: by the engine, unless a request of the same
//! document, operation and variables (as validation reads them, see
//! [`verdict`]) passed it before, whose result then stands ([`Passed`],
//! `super::remembered`). It then runs as its own caller; a text that does not parse is never cached, so it
//! is parsed again and refused in the parser's words as it always was. Only
//! authenticated requests get here, so only they can fill the cache; a
//! document over its size cap never does.
//!
//! A request whose verdict skips validation runs on the document's hollow
//! copy when it has one ([`hollow`], [`Hollow`]): the engine clones, walks
//! and drops only its root fields, and the objects under them, answered in
//! place, read their selections from the cached document.

use std::collections::HashMap;
use std::mem::size_of;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    BaseType, Directive, DocumentOperations, ExecutableDocument, Field, FragmentDefinition,
    OperationDefinition, OperationType, Selection, SelectionSet, Type, VariableDefinition,
};
use async_graphql::parser::Positioned;
use async_graphql::{ContextBase, Name, Request, ServerError, Value as ConstValue};
use sha2::{Digest, Sha256};

use super::edges::Shape;
use super::json::{self, Repeats};

/// The `persistedQuery` extension of a request.
#[derive(serde::Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// A cached document.
struct Entry {
    /// The document and what else is known of it, with its text (the
    /// entry's key).
    cached: Cached,
    /// What [`weigh`] says it holds, with its text (and its hash, when
    /// registered).
    bytes: usize,
    /// The SHA-256 it is registered under as a persisted query: that hash
    /// alone may then name it. A text merely sent in full is cached for its
    /// sender's next request, but does not answer a hash-only request
    /// (persisted queries work as before).
    persisted: Option<String>,
    /// Requests with this document that passed the engine's full validation
    /// (see [`verdict`]), at most [`MAX_VERDICTS`].
    passed: Vec<(Verdict, Passed)>,
}

/// What the engine's full validation of a request said, and whether its
/// next requests with the same verdict skip it (`super::remembered`).
#[derive(Debug, Clone, Copy)]
pub struct Passed {
    pub result: async_graphql::ValidationResult,
    pub skips: bool,
}

/// A request's operation and the variables its validation depends on,
/// hashed (see [`verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict([u8; 32]);

/// Validations remembered per document: one per operation name and shape of
/// variables that clients send, which is a handful.
const MAX_VERDICTS: usize = 16;

/// Parsed documents by their text, least recently used dropped first when
/// either bound is reached, and the texts of registered persisted queries
/// by their hash.
struct Cache {
    entries: lru::LruCache<Arc<str>, Entry>,
    persisted: HashMap<String, Arc<str>>,
    bytes: usize,
    max_bytes: usize,
}

/// What the cache knows of a request's document: its parse, and what is
/// worked out from it once.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The text, as the cache holds it.
    pub text: Arc<str>,
    /// The parse of the text.
    pub doc: Arc<ExecutableDocument>,
    /// Its hollow copy, if it has one ([`hollow`]).
    pub hollow: Option<Arc<ExecutableDocument>>,
    /// How the document repeats response keys ([`json::repeats`], worked
    /// out once: it walks every selection).
    pub repeats: Repeats,
    /// The fields it selects ([`fields`]), what its validation costs.
    pub fields: usize,
    /// What the document guard measures of it ([`Shape::of`], worked out
    /// once: it walks every selection).
    pub shape: Shape,
}

impl Cached {
    /// What the cache keeps of `doc`, parsed from `text`.
    fn of(text: Arc<str>, doc: ExecutableDocument) -> Self {
        Self {
            text,
            repeats: json::repeats(&doc),
            fields: fields(&doc),
            shape: Shape::of(&doc),
            hollow: hollow(&doc).map(Arc::new),
            doc: Arc::new(doc),
        }
    }

    /// What its parse and hollow copy hold ([`weigh`]).
    fn weight(&self) -> usize {
        weigh(&self.doc) + self.hollow.as_deref().map_or(0, weigh)
    }
}

impl Cache {
    /// The document of this text, if cached, and what else is known of it.
    fn get(&mut self, text: &str) -> Option<Cached> {
        Some(self.entries.get(text)?.cached.clone())
    }

    /// [`Self::get`] for the text registered under a persisted query's hash.
    fn get_persisted(&mut self, hash: &str) -> Option<Cached> {
        let text = self.persisted.get(hash)?.clone();
        self.get(&text)
    }

    /// Caches a document and what is known of it (`cached`, weighing
    /// `bytes`) under its text, registered under the hash `persisted` if
    /// given. A text already cached is only registered, keeping what it has.
    fn put(&mut self, cached: Cached, bytes: usize, persisted: Option<String>) {
        let text = cached.text.clone();
        let bytes = bytes + text.len() + persisted.as_ref().map_or(0, String::len);
        if let Some(entry) = self.entries.get_mut(&text) {
            if let (None, Some(hash)) = (&entry.persisted, persisted) {
                let added = hash.len();
                self.persisted.insert(hash.clone(), text);
                entry.persisted = Some(hash);
                entry.bytes += added;
                self.bytes += added;
                self.shrink();
            }
            return;
        }
        if bytes > self.max_bytes {
            return;
        }
        if let Some(hash) = &persisted {
            self.persisted.insert(hash.clone(), text.clone());
        }
        let entry = Entry {
            cached,
            bytes,
            persisted,
            passed: Vec::new(),
        };
        self.bytes += bytes;
        // At the entry bound, the least recent entry comes back.
        if let Some((_, dropped)) = self.entries.push(text, entry) {
            self.forget(dropped);
        }
        self.shrink();
    }

    /// Drops the least recent entries until the bytes are within bounds.
    fn shrink(&mut self) {
        while self.bytes > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, dropped)) => self.forget(dropped),
                None => break,
            }
        }
    }

    /// Accounts for an entry that left the cache.
    fn forget(&mut self, dropped: Entry) {
        self.bytes -= dropped.bytes;
        if let Some(hash) = dropped.persisted {
            self.persisted.remove(&hash);
        }
    }
}

/// The cache (`CLIENTELA_GRAPHQL_APQ_CACHE` entries,
/// `CLIENTELA_GRAPHQL_APQ_CACHE_BYTES` bytes of parsed documents and their
/// texts).
#[derive(Clone)]
pub struct Documents(Arc<Mutex<Cache>>);

impl Documents {
    /// A cache of at most `entries` documents and `max_bytes` bytes of them.
    pub fn new(entries: NonZeroUsize, max_bytes: usize) -> Self {
        Self(Arc::new(Mutex::new(Cache {
            entries: lru::LruCache::new(entries),
            persisted: HashMap::new(),
            bytes: 0,
            max_bytes,
        })))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The parse of `text` from the cache, or parsed now and cached, with
    /// the text as the cache holds it; `None` when it does not parse (the
    /// engine then parses it and says why). Counts hits and misses
    /// (`graphql_document_cache_total`).
    fn parsed(&self, text: &str) -> Option<Cached> {
        let cached = self.cache().get(text);
        crate::http::metrics::graphql_document_cache(cached.is_some());
        if cached.is_some() {
            return cached;
        }
        let doc = async_graphql::parser::parse_query(text).ok()?;
        let cached = Cached::of(Arc::from(text), doc);
        self.cache().put(cached.clone(), cached.weight(), None);
        Some(cached)
    }

    /// What the engine's full validation said of a request of the cached
    /// document of `text` with this verdict key, if it passed before.
    pub fn passed(&self, text: &str, verdict: Verdict) -> Option<Passed> {
        let cache = self.cache();
        let entry = cache.entries.peek(text)?;
        let (_, passed) = entry.passed.iter().find(|(v, _)| *v == verdict)?;
        Some(*passed)
    }

    /// Remembers that a request of the cached document of `text` with this
    /// verdict key passed the engine's full validation (or updates whether
    /// the next ones skip it).
    pub fn pass(&self, text: &str, verdict: Verdict, passed: Passed) {
        let mut cache = self.cache();
        let Some(entry) = cache.entries.peek_mut(text) else {
            return;
        };
        if let Some((_, known)) = entry.passed.iter_mut().find(|(v, _)| *v == verdict) {
            *known = passed;
        } else if entry.passed.len() < MAX_VERDICTS {
            entry.passed.push((verdict, passed));
            entry.bytes += size_of::<(Verdict, Passed)>();
            cache.bytes += size_of::<(Verdict, Passed)>();
        }
    }

    /// Bytes of parsed documents held now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.cache().bytes
    }

    /// The cached document of `request` (parsed and cached on a miss), or,
    /// for a persisted query, by its hash alone when registered, or
    /// registering its text under the hash. The request is not given it:
    /// the caller gives it the document or its hollow copy
    /// ([`Request::set_parsed_query`]); a persisted query's text may have
    /// been taken from it. A text that does not parse is left for
    /// [`Request::parsed_query`] to refuse in the parser's words.
    pub fn prepare(&self, request: &mut Request) -> Result<Option<Cached>, ServerError> {
        if let Some(value) = request.extensions.remove("persistedQuery") {
            return self.persisted(request, value).map(Some);
        }
        if request.query.is_empty() {
            return Ok(None);
        }
        Ok(self.parsed(&request.query))
    }

    /// [`Self::prepare`] for a request that carries the `persistedQuery` extension.
    fn persisted(&self, request: &mut Request, value: ConstValue) -> Result<Cached, ServerError> {
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
        })?;
        if persisted.version != 1 {
            return Err(ServerError::new(
                "only version 1 of the persistedQuery extension is supported",
                None,
            ));
        }
        if request.query.is_empty() {
            // Apollo clients retry with the full query on this exact message.
            return self
                .cache()
                .get_persisted(&persisted.sha256_hash)
                .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None));
        }
        let hash = sha256(&request.query);
        if persisted.sha256_hash != hash {
            return Err(ServerError::new("provided sha does not match query", None));
        }
        let doc = async_graphql::parser::parse_query(&request.query)?;
        let cached = Cached::of(Arc::from(std::mem::take(&mut request.query)), doc);
        self.cache()
            .put(cached.clone(), cached.weight(), Some(hash));
        Ok(cached)
    }
}

/// The hex SHA-256 of a text, as persisted queries name documents.
fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// What the engine's full validation of an operation of `doc` depends on
/// besides the document: the operation's name, and the values of the
/// variables it declares, as far as validation reads them. Validation reads
/// a variable's value only to check it against the arguments it is passed to
/// (and to count the cost, through `limit` and `first`); a variable declared
/// `ID` or `String` (the engine's validation then keeps it in those
/// positions) is checked by its JSON kind alone (any string is a valid
/// `String`; any string or 64-bit integer a valid `ID`), so a customer id
/// does not make each request a new verdict. Any other variable counts by its
/// whole value. `None` when the operation cannot be told.
pub fn verdict(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &async_graphql::Variables,
) -> Option<Verdict> {
    let operation = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        // A named operation alone runs without its name being given.
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let mut key = Sha256::new();
    key.update(operation_name.unwrap_or_default().as_bytes());
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        let name = &definition.name.node;
        key.update([0]);
        key.update(name.as_bytes());
        key.update([0]);
        let by_kind = matches!(
            &definition.var_type.node.base,
            BaseType::Named(ty) if ty.as_str() == "ID" || ty.as_str() == "String"
        );
        match variables.get(name) {
            None => key.update(b"-"),
            Some(value) if by_kind => key.update(match value {
                ConstValue::String(_) => b"s",
                ConstValue::Number(n) if n.is_i64() => b"i",
                ConstValue::Number(_) => b"n",
                ConstValue::Null => b"0",
                ConstValue::Boolean(_) => b"b",
                ConstValue::Enum(_) => b"e",
                ConstValue::Binary(_) => b"x",
                ConstValue::List(_) => b"l",
                ConstValue::Object(_) => b"o",
            }),
            Some(value) => {
                key.update(b"=");
                key.update(value.to_string().as_bytes());
            }
        }
    }
    Some(Verdict(key.finalize().into()))
}

/// The query root fields whose selections a document's hollow copy leaves
/// out ([`hollow`]): each answers an object in place (`super::inline`),
/// which reads its selection from the cached document ([`Hollow`]), and
/// reads what its own field selects, if anything, through
/// [`Hollow::selected`] (`super::query`). A root field added here must do
/// both.
const HOLLOW_ROOTS: &[&str] = &["customers", "customer", "customerStats"];

/// The hollow copy of `doc`: the same document with the selections of its
/// query root fields that are answered in place ([`HOLLOW_ROOTS`]) left
/// empty, and the root fields
/// themselves (name, alias, arguments, directives, place) kept. The engine
/// clones the document it is given for every request, walks it twice and
/// drops it: for a customer with its statistics and recent conversations
/// (issue 9's S4) some 30,000 instructions, an eighth of the request
/// (`callgrind`, `bench/RESULTS.md`, session 30). On the hollow copy it does
/// that for the roots alone, and the objects under them read their
/// selections from the cached document ([`Hollow`]). Only a request whose
/// verdict skips validation runs on it, so the whole document was
/// validated, with the same verdict, before. The copy keeps the fragments
/// whole: they are looked up by name in the engine's copy. `None` when no
/// root field can be emptied, or when a directive may apply below a root
/// (in its selection or in any fragment): the engine applies `@skip` and
/// `@include` to its own copy before it executes it.
fn hollow(doc: &ExecutableDocument) -> Option<ExecutableDocument> {
    let fragments_plain = doc.fragments.values().all(|fragment| {
        fragment.node.directives.is_empty() && plain(&fragment.node.selection_set.node)
    });
    if !fragments_plain {
        return None;
    }
    let mut hollow = doc.clone();
    let operations: Vec<&mut Positioned<OperationDefinition>> = match &mut hollow.operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(operations) => operations.values_mut().collect(),
    };
    let mut emptied = false;
    for operation in operations {
        if operation.node.ty != OperationType::Query {
            continue;
        }
        for item in &mut operation.node.selection_set.node.items {
            let Selection::Field(field) = &mut item.node else {
                continue;
            };
            let set = &mut field.node.selection_set.node;
            if HOLLOW_ROOTS.contains(&field.node.name.node.as_str())
                && !set.items.is_empty()
                && plain(set)
            {
                set.items = Vec::new();
                emptied = true;
            }
        }
    }
    emptied.then_some(hollow)
}

/// Whether a selection has no directive at any depth (a fragment it
/// spreads is looked into where the fragments are).
fn plain(set: &SelectionSet) -> bool {
    set.items.iter().all(|item| match &item.node {
        Selection::Field(f) => f.node.directives.is_empty() && plain(&f.node.selection_set.node),
        Selection::InlineFragment(i) => {
            i.node.directives.is_empty() && plain(&i.node.selection_set.node)
        }
        Selection::FragmentSpread(spread) => spread.node.directives.is_empty(),
    })
}

/// Request data of a request that runs on its document's hollow copy
/// ([`hollow`]): the cached document, whose root fields hold the
/// selections the copy's lack.
pub struct Hollow(pub Arc<ExecutableDocument>);

impl Hollow {
    /// The cached document's field that `field` stands for, when `field`
    /// is a root field emptied in the hollow copy that the request of
    /// `ctx` runs on; `None` for any other field (every object field of a
    /// document selects something, so only an emptied one selects nothing).
    pub fn original<'a, T>(
        ctx: &ContextBase<'a, T>,
        field: &Positioned<Field>,
    ) -> Option<&'a Positioned<Field>> {
        if !field.node.selection_set.node.items.is_empty() {
            return None;
        }
        let Hollow(doc) = ctx.data_opt::<Hollow>()?;
        let in_root = |operation: &'a Positioned<OperationDefinition>| {
            let roots = &operation.node.selection_set.node.items;
            roots.iter().find_map(|item| match &item.node {
                Selection::Field(root) if root.pos == field.pos => Some(root),
                _ => None,
            })
        };
        match &doc.operations {
            DocumentOperations::Single(operation) => in_root(operation),
            DocumentOperations::Multiple(operations) => operations.values().find_map(in_root),
        }
    }

    /// The context of the field `cx` resolves, as the document selects
    /// it: for a root field emptied in a hollow copy, the cached
    /// document's field ([`Self::original`]), for a resolver that reads
    /// what its field selects (`look_ahead`, `field`).
    pub fn selected<'a>(cx: &async_graphql::Context<'a>) -> async_graphql::Context<'a> {
        let mut selected = cx.clone();
        if let Some(field) = Self::original(cx, cx.item) {
            selected.item = field;
        }
        selected
    }
}

/// The fields a document selects, in its operations and its fragments
/// (each fragment once, however often it is spread): what the engine's
/// validation walks, which spends about the same on each.
fn fields(doc: &ExecutableDocument) -> usize {
    fn of(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => 1 + of(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
                Selection::InlineFragment(i) => of(&i.node.selection_set.node),
            })
            .sum()
    }
    let operations: usize = match &doc.operations {
        DocumentOperations::Single(op) => of(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => {
            ops.values().map(|op| of(&op.node.selection_set.node)).sum()
        }
    };
    operations
        + doc
            .fragments
            .values()
            .map(|f| of(&f.node.selection_set.node))
            .sum::<usize>()
}

/// About how many bytes of memory a parsed document holds: every node, list
/// and name it allocates (within a few percent of what an allocator counts).
fn weigh(doc: &ExecutableDocument) -> usize {
    let operations = match &doc.operations {
        DocumentOperations::Single(op) => operation(&op.node),
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .map(|(n, op)| {
                name(n) + size_of::<(Name, Positioned<OperationDefinition>)>() + operation(&op.node)
            })
            .sum(),
    };
    let fragments: usize = doc
        .fragments
        .iter()
        .map(|(n, f)| {
            name(n)
                + size_of::<(Name, Positioned<FragmentDefinition>)>()
                + name(&f.node.type_condition.node.on.node)
                + directives(&f.node.directives)
                + set(&f.node.selection_set.node)
        })
        .sum();
    size_of::<ExecutableDocument>() + operations + fragments
}

/// A name is an `Arc<str>`: two counters and the text.
fn name(n: &Name) -> usize {
    2 * size_of::<usize>() + n.len()
}

fn operation(op: &OperationDefinition) -> usize {
    let variables: usize = op
        .variable_definitions
        .iter()
        .map(|v| variable(&v.node))
        .sum();
    vec_bytes(&op.variable_definitions)
        + variables
        + directives(&op.directives)
        + set(&op.selection_set.node)
}

fn variable(v: &VariableDefinition) -> usize {
    name(&v.name.node)
        + of_type(&v.var_type.node)
        + directives(&v.directives)
        + v.default_value.as_ref().map_or(0, |d| const_value(&d.node))
}

fn of_type(t: &Type) -> usize {
    match &t.base {
        BaseType::Named(n) => name(n),
        BaseType::List(inner) => size_of::<Type>() + of_type(inner),
    }
}

/// The arguments of a field or a directive. Their values may hold variables,
/// in a type async-graphql does not export (so a macro, not a function):
/// each is weighed as the constant it is with its variables null (a
/// variable's name is a few bytes).
macro_rules! arguments {
    ($list:expr) => {{
        let list = $list;
        vec_bytes(list)
            + list
                .iter()
                .map(|(n, v)| {
                    let constant = v
                        .node
                        .clone()
                        .into_const_with(|_| Ok::<_, std::convert::Infallible>(ConstValue::Null))
                        .unwrap_or_default();
                    name(&n.node) + const_value(&constant)
                })
                .sum::<usize>()
    }};
}

fn directives(list: &Vec<Positioned<Directive>>) -> usize {
    vec_bytes(list)
        + list
            .iter()
            .map(|d| name(&d.node.name.node) + arguments!(&d.node.arguments))
            .sum::<usize>()
}

/// The bytes a vector's buffer holds.
fn vec_bytes<T>(list: &Vec<T>) -> usize {
    list.capacity() * size_of::<T>()
}

fn set(s: &SelectionSet) -> usize {
    let items: usize = s
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                let f = &f.node;
                f.alias.as_ref().map_or(0, |a| name(&a.node))
                    + name(&f.name.node)
                    + arguments!(&f.arguments)
                    + directives(&f.directives)
                    + set(&f.selection_set.node)
            }
            Selection::FragmentSpread(s) => {
                name(&s.node.fragment_name.node) + directives(&s.node.directives)
            }
            Selection::InlineFragment(i) => {
                i.node
                    .type_condition
                    .as_ref()
                    .map_or(0, |t| name(&t.node.on.node))
                    + directives(&i.node.directives)
                    + set(&i.node.selection_set.node)
            }
        })
        .sum();
    vec_bytes(&s.items) + items
}

fn const_value(v: &ConstValue) -> usize {
    match v {
        ConstValue::Enum(n) => name(n),
        ConstValue::String(s) => s.len(),
        ConstValue::Binary(b) => b.len(),
        ConstValue::List(items) => vec_bytes(items) + items.iter().map(const_value).sum::<usize>(),
        ConstValue::Object(map) => map
            .iter()
            .map(|(k, v)| {
                name(k) + size_of::<(Name, ConstValue)>() + size_of::<usize>() + const_value(v)
            })
            .sum(),
        ConstValue::Null | ConstValue::Number(_) | ConstValue::Boolean(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ExecutableDocument {
        async_graphql::parser::parse_query("{ me { role } }").expect("parse")
    }

    fn cache(entries: usize, max_bytes: usize) -> Documents {
        Documents::new(NonZeroUsize::new(entries).expect("nonzero"), max_bytes)
    }

    /// Caches `doc()` under the one-byte text `text`, weighing `bytes` in
    /// all (the text's byte included).
    fn put(cache: &Documents, text: &str, bytes: usize, persisted: Option<&str>) {
        let cached = Cached::of(text.into(), doc());
        cache
            .cache()
            .put(cached, bytes - text.len(), persisted.map(String::from));
    }

    fn cached(cache: &Documents, text: &str) -> bool {
        cache.cache().get(text).is_some()
    }

    #[test]
    fn the_cache_drops_the_least_recently_used_to_stay_within_its_bytes() {
        let cache = cache(100, 1000);
        put(&cache, "a", 400, None);
        put(&cache, "b", 400, None);
        assert!(cached(&cache, "a"), "a is now the most recent");
        put(&cache, "c", 400, None);
        assert_eq!(cache.bytes(), 800);
        assert!(!cached(&cache, "b"), "b was the least recent");
        assert!(cached(&cache, "a") && cached(&cache, "c"));
        put(&cache, "h", 1001, None);
        assert!(!cached(&cache, "h"), "over the whole budget");
        assert_eq!(cache.bytes(), 800);
    }

    #[test]
    fn the_cache_keeps_its_entry_bound_too() {
        let cache = cache(2, 1_000_000);
        for key in ["a", "b", "c"] {
            put(&cache, key, 10, None);
        }
        assert_eq!(cache.bytes(), 20);
        assert!(!cached(&cache, "a"));
    }

    /// The root fields of `doc`'s first operation: name, arguments, and
    /// how many items its selection has.
    fn roots(doc: &ExecutableDocument) -> Vec<(String, usize, usize)> {
        let (_, operation) = doc.operations.iter().next().expect("an operation");
        operation
            .node
            .selection_set
            .node
            .items
            .iter()
            .filter_map(|item| match &item.node {
                Selection::Field(f) => Some((
                    f.node.response_key().node.to_string(),
                    f.node.arguments.len(),
                    f.node.selection_set.node.items.len(),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_hollow_copy_empties_only_the_roots_answered_in_place() {
        let parse = |text: &str| async_graphql::parser::parse_query(text).expect("parse");
        let doc = parse(
            "query($id: ID!) { customer(id: $id) { id firstName } me { role } \
             s: customerStats { summary { totalCustomers } } }",
        );
        let copy = hollow(&doc).expect("a hollow copy");
        assert_eq!(
            roots(&copy),
            [
                ("customer".to_owned(), 1, 0),
                ("me".to_owned(), 0, 1),
                ("s".to_owned(), 0, 0)
            ]
        );
        assert_eq!(
            roots(&doc)[0],
            ("customer".to_owned(), 1, 2),
            "the cached one whole"
        );
        let with_fragment = parse("{ customer(id: 1) { ...F } } fragment F on Customer { id }");
        let copy = hollow(&with_fragment).expect("a hollow copy");
        assert_eq!(roots(&copy)[0].2, 0);
        assert_eq!(copy.fragments.len(), 1, "the fragments kept whole");
        for whole in [
            "query($x: Boolean!) { customer(id: 1) { ...F } } fragment F on Customer { id @skip(if: $x) }",
            "query($x: Boolean!) { customer(id: 1) { ...F @skip(if: $x) } } fragment F on Customer { id }",
            "query($x: Boolean!) { customers { items { id @include(if: $x) } } }",
            "query($x: Boolean!) { customer(id: 1) { ... on Customer @skip(if: $x) { id } } }",
            "{ me { role } }",
            "mutation { customer(id: 1) { id } }",
        ] {
            assert!(hollow(&parse(whole)).is_none(), "{whole}");
        }
        // A directive on the root itself is the engine's to apply.
        let root_directive =
            parse("query($x: Boolean!) { customer(id: 1) @include(if: $x) { id } }");
        assert_eq!(roots(&hollow(&root_directive).expect("hollow"))[0].2, 0);
    }

    #[test]
    fn a_repeated_text_is_served_from_the_cache() {
        let cache = cache(10, 1_000_000);
        let text = "query Q($id: ID!) { customer(id: $id) { id firstName } }";
        let first = cache.parsed(text).expect("parses");
        assert_eq!(&*first.text, text);
        assert_eq!(first.repeats, Repeats::None);
        let weight = weigh(&first.doc) + weigh(first.hollow.as_deref().expect("a hollow copy"));
        assert_eq!(cache.bytes(), weight + text.len());
        assert!(cached(&cache, text));
        let again = cache.parsed(text).expect("parses");
        assert!(
            Arc::ptr_eq(&first.text, &again.text),
            "the text is held once"
        );
        assert!(
            Arc::ptr_eq(&first.doc, &again.doc),
            "the parse is held once"
        );
        assert_eq!(cache.bytes(), weight + text.len(), "held once");
        let other = format!("{text} ");
        assert!(!cached(&cache, &other), "found by the exact text only");
    }

    #[test]
    fn a_text_sent_in_full_does_not_register_a_persisted_query() {
        let cache = cache(10, 1_000_000);
        let text = "{ me { role } }";
        assert!(cache.parsed(text).is_some());
        let hash = sha256(text);
        assert!(
            cache.cache().get_persisted(&hash).is_none(),
            "not by hash alone"
        );
        let before = cache.bytes();
        put(&cache, text, 10 + text.len(), Some(&hash));
        let by_hash = cache.cache().get_persisted(&hash).expect("registered");
        assert_eq!(&*by_hash.text, text);
        assert_eq!(
            cache.bytes(),
            before + hash.len(),
            "the entry kept, its hash added"
        );
        // A later request in full keeps the registration.
        put(&cache, text, 10 + text.len(), None);
        assert!(
            cache.cache().get_persisted(&hash).is_some(),
            "still registered"
        );
    }

    #[test]
    fn a_persisted_query_leaves_with_its_document() {
        let cache = cache(1, 1_000_000);
        put(&cache, "p", 10, Some("hash-of-p"));
        assert!(cache.cache().get_persisted("hash-of-p").is_some());
        put(&cache, "q", 10, None);
        assert!(!cached(&cache, "p"), "dropped at the entry bound");
        assert!(cache.cache().get_persisted("hash-of-p").is_none());
        assert!(cache.cache().persisted.is_empty(), "its hash dropped too");
        assert_eq!(cache.bytes(), 10);
    }

    #[test]
    fn a_text_that_does_not_parse_is_not_cached() {
        let cache = cache(10, 1_000_000);
        assert!(cache.parsed("{ me { role }").is_none());
        assert_eq!(cache.bytes(), 0);
    }

    /// The verdict of `text` run as `operation` with `variables`.
    fn verdict_of(
        text: &str,
        operation: Option<&str>,
        variables: serde_json::Value,
    ) -> Option<Verdict> {
        let doc = async_graphql::parser::parse_query(text).expect("parse");
        verdict(
            &doc,
            operation,
            &async_graphql::Variables::from_json(variables),
        )
    }

    #[test]
    fn verdicts_read_ids_and_strings_by_kind_and_other_variables_by_value() {
        use serde_json::json;
        let text = "query Q($id: ID!, $s: String, $n: Int) { customer(id: $id) { id } }";
        let of = |v| verdict_of(text, None, v).expect("one operation");
        let base = of(json!({ "id": "a", "s": "x", "n": 1 }));
        assert_eq!(
            of(json!({ "id": "b", "s": "y", "n": 1 })),
            base,
            "other ids, same kind"
        );
        assert_eq!(
            of(json!({ "id": 7, "s": "y", "n": 1 })),
            of(json!({ "id": 8, "s": "x", "n": 1 }))
        );
        for other in [
            json!({ "id": 7, "s": "x", "n": 1 }),
            json!({ "id": 1.5, "s": "x", "n": 1 }),
            json!({ "id": null, "s": "x", "n": 1 }),
            json!({ "s": "x", "n": 1 }),
            json!({ "id": "a", "s": 3, "n": 1 }),
            json!({ "id": "a", "s": "x", "n": 2 }),
            json!({ "id": "a", "s": "x", "n": "1" }),
            json!({ "id": "a", "s": "x" }),
        ] {
            assert_ne!(of(other.clone()), base, "{other}");
        }
        assert_ne!(
            verdict_of(text, Some("Q"), json!({ "id": "a", "s": "x", "n": 1 })),
            Some(base)
        );
    }

    #[test]
    fn how_a_document_repeats_keys_is_kept_with_it() {
        let cache = cache(10, 1_000_000);
        let text = "{ me { role } me { tenant } }";
        for _ in 0..2 {
            let cached = cache.parsed(text).expect("parses");
            assert_eq!(cached.repeats, Repeats::Objects);
        }
        assert!(cached(&cache, text));
    }

    #[test]
    fn an_operation_that_cannot_be_told_has_no_verdict() {
        let text = "query A { me { role } } query B { me { tenant } }";
        assert!(verdict_of(text, None, serde_json::json!({})).is_none());
        assert!(verdict_of(text, Some("C"), serde_json::json!({})).is_none());
        assert!(verdict_of(text, Some("A"), serde_json::json!({})).is_some());
    }

    #[test]
    fn verdicts_are_kept_with_their_document_and_bounded() {
        let cache = cache(10, 1_000_000);
        let cached = cache.parsed("{ me { role } }").expect("parses");
        let key = cached.text;
        let v = |i: u8| Verdict([i; 32]);
        let passed = |complexity, skips| Passed {
            result: async_graphql::ValidationResult {
                cache_control: Default::default(),
                complexity,
                depth: 2,
            },
            skips,
        };
        assert!(cache.passed(&key, v(0)).is_none());
        let bytes = cache.bytes();
        for i in 0..40 {
            cache.pass(&key, v(i), passed(usize::from(i), true));
        }
        let first = cache.passed(&key, v(0)).expect("remembered");
        assert_eq!((first.result.complexity, first.skips), (0, true));
        assert!(
            cache.passed(&key, v(39)).is_none(),
            "at most {MAX_VERDICTS} per document"
        );
        assert_eq!(
            cache.bytes(),
            bytes + MAX_VERDICTS * size_of::<(Verdict, Passed)>(),
            "weighed with the document"
        );
        // Passing again updates, and takes no more room.
        cache.pass(&key, v(0), passed(0, false));
        assert!(!cache.passed(&key, v(0)).expect("remembered").skips);
        assert_eq!(
            cache.bytes(),
            bytes + MAX_VERDICTS * size_of::<(Verdict, Passed)>()
        );
        cache.pass("unknown", v(1), passed(1, true));
        assert!(
            cache.passed("unknown", v(1)).is_none(),
            "only for a cached document"
        );
    }

    #[test]
    fn a_document_counts_the_fields_it_selects() {
        let count = |text: &str| fields(&async_graphql::parser::parse_query(text).expect("parse"));
        assert_eq!(count("{ me { role } }"), 2);
        assert_eq!(count("{ a: me { role } b: me { tenant role } }"), 5);
        assert_eq!(
            count(
                "query A { me { role } } query B { me { ...F } } fragment F on Me { tenant role }"
            ),
            5
        );
        assert_eq!(count("{ me { ... on Me { role } } }"), 2);
        assert_eq!(
            count("{ me { ...F ...F } } fragment F on Me { role }"),
            2,
            "a fragment counts once"
        );
    }

    #[test]
    fn documents_are_weighed_by_their_nodes_not_their_text() {
        let deep = format!("{{ {} x {} }}", "a {".repeat(30), "}".repeat(30));
        let doc = async_graphql::parser::parse_query(&deep).expect("parse");
        // An allocator counts about 190 bytes per byte of such a text.
        let bytes = weigh(&doc);
        assert!(
            bytes > 100 * deep.len(),
            "{bytes} bytes for {} of text",
            deep.len()
        );
    }
}
