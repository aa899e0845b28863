//! Hostile downloads: exports whose client stops reading. While a download
//! is stalled, nothing of the database is held, so every other request of
//! every tenant is answered as usual; a tenant streams at most
//! `max_exports_per_tenant` exports at once (429 beyond); and a client that
//! accepts no bytes for the send timeout is disconnected, freeing its slot.
//!
//! A stalled download is a raw socket with a 4 KiB receive buffer that sends
//! the GET and then reads nothing; the export (over 10 MB) is larger than
//! all that can be buffered on its way (the server's send buffer may grow to
//! 4 MiB, a page of rows here is about 2 MB), so the server cannot finish it.

use std::time::{Duration, Instant};

use clientela::auth::Role;
use clientela::config::Config;
use clientela::service;
use clientela::service::seed::Batch;
use entity::{customer, customer_phone};
use reqwest::{header, Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::TestApp;

const EXPORT: &str = "/api/v2/customers/export";
const CUSTOMERS: &str = "/api/v2/customers";
/// Customers seeded for the stalled tenant, each with long notes.
const SEEDED: usize = 1_200;
/// Characters of each seeded customer's notes (the limit is 10,000).
const NOTES_CHARS: usize = 8_000;
/// Longest a request may take while downloads are stalled.
const NORMAL_LATENCY: Duration = Duration::from_secs(2);

/// A server like `app`'s, on a fresh database of the same kind, with
/// `change` applied to its configuration.
async fn configured(app: TestApp, change: impl FnOnce(&mut Config)) -> TestApp {
    let backend = app.backend;
    drop(app);
    TestApp::with_config(backend, change)
        .await
        .expect("a server on the same kind of database")
}

/// Seeds the `default` tenant with [`SEEDED`] customers, each with long
/// notes, so its JSON export is over 10 MB; returns one customer's id. One
/// is created through the API; the others are copies of its row written
/// straight to the database in one batch (as `clientela seed` writes), which
/// takes a fraction of the time an import would.
pub(crate) async fn seed_large_export(app: &TestApp) -> String {
    let first = app
        .create_customer(json!({ "phoneNumber": "529990000000", "firstName": "Bulk", "notes": "n".repeat(NOTES_CHARS) }))
        .await;
    let id = first["_id"].as_str().expect("an id").to_owned();
    let template = customer::Entity::find_by_id((
        "default".to_owned(),
        id.parse::<uuid::Uuid>().expect("a uuid"),
    ))
    .one(&app.db)
    .await
    .expect("read")
    .expect("the customer just created");
    let mut batch = Batch::default();
    for n in 1..SEEDED {
        let mut c = template.clone();
        c.id = uuid::Uuid::now_v7();
        c.phone_number = format!("52999{:07}", 2_000_000 + n);
        c.search_text = c
            .search_text
            .replace(&template.phone_number, &c.phone_number);
        c.created_at = template.created_at - chrono::Duration::milliseconds(n as i64);
        (c.updated_at, c.last_interaction) = (c.created_at, c.created_at);
        batch.phones.push(customer_phone::Model {
            tenant_id: c.tenant_id.clone(),
            phone: c.phone_number.clone(),
            customer_id: c.id,
        });
        batch.customers.push(c);
    }
    service::seed::write_batch(&app.db, batch)
        .await
        .expect("customers");
    id
}

/// Creates one customer of `tenant`; returns its id.
async fn seed_other_tenant(app: &TestApp, tenant: &str) -> String {
    let (status, body) = app
        .rest_as(&app.token(Role::Admin, tenant))
        .post(
            CUSTOMERS,
            json!({ "phoneNumber": "529981234567", "firstName": "Elsewhere" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["customer"]["_id"].as_str().expect("id").to_owned()
}

/// A download that never reads: a socket with a 4 KiB receive buffer that
/// sends `GET {EXPORT}?format=json` with `token` and then nothing.
async fn stalled_download(app: &TestApp, token: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let mut stream = socket.connect(app.addr).await.expect("connect");
    let request = format!(
        "GET {EXPORT}?format=json HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        app.addr
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    stream
}

/// The start of what the server has sent on `stream` (without consuming
/// it, so the download stays stalled), once anything has arrived.
async fn response_head(stream: &TcpStream) -> String {
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(15), stream.peek(&mut buf))
        .await
        .expect("the server answers the download")
        .expect("peek");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Waits until the server has run no SQL statement for 300 ms: every
/// download has filled its socket's buffers and waits on its client.
async fn wait_until_the_server_stops_reading(app: &TestApp) {
    let started = Instant::now();
    let mut seen = app.statement_count();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = app.statement_count();
        if now == seen {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the downloads never stalled"
        );
        seen = now;
    }
}

/// Starts exports with `token` every `pause` until one is answered 200 (and
/// drops it), each other answer being a 429; fails with `why` when
/// `deadline` passes first.
async fn until_a_slot_is_free(
    app: &TestApp,
    token: &str,
    deadline: Instant,
    pause: Duration,
    why: &str,
) {
    loop {
        let again = start_export(app, token).await;
        if again.status() == StatusCode::OK {
            return;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "{why}");
        drop(again);
        tokio::time::sleep(pause).await;
    }
}

/// `GET {EXPORT}?format=json` as `token`, body not read.
async fn start_export(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::GET, &format!("{EXPORT}?format=json"), token)
        .send()
        .await
        .expect("send")
}

/// Asserts that a request answers 200 within [`NORMAL_LATENCY`].
async fn answers_promptly(app: &TestApp, path: &str, token: &str, what: &str) {
    let started = Instant::now();
    let (status, body) = app.rest_as(token).get(path).await;
    let took = started.elapsed();
    assert_eq!(
        status,
        StatusCode::OK,
        "{what} ({path}) while downloads are stalled, after {took:?}: {body}"
    );
    assert!(
        took < NORMAL_LATENCY,
        "{what} ({path}) took {took:?} while downloads are stalled"
    );
}

async fn stalled_downloads_four_times_the_pool_leave_every_tenant_served(app: TestApp) {
    // TestApp's pool holds 5 connections; the cap lets all 20 downloads run.
    let pool = 5;
    let stalled_count = 4 * pool;
    let app = configured(app, |c| {
        assert_eq!(c.db_max_connections, Some(pool as u32));
        c.limits.max_exports_per_tenant = stalled_count;
    })
    .await;
    let mine = seed_large_export(&app).await;
    let theirs = seed_other_tenant(&app, "other").await;
    let viewer = app.token(Role::Viewer, "default");

    // The downloads start a pool's worth at a time, each wave left to fill
    // its sockets' buffers and stall before the next: 20 exports starting
    // at once on a debug build would queue for the pool long enough to time
    // out, which is not what this test is about.
    let mut stalled = Vec::new();
    let mut heads = Vec::new();
    for _ in 0..stalled_count / pool {
        let wave = stalled.len();
        for _ in 0..pool {
            stalled.push(stalled_download(&app, &viewer).await);
        }
        for stream in &stalled[wave..] {
            heads.push(response_head(stream).await);
        }
        wait_until_the_server_stops_reading(&app).await;
    }

    let other = app.token(Role::Viewer, "other");
    let (stats, detail, their_detail) = (
        format!("{CUSTOMERS}/stats/summary"),
        format!("{CUSTOMERS}/{mine}"),
        format!("{CUSTOMERS}/{theirs}"),
    );
    let checks = [
        ("same tenant's list", CUSTOMERS, &viewer),
        ("same tenant's detail", &detail, &viewer),
        ("same tenant's stats", &stats, &viewer),
        ("other tenant's list", CUSTOMERS, &other),
        ("other tenant's detail", &their_detail, &other),
        ("other tenant's stats", &stats, &other),
    ];
    for round in 0..2 {
        for (what, path, token) in checks {
            answers_promptly(&app, path, token, &format!("round {round}: {what}")).await;
        }
    }

    // The downloads were answered 200 and are still running: none has
    // finished (each still holds its export slot, so one more is refused).
    for head in &heads {
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "a stalled download's answer: {head:?}"
        );
    }
    let refused = start_export(&app, &viewer).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "all {stalled_count} stalled downloads are still running"
    );
    drop(stalled);
}

async fn a_tenant_over_its_export_cap_is_rate_limited_until_a_download_ends(app: TestApp) {
    let app = configured(app, |c| c.limits.max_exports_per_tenant = 2).await;
    seed_large_export(&app).await;
    seed_other_tenant(&app, "other").await;
    let viewer = app.token(Role::Viewer, "default");

    let first = stalled_download(&app, &viewer).await;
    let second = stalled_download(&app, &viewer).await;
    for stream in [&first, &second] {
        let head = response_head(stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head:?}");
    }

    let third = start_export(&app, &viewer).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = third
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!(retry_after > 0);
    let body: Value = third.json().await.expect("a JSON error");
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "RATE_LIMITED", "{body}");

    // The cap is per tenant: another tenant's export runs, whole.
    let theirs = start_export(&app, &app.token(Role::Viewer, "other")).await;
    assert_eq!(theirs.status(), StatusCode::OK);
    let theirs: Value = theirs.json().await.expect("the whole export");
    assert_eq!(theirs["total"], 1);
    assert_eq!(theirs["customers"][0]["firstName"], "Elsewhere");

    // The client gives up one download: its slot is free again.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    let why = "a closed download's slot was never freed";
    until_a_slot_is_free(&app, &viewer, deadline, Duration::from_millis(100), why).await;
    drop(second);
}

