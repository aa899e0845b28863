//! GraphQL answers over HTTP, written as JSON text.
//!
//! async-graphql answers with a tree of values, every object an `IndexMap`
//! whose keys are hashed with SipHash, which is then serialized and freed
//! node by node. For a page of customers, building, serializing and
//! dropping that tree was about half of a GraphQL answer's instructions
//! (`callgrind`, `bench/RESULTS.md`, session 15). An object answered in
//! place ([`super::inline`]) is instead written as JSON text as soon as its
//! fields are answered, when the request asks for it ([`Text`]). The text
//! travels up the value tree as `Value::Binary`, which no output type of
//! this schema gives otherwise, and [`respond`] copies it into the answer
//! as it is.
//!
//! Only the HTTP routes write their answers here; the WebSocket transport
//! serializes the engine's values itself, so its requests never ask for
//! text. A document that selects one object twice under the same response
//! key does not either: the engine merges those two selections into one
//! object, which it can only do with values ([`repeats`]).

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{BatchResponse, Name, Response, ServerError, Value};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;

/// Request data: objects answered in place are written as JSON text.
pub struct Text {
    /// The document repeats a field's response key in some object (a
    /// field with no selection of its own, see [`Repeats`]): the first
    /// value is kept, as the engine keeps it.
    pub dedupe: bool,
}

impl Text {
    /// The data to give a request of `doc`, if its answer may be written as
    /// text.
    pub fn for_document(doc: &ExecutableDocument) -> Option<Text> {
        Self::for_repeats(repeats(doc))
    }

    /// [`Self::for_document`] for a document that repeats keys so.
    pub fn for_repeats(repeats: Repeats) -> Option<Text> {
        match repeats {
            Repeats::None => Some(Text { dedupe: false }),
            Repeats::Leaves => Some(Text { dedupe: true }),
            Repeats::Objects => None,
        }
    }
}

/// A value that serde_json could not write (none of an answer's kinds can
/// fail; this keeps a failure an error of the field rather than a panic).
pub fn unwritable(error: serde_json::Error) -> ServerError {
    tracing::error!(%error, "a GraphQL answer could not be written as JSON");
    ServerError::new("the answer could not be written", None)
}

/// `"name":`.
pub fn key(out: &mut Vec<u8>, name: &str) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, name)?;
    out.push(b':');
    Ok(())
}

/// `"name":` for a response key of the document (a field's name or alias),
/// written as it is: the grammar makes every name `[_A-Za-z][_0-9A-Za-z]*`,
/// which JSON never escapes. serde_json looked each byte up in its table
/// of escapes and wrote the key in three checked pieces: 6 % of the
/// server's instructions for 50 customers with 5 conversations each
/// (`callgrind`, `bench/RESULTS.md`, session 18).
pub fn name_key(out: &mut Vec<u8>, name: &Name) -> serde_json::Result<()> {
    debug_assert!(is_name(name), "{name} is not a GraphQL name");
    out.reserve(name.len() + 3);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    Ok(())
}

/// Whether `text` is a GraphQL name.
fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

/// Writers of the leaf values an object writes itself
/// ([`super::inline::Fields::write`]): each writes what serde_json writes
/// for the value async-graphql would give the field.
pub mod leaf {
    use async_graphql::resolver_utils::EnumType;
    use chrono::Utc;
    use serde::Serialize;

    /// Any serializable leaf: a string, a number (a float that is not
    /// finite is null, as for async-graphql), a list of them, a JSON object.
    pub fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
        serde_json::to_writer(out, value)
    }

    /// An `ID`: the id's UUID, hyphenated and lowercase, as ids show it.
    pub fn id(out: &mut Vec<u8>, id: impl Into<uuid::Uuid>) -> serde_json::Result<()> {
        let mut text = uuid::Uuid::encode_buffer();
        out.push(b'"');
        out.extend_from_slice(id.into().hyphenated().encode_lower(&mut text).as_bytes());
        out.push(b'"');
        Ok(())
    }

    /// A `DateTime`, as its scalar gives it: written as it is, since an
    /// RFC 3339 time has nothing JSON escapes.
    pub fn time(out: &mut Vec<u8>, t: &chrono::DateTime<Utc>) -> serde_json::Result<()> {
        crate::domain::time::with_text(t, |text| {
            out.reserve(text.len() + 2);
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        });
        Ok(())
    }

    /// A `DateTime` or null.
    pub fn opt_time(
        out: &mut Vec<u8>,
        t: Option<&chrono::DateTime<Utc>>,
    ) -> serde_json::Result<()> {
        match t {
            Some(t) => time(out, t),
            None => value(out, &()),
        }
    }

    /// The GraphQL name of an enum's value.
    pub fn name<E: EnumType>(out: &mut Vec<u8>, value: E) -> serde_json::Result<()> {
        let name = E::items()
            .iter()
            .find(|item| item.value == value)
            .map(|item| item.name);
        self::value(out, &name)
    }
}

