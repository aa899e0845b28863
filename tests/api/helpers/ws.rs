//! A GraphQL-over-WebSocket client (`/graphql/ws`, both subprotocols): what
//! a client sees next on its socket, and the protocol messages it sends.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A client socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The graphql-ws subprotocol (GraphiQL, Apollo's graphql-ws link).
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy subprotocol of subscriptions-transport-ws.
pub const LEGACY: &str = "graphql-ws";

/// What a client sees next on its socket.
#[derive(Debug)]
pub enum Seen {
    /// A protocol message (pings are answered and skipped).
    Message(Value),
    /// A close frame with its code and reason, or `None` when the
    /// connection ended without one.
    Closed(Option<u16>, String),
    /// Nothing within the wait.
    Silence,
}

impl Seen {
    /// The message seen; panics on anything else.
    #[track_caller]
    pub fn message(self) -> Value {
        match self {
            Seen::Message(message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The close code, when the socket was closed with one.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Seen::Closed(code, _) => *code,
            _ => None,
        }
    }
}

/// Opens `/graphql/ws` of the server at `base` (`http://host:port`) with `protocol`.
pub async fn connect(base: &str, protocol: &str) -> Socket {
    let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    socket
}

/// Sends a protocol message.
pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next thing the socket shows within `within` (pings answered and skipped).
pub async fn next(socket: &mut Socket, within: Duration) -> Seen {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let message = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Seen::Silence,
            Ok(None | Some(Err(_))) => return Seen::Closed(None, String::new()),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).expect("json message");
                if value["type"] == "ping" {
                    send(socket, json!({ "type": "pong" })).await;
                    continue;
                }
                return Seen::Message(value);
            }
            Message::Close(frame) => {
                return match frame {
                    Some(frame) => Seen::Closed(Some(frame.code.into()), frame.reason.to_string()),
                    None => Seen::Closed(None, String::new()),
                }
            }
            _ => continue,
        }
    }
}

/// Reads on to the socket's close frame (skipping messages), or `Silence`.
pub async fn closing(socket: &mut Socket, within: Duration) -> Seen {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match next(socket, deadline - tokio::time::Instant::now()).await {
            Seen::Message(_) => continue,
            other => return other,
        }
    }
}

/// `connection_init` carrying `token` as its Authorization.
pub fn init_with(token: &str) -> Value {
    json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })
}

/// Operation `id` running `query`.
pub fn subscribe(id: &str, query: &str) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": query } })
}

/// A socket of `protocol` to `base` that `token` opened and the server acknowledged.
pub async fn authenticated(base: &str, protocol: &str, token: &str) -> Socket {
    let mut socket = connect(base, protocol).await;
    send(&mut socket, init_with(token)).await;
    let ack = next(&mut socket, Duration::from_secs(5)).await.message();
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}
