//! The bulk import's body, parsed while it arrives, and its answer,
//! serialized while it is sent: neither is ever whole in memory.
//!
//! The body is read by serde_json's streaming parser on a blocking thread,
//! fed from the async body through a bridge. Each element of `customers` is
//! cut out as JSON text and handed over a bounded channel; the service pulls
//! rows one at a time and turns each into a tree only then. When the service
//! stops pulling (a row over the cap, an error, the request given up), the
//! channel and the body stream close and the parser stops reading.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, TryStreamExt};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::body::{customer_doc, customer_input};
use super::{is_json, BODY_LIMIT};
use crate::auth::Actor;
use crate::domain::ids::CustomerId;
use crate::error::{Error, FieldError, Result};
use crate::service::import::{self, ImportReport, ImportRow, Row};
use crate::service::Ctx;

/// Rows parsed ahead of the service: bounds the rows in flight.
const ROWS_AHEAD: usize = 16;
/// The parser's read buffer.
const READ_BUFFER: usize = 64 * 1024;
/// Customers serialized into one chunk of the answer.
const DOCS_PER_CHUNK: usize = 256;
/// What `customers` must be.
const LIST: &str = "must be a list of customers";

/// A row as the parser hands it over: its JSON text, or a note that it was
/// over [`BODY_LIMIT`] (then it is never parsed into a tree). The service
/// keeps the text of a row that waits to be written, and reads it again then.
pub enum RawRow {
    /// The row's JSON text.
    Json(Box<str>),
    /// A row over [`BODY_LIMIT`] bytes.
    TooLarge,
}

impl ImportRow for RawRow {
    fn read(&self) -> Row {
        let not_a_customer = |message: String| Err(vec![FieldError::new("customer", message)]);
        match self {
            RawRow::TooLarge => {
                not_a_customer(format!("must be at most {} KiB of JSON", BODY_LIMIT / 1024))
            }
            RawRow::Json(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => customer_input(&map),
                Ok(_) => not_a_customer("must be an object".to_owned()),
                Err(e) => not_a_customer(format!("could not be read: {e}")),
            },
        }
    }
}

/// The rows of an import body, in order, as the body arrives. An `Err` item
/// ends the list: the body could not be read (400, or 413 over the limit).
pub struct ImportRows {
    rows: mpsc::Receiver<Result<RawRow>>,
    /// Dropped with the stream: ends the body stream, so a parser waiting
    /// for bytes stops at once instead of when the client sends more.
    _stop: oneshot::Sender<()>,
}

impl Stream for ImportRows {
    type Item = Result<RawRow>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().rows.poll_recv(cx)
    }
}

/// 413 when a request declares (`Content-Length`) a body over `limit`
/// bytes, before any of it is read.
pub fn refuse_declared_over(req: &Request, limit: usize) -> Result<()> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge);
    }
    Ok(())
}

/// Starts reading an import body `{"customers": [...]}`: 415 unless it says
/// JSON, 413 when it declares more than `limit` bytes (or, undeclared, sends
/// more). Nothing is read until the rows are pulled.
pub fn rows(req: Request, limit: usize) -> Result<ImportRows> {
    if !is_json(req.headers()) {
        return Err(Error::UnsupportedMediaType);
    }
    refuse_declared_over(&req, limit)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let bytes = Limited::new(req.into_body(), limit)
        .into_data_stream()
        .map_err(io::Error::other)
        .take_until(stopped);
    let reader = SyncIoBridge::new(StreamReader::new(bytes));
    let (tx, rows) = mpsc::channel(ROWS_AHEAD);
    tokio::task::spawn_blocking(move || parse(reader, &tx));
    Ok(ImportRows { rows, _stop: stop })
}

/// Parses the body, sending each row as it is read, then the error that
/// ended it, if any (unless nobody is listening any more).
fn parse(reader: impl io::Read, tx: &mpsc::Sender<Result<RawRow>>) {
    parse_body(reader, tx, false);
}

