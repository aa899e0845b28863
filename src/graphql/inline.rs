//! Objects whose plain fields are answered in place.
//!
//! async-graphql resolves each selected field of an object as a boxed future
//! of its own: about a kilobyte allocated, moved and freed per field, which
//! glibc serves from its slow paths. A page of 50 customers with five
//! conversations each selects some 2,000 fields, and that churn was the
//! largest share of a GraphQL answer's CPU (`bench/RESULTS.md`, session 10).
//! Yet most fields only read the row, so their futures are ready at the
//! first poll. An object output as [`Inline`] polls each such field once,
//! in place, with no box; only the fields its type names in
//! [`Fields::WAITS`] (those that read through a loader, or hold an object
//! that does) run as futures, all at once, as async-graphql runs them.
//!
//! Over HTTP the object is answered as JSON text ([`super::json`]), not as
//! a map of values: its fields are written in the order of the selection,
//! the plain ones by the type itself ([`Fields::write`]) with no value
//! built for them. When the type writes every field of the selection
//! itself, nested objects too ([`Fields::write_object`]), the object, or a
//! whole [`List`] of them, is written in one pass ([`write_set`]), with
//! nothing gathered per field and no future per item.
//!
//! The answer is the same as async-graphql's own: the same values, the same
//! errors (recorded, the field left out), repeated response keys merged the
//! same way, and `__typename` and fragments as the engine treats them. Keys
//! come in the order of the selection, which is the engine's order too when
//! every field is ready. Two things the engine does per field are not done
//! here, and this schema uses neither: schema extensions' per-field hooks
//! (its one extension, `validated::Remembered`, only counts the values the
//! engine resolves, to weigh what its hooks cost) and custom field
//! directives (an object whose selection has any falls back to the engine;
//! `@skip` and `@include` are applied before execution).
//!
//! An object at the root of a document's hollow copy, whose field the
//! engine was given without its selection, answers the cached document's
//! selection instead (`super::documents::Hollow`).

use std::borrow::Cow;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use async_graphql::indexmap::map::Entry;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{resolve_container, ContainerType};
use async_graphql::{
    Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError,
    ServerResult, Value,
};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;

use super::documents::Hollow;
use super::json::{self, Text};

/// An object type whose fields can be answered in place.
///
/// The future of one field (`resolve_field`) is as large as the type's
/// largest, built on the stack for every field answered in place; a field
/// that waits should therefore box its own work (`Box::pin(...).await`),
/// which keeps the plain fields' futures a few hundred bytes.
pub trait Fields: ContainerType {
    /// The fields (GraphQL names) that may wait: resolved as futures.
    /// Every other field must be ready at its first poll.
    const WAITS: &'static [&'static str] = &[];

    /// Whether `field`, as selected, may wait: by default, whether it is
    /// in [`Self::WAITS`]. A type may tell a selection of such a field that
    /// is ready at once (a field in place costs less than a boxed future).
    fn waits(field: &Field) -> bool {
        Self::WAITS.contains(&field.name.node.as_str())
    }

    /// Whether `field`, as selected of this object (`ctx`), may wait: by
    /// default, whether a selection of it may ([`Self::waits`]). An object
    /// may tell a field that reads through a loader is ready at once
    /// because what it reads was read beforehand.
    fn waits_here(&self, _ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> bool {
        Self::waits(&field.node)
    }

    /// Writes the JSON of `field` (a GraphQL name) into `out`, when the
    /// answer is text ([`Text`]) and the field is one this type writes
    /// itself: a field without arguments whose value is a scalar, an enum
    /// or a list of them, written as serde_json writes the value
    /// `resolve_field` gives it (`json::leaf`). `None` for any other field,
    /// which is then resolved. It saves building, writing and freeing a
    /// value per field; `tests::fields_written_are_the_fields_resolved`
    /// holds every type's writer to its resolvers.
    fn write(&self, _field: &str, _out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
        None
    }

    /// Writes the JSON of `field`, a field whose value is an object (or a
    /// list of them) this type answers in place, when it has the value at
    /// once (never when the field waits here, [`Self::waits_here`]): by
    /// [`write_object`], given the object or `None` for null, or by
    /// [`write_items`]. A field with arguments must read them as its
    /// resolver does, and give way to it (`Ok(false)`) on any it refuses.
    /// `Ok(false)` for any other field (the default), and when the object's
    /// selection cannot be written in one pass ([`write_set`]).
    fn write_object(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
        _out: &mut Vec<u8>,
    ) -> serde_json::Result<bool> {
        Ok(false)
    }
}

