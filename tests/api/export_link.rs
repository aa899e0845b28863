//! `exportLink`: a short-lived, single-purpose URL that downloads one export
//! without an Authorization header: bound to the minter's tenant, the format
//! and the filter; refused when expired, tampered, used for anything else,
//! or replaced by a login token.

use std::time::Duration;

use clientela::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::rest::content_type;
use crate::helpers::{Backend, TestApp};

const MINT: &str = "query($format: ExportFormat!, $filter: CustomerFilter) {
    exportLink(format: $format, filter: $filter) { url expiresAt } }";

/// Mints a link as `token`; its relative URL and expiry.
async fn mint(app: &TestApp, token: &str, format: &str, filter: Value) -> (String, String) {
    let body = app
        .gql(token, MINT, json!({ "format": format, "filter": filter }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let link = &body["data"]["exportLink"];
    (
        link["url"].as_str().expect("url").to_owned(),
        link["expiresAt"].as_str().expect("expiresAt").to_owned(),
    )
}

/// GETs a relative URL with no Authorization header: status, content type, body.
async fn download(app: &TestApp, url: &str) -> (StatusCode, String, String) {
    let resp = app.client.get(app.url(url)).send().await.expect("send");
    let (status, content_type) = (resp.status(), content_type(&resp));
    (status, content_type, resp.text().await.expect("body"))
}

/// The `link` parameter of a URL.
fn link_of(url: &str) -> String {
    url.split_once("link=")
        .map(|(_, t)| t.split('&').next().unwrap_or_default().to_owned())
        .expect("a link parameter")
}

async fn seed(app: &TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991000001", "firstName": "Vera", "status": "vip", "tags": ["gold"] }))
        .await;
    app.create_customer(
        json!({ "phoneNumber": "529991000002", "firstName": "Regina", "tags": ["gold"] }),
    )
    .await;
    app.create_customer(
        json!({ "phoneNumber": "529991000003", "firstName": "Otto", "status": "vip" }),
    )
    .await;
    // Another tenant's VIP with the same tag.
    let (status, body) = app.rest_as(&app.token(Role::Admin, "other")).post("/api/v2/customers", json!({ "phoneNumber": "529991000009", "firstName": "Stranger", "status": "vip", "tags": ["gold"] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_link_downloads_the_filtered_export_without_authorization(app: TestApp) {
    seed(&app).await;
    let agent = app.token(Role::Agent, "default");
    let filter = json!({ "status": "VIP", "tags": ["gold"] });

    let (url, expires_at) = mint(&app, &agent, "CSV", filter.clone()).await;
    assert!(url.starts_with("/api/v2/customers/export?"), "{url}");
    assert!(url.contains("format=csv"), "{url}");
    let expires = chrono::DateTime::parse_from_rfc3339(&expires_at).expect("a timestamp");
    let ttl = expires
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((290..=301).contains(&ttl), "expires in {ttl}s");

    let (status, content_type, body) = download(&app, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "{body}");
    assert!(lines[1].contains("Vera"), "{body}");

    let (url, _) = mint(&app, &agent, "JSON", filter).await;
    let (status, content_type, body) = download(&app, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("application/json"));
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["total"], 1, "{doc}");
    assert_eq!(doc["customers"][0]["firstName"], "Vera");

    // No filter: every customer of the minter's tenant, and no other's.
    let (url, _) = mint(
        &app,
        &app.token(Role::Viewer, "default"),
        "JSON",
        Value::Null,
    )
    .await;
    let (_, _, body) = download(&app, &url).await;
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["total"], 3, "{doc}");
    assert!(!body.contains("Stranger"));

    let (url, _) = mint(
        &app,
        &app.token(Role::Agent, "other"),
        "JSON",
        json!({ "tags": ["gold"] }),
    )
    .await;
    let (_, _, body) = download(&app, &url).await;
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["total"], 1, "{doc}");
    assert_eq!(doc["customers"][0]["firstName"], "Stranger");
}

async fn a_link_works_for_its_own_export_only(app: TestApp) {
    seed(&app).await;
    let agent = app.token(Role::Agent, "default");
    let (url, _) = mint(
        &app,
        &agent,
        "CSV",
        json!({ "status": "VIP", "tags": ["gold"] }),
    )
    .await;
    let link = link_of(&url);

    // Another format or filter.
    for changed in [
        url.replace("format=csv", "format=json"),
        url.replace("status=vip", "status=active"),
        url.replace("tags=gold", "tags=silver"),
        format!("{url}&search=Vera"),
        format!("{url}&segment=vip"),
    ] {
        assert_ne!(changed, url);
        let (status, _, body) = download(&app, &changed).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{changed}: {body}");
        assert!(body.contains("another format or filter"), "{body}");
    }
    // Tampered: one character of the signature changed.
    let mut chars: Vec<char> = link.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let (status, _, body) = download(&app, &url.replace(&link, &tampered)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("UNAUTHENTICATED"), "{body}");

    // A link is no login: not as a bearer token, not as `?token=`, anywhere.
    let (status, body) = app.rest_as(&link).get("/api/v2/customers").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = app
        .rest_as(&link)
        .get("/api/v2/customers/export?format=csv&status=vip&tags=gold")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = download(
        &app,
        &format!("/api/v2/customers/export?format=csv&status=vip&tags=gold&token={link}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body = app.gql(&link, "{ me { role } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );

    // A login token is no link.
    let (status, _, body) = download(
        &app,
        &format!("/api/v2/customers/export?format=csv&status=vip&tags=gold&link={agent}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, _) = download(&app, "/api/v2/customers/export?format=csv&link=").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Minting needs a caller.
    let body = app
        .gql("not-a-token", MINT, json!({ "format": "CSV" }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

crate::db_tests!(
    a_link_downloads_the_filtered_export_without_authorization,
    a_link_works_for_its_own_export_only,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_is_refused() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.export_link.export_link_ttl = 1)
        .await
        .expect("sqlite");
    let (url, _) = mint(
        &app,
        &app.token(Role::Agent, "default"),
        "JSON",
        Value::Null,
    )
    .await;
    let (status, _, _) = download(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _, body) = download(&app, &url).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_secret_of_its_own_is_used_when_configured() {
    let secret = "another-secret-that-is-long-enough-for-links";
    let a = TestApp::with_config(Backend::Sqlite, |c| {
        c.export_link.export_link_secret = Some(secret.into())
    })
    .await
    .expect("sqlite");
    let (url, _) = mint(&a, &a.token(Role::Agent, "default"), "CSV", Value::Null).await;
    assert_eq!(download(&a, &url).await.0, StatusCode::OK);
    // A server with the same JWT secret but no link secret cannot open it.
    let b = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    assert_eq!(download(&b, &url).await.0, StatusCode::UNAUTHORIZED);
}
