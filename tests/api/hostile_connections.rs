//! Hostile connections: request heads trickled a byte at a time, idle
//! keep-alive sockets and floods of connections from one address are cut
//! off, and never stop anyone else from being served.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use clientela::auth::Role;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp};

/// Another loopback address, so a client there is another client.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A server whose clients get 2 s for a request head.
async fn strict(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, |c| c.limits.header_read_timeout_secs = 2).await
}

/// Whether the server has closed `socket` (EOF or reset) within `wait`.
async fn closed_within(socket: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn trickled_heads_are_cut_off_and_others_are_served_meanwhile(app: TestApp) {
    // A thousand clients start a request head and then send a byte a second.
    let mut trickling = Vec::new();
    for _ in 0..1000 {
        let Ok(mut socket) = TcpStream::connect(app.addr).await else {
            continue;
        };
        if socket.write_all(b"GET /api/v2/cus").await.is_ok() {
            trickling.push(socket);
        }
    }
    let drip = async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(700)).await;
            for socket in &mut trickling {
                let _ = socket.write_all(b"t").await;
            }
        }
    };
    let served = async {
        let client = reqwest::Client::builder()
            .local_address(ELSEWHERE)
            .build()
            .expect("client");
        let token = app.token(Role::Agent, "default");
        let started = Instant::now();
        let resp = client
            .get(app.url("/api/v2/customers"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        (resp.status(), started.elapsed())
    };
    let ((), (status, took)) = tokio::join!(drip, served);
    assert_eq!(status, StatusCode::OK);
    assert!(took < Duration::from_secs(1), "served in {took:?}");
    // Two seconds for a head: every trickling socket is closed by now or soon.
    let mut open = 0;
    for socket in &mut trickling {
        if !closed_within(socket, Duration::from_secs(2)).await {
            open += 1;
        }
    }
    assert_eq!(open, 0, "trickling connections still open");
}

async fn an_idle_keep_alive_connection_is_closed_after_the_head_timeout(app: TestApp) {
    let mut socket = TcpStream::connect(app.addr).await.expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", app.addr);
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut buf = [0u8; 1024];
    let n = socket.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    assert!(closed_within(&mut socket, Duration::from_secs(5)).await);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "kept alive a while first"
    );
}

async fn connections_over_the_per_address_cap_are_refused_and_others_still_connect(app: TestApp) {
    // The cap is 8 per address here (see the config below).
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(app.addr).await.expect("connect"));
    }
    // Let the server admit them before the next arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ninth = TcpStream::connect(app.addr).await.expect("connect");
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), ninth.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 1"), "{answer}");
    assert!(
        answer.contains("\"code\":\"SERVICE_UNAVAILABLE\""),
        "{answer}"
    );
    // Another address is admitted and served.
    let client = reqwest::Client::builder()
        .local_address(ELSEWHERE)
        .build()
        .expect("client");
    assert_eq!(app.health_with(&client).await, StatusCode::OK);
    // Closing one of ours frees a slot for this address again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.health().await, StatusCode::OK);
}

/// A server admitting 8 connections per address.
async fn capped(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, |c| c.limits.max_connections_per_ip = 8).await
}

mod timeouts {
    use super::*;
    crate::db_tests!(with strict =>
        trickled_heads_are_cut_off_and_others_are_served_meanwhile,
        an_idle_keep_alive_connection_is_closed_after_the_head_timeout,
    );
}

mod caps {
    use super::*;
    crate::db_tests!(with capped =>
        connections_over_the_per_address_cap_are_refused_and_others_still_connect,
    );
}