/// `T` as an output: the same GraphQL type, answered by [`resolve`].
#[derive(Clone)]
pub struct Inline<T>(pub T);

impl<T: Fields> OutputType for Inline<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // A root field of a hollow copy selects nothing here: its
        // selection is the cached document's.
        if let Some(field) = Hollow::original(ctx, field) {
            return resolve(&ctx.with_selection_set(&field.node.selection_set), &self.0).await;
        }
        resolve(ctx, &self.0).await
    }
}

/// A list of objects answered in place: the GraphQL list `[T!]!`, written
/// as one JSON text in one pass when the answer is text and every item's
/// selection can be ([`write_set`]); else resolved item by item, as
/// `Vec<Inline<T>>` is. The engine resolves each item of a list as a
/// future of its own, and each object answered in place gathers its fields
/// before it writes them: writing the list at once takes 13 % fewer server
/// instructions for 50 customers with five conversations each (issue 9's
/// S5), 26 % fewer for a page of 20 customers (S1) (`callgrind`,
/// `bench/RESULTS.md`, session 21).
pub struct List<T>(pub Vec<Inline<T>>);

impl<T> From<Vec<Inline<T>>> for List<T> {
    fn from(items: Vec<Inline<T>>) -> Self {
        List(items)
    }
}

impl<T> FromIterator<Inline<T>> for List<T> {
    fn from_iter<I: IntoIterator<Item = Inline<T>>>(items: I) -> Self {
        List(items.into_iter().collect())
    }
}

impl<T: Fields> OutputType for List<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<Inline<T>>>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Inline<T>>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Inline<T>>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(text) = ctx.data_opt::<Text>() {
            if let Some(list) = list_at_once(ctx, text, &self.0)? {
                return Ok(list);
            }
        }
        self.0.resolve(ctx, field).await
    }
}

impl<T: Fields> ContainerType for Inline<T> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        self.0.resolve_field(ctx).await
    }
}

impl<T: Fields + ObjectType> ObjectType for Inline<T> {}

/// A field that waits: its position in the answer, and the answer.
type Waiting<'a> = Pin<Box<dyn Future<Output = (usize, ServerResult<(Name, Value)>)> + Send + 'a>>;

/// A field's answer: a value, or, when the object is answered as text,
/// the range of the object's text buffer its JSON was written to.
enum Answer {
    Value(Value),
    Written(Range<usize>),
}

/// The answers of an object's fields, in the order of its selection
/// (`None` for a field left out with an error), and the text the written
/// ones were written to.
struct Answers {
    fields: Vec<Option<(Name, Answer)>>,
    text: Vec<u8>,
}

/// Resolves `root`'s selection (`ctx`) as async-graphql's
/// `resolve_container` does, the plain fields in place; as JSON text when
/// the request asks for it ([`Text`]).
pub async fn resolve<'a, T: Fields>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
) -> ServerResult<Value> {
    let as_text = ctx.data_opt::<Text>();
    if let Some(text) = as_text {
        if let Some(object) = at_once(ctx, text, root)? {
            return Ok(object);
        }
    }
    let fields = ctx.item.node.items.len();
    let mut answers = Answers {
        fields: Vec::with_capacity(fields),
        // About what a customer's plain fields take, so it seldom grows.
        text: Vec::with_capacity(if as_text.is_some() { 32 * fields } else { 0 }),
    };
    let mut waiting = FuturesUnordered::new();
    if !collect(ctx, root, as_text.is_some(), &mut answers, &mut waiting)? {
        // Not polled yet, so dropping them undoes nothing.
        drop(waiting);
        return resolve_container(ctx, root).await;
    }
    while let Some((at, answer)) = waiting.next().await {
        answers.fields[at] = record(ctx, answer).map(|(name, v)| (name, Answer::Value(v)));
    }
    if let Some(text) = as_text {
        return written(text, &answers);
    }
    let mut object = IndexMap::with_capacity(answers.fields.len());
    for (name, answer) in answers.fields.into_iter().flatten() {
        // Nothing is written unless the answer is text (`collect`).
        if let Answer::Value(value) = answer {
            insert(&mut object, name, value);
        }
    }
    Ok(if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    })
}

