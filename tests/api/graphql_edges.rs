//! The safe edges of the public GraphQL endpoint: depth, complexity, alias
//! and batch limits, introspection off, Apollo persisted queries, queries
//! over GET, CSRF prevention and bounded lists. Every refusal answers at
//! once with a clear error and a code.

use std::time::{Duration, Instant};

use clientela::auth::Role;
use clientela::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::graphql::{assert_ok, first_error};
use crate::helpers::rest::send;
use crate::helpers::{Backend, TestApp};

/// No refusal may take long: they are answered before any work.
const FAST: Duration = Duration::from_secs(3);

/// POSTs `body` to /graphql with a content type; status and JSON body.
async fn post_raw(app: &TestApp, content_type: Option<&str>, body: String) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(app.admin())
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    send(req).await
}

/// GETs /graphql with `params` and extra headers; status and JSON body.
async fn get(
    app: &TestApp,
    params: &[(&str, String)],
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .get(app.url("/graphql"))
        .query(params)
        .bearer_auth(app.admin());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send(req).await
}

async fn custom(change: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_config(Backend::Sqlite, change)
        .await
        .expect("sqlite")
}

async fn a_deep_query_is_refused(app: TestApp) {
    let mut query = "{ customers { items { ".to_owned();
    for _ in 0..6 {
        query.push_str("recentConversations { customer { ");
    }
    query.push_str("id");
    query.push_str(&" } ".repeat(15));
    let started = Instant::now();
    let body = app.gql(&app.admin(), &query, json!({})).await;
    assert!(started.elapsed() < FAST);
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(message.contains("nested too deep"), "{message}");
    assert!(body["data"].is_null(), "{body}");
}

async fn the_contracts_heavy_read_passes_the_limits(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let query = "{ customers(limit: 100) { items { id phoneNumber recentConversations { \
                 assignedAgent { name } messages(limit: 3) { items { body } } } } \
                 pagination { total } } customerStats { segments { count } } me { role } }";
    let body = app.gql(&app.admin(), query, json!({})).await;
    assert_ok(&body);
    assert_eq!(
        body["data"]["customers"]["items"].as_array().map(Vec::len),
        Some(1)
    );
}

fn aliases(n: usize) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: me {{ role }}")).collect();
    format!("{{ {} }}", fields.join(" "))
}

async fn more_than_30_aliases_are_refused(app: TestApp) {
    assert_ok(&app.gql(&app.admin(), &aliases(30), json!({})).await);
    let started = Instant::now();
    let body = app.gql(&app.admin(), &aliases(31), json!({})).await;
    assert!(started.elapsed() < FAST);
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(
        message.contains("31 aliases") && message.contains("at most 30"),
        "{message}"
    );
    // Aliases inside fragments count too.
    let fragment = format!("query {{ ...F }} fragment F on Query {}", aliases(31));
    let (_, code) = first_error(&app.gql(&app.admin(), &fragment, json!({})).await);
    assert_eq!(code, "BAD_USER_INPUT");
}

async fn batches_run_up_to_10_operations(app: TestApp) {
    let op = json!({ "query": "{ me { role } }" });
    let (status, body) =
        post_raw(&app, Some("application/json"), json!([op, op]).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answers = body.as_array().expect("a batch answers an array");
    assert_eq!(answers.len(), 2);
    for answer in answers {
        assert_eq!(answer["data"]["me"]["role"], "ADMIN");
    }
    let ten: Vec<Value> = (0..10).map(|_| op.clone()).collect();
    let (status, body) = post_raw(&app, Some("application/json"), json!(ten).to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(10));

    let eleven: Vec<Value> = (0..11).map(|_| op.clone()).collect();
    let started = Instant::now();
    let (status, body) = post_raw(&app, Some("application/json"), json!(eleven).to_string()).await;
    assert!(started.elapsed() < FAST);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("at most 10 operations"), "{message}");
}

async fn csrf_simple_posts_are_refused(app: TestApp) {
    let body = json!({ "query": "{ me { role } }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let (status, answer) = post_raw(&app, content_type, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type:?}");
        let (message, code) = first_error(&answer);
        assert_eq!(code, "BAD_USER_INPUT");
        assert!(message.contains("application/json"), "{message}");
    }
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/graphql-response+json",
    ] {
        let (status, answer) = post_raw(&app, Some(content_type), body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{content_type}");
        assert_eq!(answer["data"]["me"]["role"], "ADMIN");
    }
}

