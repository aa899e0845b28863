//! GraphQL over WebSocket at `/graphql/ws`: the loop that stands between the
//! network and async-graphql's protocol engine, for both subprotocols
//! (`graphql-transport-ws`, which GraphiQL and Apollo's graphql-ws link
//! speak, and the legacy `graphql-ws` of subscriptions-transport-ws).
//!
//! The engine (`async_graphql::http::WebSocket`) speaks the protocols; this
//! module owns what the engine does not: the message size cap, the deadline
//! for `connection_init`, the token check before anything else of a message
//! is parsed, the token's expiry, open sockets per token, and rate limits on
//! operations. Only messages vetted here reach the engine.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use async_graphql::http::{WebSocketProtocols as Protocol, WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::ErrorExtensions;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::time::Instant;

use super::{loaders, Caller, Endpoint};
use crate::auth::Actor;
use crate::error::Error;
use crate::http::AppState;

/// Most operations (subscriptions, or queries sent over the socket) one
/// socket may run at once; more are answered with an error, not run.
pub const MAX_OPERATIONS_PER_SOCKET: usize = 100;

/// How long a closing socket waits for the client's close frame, so the
/// close code is not lost to a connection reset.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Longest single wait for a token's expiry; the wall clock is checked again
/// after it (it may have been set since the wait began).
const EXPIRY_RECHECK: Duration = Duration::from_secs(3600);

/// Vetted messages waiting for the engine; while it is full, the socket is
/// not read (the client waits, not the server's memory).
const INBOX: usize = 16;

/// What the engine is told once the token has been checked here: the client's
/// own `connection_init` (and its token) never reaches it.
const CONNECTION_INIT: &str = r#"{"type":"connection_init"}"#;

/// graphql-ws close codes (the legacy protocol gets the same).
mod close {
    /// The client named no valid token, sent something other than
    /// `connection_init` first, or its token expired.
    pub const UNAUTHORIZED: u16 = 4401;
    /// No `connection_init` within `CLIENTELA_WS_INIT_TIMEOUT`.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// A message that is not JSON with a string `type` (and a string `id`
    /// where it has one).
    pub const INVALID_MESSAGE: u16 = 4400;
    /// A second operation under an id that is still running.
    pub const DUPLICATE_ID: u16 = 4409;
    /// More sockets than `CLIENTELA_WS_MAX_PER_TOKEN` for one token.
    pub const TOO_MANY: u16 = 4429;
    /// RFC 6455: a message over `CLIENTELA_WS_MAX_MESSAGE`.
    pub const TOO_BIG: u16 = 1009;
    /// RFC 6455: a frame the WebSocket protocol does not allow.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// RFC 6455: a text message that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// RFC 6455: done.
    pub const NORMAL: u16 = 1000;
    /// RFC 6455: the server is going away (shutting down).
    pub const GOING_AWAY: u16 = 1001;
}

/// `GET /graphql/ws`: upgrades to a WebSocket whose messages and frames are
/// at most `CLIENTELA_WS_MAX_MESSAGE` bytes. The client must offer one of
/// the two GraphQL subprotocols.
pub(super) async fn handler(
    State(state): State<AppState>,
    State(endpoint): State<Endpoint>,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let upgrade = upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(state.limits.ws_max_message)
        .max_frame_size(state.limits.ws_max_message);
    let protocol = upgrade
        .selected_protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(|p| p.parse::<Protocol>().ok());
    let Some(protocol) = protocol else {
        return super::error_response(
            &Error::invalid(
                "Sec-WebSocket-Protocol",
                "must offer graphql-transport-ws or graphql-ws",
            ),
            &headers,
        );
    };
    upgrade.on_upgrade(move |socket| serve(socket, state, endpoint, protocol))
}

/// How a socket ends.
enum Ending {
    /// With a close frame: its code and reason.
    Close(u16, Cow<'static, str>),
    /// Without one: the client closed the socket, or it broke.
    Gone,
}

impl Ending {
    fn close(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Ending::Close(code, reason.into())
    }

