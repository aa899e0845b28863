//! Hostile clients of /graphql/ws: oversize messages, sockets that never
//! authenticate, operations before `connection_init`, tokens that expire
//! while their socket is open, too many sockets per token, and bursts of
//! operations. Each refusal is the protocol's close code or an `error`
//! message with the contract's code, and what a well-behaved client does on
//! the same server keeps working.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use clientela::auth::Role;
use futures::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::ws::{
    authenticated as open, closing, connect as open_raw, init_with, next, send, subscribe, Seen,
    Socket, LEGACY, TRANSPORT_WS,
};
use crate::helpers::{Backend, TestApp};

/// A socket of `protocol` to `app` that `token` opened and the server acknowledged.
async fn authenticated(app: &TestApp, protocol: &str, token: &str) -> Socket {
    open(&app.url(""), protocol, token).await
}

/// A socket of `protocol` to `app`, not yet initialised.
async fn connect(app: &TestApp, protocol: &str) -> Socket {
    open_raw(&app.url(""), protocol).await
}

const CUSTOMER_CHANGED: &str = "subscription { customerChanged { kind customer { firstName } } }";

/// Runs `{ __typename }` as operation `id` and asserts it answers.
async fn assert_answers(socket: &mut Socket, id: &str) {
    send(socket, subscribe(id, "{ __typename }")).await;
    let answer = next(socket, Duration::from_secs(5)).await.message();
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["id"], id);
    assert_eq!(answer["payload"]["data"]["__typename"], "Query", "{answer}");
}