async fn a_download_that_accepts_nothing_is_cut_off_after_the_send_timeout(app: TestApp) {
    let app = configured(app, |c| {
        c.limits.send_timeout_secs = 2;
        c.limits.max_exports_per_tenant = 1;
    })
    .await;
    seed_large_export(&app).await;
    let viewer = app.token(Role::Viewer, "default");

    let mut stalled = stalled_download(&app, &viewer).await;
    let head = response_head(&stalled).await;
    let stalled_at = Instant::now();
    assert!(head.starts_with("HTTP/1.1 200"), "{head:?}");
    let refused = start_export(&app, &viewer).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the stalled download holds the tenant's only slot"
    );
    drop(refused);

    // Within a few seconds the server gives up on the client and frees the slot.
    let deadline = stalled_at + Duration::from_secs(8);
    let why = "a download that accepted nothing for 2 s still holds its slot";
    until_a_slot_is_free(&app, &viewer, deadline, Duration::from_millis(200), why).await;
    assert!(
        stalled_at.elapsed() >= Duration::from_secs(1),
        "the slot was held until the send timeout, not freed at once ({:?})",
        stalled_at.elapsed()
    );

    // The stalled client finds its download ended, incomplete.
    let mut received = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server closed the stalled connection");
    // A whole chunked body ends with the zero-length chunk.
    assert!(
        !received.ends_with(b"\r\n0\r\n\r\n"),
        "the stalled download was cut off before its end ({} bytes)",
        received.len()
    );
    assert!(
        received.len() < SEEDED * NOTES_CHARS,
        "only part of the export was sent ({} bytes)",
        received.len()
    );
}

