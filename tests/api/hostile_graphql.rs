//! Hostile callers of `/graphql`: nothing is read, parsed, cached or stored
//! for a caller without a valid token, query documents have their own cap,
//! and only an admin may send a bulk-import-sized body.

use std::time::{Duration, Instant};

use clientela::auth::Role;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{raw_exchange, server_process, TestApp};

/// A POST /graphql head declaring `length` bytes of body.
fn post_head(app: &TestApp, token: Option<&str>, length: usize) -> String {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}\
         Content-Length: {length}\r\nConnection: close\r\n\r\n",
        app.addr
    )
}

async fn an_unauthenticated_post_is_refused_before_its_body_is_read(app: TestApp) {
    // 4 MiB declared and none of it sent: a server that read before it
    // looked at the token would wait here for the body.
    let started = Instant::now();
    let head = post_head(&app, None, 4 * 1024 * 1024);
    let answer = raw_exchange(app.addr, head.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("\"code\":\"UNAUTHENTICATED\""), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered at once"
    );
    // So does a token that does not verify.
    let head = post_head(&app, Some("not-a-jwt"), 4 * 1024 * 1024);
    let answer = raw_exchange(app.addr, head.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

async fn an_unauthenticated_get_is_401_while_the_playground_stays_public(app: TestApp) {
    let resp = app
        .client
        .get(app.url("/graphql?query=%7Bme%7Brole%7D%7D"))
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let page = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200, "the playground needs no token");
}

/// A request carrying an Apollo persisted-query hash (and the query unless `hash_only`).
fn persisted(query: &str, hash_only: bool) -> Value {
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    if hash_only {
        json!({ "extensions": extensions })
    } else {
        json!({ "query": query, "extensions": extensions })
    }
}

async fn post(app: &TestApp, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = app.client.post(app.url("/graphql")).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("json"))
}

async fn persisted_queries_are_cached_for_authenticated_callers_only(app: TestApp) {
    let query = "query Mine { me { role tenant } }";
    let (status, body) = post(&app, None, &persisted(query, false)).await;
    assert_eq!(status, 401, "{body}");
    // Had the anonymous registration been cached, the hash alone would run.
    let admin = app.admin();
    let (_, body) = post(&app, Some(&admin), &persisted(query, true)).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{body}"
    );
    let (_, body) = post(&app, Some(&admin), &persisted(query, false)).await;
    assert_eq!(body["data"]["me"]["role"], "ADMIN", "{body}");
    let (_, body) = post(&app, Some(&admin), &persisted(query, true)).await;
    assert_eq!(body["data"]["me"]["role"], "ADMIN", "{body}");
}

async fn a_query_document_over_its_cap_is_refused_but_large_variables_are_not(app: TestApp) {
    let admin = app.admin();
    // 150 KiB of document, over the 100 KiB default.
    let padded = format!("{{ me {{ role }} }}{}", " ".repeat(150 * 1024));
    let (status, body) = post(&app, Some(&admin), &json!({ "query": padded })).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("102400"), "names the cap: {message}");
    // The same bytes as variables are within the body limit and run.
    let pad = "x".repeat(150 * 1024);
    let request = json!({ "query": "{ me { role } }", "variables": { "pad": pad } });
    let (status, body) = post(&app, Some(&admin), &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["role"], "ADMIN");
}

async fn only_an_admin_may_send_more_than_an_ordinary_body(app: TestApp) {
    let pad = "x".repeat(2 * 1024 * 1024);
    let request = json!({ "query": "{ me { role } }", "variables": { "pad": pad } });
    let (status, body) = post(&app, Some(&app.admin()), &request).await;
    assert_eq!(status, 200, "{body}");
    // Declared too large for an agent: refused before any of it is read (a
    // client still sending would see its connection closed, so the head is
    // sent alone).
    let agent = app.token(Role::Agent, "default");
    let head = post_head(&app, Some(&agent), 2 * 1024 * 1024);
    let answer = raw_exchange(app.addr, head.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"PAYLOAD_TOO_LARGE\""),
        "{answer}"
    );
    // Within the ordinary 1 MiB, the agent is served.
    let pad = "x".repeat(512 * 1024);
    let request = json!({ "query": "{ me { role } }", "variables": { "pad": pad } });
    let (status, body) = post(&app, Some(&agent), &request).await;
    assert_eq!(status, 200, "{body}");
}

/// 300 anonymous POSTs of distinct 4 MB queries, each with a persisted-query
/// hash: the server process's memory grows by less than 50 MB.
async fn anonymous_four_megabyte_queries_do_not_grow_the_server(app: TestApp) {
    use tokio::io::AsyncWriteExt;
    let (server, base) = server_process(&app.url, &[("CLIENTELA_RATE_LIMIT", "0")]);
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().expect("address");
    // Warm up, then measure.
    let warm = app.client.get(format!("{base}/healthz")).send().await;
    assert!(warm.is_ok());
    let before = server.rss();
    let padding = "x".repeat(4 * 1024 * 1024);
    let padding = &padding;
    let bodies = futures::stream::iter(0..300).map(|i| async move {
        // Written by hand: the padding needs no escaping, and a debug build
        // would spend long serializing 1.2 GB.
        let query = format!("{{ me {{ role }} }} #{i} {padding}");
        let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
        let body = format!(
            r#"{{"query":"{query}","extensions":{{"persistedQuery":{{"version":1,"sha256Hash":"{hash}"}}}}}}"#
        );
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let Ok(mut socket) = tokio::net::TcpStream::connect(addr).await else {
            return;
        };
        // The server answers 401 and closes without reading: a failed write is expected.
        if socket.write_all(head.as_bytes()).await.is_ok() {
            let _ = socket.write_all(body.as_bytes()).await;
        }
    });
    use futures::StreamExt;
    bodies.buffer_unordered(8).collect::<Vec<_>>().await;
    let after = server.rss();
    let grown = after.saturating_sub(before);
    assert!(
        grown < 50 * 1024 * 1024,
        "RSS grew {} MB (from {} MB)",
        grown / (1024 * 1024),
        before / (1024 * 1024)
    );
    // And the server still serves.
    let resp = app
        .client
        .post(format!("{base}/graphql"))
        .bearer_auth(app.admin())
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
}

crate::db_tests!(
    an_unauthenticated_post_is_refused_before_its_body_is_read,
    an_unauthenticated_get_is_401_while_the_playground_stays_public,
    persisted_queries_are_cached_for_authenticated_callers_only,
    a_query_document_over_its_cap_is_refused_but_large_variables_are_not,
    only_an_admin_may_send_more_than_an_ordinary_body,
    anonymous_four_megabyte_queries_do_not_grow_the_server,
);