/// Parses a body as [`parse`] does; with `bare_list` a body that is just the
/// list of customers is taken too (import jobs, which also read an export).
pub(super) fn parse_body(
    reader: impl io::Read,
    tx: &mpsc::Sender<Result<RawRow>>,
    bare_list: bool,
) {
    let reader = io::BufReader::with_capacity(READ_BUFFER, reader);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut problem = None;
    let body = BodyVisitor {
        tx,
        problem: &mut problem,
        bare_list,
    };
    let Err(e) = de.deserialize_any(body).and_then(|()| de.end()) else {
        return;
    };
    if tx.is_closed() {
        return;
    }
    let error = match e.classify() {
        Category::Io => {
            let e = io::Error::from(e);
            if e.get_ref()
                .is_some_and(|inner| inner.is::<LengthLimitError>())
            {
                Error::PayloadTooLarge
            } else {
                Error::invalid("body", "could not read the request body")
            }
        }
        Category::Syntax | Category::Eof => Error::invalid("body", format!("malformed JSON: {e}")),
        // Data errors come only from the visitors below, which name the
        // problem, or from a body that is not an object at all.
        Category::Data => {
            problem.unwrap_or_else(|| Error::invalid("body", "must be a JSON object"))
        }
    };
    // The service may have stopped listening meanwhile; then nobody needs it.
    let _ = tx.blocking_send(Err(error));
}

/// The body object: streams `customers`, skips every other key.
struct BodyVisitor<'a> {
    tx: &'a mpsc::Sender<Result<RawRow>>,
    problem: &'a mut Option<Error>,
    /// Whether a bare list of customers is a body too.
    bare_list: bool,
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    /// A bare list of customers (an import job's JSON body may be one).
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        if !self.bare_list {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        RowsSeed {
            tx: self.tx,
            problem: &mut *self.problem,
        }
        .visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Customers if found => {
                    *self.problem = Some(Error::invalid("customers", "must be given once"));
                    return Err(de::Error::custom("customers given twice"));
                }
                Key::Customers => {
                    found = true;
                    map.next_value_seed(RowsSeed {
                        tx: self.tx,
                        problem: &mut *self.problem,
                    })?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !found {
            *self.problem = Some(Error::invalid("customers", LIST));
            return Err(de::Error::custom("no customers"));
        }
        Ok(())
    }
}