async fn customers_created_during_a_long_export_are_not_part_of_it(app: TestApp) {
    seed_large_export(&app).await;
    let mut download = start_export(&app, &app.admin()).await;
    assert_eq!(download.status(), StatusCode::OK);
    let mut body = download
        .chunk()
        .await
        .expect("read")
        .expect("a first chunk")
        .to_vec();
    // The export is under way (the server cannot have read it all: it is
    // larger than the sockets' buffers) when a customer is created.
    let (status, created) = app
        .rest()
        .post(
            CUSTOMERS,
            json!({ "phoneNumber": "529987654321", "firstName": "Latecomer" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    while let Some(chunk) = download.chunk().await.expect("read") {
        body.extend_from_slice(&chunk);
    }
    let export: Value = serde_json::from_slice(&body).expect("the whole export");
    let customers = export["customers"].as_array().expect("customers");
    assert_eq!(export["total"], SEEDED, "the count when the export began");
    assert_eq!(customers.len(), SEEDED, "exactly the rows counted");
    assert!(
        customers.iter().all(|c| c["firstName"] != "Latecomer"),
        "a customer created during the export is not in it"
    );
    let (_, list) = app.rest().get(CUSTOMERS).await;
    assert_eq!(list["pagination"]["total"], SEEDED + 1);
}

crate::db_tests!(
    customers_created_during_a_long_export_are_not_part_of_it,
    stalled_downloads_four_times_the_pool_leave_every_tenant_served,
    a_tenant_over_its_export_cap_is_rate_limited_until_a_download_ends,
    a_download_that_accepts_nothing_is_cut_off_after_the_send_timeout,
);