async fn queries_run_over_get_with_a_preflight_header(app: TestApp) {
    let params = [
        (
            "query",
            "query Me($x: Int) { me { role } customers(limit: $x) { pagination { limit } } }"
                .to_owned(),
        ),
        ("variables", json!({ "x": 7 }).to_string()),
        ("operationName", "Me".to_owned()),
    ];
    for header in [
        ("apollo-require-preflight", "true"),
        ("x-apollo-operation-name", "Me"),
        ("content-type", "application/json"),
    ] {
        let (status, body) = get(&app, &params, &[header]).await;
        assert_eq!(status, StatusCode::OK, "{header:?}: {body}");
        assert_eq!(body["data"]["me"]["role"], "ADMIN");
        assert_eq!(body["data"]["customers"]["pagination"]["limit"], 7);
    }
    // A simple request (no preflight) is refused: it could come from any site.
    for headers in [&[][..], &[("content-type", "text/plain")][..]] {
        let (status, body) = get(&app, &params, headers).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (message, code) = first_error(&body);
        assert_eq!(code, "BAD_USER_INPUT");
        assert!(message.contains("apollo-require-preflight"), "{message}");
    }
    // Browsers asking for HTML still get the playground.
    let page = app
        .client
        .get(app.url("/graphql"))
        .query(&params)
        .header("Accept", "text/html")
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/html"));
}