/// Whether a selection of objects `T` (`set`) may wait: some field of it
/// may ([`Fields::waits`]), or it has a fragment (not looked into).
pub fn may_wait<T: Fields>(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => T::waits(&field.node),
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => true,
    })
}

/// Whether `items`, the objects of a list under `field`'s selection, may
/// wait to be answered: a field of the selection may, as the first item
/// tells it ([`Fields::waits_here`]; the items of a list share what their
/// fields read), or the selection has a fragment (not looked into). An
/// object that holds such a list lists the field in its [`Fields::WAITS`]
/// and asks this of it.
pub fn items_may_wait<T: Fields>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    items: &[Inline<T>],
) -> bool {
    let Some(first) = items.first() else {
        return false;
    };
    let ctx = ctx.with_selection_set(&field.node.selection_set);
    ctx.item.node.items.iter().any(|item| match &item.node {
        Selection::Field(field) => first.0.waits_here(&ctx, field),
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => true,
    })
}

/// Whether `root`'s selection (`ctx`) may be written in one pass
/// ([`write_set`]) in an answer of text `as_text`: no field of its own
/// waits, and the document repeats no key (the first value would have to
/// be found). A field deeper in, or in a fragment, that cannot be written
/// is found while writing.
fn at_once_possible<T: Fields>(ctx: &ContextSelectionSet<'_>, as_text: &Text, root: &T) -> bool {
    !as_text.dedupe
        && ctx.item.node.items.iter().all(|item| match &item.node {
            Selection::Field(field) => !root.waits_here(ctx, field),
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => true,
        })
}

/// `root` answered as one JSON text written in one pass, if its selection
/// (`ctx`) can be.
fn at_once<T: Fields>(
    ctx: &ContextSelectionSet<'_>,
    as_text: &Text,
    root: &T,
) -> ServerResult<Option<Value>> {
    if !at_once_possible(ctx, as_text, root) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(32 * ctx.item.node.items.len());
    let written = write_set(ctx, root, &mut out).map_err(json::unwritable)?;
    Ok(written.then(|| Value::Binary(out.into())))
}

/// The list `items` answered as one JSON text written in one pass, if
/// each item's selection (`ctx`) can be. Whether the first item's can
/// stands for all (the items of a list share what their fields read); an
/// item that cannot is found while writing.
fn list_at_once<T: Fields>(
    ctx: &ContextSelectionSet<'_>,
    as_text: &Text,
    items: &[Inline<T>],
) -> ServerResult<Option<Value>> {
    if items
        .first()
        .is_some_and(|first| !at_once_possible(ctx, as_text, &first.0))
    {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(2 + 32 * ctx.item.node.items.len() * items.len());
    let written = write_items(ctx, items.iter().map(|item| &item.0), &mut out);
    Ok(written
        .map_err(json::unwritable)?
        .then(|| Value::Binary(out.into())))
}

/// Writes `items`, each under `ctx`'s selection ([`write_set`]), into
/// `out` as a JSON list. False, with `out` part-written, when some item
/// cannot be written so.
pub fn write_items<'t, T: Fields + 't>(
    ctx: &ContextSelectionSet<'_>,
    items: impl IntoIterator<Item = &'t T>,
    out: &mut Vec<u8>,
) -> serde_json::Result<bool> {
    let mut items = items.into_iter();
    out.push(b'[');
    if let Some(first) = items.next() {
        let start = out.len();
        if !write_set(ctx, first, out)? {
            return Ok(false);
        }
        // The others are about as long as the first: room for them now,
        // rather than the text copied each time it outgrows its buffer.
        let (others, _) = items.size_hint();
        out.reserve((out.len() - start + 1) * others + 1);
    }
    for item in items {
        out.push(b',');
        if !write_set(ctx, item, out)? {
            return Ok(false);
        }
    }
    out.push(b']');
    Ok(true)
}

/// Writes `root`'s selection (`ctx`) into `out` as a JSON object in one
/// pass: each field by its type ([`Fields::write`],
/// [`Fields::write_object`]), `__typename` by the type's name, fragments
/// followed as [`collect`] follows them; null when no field applies, as
/// the engine answers an object with none. No future, no value and no
/// buffer of its own per field, which [`collect`] and [`written`] need.
/// False, with `out` part-written, when some field cannot be written so
/// (it waits, is resolved, or carries a directive): the caller then
/// answers the object the other way. Every response key of the selection
/// must be its own ([`Text::dedupe`] false).
pub fn write_set<T: Fields>(
    ctx: &ContextSelectionSet<'_>,
    root: &T,
    out: &mut Vec<u8>,
) -> serde_json::Result<bool> {
    let start = out.len();
    out.push(b'{');
    if !write_fields(ctx, &ctx.item.node, root, out)? {
        return Ok(false);
    }
    if out.len() == start + 1 {
        out.truncate(start);
        out.extend_from_slice(b"null");
    } else {
        out.push(b'}');
    }
    Ok(true)
}

/// [`Fields::write_object`] of `value` (null when `None`), an object
/// answered in place, under `field`'s selection.
pub fn write_object<T: Fields>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    value: Option<&T>,
    out: &mut Vec<u8>,
) -> serde_json::Result<bool> {
    match value {
        None => {
            out.extend_from_slice(b"null");
            Ok(true)
        }
        Some(value) => write_set(
            &ctx.with_selection_set(&field.node.selection_set),
            value,
            out,
        ),
    }
}