/// A key of the body object, told apart without keeping it.
enum Key {
    Customers,
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(if key == "customers" {
                    Key::Customers
                } else {
                    Key::Other
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// The value of `customers`: each element is sent as it is read.
struct RowsSeed<'a> {
    tx: &'a mpsc::Sender<Result<RawRow>>,
    problem: &'a mut Option<Error>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Stands unless the value turns out to be a list.
        *self.problem = Some(Error::invalid("customers", LIST));
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of customers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.problem = None;
        while let Some(text) = seq.next_element::<Box<RawValue>>()? {
            let row = if text.get().len() > BODY_LIMIT {
                RawRow::TooLarge
            } else {
                // A copy of exactly its length: the parser's buffer has room
                // to spare, and a valid row's text waits for the whole list.
                RawRow::Json(text.get().into())
            };
            if self.tx.blocking_send(Ok(row)).is_err() {
                // The service stopped pulling (a row over the cap, an
                // error): stop reading the body here.
                return Err(de::Error::custom("the import stopped reading"));
            }
        }
        Ok(())
    }
}

/// The import's answer `{success, results, details}`, written while it is
/// sent: the stored customers are read back a page at a time (a short query
/// per page, no connection held while the client reads).
pub fn response(ctx: Ctx, actor: Actor, report: ImportReport) -> Result<Response> {
    let results = json!({
        "imported": report.stored.len(),
        "duplicates": report.duplicates.len(),
        "failed": report.failed.len(),
    });
    let head = format!(r#"{{"success":true,"results":{results},"details":{{"success":["#);
    let tail = format!(
        r#"],"duplicates":{},"failed":{}}}}}"#,
        serde_json::to_string(&report.duplicates).map_err(Error::internal)?,
        serde_json::to_string(&report.failed).map_err(Error::internal)?,
    );
    let pages: Vec<Vec<CustomerId>> = report
        .stored
        .chunks(DOCS_PER_CHUNK)
        .map(<[CustomerId]>::to_vec)
        .collect();
    let start = (pages.into_iter(), true);
    let docs = futures::stream::unfold(start, move |(mut pages, mut first)| {
        let (ctx, actor) = (ctx.clone(), actor.clone());
        async move {
            let ids = pages.next()?;
            let page = async {
                let customers =
                    import::stored_customers(&ctx, &actor, &ids)
                        .await
                        .map_err(|e| {
                            e.log();
                            io::Error::other(e.to_string())
                        })?;
                let mut chunk = Vec::new();
                for customer in &customers {
                    if !std::mem::take(&mut first) {
                        chunk.push(b',');
                    }
                    serde_json::to_writer(&mut chunk, &customer_doc(customer))?;
                }
                Ok::<_, io::Error>(Bytes::from(chunk))
            }
            .await;
            Some((page, (pages, first)))
        }
    });
    let body = futures::stream::once(async { Ok(Bytes::from(head)) })
        .chain(docs)
        .chain(futures::stream::once(async { Ok(Bytes::from(tail)) }));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request whose body arrives in `chunks` with no declared length.
    fn chunked(chunks: Vec<&'static str>) -> Request {
        let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, io::Error>));
        Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(stream))
            .expect("request")
    }

    /// Every item of the rows: the rows read (as JSON text), then the error.
    async fn read_all(rows: ImportRows) -> (Vec<String>, Option<Error>) {
        let items: Vec<Result<RawRow>> = rows.collect().await;
        let mut texts = Vec::new();
        for item in items {
            match item {
                Ok(RawRow::Json(text)) => texts.push(text.into_string()),
                Ok(RawRow::TooLarge) => texts.push("<too large>".to_owned()),
                Err(e) => return (texts, Some(e)),
            }
        }
        (texts, None)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_undeclared_body_over_the_limit_is_cut_off_while_it_is_read() {
        let body = chunked(vec![
            r#"{"customers":[{"phoneNumber":"1"},"#,
            r#"{"phoneNumber":"2"}],"padding":""#,
            "                                                            ",
            "                                                            ",
            r#""}"#,
        ]);
        let (texts, error) = read_all(rows(body, 100).expect("read")).await;
        assert_eq!(
            texts,
            vec![r#"{"phoneNumber":"1"}"#, r#"{"phoneNumber":"2"}"#]
        );
        assert!(matches!(error, Some(Error::PayloadTooLarge)), "{error:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_arrive_one_by_one_and_a_break_ends_them_with_malformed_json() {
        let body = chunked(vec![
            r#"{"customers":[{"a":1}, 2 ,"#,
            r#"{"b":[true]}, {"c""#,
        ]);
        let (texts, error) = read_all(rows(body, 1024).expect("read")).await;
        assert_eq!(texts, vec![r#"{"a":1}"#, "2", r#"{"b":[true]}"#]);
        match error {
            Some(Error::BadUserInput { message, .. }) => {
                assert!(message.contains("malformed JSON"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_row_over_the_row_limit_is_marked_and_never_parsed() {
        let big: &'static str =
            Box::leak(format!(r#"{{"notes":"{}"}}"#, "x".repeat(BODY_LIMIT)).into_boxed_str());
        let body = chunked(vec![r#"{"customers":["#, big, r#",{"ok":1}]}"#]);
        let (texts, error) = read_all(rows(body, 4 * BODY_LIMIT).expect("read")).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(texts, vec!["<too large>", r#"{"ok":1}"#]);
    }
}