async fn mutations_over_get_are_refused(app: TestApp) {
    let params = [(
        "query",
        "mutation { createCustomer(input: { phoneNumber: \"529991234567\" }) { id } }".to_owned(),
    )];
    let (status, body) = get(&app, &params, &[("apollo-require-preflight", "true")]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("mutations must use POST"), "{message}");
    let count = app
        .gql(
            &app.admin(),
            "{ customers { pagination { total } } }",
            json!({}),
        )
        .await;
    assert_eq!(count["data"]["customers"]["pagination"]["total"], 0);
    // A document with a query and a mutation runs its query over GET, by name.
    let params = [
        (
            "query",
            "query Q { me { role } } mutation M { deleteCustomer(id: \"x\") { success } }"
                .to_owned(),
        ),
        ("operationName", "Q".to_owned()),
    ];
    let (status, body) = get(&app, &params, &[("apollo-require-preflight", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["me"]["role"], "ADMIN");
}

async fn apollo_persisted_queries_register_then_run_by_hash(app: TestApp) {
    let query = "{ me { role tenant } }";
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let (status, body) = post_raw(
        &app,
        Some("application/json"),
        json!({ "extensions": extensions }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (message, code) = first_error(&body);
    assert_eq!(
        (message.as_str(), code.as_str()),
        ("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    );
    // Over GET too, before it is registered.
    let hash_only = [("extensions", extensions.to_string())];
    let preflight = [("apollo-require-preflight", "true")];
    let (_, body) = get(&app, &hash_only, &preflight).await;
    assert_eq!(first_error(&body).1, "PERSISTED_QUERY_NOT_FOUND");

    let (_, body) = post_raw(
        &app,
        Some("application/json"),
        json!({ "query": query, "extensions": extensions }).to_string(),
    )
    .await;
    assert_ok(&body);
    assert_eq!(body["data"]["me"]["role"], "ADMIN");

    let (_, body) = post_raw(
        &app,
        Some("application/json"),
        json!({ "extensions": extensions }).to_string(),
    )
    .await;
    assert_ok(&body);
    assert_eq!(body["data"]["me"]["tenant"], "default");

    let (status, body) = get(&app, &hash_only, &preflight).await;
    assert_eq!(status, StatusCode::OK);
    assert_ok(&body);
    assert_eq!(body["data"]["me"]["role"], "ADMIN");

    // A hash that does not match its query is refused.
    let (_, body) = post_raw(
        &app,
        Some("application/json"),
        json!({ "query": "{ me { role } }", "extensions": extensions }).to_string(),
    )
    .await;
    assert_eq!(first_error(&body).1, "BAD_USER_INPUT");
}

async fn an_import_over_50000_rows_is_bad_user_input(app: TestApp) {
    let rows: Vec<Value> = (0..50_001u64)
        .map(|i| json!({ "phoneNumber": format!("52999{:07}", i) }))
        .collect();
    let started = Instant::now();
    let body = app
        .gql(
            &app.admin(),
            "mutation($rows: [CreateCustomerInput!]!) { importCustomers(customers: $rows) { imported } }",
            json!({ "rows": rows }),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(20));
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{message}");
    assert!(message.contains("50000"), "{message}");
}

crate::db_tests!(
    a_deep_query_is_refused,
    the_contracts_heavy_read_passes_the_limits,
    more_than_30_aliases_are_refused,
    batches_run_up_to_10_operations,
    csrf_simple_posts_are_refused,
    queries_run_over_get_with_a_preflight_header,
    mutations_over_get_are_refused,
    apollo_persisted_queries_register_then_run_by_hash,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_import_over_50000_rows_is_bad_user_input() {
    let app = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    an_import_over_50000_rows_is_bad_user_input(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complex_query_is_refused() {
    let app = custom(|c| c.graphql.graphql_max_complexity = 5).await;
    assert_ok(
        &app.gql(&app.admin(), "{ me { role tenant } }", json!({}))
            .await,
    );
    let started = Instant::now();
    let body = app
        .gql(
            &app.admin(),
            "{ me { role tenant agentId } customerStats { segments { count } } }",
            json!({}),
        )
        .await;
    assert!(started.elapsed() < FAST);
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(
        message.contains("costs") && message.contains("at most 5"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_follow_the_configuration() {
    let app = custom(|c| {
        c.graphql.graphql_max_aliases = 2;
        c.graphql.graphql_max_batch = 1;
        c.graphql.graphql_max_depth = 2;
    })
    .await;
    assert_ok(&app.gql(&app.admin(), &aliases(2), json!({})).await);
    assert_eq!(
        first_error(&app.gql(&app.admin(), &aliases(3), json!({})).await).1,
        "BAD_USER_INPUT"
    );
    let op = json!({ "query": "{ me { role } }" });
    let (status, _) = post_raw(&app, Some("application/json"), json!([op, op]).to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = app
        .gql(&app.admin(), "{ customers { items { id } } }", json!({}))
        .await;
    assert!(first_error(&body).0.contains("nested too deep"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_can_be_turned_off() {
    let query = "{ __schema { queryType { name } } }";
    let on = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let body = on.gql(&on.admin(), query, json!({})).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");

    let off = custom(|c| c.graphql.graphql_introspection = false).await;
    let started = Instant::now();
    let body = off.gql(&off.admin(), query, json!({})).await;
    assert!(started.elapsed() < FAST);
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("introspection is disabled"), "{message}");
    let body = off
        .gql(
            &off.admin(),
            "{ __type(name: \"Customer\") { name } }",
            json!({}),
        )
        .await;
    assert!(first_error(&body).0.contains("introspection is disabled"));
    // Ordinary queries still run.
    assert_ok(
        &off.gql(
            &off.token(Role::Viewer, "default"),
            "{ me { role } }",
            json!({}),
        )
        .await,
    );
}

/// The guard measures a document once, when it is parsed, and keeps what it
/// measured with the cached parse: a refused document is refused again when
/// it comes back from the cache, sent in full or (registered as a persisted
/// query while it was refused) by its hash alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_document_is_refused_again_from_the_cache() {
    let app = custom(|c| c.graphql.graphql_introspection = false).await;
    let mut deep = "{ customers { items { ".to_owned();
    deep.push_str(&"recentConversations { customer { ".repeat(6));
    deep.push_str("id");
    deep.push_str(&" } ".repeat(15));
    let refused = [
        (deep, "nested too deep"),
        (aliases(31), "31 aliases"),
        (
            "{ me { role } __schema { queryType { name } } }".to_owned(),
            "introspection is disabled",
        ),
    ];
    for (query, words) in &refused {
        for _ in 0..3 {
            let body = app.gql(&app.admin(), query, json!({})).await;
            let (message, code) = first_error(&body);
            assert_eq!(code, "BAD_USER_INPUT", "{body}");
            assert!(message.contains(words), "{message}");
            assert!(body["data"].is_null(), "{body}");
        }
        let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
        let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let register = json!({ "query": query, "extensions": extensions }).to_string();
        let by_hash = json!({ "extensions": extensions }).to_string();
        for body in [register, by_hash.clone(), by_hash] {
            let (_, body) = post_raw(&app, Some("application/json"), body).await;
            let (message, code) = first_error(&body);
            assert_eq!(code, "BAD_USER_INPUT", "{body}");
            assert!(message.contains(words), "{message}");
        }
    }
    // What the cache keeps of one document is not another's.
    assert_ok(&app.gql(&app.admin(), &aliases(30), json!({})).await);
    assert_ok(&app.gql(&app.admin(), &aliases(30), json!({})).await);
}

/// POSTs a GraphQL body padded to about `bytes` with an unused variable.
async fn padded_post(app: &TestApp, bytes: usize) -> (reqwest::StatusCode, serde_json::Value) {
    let body = serde_json::json!({ "query": "{ me { role } }", "variables": { "pad": "x".repeat(bytes) } });
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(app.admin())
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = resp.status();
    (status, resp.json().await.expect("json body"))
}

async fn bodies_up_to_eight_mebibytes_run_and_larger_ones_are_payload_too_large(app: TestApp) {
    let (status, body) = padded_post(&app, 3 * 1024 * 1024).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["role"], "ADMIN");
    // Declares 9 MiB and sends none of it: the server must answer from the
    // declared length alone (were it to read first, this would hang).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.addr,
        app.admin(),
        9 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.expect("write head");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("answered without the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"code\":\"PAYLOAD_TOO_LARGE\""),
        "{answer}"
    );
}

mod body_limit {
    use super::*;
    crate::db_tests!(bodies_up_to_eight_mebibytes_run_and_larger_ones_are_payload_too_large);
}

/// The introspection query that GraphQL tools send (schemathesis, like
/// GraphiQL's docs and Apollo's code generators): it nests deeper than the
/// default depth limit of 12, and must still be answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_introspection_query_is_answered_under_the_default_depth_limit() {
    let app = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let query = include_str!("../fixtures/introspection-query.graphql");
    let body = app
        .gql(&app.token(Role::Viewer, "default"), query, json!({}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let types = body["data"]["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "Customer"), "{body}");
    // The data depth limit still holds beside it.
    let mut deep = "{ customers { items { ".to_owned();
    for _ in 0..6 {
        deep.push_str("recentConversations { customer { ");
    }
    deep.push_str("id");
    deep.push_str(&" } ".repeat(15));
    let body = app
        .gql(&app.token(Role::Viewer, "default"), &deep, json!({}))
        .await;
    assert!(first_error(&body).0.contains("nested too deep"), "{body}");
}

/// Nested introspection lists multiply the answer by the schema's size each
/// level (`types { fields { type { fields ... } } }`): more than 4 are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_nesting_more_than_four_lists_is_refused() {
    let app = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let four = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    assert_ok(
        &app.gql(&app.token(Role::Viewer, "default"), four, json!({}))
            .await,
    );
    let five = "{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }";
    let started = Instant::now();
    let body = app
        .gql(&app.token(Role::Viewer, "default"), five, json!({}))
        .await;
    assert!(started.elapsed() < FAST);
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(
        message.contains("introspection is nested too deep"),
        "{message}"
    );
    // Through fragments too, and a fragment cycle is refused rather than followed.
    let spread =
        "{ __schema { types { ...F } } } fragment F on __Type { fields { type { ...G } } } \
                  fragment G on __Type { fields { type { fields { type { fields { name } } } } } }";
    assert!(first_error(
        &app.gql(&app.token(Role::Viewer, "default"), spread, json!({}))
            .await
    )
    .0
    .contains("introspection is nested too deep"));
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let body = app
        .gql(&app.token(Role::Viewer, "default"), cycle, json!({}))
        .await;
    assert!(body["errors"].is_array(), "{body}");
}

/// With `graphql_max_running` requests executing, the next one waits for a
/// turn, and gets it when one of them ends; with a turn to spare it does not
/// wait. The running request is a mutation waiting for SQLite's one writer
/// slot, which the test holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_requests_past_the_running_limit_wait_for_a_turn() {
    const CREATE: &str =
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }";
    const CHEAP: &str = "{ me { role } }";
    for (running, waits) in [(1, true), (2, false)] {
        let app =
            std::sync::Arc::new(custom(|c| c.graphql.graphql_max_running = Some(running)).await);
        let token = app.admin();
        let writer = app.ctx.write().await.expect("the writer slot");
        let held = {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let input =
                    json!({ "input": { "phoneNumber": "+5215512345678", "firstName": "Ana" } });
                app.gql(&token, CREATE, input).await
            })
        };
        // The mutation has its turn and waits for the writer slot.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cheap =
            tokio::time::timeout(Duration::from_secs(2), app.gql(&token, CHEAP, json!({}))).await;
        assert_eq!(cheap.is_err(), waits, "limit {running}: {cheap:?}");
        assert!(!held.is_finished(), "limit {running}: the mutation waits");
        drop(writer);
        assert_ok(&held.await.expect("the mutation's task"));
        let started = Instant::now();
        assert_ok(&app.gql(&token, CHEAP, json!({})).await);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