/// [`write_items`] of `items` under `field`'s selection: the list of
/// objects answered in place that `field` holds.
pub fn write_list<'t, T: Fields + 't>(
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
    items: impl IntoIterator<Item = &'t T>,
    out: &mut Vec<u8>,
) -> serde_json::Result<bool> {
    write_items(
        &ctx.with_selection_set(&field.node.selection_set),
        items,
        out,
    )
}

/// The fields of `set` (and of the fragments in it that apply to `root`)
/// written into the object `out` is writing ([`write_set`]).
fn write_fields<'a, T: Fields>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    root: &T,
    out: &mut Vec<u8>,
) -> serde_json::Result<bool> {
    for selection in &set.items {
        let Selection::Field(field) = &selection.node else {
            // Validation refuses an unknown fragment; the other way
            // answers the error all the same.
            let Ok(applying) = fragment(ctx, root, selection) else {
                return Ok(false);
            };
            if let Some(set) = applying {
                if !write_fields(ctx, &set.node, root, out)? {
                    return Ok(false);
                }
            }
            continue;
        };
        // A field that waits is never written by its type: no need to ask
        // `T::waits` for every field of every item.
        if !field.node.directives.is_empty() {
            return Ok(false);
        }
        // Only the object's opening brace ends in `{`: every value written
        // ends otherwise.
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        json::name_key(out, &field.node.response_key().node)?;
        let name = field.node.name.node.as_str();
        if name == "__typename" {
            json::leaf::value(out, root.introspection_type_name().as_ref())?;
        } else if let Some(done) = root.write(name, out) {
            done?;
        } else if !root.write_object(ctx, field, out)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The selection of `selection`, a fragment (spread or inline), when it
/// applies to `root`: it has no type condition, or names `root`'s type or
/// an interface that type implements. `None` for a fragment that does not
/// apply, and for a field; an error for a spread of a fragment the
/// document does not define.
fn fragment<'a, T: Fields>(
    ctx: &ContextSelectionSet<'a>,
    root: &T,
    selection: &'a Positioned<Selection>,
) -> ServerResult<Option<&'a Positioned<SelectionSet>>> {
    let (condition, set) = match &selection.node {
        Selection::Field(_) => return Ok(None),
        Selection::FragmentSpread(spread) => {
            let name = &spread.node.fragment_name.node;
            let Some(fragment) = ctx.query_env.fragments.get(name) else {
                return Err(ServerError::new(
                    format!(r#"Unknown fragment "{name}"."#),
                    Some(spread.pos),
                ));
            };
            (
                Some(&fragment.node.type_condition),
                &fragment.node.selection_set,
            )
        }
        Selection::InlineFragment(fragment) => (
            fragment.node.type_condition.as_ref(),
            &fragment.node.selection_set,
        ),
    };
    let applies = condition.is_none_or(|condition| {
        let on = condition.node.on.node.as_str();
        let type_name = root.introspection_type_name();
        type_name == on
            || ctx
                .schema_env
                .registry
                .implements
                .get(type_name.as_ref())
                .is_some_and(|interfaces| interfaces.contains(on))
    });
    Ok(applies.then_some(set))
}

/// The object of `answers` as JSON text; null when it has no field, as
/// the engine answers an empty object. A repeated key keeps its first
/// value, as the engine keeps it.
fn written(as_text: &Text, answers: &Answers) -> ServerResult<Value> {
    let fields = &answers.fields;
    let mut out = Vec::with_capacity(
        json::size(fields.iter().flatten().map(|(name, answer)| match answer {
            Answer::Value(value) => (name, Some(value)),
            Answer::Written(_) => (name, None),
        })) + answers.text.len(),
    );
    out.push(b'{');
    for (at, (name, answer)) in fields
        .iter()
        .enumerate()
        .filter_map(|(at, field)| Some((at, field.as_ref()?)))
    {
        if as_text.dedupe && fields[..at].iter().flatten().any(|(n, _)| n == name) {
            continue;
        }
        if out.len() > 1 {
            out.push(b',');
        }
        json::name_key(&mut out, name).map_err(json::unwritable)?;
        match answer {
            Answer::Value(value) => json::write(&mut out, value).map_err(json::unwritable)?,
            Answer::Written(range) => out.extend_from_slice(&answers.text[range.clone()]),
        }
    }
    if out.len() == 1 {
        return Ok(Value::Null);
    }
    out.push(b'}');
    Ok(Value::Binary(out.into()))
}

/// Answers the ready fields of `ctx`'s selection into `answers` (writing
/// those the type writes itself, `as_text`) and queues the others in
/// `waiting`, each with its place in `answers`. False when a field carries
/// a directive, which only the engine applies.
fn collect<'a, T: Fields>(
    ctx: &ContextSelectionSet<'a>,
    root: &'a T,
    as_text: bool,
    answers: &mut Answers,
    waiting: &mut FuturesUnordered<Waiting<'a>>,
) -> ServerResult<bool> {
    for selection in &ctx.item.node.items {
        let Selection::Field(field) = &selection.node else {
            if let Some(set) = fragment(ctx, root, selection)? {
                let nested = ctx.with_selection_set(set);
                if !collect(&nested, root, as_text, answers, waiting)? {
                    return Ok(false);
                }
            }
            continue;
        };
        if !field.node.directives.is_empty() {
            return Ok(false);
        }
        let name = field.node.name.node.as_str();
        let key = || field.node.response_key().node.clone();
        if name == "__typename" {
            let type_name = root.introspection_type_name().into_owned();
            let value = Answer::Value(Value::String(type_name));
            answers.fields.push(Some((key(), value)));
            continue;
        }
        if as_text {
            let start = answers.text.len();
            if let Some(done) = root.write(name, &mut answers.text) {
                done.map_err(json::unwritable)?;
                let text = Answer::Written(start..answers.text.len());
                answers.fields.push(Some((key(), text)));
                continue;
            }
        }
        let ready = if root.waits_here(ctx, field) {
            None
        } else {
            let ready = root.resolve_field(&ctx.with_field(field)).now_or_never();
            // Correct still when not ready (the field runs again as
            // a future), but the field belongs in `WAITS`.
            debug_assert!(
                ready.is_some(),
                "{}.{name} waited: list it in WAITS",
                T::type_name()
            );
            ready
        };
        match ready {
            Some(answer) => {
                let answer = record(ctx, keyed(field, answer));
                let answer = answer.map(|(name, value)| (name, Answer::Value(value)));
                answers.fields.push(answer);
            }
            None => {
                answers.fields.push(None);
                let at = answers.fields.len() - 1;
                waiting.push(wait(ctx.clone(), root, field, at));
            }
        }
    }
    Ok(true)
}