    /// The end of a socket whose read failed: a message over the cap or a
    /// frame against the protocol is told so; a broken connection is gone.
    fn read_failed(error: &axum::Error) -> Self {
        use tungstenite::Error as Ws;
        match std::error::Error::source(error).and_then(|e| e.downcast_ref::<Ws>()) {
            Some(Ws::Capacity(_)) => Ending::close(close::TOO_BIG, "message too big"),
            Some(Ws::Protocol(_)) => Ending::close(close::PROTOCOL_ERROR, "protocol error"),
            Some(Ws::Utf8(_)) => Ending::close(close::INVALID_DATA, "text is not UTF-8"),
            _ => Ending::Gone,
        }
    }
}

/// One socket, from upgrade to close.
async fn serve(socket: WebSocket, state: AppState, endpoint: Endpoint, protocol: Protocol) {
    metrics::gauge!("websocket_connections").increment(1.0);
    let (mut sink, mut stream) = socket.split();
    let init_timeout = state.limits.ws_init_timeout();
    let authenticated =
        match tokio::time::timeout(init_timeout, authenticate(&mut stream, &state)).await {
            Ok(result) => result,
            Err(_) => Err(Ending::close(
                close::INIT_TIMEOUT,
                "Connection initialisation timeout",
            )),
        };
    let ending = match authenticated {
        Err(ending) => ending,
        Ok((actor, expires)) => {
            let owner = (actor.tenant.clone(), actor.agent.clone());
            match state.open_sockets.take(owner) {
                None => Ending::close(close::TOO_MANY, "too many connections for this token"),
                // The slot is held until the session ends, and freed however it ends.
                Some(_slot) => {
                    let session = Session {
                        state: &state,
                        endpoint,
                        actor,
                        expires,
                        protocol,
                        live: HashSet::new(),
                        running: 0,
                    };
                    session.run(&mut sink, &mut stream).await
                }
            }
        }
    };
    finish(sink, stream, protocol, ending).await;
    metrics::gauge!("websocket_connections").decrement(1.0);
}

/// Reads up to the first message and checks it is a `connection_init`
/// carrying a valid, unexpired token: the caller and when its token expires,
/// or how the socket ends.
async fn authenticate(
    stream: &mut SplitStream<WebSocket>,
    state: &AppState,
) -> Result<(Actor, SystemTime), Ending> {
    loop {
        let message = match stream.next().await {
            None | Some(Ok(Message::Close(_))) => return Err(Ending::Gone),
            Some(Err(e)) => return Err(Ending::read_failed(&e)),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(message)) => message.into_data(),
        };
        return check_init(&message, state).map_err(|why| Ending::close(close::UNAUTHORIZED, why));
    }
}

/// A client's first message as far as it is read before its token is
/// checked: its type and the credentials in its payload. Everything else in
/// it is skipped over, never built.
#[derive(Deserialize)]
struct InitMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    payload: Option<Credentials<'a>>,
}

/// The credentials of a `connection_init`: `{"Authorization": "Bearer
/// <jwt>"}` (what GraphiQL and Apollo's graphql-ws link send) or
/// `{"token": "<jwt>"}`.
#[derive(Deserialize)]
struct Credentials<'a> {
    #[serde(rename = "Authorization", alias = "authorization", default, borrow)]
    authorization: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    token: Option<Cow<'a, str>>,
}

/// The caller of a first message and when its token expires, or why the
/// socket is refused.
fn check_init(message: &[u8], state: &AppState) -> Result<(Actor, SystemTime), Cow<'static, str>> {
    let init: InitMessage<'_> =
        serde_json::from_slice(message).map_err(|_| Cow::Borrowed("Unauthorized"))?;
    if init.kind != "connection_init" {
        return Err(Cow::Borrowed("Unauthorized"));
    }
    let unauthenticated = |e: Error| match e {
        Error::Unauthenticated(why) => Cow::Borrowed(why),
        _ => Cow::Borrowed("Unauthorized"),
    };
    let credentials = init.payload.unwrap_or(Credentials {
        authorization: None,
        token: None,
    });
    let token = match (&credentials.authorization, &credentials.token) {
        (Some(header), _) => crate::http::bearer(header).map_err(unauthenticated)?,
        (None, Some(token)) => token.as_ref(),
        (None, None) => return Err(Cow::Borrowed("missing bearer token")),
    };
    let (actor, expires) = state.keys.verify_until(token).map_err(unauthenticated)?;
    // `verify` allows a leeway past `exp` for clock skew; a socket gets none.
    if expires <= SystemTime::now() {
        return Err(Cow::Borrowed("token has expired"));
    }
    Ok((actor, expires))
}

/// What a vetted message's envelope says: its type and the operation id.
/// The payload is skipped over; the engine reads it.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
}

