//! The OpenAPI document and its browsable page: public, served from the
//! binary, the page loading nothing from anywhere else.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_without_a_token_and_matches_the_code() {
    let app = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let resp = app
        .client
        .get(app.url("/api/v2/openapi.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().expect("ascii"),
        "application/json"
    );
    let text = resp.text().await.expect("body");
    assert_eq!(text, clientela::rest::openapi::document());
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // The routes it describes still want a token.
    let resp = app
        .client
        .get(app.url("/api/v2/customers"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_assets_are_served_from_the_binary_under_a_strict_csp() {
    let app = TestApp::new(Backend::Sqlite).await.expect("sqlite");
    let resp = app
        .client
        .get(app.url("/api/v2/docs"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let page = resp.text().await.expect("body");
    let assets: Vec<&str> = page
        .split("\"/api/v2/docs/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(
        assets,
        ["swagger-ui.css", "swagger-ui-bundle.js", "docs.js"],
        "{page}"
    );
    for asset in assets {
        let resp = app
            .client
            .get(app.url(&format!("/api/v2/docs/{asset}")))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{asset}");
        let kind = resp.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let want = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(kind.starts_with(want), "{asset}: {kind}");
        assert!(resp.bytes().await.expect("body").len() > 100, "{asset}");
    }
    // The starter script points the page at this server's own document.
    let script = app
        .client
        .get(app.url("/api/v2/docs/docs.js"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    assert!(script.contains("\"/api/v2/openapi.json\""), "{script}");
    let resp = app
        .client
        .get(app.url("/api/v2/docs/nope.js"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.expect("JSON");
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "NOT_FOUND");
}
