//! Errors the HTTP layer makes outside any handler come in the shape of the
//! face their path belongs to: a GraphQL error body under `/graphql`, the
//! REST envelope elsewhere. Unknown paths (404), rate-limited calls (429),
//! requests past their deadline (503) and handlers that panic (500).

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use clientela::auth::{Actor, Keys, Role};
use clientela::AppState;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::helpers::rest::content_type;
use crate::helpers::{read_response, spawn_server, test_config, Backend, TestApp, SECRET};

/// The GraphQL error body of `code` with `message`.
fn graphql_error(message: &str, code: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

/// The REST envelope of `code` with `message`.
fn rest_error(message: &str, code: &str) -> Value {
    json!({ "success": false, "error": message, "code": code })
}

async fn get_json(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: &str,
) -> (StatusCode, String, Value) {
    let resp = app
        .request(Method::GET, path, token)
        .header("Accept", accept)
        .send()
        .await
        .expect("send");
    let (status, content_type) = (resp.status(), content_type(&resp));
    (status, content_type, resp.json().await.expect("json"))
}

async fn an_unknown_path_is_404_in_the_shape_of_its_face(app: TestApp) {
    let token = app.admin();
    for path in ["/graphql/nothing-here", "/graphql/assets/nothing.js"] {
        let (status, _, body) = get_json(&app, path, &token, "application/json").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{path}: {body}"
        );
    }
    let (_, content_type, body) = get_json(
        &app,
        "/graphql/nothing-here",
        &token,
        "application/graphql-response+json",
    )
    .await;
    assert_eq!(body, graphql_error("route not found", "NOT_FOUND"));
    assert!(
        content_type.starts_with("application/graphql-response+json"),
        "the face's renderer sees the request's Accept: {content_type}"
    );
    for path in ["/api/v2/nothing-here", "/nothing-here", "/graphqlx"] {
        let (status, _, body) = get_json(&app, path, &token, "application/json").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, rest_error("route not found", "NOT_FOUND"), "{path}");
    }
}

/// A server allowing 1 request a second per caller (bursts of 2).
async fn limited(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, |c| c.limits.rate_limit = 1).await
}

async fn a_rate_limited_call_is_429_in_the_shape_of_its_face(app: TestApp) {
    // Each token has its own bucket: one is spent on each face.
    for (tenant, path) in [
        ("rest", "/api/v2/customers"),
        ("graphql", "/graphql/nothing-here"),
    ] {
        let token = app.token(Role::Agent, tenant);
        let mut last = None;
        for _ in 0..3 {
            last = Some(get_json(&app, path, &token, "application/json").await);
        }
        let (status, _, body) = last.expect("three calls");
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{path}: {body}");
        if tenant == "graphql" {
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
                "{body}"
            );
        } else {
            assert_eq!(
                (&body["success"], &body["code"]),
                (&json!(false), &json!("RATE_LIMITED"))
            );
        }
    }
}

crate::db_tests!(an_unknown_path_is_404_in_the_shape_of_its_face);

mod rate_limited {
    use super::*;
    crate::db_tests!(with limited => a_rate_limited_call_is_429_in_the_shape_of_its_face);
}

/// A server over a fresh SQLite database serving the router `make` builds
/// from its state (the real `app`, or routes in the real middleware), and
/// an admin token for it. These tests are about the HTTP layer, not the
/// database, so they run on SQLite only.
async fn serve(make: impl FnOnce(AppState) -> Router) -> (SocketAddr, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("faces.db").display()
    );
    let config = test_config(&url);
    let db = clientela::db::connect_and_migrate(&url, config.pool_size(&url))
        .await
        .expect("migrate");
    let keys = Keys::new(&config, Some(SECRET)).expect("keys");
    let admin = Actor {
        agent: "admin".into(),
        role: Role::Admin,
        tenant: "default".into(),
    };
    let token = keys.mint(&admin, Duration::from_secs(3600)).expect("mint");
    let ctx = clientela::service::Ctx::new(db, phonenumber::country::Id::MX);
    let app = make(AppState::configured(
        ctx,
        keys,
        &config.graphql,
        &config.limits,
    ));
    let addr = spawn_server(app, &config.limits).await;
    (addr, token, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_503_in_the_shape_of_its_face() {
    let (addr, token, _dir) =
        serve(|state| clientela::app(state, Duration::from_millis(300))).await;
    for path in ["/graphql", "/api/v2/customers"] {
        // The head promises a body that never comes: the handler waits for
        // it until the deadline.
        let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await.expect("send head");
        let (status, body) = read_response(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        let message = "service unavailable, try again shortly";
        let want = if path == "/graphql" {
            graphql_error(message, "SERVICE_UNAVAILABLE")
        } else {
            rest_error(message, "SERVICE_UNAVAILABLE")
        };
        assert_eq!(body, want, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_is_500_in_the_shape_of_its_face() {
    async fn boom() -> &'static str {
        panic!("secret detail that must not be sent")
    }
    // No route of the app panics, so panicking ones run in the app's
    // middleware with the app's face renderers.
    let (addr, token, _dir) = serve(|state| {
        let routes = Router::new()
            .route("/graphql/boom", get(boom))
            .route("/api/v2/customers/boom", get(boom));
        clientela::http::layers(routes, state, clientela::faces(), Duration::from_secs(30))
    })
    .await;
    let client = reqwest::Client::new();
    for path in ["/graphql/boom", "/api/v2/customers/boom"] {
        let resp = client
            .get(format!("http://{addr}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let body: Value = resp.json().await.expect("json");
        let want = if path == "/graphql/boom" {
            graphql_error("internal error", "INTERNAL_SERVER_ERROR")
        } else {
            rest_error("internal error", "INTERNAL_SERVER_ERROR")
        };
        assert_eq!(body, want, "{path}");
    }
    // The server carries on.
    let resp = client
        .get(format!("http://{addr}/nothing-here"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