/// About the bytes [`write`] takes for an object of these fields, each with
/// its value (`None` for text written elsewhere, not counted): exact for
/// text and for keys that need no escaping, an estimate for other values.
/// Buffers sized by it are seldom grown: growing them took 7 % of a list
/// page's instructions (`callgrind`).
pub fn size<'a>(fields: impl Iterator<Item = (&'a Name, Option<&'a Value>)>) -> usize {
    fields
        .map(|(name, value)| name.len() + 4 + value.map_or(0, value_size))
        .sum::<usize>()
        + 2
}

/// About the bytes [`write`] takes for `value`.
fn value_size(value: &Value) -> usize {
    match value {
        Value::Binary(text) => text.len(),
        Value::List(items) => items.iter().map(|item| value_size(item) + 1).sum::<usize>() + 2,
        Value::Object(fields) => size(fields.iter().map(|(name, value)| (name, Some(value)))),
        _ => 16,
    }
}

/// Writes `value` as compact JSON, byte for byte what serde_json writes for
/// it, but the text of a `Value::Binary` as it is.
pub fn write(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    match value {
        Value::Binary(text) => out.extend_from_slice(text),
        Value::List(items) => {
            out.push(b'[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                write(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (at, (name, value)) in fields.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                key(out, name)?;
                write(out, value)?;
            }
            out.push(b'}');
        }
        leaf => serde_json::to_writer(&mut *out, leaf)?,
    }
    Ok(())
}