/// An authenticated socket.
struct Session<'s> {
    state: &'s AppState,
    endpoint: Endpoint,
    actor: Actor,
    expires: SystemTime,
    protocol: Protocol,
    /// Ids of operations the engine has been given and not completed.
    live: HashSet<String>,
    /// Operations given to the engine minus completions it sent: each
    /// operation it runs completes exactly once, so this never undercounts.
    running: usize,
}

/// What becomes of a message from an authenticated client.
enum Verdict {
    /// The engine gets it.
    Forward(Bytes),
    /// The operation `id` is answered with an `error` message and not run.
    Refuse(String, Refusal),
    /// The socket ends.
    End(Ending),
}

/// Why an operation is not run.
enum Refusal {
    /// The caller's rate-limit bucket is empty.
    RateLimited(Error),
    /// The socket already runs [`MAX_OPERATIONS_PER_SOCKET`] operations.
    TooManyOperations,
}

impl Session<'_> {
    /// Runs the socket until it ends; says how.
    async fn run(
        mut self,
        sink: &mut SplitSink<WebSocket, Message>,
        stream: &mut SplitStream<WebSocket>,
    ) -> Ending {
        let (inbox, mut engine_input) = tokio::sync::mpsc::channel::<Bytes>(INBOX);
        let input = futures::stream::poll_fn(move |cx| engine_input.poll_recv(cx));
        let mut data = async_graphql::Data::default();
        data.insert(loaders::Loaders::new(
            self.state.ctx.clone(),
            self.actor.clone(),
        ));
        data.insert(Caller(self.actor.clone()));
        let engine =
            async_graphql::http::WebSocket::new(self.endpoint.clone(), input, self.protocol)
                .on_connection_init(move |_| async move { Ok(data) });
        futures::pin_mut!(engine);
        // The engine answers this with `connection_ack`.
        if inbox
            .try_send(Bytes::from_static(CONNECTION_INIT.as_bytes()))
            .is_err()
        {
            return Ending::Gone;
        }
        let expiry = tokio::time::sleep(self.until_expiry());
        futures::pin_mut!(expiry);
        let shutdown = self.state.shutdown.clone();
        let stopping = shutdown.begun();
        futures::pin_mut!(stopping);
        loop {
            tokio::select! {
                () = &mut stopping => return Ending::close(close::GOING_AWAY, "server is shutting down"),
                outgoing = engine.next() => match outgoing {
                    Some(WsMessage::Text(text)) => {
                        self.note_completion(&text);
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            return Ending::Gone;
                        }
                    }
                    Some(WsMessage::Close(code, reason)) => return Ending::close(code, reason),
                    // The legacy protocol's `connection_terminate`.
                    None => return Ending::close(close::NORMAL, ""),
                },
                incoming = stream.next(), if inbox.capacity() > 0 => {
                    let message = match incoming {
                        None | Some(Ok(Message::Close(_))) => return Ending::Gone,
                        Some(Err(e)) => return Ending::read_failed(&e),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(message)) => message.into_data(),
                    };
                    match self.vet(message) {
                        Verdict::Forward(message) => {
                            if inbox.try_send(message).is_err() {
                                return Ending::Gone;
                            }
                        }
                        Verdict::Refuse(id, why) => {
                            let text = error_message(&id, why);
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                return Ending::Gone;
                            }
                        }
                        Verdict::End(ending) => return ending,
                    }
                },
                () = &mut expiry => {
                    if self.until_expiry().is_zero() {
                        return Ending::close(close::UNAUTHORIZED, "token has expired");
                    }
                    // Woken early (a long token, or the clock was set): wait on.
                    expiry.as_mut().reset(Instant::now() + self.until_expiry());
                }
            }
        }
    }

    /// Time left until the token expires, at most [`EXPIRY_RECHECK`].
    fn until_expiry(&self) -> Duration {
        self.expires
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(EXPIRY_RECHECK)
    }

    /// Decides what becomes of a client's message: operations are counted
    /// and rate limited here; everything else goes to the engine as it came.
    fn vet(&mut self, message: Bytes) -> Verdict {
        let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(&message) else {
            // Not a message of either protocol. It is not passed on: what
            // the engine might read differently (an operation) would then
            // run uncounted.
            return Verdict::End(Ending::close(close::INVALID_MESSAGE, "Invalid message"));
        };
        match (envelope.kind.as_ref(), envelope.id) {
            ("subscribe" | "start", Some(id)) => {
                if self.live.contains(id.as_ref()) {
                    return Verdict::End(Ending::close(
                        close::DUPLICATE_ID,
                        "Subscriber for this id already exists",
                    ));
                }
                if self.running >= MAX_OPERATIONS_PER_SOCKET {
                    return Verdict::Refuse(id.into_owned(), Refusal::TooManyOperations);
                }
                if let Err(e) = self.state.rate_limiter.check_actor(&self.actor) {
                    return Verdict::Refuse(id.into_owned(), Refusal::RateLimited(e));
                }
                self.live.insert(id.into_owned());
                self.running += 1;
                metrics::gauge!("graphql_operations_running", "transport" => "websocket")
                    .increment(1.0);
                Verdict::Forward(message)
            }
            ("complete" | "stop", Some(id)) => {
                self.live.remove(id.as_ref());
                Verdict::Forward(message)
            }
            // A second init: the engine refuses it (4429 or connection_error),
            // without the payload it does not need.
            ("connection_init", _) => {
                Verdict::Forward(Bytes::from_static(CONNECTION_INIT.as_bytes()))
            }
            _ => Verdict::Forward(message),
        }
    }

    /// Counts an operation the engine reports complete. Its messages are
    /// serialized with `type` first, so only a `complete` (a few bytes) is
    /// ever parsed here, never a result. (The engine reports an operation
    /// the client completed too; the per-socket cap's test relies on it.)
    fn note_completion(&mut self, text: &str) {
        if !text.starts_with(r#"{"type":"complete""#) {
            return;
        }
        if let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str(text) {
            self.live.remove(id.as_ref());
            if self.running > 0 {
                self.running -= 1;
                metrics::gauge!("graphql_operations_running", "transport" => "websocket")
                    .decrement(1.0);
            }
        }
    }
}