async fn sqlite_with(change: impl FnOnce(&mut clientela::config::Config)) -> TestApp {
    TestApp::with_config(Backend::Sqlite, change)
        .await
        .expect("sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_init_over_the_message_cap_is_refused_while_a_normal_one_is_acked() {
    let app = sqlite_with(|_| {}).await;
    let token = app.admin();
    let mut big = connect(&app, TRANSPORT_WS).await;
    let mut init = init_with(&token);
    init["payload"]["padding"] = "x".repeat(2 * 1024 * 1024).into();
    // The server may hang up while the message is still on its way.
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        big.send(Message::text(init.to_string())),
    )
    .await;
    match next(&mut big, Duration::from_secs(5)).await {
        Seen::Closed(code, _) => assert!(
            matches!(code, None | Some(1009)),
            "closed as too big (or reset): {code:?}"
        ),
        other => panic!("a 2 MiB connection_init is never acknowledged: {other:?}"),
    }

    // The cap is on size, not on the client: the same token inits normally.
    let mut normal = authenticated(&app, TRANSPORT_WS, &token).await;
    assert_answers(&mut normal, "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_initialises_is_closed_4408_at_the_init_timeout() {
    let app = sqlite_with(|c| c.limits.ws_init_timeout_secs = 1).await;
    let started = Instant::now();
    let mut silent = connect(&app, TRANSPORT_WS).await;
    let seen = next(&mut silent, Duration::from_secs(4)).await;
    let waited = started.elapsed();
    assert_eq!(seen.close_code(), Some(4408), "{seen:?}");
    assert!(
        matches!(&seen, Seen::Closed(_, reason) if reason == "Connection initialisation timeout")
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "closed after {waited:?}, the timeout is 1 s"
    );
    // A client that does init in time is served.
    let mut prompt = authenticated(&app, TRANSPORT_WS, &app.admin()).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_answers(&mut prompt, "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_before_connection_init_closes_4401_without_running() {
    let app = sqlite_with(|_| {}).await;
    let mut eager = connect(&app, TRANSPORT_WS).await;
    send(&mut eager, subscribe("1", "{ __typename }")).await;
    let seen = next(&mut eager, Duration::from_secs(5)).await;
    assert_eq!(seen.close_code(), Some(4401), "{seen:?}");

    // Even a ping: nothing but connection_init comes first.
    let mut pinger = connect(&app, TRANSPORT_WS).await;
    send(&mut pinger, json!({ "type": "ping" })).await;
    let seen = next(&mut pinger, Duration::from_secs(5)).await;
    assert_eq!(seen.close_code(), Some(4401), "{seen:?}");

    // The legacy protocol: told why, then closed the same way.
    let mut legacy = connect(&app, LEGACY).await;
    send(
        &mut legacy,
        json!({ "id": "1", "type": "start", "payload": { "query": "{ __typename }" } }),
    )
    .await;
    let error = next(&mut legacy, Duration::from_secs(5)).await.message();
    assert_eq!(error["type"], "connection_error", "{error}");
    let seen = next(&mut legacy, Duration::from_secs(5)).await;
    assert_eq!(seen.close_code(), Some(4401), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_or_missing_token_closes_4401_saying_why() {
    let app = sqlite_with(|_| {}).await;
    for (payload, why) in [
        (
            json!({ "Authorization": "Bearer not-a-token" }),
            "token is invalid",
        ),
        (json!({ "token": "not-a-token" }), "token is invalid"),
        (json!({}), "missing bearer token"),
        (
            json!({ "Authorization": "Basic abc" }),
            "malformed Authorization header",
        ),
    ] {
        let mut socket = connect(&app, TRANSPORT_WS).await;
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        match next(&mut socket, Duration::from_secs(5)).await {
            Seen::Closed(Some(4401), reason) => assert_eq!(reason, why, "{payload}"),
            other => panic!("{payload}: expected a 4401 close, got {other:?}"),
        }
    }
    // `{"token": ...}` is as good as the header when the token is valid.
    let mut socket = connect(&app, TRANSPORT_WS).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "token": app.admin() } }),
    )
    .await;
    let ack = next(&mut socket, Duration::from_secs(5)).await.message();
    assert_eq!(ack["type"], "connection_ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_closed_4401_when_its_token_expires() {
    let app = sqlite_with(|_| {}).await;
    let token = app.token_for(Role::Admin, "default", Duration::from_secs(3));
    let (_, expires) = app.keys.verify_until(&token).expect("valid");
    let mut socket = authenticated(&app, TRANSPORT_WS, &token).await;
    // Until exp the socket serves its caller: a live subscription, and a
    // query that answers as the token's caller.
    send(&mut socket, subscribe("1", CUSTOMER_CHANGED)).await;
    send(
        &mut socket,
        subscribe("2", "{ me { agentId role tenant } }"),
    )
    .await;
    let me = next(&mut socket, Duration::from_secs(2)).await.message();
    assert_eq!(
        me["payload"]["data"]["me"],
        json!({ "agentId": "admin-agent", "role": "ADMIN", "tenant": "default" }),
        "{me}"
    );
    assert!(SystemTime::now() < expires, "answered before exp");

    let left = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    // (`closing` skips the query's `complete`.)
    let seen = closing(&mut socket, left + Duration::from_millis(1500)).await;
    let closed_at = SystemTime::now();
    match seen {
        Seen::Closed(Some(4401), reason) => assert_eq!(reason, "token has expired"),
        other => panic!("expected 4401 by exp + 1.5 s, got {other:?}"),
    }
    assert!(
        closed_at + Duration::from_millis(100) >= expires,
        "closed at exp, not before"
    );

    // The server's 30 s leeway for HTTP does not let the token open a socket.
    let mut again = connect(&app, TRANSPORT_WS).await;
    send(&mut again, init_with(&token)).await;
    match next(&mut again, Duration::from_secs(5)).await {
        Seen::Closed(Some(4401), reason) => assert_eq!(reason, "token has expired"),
        other => panic!("an expired token opens no socket: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_over_the_per_token_cap_is_closed_4429_and_a_freed_slot_is_reused() {
    const CAP: usize = 3;
    let app = sqlite_with(|c| c.limits.ws_max_per_token = CAP).await;
    let token = app.admin();
    let mut open = Vec::new();
    for _ in 0..CAP {
        open.push(authenticated(&app, TRANSPORT_WS, &token).await);
    }
    // Another token of the same agent is the same (tenant, sub).
    let same_agent = app.token(Role::Admin, "default");
    let mut over = connect(&app, TRANSPORT_WS).await;
    send(&mut over, init_with(&same_agent)).await;
    match next(&mut over, Duration::from_secs(5)).await {
        Seen::Closed(Some(4429), reason) => {
            assert_eq!(reason, "too many connections for this token")
        }
        other => panic!("the socket over the cap is closed 4429: {other:?}"),
    }
    // Other tokens are not affected, and the open sockets keep working.
    let mut viewer = authenticated(&app, TRANSPORT_WS, &app.token(Role::Viewer, "default")).await;
    assert_answers(&mut viewer, "1").await;
    let mut elsewhere = authenticated(&app, TRANSPORT_WS, &app.token(Role::Admin, "other")).await;
    assert_answers(&mut elsewhere, "1").await;
    for socket in &mut open {
        assert_answers(socket, "1").await;
    }

    // A socket that ends gives its slot back.
    let mut first = open.remove(0);
    first.close(None).await.expect("close");
    let _ = closing(&mut first, Duration::from_secs(2)).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut socket = connect(&app, TRANSPORT_WS).await;
        send(&mut socket, init_with(&token)).await;
        match next(&mut socket, Duration::from_secs(5)).await {
            Seen::Message(ack) if ack["type"] == "connection_ack" => break,
            Seen::Closed(Some(4429), _) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("the freed slot is taken again: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_operations_over_the_rate_limit_is_refused_one_by_one_and_the_socket_lives_on() {
    // 2 a second in bursts of 4.
    let app = sqlite_with(|c| c.limits.rate_limit = 2).await;
    let mut socket = authenticated(&app, TRANSPORT_WS, &app.admin()).await;
    const BURST: usize = 10;
    let started = Instant::now();
    for id in 1..=BURST {
        send(&mut socket, subscribe(&id.to_string(), "{ __typename }")).await;
    }
    // Each operation ends in a `complete` (it ran) or an `error` (refused).
    let mut ends: HashMap<String, Value> = HashMap::new();
    let mut answered = 0;
    while ends.len() < BURST {
        let message = next(&mut socket, Duration::from_secs(5)).await.message();
        let id = message["id"].as_str().expect("an id").to_owned();
        match message["type"].as_str() {
            Some("next") => {
                assert_eq!(message["payload"]["data"]["__typename"], "Query");
                answered += 1;
            }
            Some("complete" | "error") => {
                assert!(ends.insert(id, message).is_none(), "one end per operation");
            }
            _ => panic!("unexpected {message}"),
        }
    }
    let elapsed = started.elapsed();
    let refused: Vec<&Value> = ends.values().filter(|m| m["type"] == "error").collect();
    for error in &refused {
        let payload = &error["payload"];
        assert_eq!(payload[0]["extensions"]["code"], "RATE_LIMITED", "{error}");
        assert!(
            payload[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("too many requests")),
            "{error}"
        );
    }
    // The burst passes, then what refilled meanwhile; every refused
    // operation is one that did not run.
    let refilled = (elapsed.as_secs_f64() * 2.0).ceil() as usize;
    assert!(
        (4..=4 + refilled).contains(&answered),
        "{answered} ran in {elapsed:?}"
    );
    assert_eq!(answered + refused.len(), BURST);

    // Once the bucket refills, the same socket runs operations again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_answers(&mut socket, "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_over_the_cap_of_running_operations_per_socket_is_refused() {
    let cap = clientela::graphql::MAX_OPERATIONS_PER_SOCKET;
    let app = sqlite_with(|c| c.limits.rate_limit = 1000).await;
    let mut socket = authenticated(&app, TRANSPORT_WS, &app.admin()).await;
    for id in 1..=cap {
        send(&mut socket, subscribe(&id.to_string(), CUSTOMER_CHANGED)).await;
    }
    send(&mut socket, subscribe("over", CUSTOMER_CHANGED)).await;
    let error = next(&mut socket, Duration::from_secs(5)).await.message();
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "over");
    assert_eq!(error["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    let message = error["payload"][0]["message"].as_str().expect("message");
    assert!(message.contains(&format!("at most {cap}")), "{message}");

    // Completing one frees its place.
    send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
    let completed = next(&mut socket, Duration::from_secs(5)).await.message();
    assert_eq!(
        (&completed["type"], &completed["id"]),
        (&json!("complete"), &json!("1"))
    );
    assert_answers(&mut socket, "again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_neither_protocol_closes_4400() {
    let app = sqlite_with(|_| {}).await;
    for garbage in [
        "not json",
        r#"{"id": "1"}"#,
        r#"{"type": "subscribe", "id": 1, "payload": {"query": "{ __typename }"}}"#,
        r#"{"type": "subscribe", "type": "subscribe", "id": "1", "payload": {"query": "{ __typename }"}}"#,
    ] {
        let mut socket = authenticated(&app, TRANSPORT_WS, &app.admin()).await;
        socket.send(Message::text(garbage)).await.expect("send");
        let seen = next(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(seen.close_code(), Some(4400), "{garbage}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_protocol_is_served_and_rate_limited_the_same_way() {
    let app = sqlite_with(|c| c.limits.rate_limit = 1).await;
    let mut socket = authenticated(&app, LEGACY, &app.admin()).await;
    // A burst of 2: two run, the third is refused.
    for id in ["1", "2", "3"] {
        send(
            &mut socket,
            json!({ "id": id, "type": "start", "payload": { "query": "{ __typename }" } }),
        )
        .await;
    }
    let mut data = 0;
    let mut refused = Vec::new();
    while data + refused.len() < 3 {
        let message = next(&mut socket, Duration::from_secs(5)).await.message();
        match message["type"].as_str() {
            Some("data") => {
                assert_eq!(message["payload"]["data"]["__typename"], "Query");
                data += 1;
            }
            Some("error") => refused.push(message),
            Some("complete") => {}
            _ => panic!("unexpected {message}"),
        }
    }
    assert_eq!(data, 2);
    assert_eq!(refused[0]["id"], "3");
    assert_eq!(
        refused[0]["payload"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );
}