/// One response as async-graphql's `Serialize` writes it: `data`, then
/// `extensions` and `errors` when there are any.
fn response(out: &mut Vec<u8>, response: &Response) -> serde_json::Result<()> {
    out.extend_from_slice(br#"{"data":"#);
    write(out, &response.data)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(br#","extensions":"#);
        serde_json::to_writer(&mut *out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(br#","errors":"#);
        serde_json::to_writer(&mut *out, &response.errors)?;
    }
    out.push(b'}');
    Ok(())
}

/// The body of `batch`: one response, or an array of them.
fn body(batch: &BatchResponse) -> serde_json::Result<Vec<u8>> {
    let data = |one: &Response| value_size(&one.data) + 16;
    let mut out = Vec::with_capacity(match batch {
        BatchResponse::Single(one) => data(one),
        BatchResponse::Batch(many) => many.iter().map(data).sum(),
    });
    match batch {
        BatchResponse::Single(one) => response(&mut out, one)?,
        BatchResponse::Batch(many) => {
            out.push(b'[');
            for (at, one) in many.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                response(&mut out, one)?;
            }
            out.push(b']');
        }
    }
    Ok(out)
}

/// The HTTP response of `batch`, with the headers async-graphql-axum's
/// `GraphQLResponse` gave it (this replaces it, which could only write
/// values): the GraphQL media type, `cache-control` when every response is
/// free of errors and sets one, and each response's own headers.
pub fn respond(batch: BatchResponse) -> axum::response::Response {
    let Ok(body) = body(&batch) else {
        tracing::error!("a GraphQL answer could not be written as JSON");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = axum::response::Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    if batch.is_ok() {
        if let Some(value) = batch
            .cache_control()
            .value()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    headers.extend(batch.http_headers());
    response
}

/// How a document repeats response keys within one object's selection
/// (fragments spread into it counted), worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Repeats {
    None,
    /// Only fields without a selection of their own: the engine keeps the
    /// first value.
    Leaves,
    /// A field with a selection: the engine merges the objects (also for a
    /// fragment cycle, which validation refuses later anyway).
    Objects,
}

/// How `doc` repeats response keys (see [`Repeats`]).
pub fn repeats(doc: &ExecutableDocument) -> Repeats {
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    let mut worst = Repeats::None;
    for set in sets {
        worst = worst.max(in_set(doc, set));
        if worst == Repeats::Objects {
            break;
        }
    }
    worst
}

/// How `set` and the selections nested in it repeat keys.
fn in_set(doc: &ExecutableDocument, set: &SelectionSet) -> Repeats {
    let mut keys = Vec::new();
    let mut active = HashSet::new();
    if !keys_of(doc, set, &mut keys, &mut active) {
        return Repeats::Objects;
    }
    keys.sort_unstable_by_key(|(key, _)| *key);
    let mut worst = Repeats::None;
    for pair in keys.windows(2) {
        if pair[0].0 == pair[1].0 {
            worst = worst.max(if pair[0].1 || pair[1].1 {
                Repeats::Objects
            } else {
                Repeats::Leaves
            });
        }
    }
    for item in &set.items {
        let nested = match &item.node {
            Selection::Field(field) => in_set(doc, &field.node.selection_set.node),
            Selection::InlineFragment(inline) => in_set(doc, &inline.node.selection_set.node),
            // A fragment's own selection is looked at once, as a set of the document.
            Selection::FragmentSpread(_) => Repeats::None,
        };
        worst = worst.max(nested);
    }
    worst
}

/// The response keys `set` gives its object, each with whether its field
/// has a selection, fragments followed; false on a fragment cycle.
fn keys_of<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    keys: &mut Vec<(&'a str, bool)>,
    active: &mut HashSet<&'a str>,
) -> bool {
    for item in &set.items {
        let followed = match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                keys.push((
                    field.response_key().node.as_str(),
                    !field.selection_set.node.items.is_empty(),
                ));
                true
            }
            Selection::InlineFragment(inline) => {
                keys_of(doc, &inline.node.selection_set.node, keys, active)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match doc.fragments.get(name) {
                    // An unknown fragment is refused by validation.
                    None => true,
                    Some(_) if !active.insert(name) => false,
                    Some(fragment) => {
                        let followed =
                            keys_of(doc, &fragment.node.selection_set.node, keys, active);
                        active.remove(name);
                        followed
                    }
                }
            }
        };
        if !followed {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A GraphQL name is the key serde_json writes for it.
        #[test]
        fn names_are_keys_as_serde_json_writes_them(name in "[_A-Za-z][_0-9A-Za-z]{0,30}") {
            let mut out = b"x".to_vec();
            name_key(&mut out, &Name::new(&name)).expect("written");
            let mut want = b"x".to_vec();
            key(&mut want, &name).expect("written");
            prop_assert_eq!(out, want);
        }

        /// Any time is the text serde_json writes for the scalar's string.
        #[test]
        fn times_are_written_as_serde_json_writes_them(ms in any::<i64>()) {
            if let Some(t) = chrono::DateTime::from_timestamp_millis(ms) {
                let mut out = Vec::new();
                leaf::time(&mut out, &t).expect("written");
                let want = serde_json::to_vec(&crate::domain::time::format(&t)).expect("json");
                prop_assert_eq!(out, want);
            }
        }
    }

    fn repeats_in(text: &str) -> Repeats {
        let doc = async_graphql::parser::parse_query(text).expect("the test document parses");
        repeats(&doc)
    }

    #[test]
    fn repeated_keys_are_told_by_kind() {
        let cases = [
            ("{ a { b c } d }", Repeats::None),
            ("{ a { b } x: a { b } }", Repeats::None),
            ("{ a { b c b } }", Repeats::Leaves),
            ("{ a { b } b: c }", Repeats::None),
            ("{ a { b: c b } }", Repeats::Leaves),
            ("{ a { b } a { c } }", Repeats::Objects),
            ("{ a { b { c } x: d { c } b: d { e } } }", Repeats::Objects),
            (
                "{ a { id ...F } } fragment F on T { id name }",
                Repeats::Leaves,
            ),
            (
                "{ a { b { c } ...F } } fragment F on T { b { d } }",
                Repeats::Objects,
            ),
            ("{ a { ... on T { b } ... on U { b } } }", Repeats::Leaves),
            ("{ a { ... on T { b { c } } b { d } } }", Repeats::Objects),
            (
                "{ a { ...F ...F } } fragment F on T { id }",
                Repeats::Leaves,
            ),
            (
                "{ a { ...F ...G } } fragment F on T { x { y } } fragment G on T { x { z } }",
                Repeats::Objects,
            ),
            ("query Q { a { b } } query R { a { b } }", Repeats::None),
            (
                "{ a { ...F } } fragment F on T { ...G } fragment G on T { ...F }",
                Repeats::Objects,
            ),
            ("{ a { ...Missing } }", Repeats::None),
        ];
        for (text, expected) in cases {
            assert_eq!(repeats_in(text), expected, "{text}");
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let value = Value::from_json(serde_json::json!({
            "s": "quote \" backslash \\ newline \n tab \t nul \u{0} é ✓ 😀",
            "n": [0, -1, 1.5, 1e300, 9007199254740993u64, -9223372036854775808i64],
            "b": [true, false, null],
            "o": { "": {}, "nested": { "empty": [] } },
            "key \"quoted\"": "x"
        }))
        .expect("the test value converts");
        let mut out = Vec::new();
        write(&mut out, &value).expect("the value writes");
        let expected = serde_json::to_vec(&value).expect("the value serializes");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
        let mut enumerated = Vec::new();
        write(&mut enumerated, &Value::Enum(Name::new("ACTIVE"))).expect("an enum writes");
        assert_eq!(enumerated, br#""ACTIVE""#);
    }

    #[test]
    fn text_is_copied_as_it_is() {
        let value = Value::List(vec![
            Value::Binary(br#"{"a":1}"#.to_vec().into()),
            Value::Null,
        ]);
        let mut out = Vec::new();
        write(&mut out, &value).expect("the value writes");
        assert_eq!(out, br#"[{"a":1},null]"#);
    }

    #[test]
    fn a_response_is_written_as_async_graphql_serializes_it() {
        let mut with_errors = Response::new(
            Value::from_json(serde_json::json!({ "x": [1, "y"] })).expect("converts"),
        );
        with_errors
            .errors
            .push(ServerError::new("no such thing", None));
        with_errors
            .extensions
            .insert("e".to_owned(), Value::from(true));
        let batches = [
            BatchResponse::Single(Response::new(Value::Null)),
            BatchResponse::Single(with_errors),
            BatchResponse::Batch(vec![
                Response::new(Value::from(1)),
                Response::from_errors(vec![ServerError::new("bad", None)]),
            ]),
        ];
        for batch in &batches {
            let written = body(batch).expect("the batch writes");
            let expected = serde_json::to_vec(batch).expect("the batch serializes");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
    }
}
