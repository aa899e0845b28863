//! Hostile request rates: one token (or, without a valid token, one client
//! address) gets `CLIENTELA_RATE_LIMIT` requests a second in bursts of twice
//! that; beyond it, 429 with `Retry-After` on both faces, while other
//! callers are served as usual.

use std::time::Duration;

use clientela::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

/// A server allowing 3 requests a second per caller (bursts of 6).
async fn limited(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, |c| c.limits.rate_limit = 3).await
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds")
}

/// GETs the customer list `n` times with `token`; the statuses in order.
async fn list_statuses(app: &TestApp, token: &str, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        let resp = app
            .request(Method::GET, "/api/v2/customers", token)
            .send()
            .await
            .expect("send");
        statuses.push(resp.status());
    }
    statuses
}

async fn a_token_over_its_rate_is_answered_429_on_both_faces(app: TestApp) {
    let token = app.token(Role::Agent, "default");
    let statuses = list_statuses(&app, &token, 6).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "the burst passes: {statuses:?}"
    );
    let resp = app
        .request(Method::GET, "/api/v2/customers", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=2).contains(&retry_after(&resp)));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "RATE_LIMITED");
    // The same bucket on GraphQL, answered in GraphQL's shape.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    // Other callers have buckets of their own.
    let other_agent = app.token(Role::Viewer, "default");
    let other_tenant = app.token(Role::Agent, "acme");
    for other in [other_agent, other_tenant] {
        assert_eq!(list_statuses(&app, &other, 1).await, [StatusCode::OK]);
    }
    // After the wait it asked for, the caller is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(list_statuses(&app, &token, 1).await, [StatusCode::OK]);
}

async fn callers_without_a_valid_token_are_limited_by_address(app: TestApp) {
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let resp = app
            .client
            .get(app.url("/api/v2/customers"))
            .bearer_auth("not-a-jwt")
            .send()
            .await
            .expect("send");
        statuses.push(resp.status());
    }
    assert_eq!(&statuses[..6], [StatusCode::UNAUTHORIZED; 6]);
    assert_eq!(&statuses[6..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    // A valid token from the same address is not held back by them.
    let token = app.token(Role::Agent, "default");
    assert_eq!(list_statuses(&app, &token, 1).await, [StatusCode::OK]);
}

async fn health_probes_are_never_limited(app: TestApp) {
    for _ in 0..20 {
        assert_eq!(app.health().await, StatusCode::OK);
    }
}

crate::db_tests!(with limited =>
    a_token_over_its_rate_is_answered_429_on_both_faces,
    callers_without_a_valid_token_are_limited_by_address,
    health_probes_are_never_limited,
);