/// The future of a field that waits, answering into place `at`.
fn wait<'a, T: Fields>(
    ctx: ContextSelectionSet<'a>,
    root: &'a T,
    field: &'a Positioned<Field>,
    at: usize,
) -> Waiting<'a> {
    Box::pin(async move {
        let ctx_field = ctx.with_field(field);
        (at, keyed(field, root.resolve_field(&ctx_field).await))
    })
}

/// A field's resolved value under its response key (null when the
/// resolver gave none, as the engine does).
fn keyed(
    field: &Positioned<Field>,
    answer: ServerResult<Option<Value>>,
) -> ServerResult<(Name, Value)> {
    let key = field.node.response_key().node.clone();
    answer.map(|value| (key, value.unwrap_or_default()))
}

/// A field's answer, or its error recorded on the request (the field is
/// then left out of the object, as the engine leaves it).
fn record(
    ctx: &ContextSelectionSet<'_>,
    answer: ServerResult<(Name, Value)>,
) -> Option<(Name, Value)> {
    answer.map_err(|error| ctx.add_error(error)).ok()
}

/// Adds a field's value under `name`; a repeated key merges objects (and
/// lists of objects, item by item) and otherwise keeps the first value,
/// as the engine does.
fn insert(object: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    // One lookup of the key, not two: the second hash of every key was 4 %
    // of the instructions of a list page's GraphQL answer (`callgrind`).
    let previous = match object.entry(name) {
        Entry::Vacant(place) => {
            place.insert(value);
            return;
        }
        Entry::Occupied(place) => place.into_mut(),
    };
    match (previous, value) {
        (Value::Object(previous), Value::Object(value)) => {
            for (name, value) in value {
                insert(previous, name, value);
            }
        }
        (Value::List(previous), Value::List(value)) => {
            for (previous, value) in previous.iter_mut().zip(value) {
                if let (Value::Object(previous), Value::Object(value)) = (previous, value) {
                    for (name, value) in value {
                        insert(previous, name, value);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema, Variables};

    use super::*;

    /// An object with every kind of field: plain, nested (in place and by
    /// the engine), waiting, failing, and a list of objects.
    struct Thing;

    #[Object]
    impl Thing {
        async fn id(&self) -> i32 {
            1
        }
        async fn name(&self) -> &str {
            "thing"
        }
        async fn sub(&self) -> Inline<Sub> {
            Inline(Sub(2))
        }
        async fn engine_sub(&self) -> Sub {
            Sub(3)
        }
        async fn slow(&self) -> i32 {
            tokio::task::yield_now().await;
            4
        }
        async fn slow_sub(&self) -> Inline<Sub> {
            tokio::task::yield_now().await;
            Inline(Sub(5))
        }
        async fn fails(&self) -> async_graphql::Result<i32> {
            Err("no such thing".into())
        }
        async fn items(&self) -> List<Sub> {
            List(vec![Inline(Sub(6)), Inline(Sub(7))])
        }
    }

    impl Fields for Thing {
        const WAITS: &'static [&'static str] = &["slow", "slowSub"];
    }

    struct Sub(i32);

    #[Object]
    impl Sub {
        async fn k(&self) -> i32 {
            self.0
        }
        async fn label(&self) -> String {
            format!("sub {}", self.0)
        }
        /// The next one, up to 7; null after it.
        async fn next(&self) -> Option<Inline<Sub>> {
            (self.0 < 7).then(|| Inline(Sub(self.0 + 1)))
        }
        async fn later(&self) -> i32 {
            tokio::task::yield_now().await;
            self.0
        }
    }

    /// `k` and `next` are written, `label` resolved in place, `later` waits.
    impl Fields for Sub {
        const WAITS: &'static [&'static str] = &["later"];

        fn write(&self, field: &str, out: &mut Vec<u8>) -> Option<serde_json::Result<()>> {
            (field == "k").then(|| json::leaf::value(out, &self.0))
        }

        fn write_object(
            &self,
            ctx: &ContextSelectionSet<'_>,
            field: &Positioned<Field>,
            out: &mut Vec<u8>,
        ) -> serde_json::Result<bool> {
            match field.node.name.node.as_str() {
                "next" => {
                    let next = (self.0 < 7).then(|| Sub(self.0 + 1));
                    write_object(ctx, field, next.as_ref(), out)
                }
                _ => Ok(false),
            }
        }
    }

    struct Query;

    #[Object]
    impl Query {
        /// The object answered here.
        async fn inline(&self) -> Inline<Thing> {
            Inline(Thing)
        }
        /// The same object answered by the engine.
        async fn engine(&self) -> Thing {
            Thing
        }
        /// A list answered in place.
        async fn list(&self) -> List<Sub> {
            List(vec![Inline(Sub(5)), Inline(Sub(6)), Inline(Sub(7))])
        }
    }

    /// A document for both roots: its variable definitions, the selection
    /// under the root, and its fragments.
    struct Document {
        variables: &'static str,
        selection: &'static str,
        fragments: &'static str,
    }

    const fn doc(selection: &'static str) -> Document {
        Document {
            variables: "",
            selection,
            fragments: "",
        }
    }

    const DOCUMENTS: &[Document] = &[
        doc("{ id name slow fails sub { k label } engineSub { k } slowSub { label } items { k } }"),
        // Aliases, and repeated keys whose objects (and lists) merge.
        doc("{ a: id b: id id id sub { k } sub { label } items { k } items { label } s: slow s: slow }"),
        doc("{ __typename t: __typename sub { __typename k } items { __typename } }"),
        doc("{ fails f: fails id }"),
        Document {
            variables: "",
            selection: "{ ...F ... on Thing { slow __typename } ... { name } }",
            fragments: "fragment F on Thing { id sub { ...G } } fragment G on Sub { label }",
        },
        // Lists written in one pass (nested objects, null, fragments,
        // `__typename`, directives applied before execution), and item by
        // item (a field resolved, deeper in). Items with a field that waits
        // would make `Thing.items` wait: see the root's `list`.
        doc("{ items { k next { k next { k } } } }"),
        Document {
            variables: "",
            selection: "{ items { __typename ... on Sub { k } next { ...S } } }",
            fragments: "fragment S on Sub { k next { __typename } }",
        },
        doc("{ items { k next { k label } } }"),
        doc("{ items { k next { k @skip(if: false) } } }"),
        // Repeated keys of plain fields only: the first value is kept.
        Document {
            variables: "",
            selection: "{ id name id ...F sub { k label k } items { k k } }",
            fragments: "fragment F on Thing { name id n: name }",
        },
        Document {
            variables: "($yes: Boolean!)",
            selection: "{ id @skip(if: $yes) name @include(if: $yes) slow @skip(if: $yes) sub { k @include(if: $yes) } }",
            fragments: "",
        },
    ];

    /// The request of `document` under `root`, aliased `x` so both roots
    /// give the same paths, and its text.
    fn request(root: &str, document: &Document) -> (Request, String) {
        let Document {
            variables,
            selection,
            fragments,
        } = document;
        let query = format!("query Q{variables} {{ x: {root} {selection} }} {fragments}");
        let variables = Variables::from_json(serde_json::json!({ "yes": true }));
        (Request::new(query.clone()).variables(variables), query)
    }

    /// The answer (data and errors) to `document` under `root`.
    async fn answer(root: &str, document: &Document) -> serde_json::Value {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let response = schema.execute(request(root, document).0).await;
        serde_json::to_value(&response).expect("a response serializes")
    }

    #[tokio::test]
    async fn answers_as_the_engine_does() {
        for document in DOCUMENTS {
            let inline = answer("inline", document).await;
            let engine = answer("engine", document).await;
            assert_eq!(inline, engine, "{}", document.selection);
            assert!(
                inline["data"]["x"].is_object(),
                "{}: {inline}",
                document.selection
            );
        }
    }

    /// The answer to `document` under `root` (its data, then its errors),
    /// as the HTTP routes write it: objects answered in place as text where
    /// the document allows; and whether `root` was.
    async fn answered_as_text(root: &str, document: &Document) -> (String, bool) {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let (mut request, query) = request(root, document);
        let doc = async_graphql::parser::parse_query(&query).expect("the test document parses");
        let text = super::super::json::Text::for_document(&doc);
        let as_text = text.is_some();
        if let Some(text) = text {
            request.data.insert(text);
        }
        let response = schema.execute(request).await;
        let Value::Object(data) = &response.data else {
            panic!("no data: {:?}", response.data)
        };
        let is_text = matches!(data.get("x"), Some(Value::Binary(_)));
        assert!(as_text || !is_text, "{query}: text where not asked for");
        let mut out = Vec::new();
        super::super::json::write(&mut out, &response.data).expect("the answer writes");
        let errors = serde_json::to_string(&response.errors).expect("errors serialize");
        (
            format!("{}{errors}", String::from_utf8_lossy(&out)),
            is_text,
        )
    }

    #[tokio::test]
    async fn answers_as_text_are_the_values_written() {
        let mut as_text = 0;
        for document in DOCUMENTS {
            // The same object answered as values, then serialized.
            let values = answer("inline", document).await;
            let data = serde_json::to_string(&values["data"]).expect("data serializes");
            let errors = values
                .get("errors")
                .map_or("[]".to_owned(), |e| e.to_string());
            let (written, text) = answered_as_text("inline", document).await;
            assert_eq!(written, format!("{data}{errors}"), "{}", document.selection);
            as_text += usize::from(text);
        }
        // Every document but the one that selects an object twice.
        assert_eq!(as_text, DOCUMENTS.len() - 1);
    }

    #[test]
    fn an_object_written_keeps_first_values_and_is_null_when_empty() {
        let fields = vec![
            Some((Name::new("a"), Answer::Written(0..3))),
            None,
            Some((Name::new("b"), Answer::Value(Value::from(2)))),
            Some((Name::new("a"), Answer::Written(3..4))),
        ];
        let answers = Answers {
            fields,
            text: br#""x"1"#.to_vec(),
        };
        let object = |dedupe: bool| match written(&Text { dedupe }, &answers) {
            Ok(Value::Binary(text)) => String::from_utf8_lossy(&text).into_owned(),
            other => panic!("not text: {other:?}"),
        };
        assert_eq!(object(true), r#"{"a":"x","b":2}"#);
        assert_eq!(object(false), r#"{"a":"x","b":2,"a":1}"#);
        let empty = Answers {
            fields: vec![None, None],
            text: Vec::new(),
        };
        let empty = written(&Text { dedupe: false }, &empty);
        assert_eq!(empty.ok(), Some(Value::Null));
    }

    #[tokio::test]
    async fn a_list_is_one_text_when_every_item_can_be_written() {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        for (selection, at_once) in [
            ("{ k next { k next { k } } }", true),
            ("{ __typename ... on Sub { k } }", true),
            ("{ k label }", false),
            ("{ k next { label } }", false),
            ("{ k later next { k } }", false),
        ] {
            let query = format!("{{ list {selection} }}");
            let values = schema.execute(query.as_str()).await;
            let values = serde_json::to_string(&values).expect("a response serializes");
            let mut request = Request::new(query);
            request.data.insert(Text { dedupe: false });
            let response = schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            let Value::Object(data) = &response.data else {
                panic!("no data: {:?}", response.data)
            };
            match data.get("list") {
                Some(Value::Binary(_)) => assert!(at_once, "{selection}: one text"),
                Some(Value::List(items)) => {
                    assert!(!at_once, "{selection}: item by item");
                    assert_eq!(items.len(), 3, "{selection}");
                }
                other => panic!("{selection}: {other:?}"),
            }
            let mut text = br#"{"data":"#.to_vec();
            json::write(&mut text, &response.data).expect("the answer writes");
            text.push(b'}');
            assert_eq!(String::from_utf8_lossy(&text), values, "{selection}");
        }
    }

    #[tokio::test]
    async fn keys_follow_the_selection_even_when_a_field_waits() {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let response = schema
            .execute("{ inline { slow id slowSub { k } name } }")
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let Value::Object(data) = response.data else {
            panic!("no data: {:?}", response.data)
        };
        let Some(Value::Object(thing)) = data.get("inline") else {
            panic!("no object: {data:?}")
        };
        let keys: Vec<&str> = thing.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["slow", "id", "slowSub", "name"]);
    }
}
