//! Graceful shutdown of the real binary: SIGTERM stops accepting, lets a
//! streaming export finish, closes WebSockets with 1001 and exits 0; a
//! second signal exits at once.

use std::time::Duration;

use clientela::auth::Role;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::ws::{self, authenticated, subscribe, Socket, TRANSPORT_WS};
use crate::helpers::{server_process, TestApp};
use crate::hostile_export::seed_large_export;

/// A graphql-ws socket to `base`, initialised with `token` and subscribed.
async fn subscribed_socket(base: &str, token: &str) -> Socket {
    let mut socket = authenticated(base, TRANSPORT_WS, token).await;
    let query = "subscription { customerChanged { kind } }";
    ws::send(&mut socket, subscribe("1", query)).await;
    socket
}

async fn sigterm_lets_an_export_finish_closes_sockets_1001_and_exits_0(app: TestApp) {
    seed_large_export(&app).await;
    let (mut server, base) = server_process(&app.url, &[("CLIENTELA_RATE_LIMIT", "0")]);
    let token = app.token(Role::Admin, "default");
    let mut socket = subscribed_socket(&base, &token).await;
    let client = reqwest::Client::new();
    let mut export = client
        .get(format!("{base}/api/v2/customers/export?format=json"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    let mut body = export
        .chunk()
        .await
        .expect("a chunk")
        .expect("not the end")
        .to_vec();

    server.terminate();

    // The socket is told the server is going away.
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed, Some(1001));
    // The download in flight runs to its end, whole.
    while let Some(chunk) = export.chunk().await.expect("the rest of the export") {
        body.extend_from_slice(&chunk);
    }
    let document: Value = serde_json::from_slice(&body).expect("a complete JSON export");
    let rows = document["customers"].as_array().map_or(0, Vec::len) as u64;
    assert_eq!(Some(rows), document["total"].as_u64());
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits once the export is done");
    assert!(status.success(), "{status:?}");
}

async fn a_second_signal_exits_at_once(app: TestApp) {
    seed_large_export(&app).await;
    let (mut server, base) = server_process(&app.url, &[("CLIENTELA_SHUTDOWN_GRACE", "60")]);
    let addr = base.trim_start_matches("http://").to_owned();
    let token = app.token(Role::Admin, "default");
    // A download that reads nothing keeps the first signal waiting.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut stalled = socket
        .connect(addr.parse().expect("address"))
        .await
        .expect("connect");
    let request = format!(
        "GET /api/v2/customers/export?format=json HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stalled
        .write_all(request.as_bytes())
        .await
        .expect("request");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();
    assert!(
        server.wait_exit(Duration::from_secs(1)).is_none(),
        "the first signal waits for the open download"
    );
    server.terminate();
    let status = server
        .wait_exit(Duration::from_secs(3))
        .expect("the second signal exits at once");
    assert!(!status.success(), "cut short: {status:?}");
}

crate::db_tests!(
    sigterm_lets_an_export_finish_closes_sockets_1001_and_exits_0,
    a_second_signal_exits_at_once,
);