impl Drop for Session<'_> {
    /// Operations still running when the socket ends end with it.
    fn drop(&mut self) {
        metrics::gauge!("graphql_operations_running", "transport" => "websocket")
            .decrement(self.running as f64);
    }
}

/// An `error` message refusing operation `id`, with the contract's codes:
/// `{"id", "type": "error", "payload": [{"message", "extensions": {"code"}}]}`
/// (the legacy protocol's client reads the same list). A socket has no
/// `Retry-After` header, so the wait goes in `extensions.retryAfter`.
fn error_message(id: &str, why: Refusal) -> String {
    let (error, message, retry_after) = match why {
        Refusal::RateLimited(error) => {
            let retry_after = error.retry_after();
            (error, None, retry_after)
        }
        // Completing an operation frees a place, not waiting.
        Refusal::TooManyOperations => (
            Error::RateLimited {
                what: "too many operations running on this connection",
                retry_after: 1,
            },
            Some(format!(
                "at most {MAX_OPERATIONS_PER_SOCKET} operations may run at once on one connection; complete one first"
            )),
            None,
        ),
    };
    let mut payload = super::graphql_error(&error, message);
    if let Some(seconds) = retry_after {
        payload = payload.extend_with(|_, ext| ext.set("retryAfter", seconds));
    }
    serde_json::json!({ "id": id, "type": "error", "payload": [payload] }).to_string()
}

/// Ends a socket as `ending` says. A legacy client is first told why in a
/// `connection_error` while it is not yet acknowledged, as it expects.
async fn finish(
    mut sink: SplitSink<WebSocket, Message>,
    mut stream: SplitStream<WebSocket>,
    protocol: Protocol,
    ending: Ending,
) {
    let Ending::Close(code, reason) = ending else {
        return;
    };
    let before_ack = matches!(
        code,
        close::UNAUTHORIZED | close::INIT_TIMEOUT | close::TOO_MANY
    );
    if protocol == Protocol::SubscriptionsTransportWS && before_ack {
        let error =
            serde_json::json!({ "type": "connection_error", "payload": { "message": reason } });
        let _ = sink.send(Message::Text(error.to_string().into())).await;
    }
    let frame = CloseFrame {
        code,
        reason: close_reason(reason),
    };
    if sink.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    // Read on until the client's close frame (or a short while): closing the
    // connection with its data unread would reset it, and the client could
    // lose the close frame and its code.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

/// A close reason within the 123 bytes a close frame has room for.
fn close_reason(reason: Cow<'static, str>) -> Utf8Bytes {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason.into_owned().into();
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let long = "é".repeat(100);
        let reason = close_reason(Cow::Owned(long));
        assert!(reason.len() <= 123);
        assert_eq!(
            close_reason(Cow::Borrowed("token has expired")).as_str(),
            "token has expired"
        );
    }
}
