//! Every way a REST request can fail, and the one error body it fails with:
//! `{"success": false, "error": "...", "code": "..."}` plus `details` for
//! validation. 400 input rules, 401 tokens, 403 roles, 404 ids and tenants,
//! 413 sizes, 415 content types, unknown paths, and no leaked internals.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use clientela::auth::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{read_response, TestApp, SECRET};

const CUSTOMERS: &str = "/api/v2/customers";

/// The codes the contract knows.
const CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
];

/// Asserts the error shape: the status, `success: false`, a message and the code.
#[track_caller]
fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a human message: {body}"
    );
    assert_eq!(body["code"], want_code, "{body}");
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["success", "error", "code", "details"].contains(&k.as_str())),
        "only the contract's keys: {body}"
    );
}

/// Asserts a 400 whose `details` name `field` (or a part of it, like `tags[0]`).
#[track_caller]
fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_error(status, body, StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
    let details = body["details"]
        .as_array()
        .expect("validation errors carry details");
    assert!(
        details.iter().any(
            |d| d["field"].as_str().is_some_and(|f| f.starts_with(field))
                && d["message"].as_str().is_some_and(|m| !m.is_empty())
        ),
        "details name {field}: {body}"
    );
}

/// Sends a raw request and reads status and body (JSON when it parses).
async fn send(req: RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn id_of(doc: &Value) -> String {
    doc["_id"].as_str().expect("document has an _id").to_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An HS256 token over `claims` signed with `secret`.
fn mint(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode token")
}

fn claims(role: &str, exp: u64) -> Value {
    json!({ "sub": "agent-1", "role": role, "tenant": "default", "exp": exp })
}

async fn invalid_phone_is_bad_user_input_naming_the_field(app: TestApp) {
    for phone in ["123", "not a phone", "+52 123", "999abc1234567", "", "   "] {
        let (status, body) = app
            .call(
                Method::POST,
                CUSTOMERS,
                &app.admin(),
                Some(json!({ "phoneNumber": phone })),
            )
            .await;
        assert_invalid(status, &body, "phoneNumber");
    }
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "firstName": "No phone" })),
        )
        .await;
    assert_invalid(status, &body, "phoneNumber");
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
            Some(json!({ "phoneNumber": "12" })),
        )
        .await;
    assert_invalid(status, &body, "phoneNumber");
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
            Some(json!({ "alternativePhones": ["529991111111", "nope"] })),
        )
        .await;
    assert_invalid(status, &body, "alternativePhones");
}

async fn bad_email_is_bad_user_input(app: TestApp) {
    for email in [
        "not-an-email",
        "a@b",
        "@example.com",
        "a b@example.com",
        "a@@example.com",
    ] {
        let body = json!({ "phoneNumber": "529991234567", "email": email });
        let (status, body) = app
            .call(Method::POST, CUSTOMERS, &app.admin(), Some(body))
            .await;
        assert_invalid(status, &body, "email");
    }
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(list["pagination"]["total"], 0, "nothing stored");
}

async fn status_blocked_is_refused_on_create_and_on_update(app: TestApp) {
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "phoneNumber": "529991234567", "status": "blocked" })),
        )
        .await;
    assert_invalid(status, &body, "status");
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            &app.admin(),
            Some(json!({ "status": "blocked" })),
        )
        .await;
    assert_invalid(status, &body, "status");
    let (_, now) = app.call(Method::GET, &path, &app.admin(), None).await;
    assert_eq!(now["customer"]["status"], "active");
    assert_eq!(now["customer"]["isBlocked"], json!(false));
}

async fn unknown_enum_values_are_bad_user_input(app: TestApp) {
    let bad_values = [
        ("segment", json!("gold")),
        ("segment", json!("VIP")),
        ("source", json!("tiktok")),
        ("source", json!(3)),
        ("status", json!("deleted")),
        ("status", json!(7)),
    ];
    for (key, value) in bad_values {
        let mut body = json!({ "phoneNumber": "529991234567" });
        body[key] = value.clone();
        let (status, resp) = app
            .call(Method::POST, CUSTOMERS, &app.admin(), Some(body))
            .await;
        assert_invalid(status, &resp, key);
    }
    for (key, value) in [
        ("status", "deleted"),
        ("segment", "gold"),
        ("source", "tiktok"),
        ("sortBy", "password"),
        ("sortBy", "tenant_id"),
        ("sortOrder", "up"),
        ("sortOrder", "DESCENDING"),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("{CUSTOMERS}?{key}={value}"),
                &app.admin(),
                None,
            )
            .await;
        assert_invalid(status, &body, key);
    }
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{CUSTOMERS}/{}/tags", id_of(&c)),
            &app.admin(),
            Some(json!({ "tags": ["a"], "action": "replace" })),
        )
        .await;
    assert_invalid(status, &body, "action");
}

async fn page_and_limit_must_be_positive_whole_numbers(app: TestApp) {
    for (query, field) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=abc", "limit"),
        ("page=1.5", "page"),
        ("page=two", "page"),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("{CUSTOMERS}?{query}"),
                &app.admin(),
                None,
            )
            .await;
        assert_invalid(status, &body, field);
    }
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let (status, body) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{}/conversations?limit=0", id_of(&c)),
            &app.admin(),
            None,
        )
        .await;
    assert_invalid(status, &body, "limit");
}

async fn a_nul_character_in_text_is_bad_user_input(app: TestApp) {
    for key in ["firstName", "lastName", "notes"] {
        let mut body = json!({ "phoneNumber": "529991234567" });
        body[key] = json!("ab\u{0}cd");
        let (status, resp) = app
            .call(Method::POST, CUSTOMERS, &app.admin(), Some(body))
            .await;
        assert_invalid(status, &resp, key);
    }
    let (status, resp) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "phoneNumber": "529991234567", "tags": ["ok", "b\u{0}d"] })),
        )
        .await;
    assert_invalid(status, &resp, "tags");
    let (status, resp) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "phoneNumber": "529991234567", "address": { "city": "M\u{0}" } })),
        )
        .await;
    assert_invalid(status, &resp, "address");
    let (status, resp) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}?search=a%00b"),
            &app.admin(),
            None,
        )
        .await;
    assert_invalid(status, &resp, "search");
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let (status, resp) = app
        .call(
            Method::PATCH,
            &format!("{CUSTOMERS}/{}/block", id_of(&c)),
            &app.admin(),
            Some(json!({ "isBlocked": true, "blockReason": "x\u{0}" })),
        )
        .await;
    assert_invalid(status, &resp, "blockReason");
}

async fn malformed_json_and_non_object_bodies_are_bad_user_input(app: TestApp) {
    let bodies = [
        r#"{"phoneNumber": "529991234567""#,
        r#"{"phoneNumber": }"#,
        "",
        "not json",
        r#"[{"phoneNumber": "529991234567"}]"#,
        r#""529991234567""#,
        "null",
        "42",
    ];
    for raw in bodies {
        let req = app
            .request(Method::POST, CUSTOMERS, &app.admin())
            .header(CONTENT_TYPE, "application/json")
            .body(raw);
        let (status, body) = send(req).await;
        assert_invalid(status, &body, "body");
    }
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let req = app
        .request(
            Method::PUT,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
        )
        .header(CONTENT_TYPE, "application/json")
        .body("[1,2]");
    let (status, body) = send(req).await;
    assert_invalid(status, &body, "body");
    let req = app
        .request(
            Method::POST,
            &format!("{CUSTOMERS}/bulk/import"),
            &app.admin(),
        )
        .header(CONTENT_TYPE, "application/json")
        .body(r#"[{"phoneNumber": "529991234568"}]"#);
    let (status, body) = send(req).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(
        list["pagination"]["total"], 1,
        "nothing stored by refused bodies"
    );
}

async fn a_tag_over_64_characters_or_more_than_100_tags_is_bad_user_input(app: TestApp) {
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "phoneNumber": "529991234567", "tags": ["x".repeat(65)] })),
        )
        .await;
    assert_invalid(status, &body, "tags");
    let many: Vec<String> = (0..101).map(|n| format!("t{n}")).collect();
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "phoneNumber": "529991234567", "tags": many })),
        )
        .await;
    assert_invalid(status, &body, "tags");

    // The limits themselves are fine: 100 tags, 64 characters (not bytes) each.
    let mut hundred: Vec<String> = (0..99).map(|n| format!("t{n}")).collect();
    hundred.push("é".repeat(64));
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567", "tags": hundred.clone() }))
        .await;
    assert_eq!(c["tags"], json!(hundred));

    // Adding one more through PATCH goes over the limit.
    let path = format!("{CUSTOMERS}/{}/tags", id_of(&c));
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            &app.admin(),
            Some(json!({ "tags": ["extra"], "action": "add" })),
        )
        .await;
    assert_invalid(status, &body, "tags");
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            &app.admin(),
            Some(json!({ "tags": ["y".repeat(65)], "action": "set" })),
        )
        .await;
    assert_invalid(status, &body, "tags");
    let (_, now) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(
        now["customer"]["tags"],
        json!(hundred),
        "refused tag changes change nothing"
    );
}

async fn permanent_must_be_true_or_false(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    for value in ["maybe", "yes", "2"] {
        let (status, body) = app
            .call(
                Method::DELETE,
                &format!("{path}?permanent={value}"),
                &app.admin(),
                None,
            )
            .await;
        assert_invalid(status, &body, "permanent");
    }
    let (status, now) = app.call(Method::GET, &path, &app.admin(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        now["customer"]["status"], "active",
        "a refused delete deletes nothing"
    );
}

/// Requests that need a token, one per kind of route.
fn authenticated_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, CUSTOMERS.to_owned(), None),
        (
            Method::POST,
            CUSTOMERS.to_owned(),
            Some(json!({ "phoneNumber": "529990000001" })),
        ),
        (Method::GET, format!("{CUSTOMERS}/stats/summary"), None),
        (Method::GET, format!("{CUSTOMERS}/export?format=csv"), None),
        (
            Method::POST,
            format!("{CUSTOMERS}/bulk/import"),
            Some(json!({ "customers": [] })),
        ),
        (Method::GET, format!("{CUSTOMERS}/{id}"), None),
        (
            Method::PUT,
            format!("{CUSTOMERS}/{id}"),
            Some(json!({ "firstName": "X" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/tags"),
            Some(json!({ "tags": ["x"] })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/block"),
            Some(json!({ "isBlocked": true })),
        ),
        (Method::DELETE, format!("{CUSTOMERS}/{id}"), None),
        (Method::GET, format!("{CUSTOMERS}/{id}/conversations"), None),
    ]
}

/// Every route answers 401 to the request `with_auth` builds, and nothing
/// changes: `kept` is the tenant's one customer.
async fn assert_every_route_refuses(
    app: &TestApp,
    kept: &Value,
    what: &str,
    with_auth: impl Fn(RequestBuilder) -> RequestBuilder,
) {
    for (method, path, body) in authenticated_routes(&id_of(kept)) {
        let mut req = with_auth(app.client.request(method.clone(), app.url(&path)));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (status, resp) = send(req).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what}: {method} {path}: {resp}"
        );
        assert_error(status, &resp, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    let (_, after) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{}", id_of(kept)),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(&after["customer"], kept, "{what}: nothing changed");
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(list["pagination"]["total"], 1, "{what}: nothing created");
}

/// The one customer the 401 tests try to reach.
async fn kept_customer(app: &TestApp) -> Value {
    app.create_customer(
        json!({ "phoneNumber": "529991234567", "firstName": "Kept", "tags": ["a"] }),
    )
    .await
}

async fn a_request_without_a_bearer_token_is_unauthenticated(app: TestApp) {
    let kept = kept_customer(&app).await;
    assert_every_route_refuses(&app, &kept, "no header", |req| req).await;
    for header in [
        "Basic x",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Token abc",
        "bearer",
    ] {
        assert_every_route_refuses(&app, &kept, header, |req| req.header(AUTHORIZATION, header))
            .await;
    }
}

async fn a_garbage_token_is_unauthenticated(app: TestApp) {
    let (status, body) = app.call(Method::GET, CUSTOMERS, "garbage", None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let (status, body) = app.call(Method::GET, CUSTOMERS, "a.b.c", None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    // A valid token with its signature cut off, or with a changed payload.
    let token = app.admin();
    let (head, _) = token.rsplit_once('.').expect("three parts");
    let (status, body) = app
        .call(Method::GET, CUSTOMERS, &format!("{head}."), None)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let parts: Vec<&str> = token.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forged_payload = b64.encode(
        json!({ "sub": "x", "role": "admin", "tenant": "other", "exp": now() + 3600 }).to_string(),
    );
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let (status, body) = app.call(Method::GET, CUSTOMERS, &forged, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

async fn an_expired_token_is_unauthenticated(app: TestApp) {
    // The same claims with a future exp are accepted: only the expiry differs.
    let fresh = mint(&claims("admin", now() + 3600), SECRET);
    let (status, body) = app.call(Method::GET, CUSTOMERS, &fresh, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expired = mint(&claims("admin", now() - 3600), SECRET);
    let kept = kept_customer(&app).await;
    assert_every_route_refuses(&app, &kept, "expired", |req| req.bearer_auth(&expired)).await;
    // exp is required.
    let no_exp = mint(
        &json!({ "sub": "agent-1", "role": "admin", "tenant": "default" }),
        SECRET,
    );
    let (status, body) = app.call(Method::GET, CUSTOMERS, &no_exp, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

async fn a_token_signed_with_another_secret_is_unauthenticated(app: TestApp) {
    let foreign = mint(
        &claims("admin", now() + 3600),
        "another-secret-that-is-long-enough-for-hs256!",
    );
    let kept = kept_customer(&app).await;
    assert_every_route_refuses(&app, &kept, "foreign secret", |req| {
        req.bearer_auth(&foreign)
    })
    .await;
    // The right secret under another HMAC algorithm is refused too: the algorithm is pinned.
    let switched = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims("admin", now() + 3600),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("encode");
    let (status, body) = app.call(Method::GET, CUSTOMERS, &switched, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

async fn an_unsigned_alg_none_token_is_unauthenticated(app: TestApp) {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(claims("admin", now() + 3600).to_string());
    let kept = kept_customer(&app).await;
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
    ] {
        let token = format!("{}.{payload}.", b64.encode(header));
        assert_every_route_refuses(&app, &kept, header, |req| req.bearer_auth(&token)).await;
    }
}

async fn a_token_with_an_unknown_role_is_unauthenticated(app: TestApp) {
    // Known roles with the same minting are accepted.
    for role in ["admin", "agent", "viewer"] {
        let (status, body) = app
            .call(
                Method::GET,
                CUSTOMERS,
                &mint(&claims(role, now() + 3600), SECRET),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{role}: {body}");
    }
    for role in ["superuser", "ADMIN", "Admin", ""] {
        let token = mint(&claims(role, now() + 3600), SECRET);
        let (status, body) = app.call(Method::GET, CUSTOMERS, &token, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        let (status, body) = app
            .call(
                Method::POST,
                CUSTOMERS,
                &token,
                Some(json!({ "phoneNumber": "529991234567" })),
            )
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(list["pagination"]["total"], 0);
}

async fn a_viewer_may_read_but_not_write(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567", "tags": ["a"] }))
        .await;
    let id = id_of(&c);
    let viewer = app.token(Role::Viewer, "default");
    for path in [
        CUSTOMERS.to_owned(),
        format!("{CUSTOMERS}/{id}"),
        format!("{CUSTOMERS}/stats/summary"),
        format!("{CUSTOMERS}/{id}/conversations"),
        format!("{CUSTOMERS}/export?format=json"),
    ] {
        let resp = app
            .request(Method::GET, &path, &viewer)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "viewer reads {path}");
    }
    let writes = [
        (
            Method::POST,
            CUSTOMERS.to_owned(),
            Some(json!({ "phoneNumber": "529997654321" })),
        ),
        (
            Method::PUT,
            format!("{CUSTOMERS}/{id}"),
            Some(json!({ "firstName": "Changed" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/tags"),
            Some(json!({ "tags": ["b"], "action": "set" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/block"),
            Some(json!({ "isBlocked": true, "blockReason": "x" })),
        ),
        (Method::DELETE, format!("{CUSTOMERS}/{id}"), None),
        (
            Method::DELETE,
            format!("{CUSTOMERS}/{id}?permanent=true"),
            None,
        ),
        (
            Method::POST,
            format!("{CUSTOMERS}/bulk/import"),
            Some(json!({ "customers": [{ "phoneNumber": "529997654322" }] })),
        ),
    ];
    for (method, path, body) in writes {
        let (status, resp) = app.call(method.clone(), &path, &viewer, body).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "viewer {method} {path}: {resp}"
        );
        assert_error(status, &resp, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let (_, after) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{id}"),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(after["customer"], c, "nothing changed");
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(list["pagination"]["total"], 1, "nothing created");
}

async fn an_agent_may_not_hard_delete_or_bulk_import(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    let agent = app.token(Role::Agent, "default");
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("{path}?permanent=true"),
            &agent,
            None,
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{CUSTOMERS}/bulk/import"),
            &agent,
            Some(json!({ "customers": [{ "phoneNumber": "529997654321" }] })),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(list["pagination"]["total"], 1, "nothing imported");
    let (status, after) = app.call(Method::GET, &path, &app.admin(), None).await;
    assert_eq!(status, StatusCode::OK, "not deleted");
    assert_eq!(after["customer"], c);

    // An agent reads and writes everything else, soft delete included.
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &agent,
            Some(json!({ "phoneNumber": "529997654321" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            &agent,
            Some(json!({ "firstName": "Agent edit" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.call(Method::DELETE, &path, &agent, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Customer deactivated");
}

async fn an_unknown_or_malformed_id_is_not_found(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let unknown = uuid::Uuid::now_v7().to_string();
    for id in [
        unknown.as_str(),
        "not-a-uuid",
        "12345",
        "00000000-0000-0000-0000-000000000000",
        "%27%20OR%20%271%27%3D%271",
    ] {
        let requests = [
            (Method::GET, format!("{CUSTOMERS}/{id}"), None),
            (
                Method::PUT,
                format!("{CUSTOMERS}/{id}"),
                Some(json!({ "firstName": "X" })),
            ),
            (
                Method::PATCH,
                format!("{CUSTOMERS}/{id}/tags"),
                Some(json!({ "tags": ["x"], "action": "set" })),
            ),
            (
                Method::PATCH,
                format!("{CUSTOMERS}/{id}/block"),
                Some(json!({ "isBlocked": true })),
            ),
            (Method::DELETE, format!("{CUSTOMERS}/{id}"), None),
            (
                Method::DELETE,
                format!("{CUSTOMERS}/{id}?permanent=true"),
                None,
            ),
            (Method::GET, format!("{CUSTOMERS}/{id}/conversations"), None),
        ];
        for (method, path, body) in requests {
            let (status, resp) = app.call(method.clone(), &path, &app.admin(), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
            assert_error(status, &resp, StatusCode::NOT_FOUND, "NOT_FOUND");
        }
    }
}

async fn another_tenants_customer_is_not_found_on_every_route_and_stays_untouched(app: TestApp) {
    let theirs = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Tenant A", "tags": ["a"], "status": "vip" }))
        .await;
    let id = id_of(&theirs);
    let before = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{id}"),
            &app.admin(),
            None,
        )
        .await
        .1;
    let other = app.token(Role::Admin, "tenant-b");
    let requests = [
        (Method::GET, format!("{CUSTOMERS}/{id}"), None),
        (
            Method::PUT,
            format!("{CUSTOMERS}/{id}"),
            Some(json!({ "firstName": "Hijacked", "tags": ["b"] })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/tags"),
            Some(json!({ "tags": ["b"], "action": "set" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/block"),
            Some(json!({ "isBlocked": true, "blockReason": "x" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/block"),
            Some(json!({ "isBlocked": false })),
        ),
        (Method::DELETE, format!("{CUSTOMERS}/{id}"), None),
        (
            Method::DELETE,
            format!("{CUSTOMERS}/{id}?permanent=true"),
            None,
        ),
        (Method::GET, format!("{CUSTOMERS}/{id}/conversations"), None),
    ];
    for (method, path, body) in requests {
        let (status, resp) = app.call(method.clone(), &path, &other, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
        assert_error(status, &resp, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let (status, after) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{id}"),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before, "the other tenant's customer is untouched");
}

async fn lists_search_and_stats_never_show_another_tenants_customers(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Alice", "tags": ["shared"], "segment": "vip" }))
        .await;
    app.create_customer(
        json!({ "phoneNumber": "529991234568", "firstName": "Alfred", "tags": ["shared"] }),
    )
    .await;
    let b = app.token(Role::Admin, "tenant-b");
    let (status, mine) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &b,
            Some(json!({ "phoneNumber": "529997777777", "firstName": "Bob", "tags": ["shared"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");

    for query in [
        "",
        "?search=al",
        "?search=alice",
        "?tags=shared",
        "?segment=vip",
        "?search=52999123",
        "?limit=100",
    ] {
        let (status, body) = app
            .call(Method::GET, &format!("{CUSTOMERS}{query}"), &b, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for c in body["customers"].as_array().expect("customers") {
            assert_eq!(
                c["_id"], mine["customer"]["_id"],
                "tenant B sees only its own ({query}): {c}"
            );
        }
        assert!(
            body["pagination"]["total"].as_u64().expect("total") <= 1,
            "{query}: {body}"
        );
    }
    let (_, stats) = app
        .call(Method::GET, &format!("{CUSTOMERS}/stats/summary"), &b, None)
        .await;
    assert_eq!(stats["summary"]["totalCustomers"], 1);
    assert_eq!(stats["summary"]["vipCustomers"], 0);
    assert_eq!(stats["segments"], json!([{ "_id": "new", "count": 1 }]));
    let (_, stats) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/stats/summary"),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(stats["summary"]["totalCustomers"], 2);
}

async fn the_same_phone_may_exist_once_in_each_tenant(app: TestApp) {
    let a = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let b_token = app.token(Role::Admin, "tenant-b");
    let (status, b) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &b_token,
            Some(json!({ "phoneNumber": "+52 999 123 4567" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_ne!(b["customer"]["_id"], a["_id"]);
    // Within tenant B it is now taken, and the 409 names B's customer, never A's.
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &b_token,
            Some(json!({ "phoneNumber": "9991234567" })),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(body["details"][0]["existingId"], b["customer"]["_id"]);
    // Tenant B's bulk import sees only B's numbers.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{CUSTOMERS}/bulk/import"),
            &b_token,
            Some(json!({ "customers": [{ "phoneNumber": "529991234567" }, { "phoneNumber": "529990000001" }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!({ "imported": 1, "duplicates": 1, "failed": 0 })
    );
    let (status, body) = app
        .call(
            Method::POST,
            CUSTOMERS,
            &app.admin(),
            Some(json!({ "phoneNumber": "529990000001" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "tenant A may still use B's new number: {body}"
    );
}

async fn a_body_over_one_mebibyte_is_payload_too_large(app: TestApp) {
    let body_of_len = |len: usize| {
        let head = r#"{"phoneNumber":"529991234567","notes":""#;
        let tail = r#""}"#;
        format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
    };
    let mib = 1024 * 1024;
    let req = app
        .request(Method::POST, CUSTOMERS, &app.admin())
        .header(CONTENT_TYPE, "application/json")
        .body(body_of_len(mib + 1));
    let (status, body) = send(req).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    // Exactly 1 MiB is read (and refused for its overlong notes, not for its size).
    let req = app
        .request(Method::POST, CUSTOMERS, &app.admin())
        .header(CONTENT_TYPE, "application/json")
        .body(body_of_len(mib));
    let (status, body) = send(req).await;
    assert_invalid(status, &body, "notes");
    let c = app
        .create_customer(json!({ "phoneNumber": "529997654321" }))
        .await;
    let req = app
        .request(
            Method::PUT,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
        )
        .header(CONTENT_TYPE, "application/json")
        .body(body_of_len(mib + 1));
    let (status, body) = send(req).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
}

async fn bulk_import_accepts_a_body_over_one_mebibyte(app: TestApp) {
    let notes = "n".repeat(9_000);
    let rows: Vec<Value> = (0..240)
        .map(|n| json!({ "phoneNumber": format!("52999{:07}", 3_000_000 + n), "firstName": format!("Row {n}"), "notes": notes }))
        .collect();
    let body = json!({ "customers": rows }).to_string();
    assert!(body.len() > 2 * 1024 * 1024, "{}", body.len());
    let req = app
        .request(
            Method::POST,
            &format!("{CUSTOMERS}/bulk/import"),
            &app.admin(),
        )
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let (status, resp) = send(req).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(
        resp["results"],
        json!({ "imported": 240, "duplicates": 0, "failed": 0 })
    );
    let (_, list) = app.call(Method::GET, CUSTOMERS, &app.admin(), None).await;
    assert_eq!(list["pagination"]["total"], 240);
}

async fn bulk_import_over_sixty_four_mebibytes_is_payload_too_large(app: TestApp) {
    let limit = 64 * 1024 * 1024;
    let import = format!("{CUSTOMERS}/bulk/import");
    // Declared over the limit and not sent: refused from the head alone (a
    // server that read first would wait here).
    let length = format!("Content-Length: {}\r\n", limit + 1);
    let mut socket = app.raw_post(&import, &app.admin(), &length).await;
    let (status, body) = read_response(&mut socket, Duration::from_secs(10)).await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    // A body without a declared length is cut off at the limit while it is
    // read: src/rest/bulk.rs tests that with a small limit (64 MiB through
    // the streaming parser takes too long in a debug build).
}

async fn a_body_not_declared_as_json_is_unsupported_media_type(app: TestApp) {
    let json_text = r#"{"phoneNumber":"529991234567"}"#;
    let c = app
        .create_customer(json!({ "phoneNumber": "529997654321" }))
        .await;
    let targets = [
        (Method::POST, CUSTOMERS.to_owned()),
        (Method::PUT, format!("{CUSTOMERS}/{}", id_of(&c))),
        (Method::PATCH, format!("{CUSTOMERS}/{}/tags", id_of(&c))),
        (Method::POST, format!("{CUSTOMERS}/bulk/import")),
    ];
    for (method, path) in targets {
        for content_type in [
            Some("text/plain"),
            None,
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut req = app
                .request(method.clone(), &path, &app.admin())
                .body(json_text);
            if let Some(ct) = content_type {
                req = req.header(CONTENT_TYPE, ct);
            }
            let (status, body) = send(req).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} {content_type:?}: {body}"
            );
            assert_eq!(body["success"], json!(false), "{body}");
            assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{body}"
            );
            assert!(
                CODES.contains(&body["code"].as_str().unwrap_or_default()),
                "{body}"
            );
        }
    }
    // A JSON type with a charset is JSON.
    let req = app
        .request(Method::POST, CUSTOMERS, &app.admin())
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(json_text);
    let (status, body) = send(req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn an_unknown_path_is_not_found_in_the_error_shape(app: TestApp) {
    for path in [
        "/api/v2/nope",
        "/api/v2/customers/abc/def",
        "/api/v3/customers",
        "/api/v2/customers/stats",
        "/",
    ] {
        let (status, body) = app.call(Method::GET, path, &app.admin(), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let resp = app
        .client
        .get(app.url("/api/v2/nope"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

async fn text_with_tabs_and_newlines_is_stored_exactly(app: TestApp) {
    let notes = "line one\nline two\r\n\tindented\tand tabbed\n\nafter a blank line";
    let first = "Ana\tMaría";
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": first, "notes": notes, "address": { "street": "Calle 60\nx 45" } }))
        .await;
    let (_, got) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(got["customer"]["notes"], notes);
    assert_eq!(got["customer"]["firstName"], first);
    assert_eq!(got["customer"]["address"]["street"], "Calle 60\nx 45");
    let reason = "line\tone\nline two";
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{CUSTOMERS}/{}/block", id_of(&c)),
            &app.admin(),
            Some(json!({ "isBlocked": true, "blockReason": reason })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer"]["blockReason"], reason);
}

async fn error_bodies_never_leak_sql_driver_or_file_details(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "José" }))
        .await;
    let mut answers: Vec<(String, StatusCode, Value)> = Vec::new();
    let raw_posts = [
        r#"{"phoneNumber": "#,
        r#"{"phoneNumber": "529991234567", "tags": [1, 2]}"#,
        r#"{"a":1}garbage"#,
    ];
    for raw in raw_posts {
        let req = app
            .request(Method::POST, CUSTOMERS, &app.admin())
            .header(CONTENT_TYPE, "application/json")
            .body(raw);
        let (status, body) = send(req).await;
        answers.push((raw.to_owned(), status, body));
    }
    let probes = [
        format!("{CUSTOMERS}/'%20OR%201=1--"),
        format!("{CUSTOMERS}/{}%27", id_of(&c)),
        format!("{CUSTOMERS}?sortBy=firstName;DROP%20TABLE%20customers"),
        format!("{CUSTOMERS}?page=99999999999999999999999"),
        format!("{CUSTOMERS}?limit=9223372036854775807"),
        format!("{CUSTOMERS}?page=9223372036854775807&limit=100"),
        format!("{CUSTOMERS}?%zz=1"),
        format!("{CUSTOMERS}/export?format=xml"),
    ];
    for path in &probes {
        let (status, body) = app.call(Method::GET, path, &app.admin(), None).await;
        answers.push((path.clone(), status, body));
    }
    // Search strings that mean something to SQL LIKE or FTS are plain text.
    for search in [
        "%25",
        "_",
        "%5C",
        "%22",
        "%22abc",
        "a%22b%22c",
        "abc*",
        "NEAR(a%20b)",
        "a%20OR%20b",
        "'%3B--",
        "((",
        "-jos",
        "^jo",
    ] {
        let path = format!("{CUSTOMERS}?search={search}");
        let (status, body) = app.call(Method::GET, &path, &app.admin(), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(
            body["pagination"]["total"], 0,
            "{path} matches nothing literally: {body}"
        );
        answers.push((path, status, body));
    }
    for (what, status, body) in &answers {
        assert_ne!(*status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: {body}");
        let text = body.to_string();
        for needle in [
            "SELECT", "sqlx", "sea_orm", "SeaORM", "sqlite", "postgres", ".rs:", "/src/", "/home/",
            "/work/", "/tmp/", "panicked",
        ] {
            assert!(
                !text.to_lowercase().contains(&needle.to_lowercase()),
                "{what} leaks {needle:?}: {text}"
            );
        }
    }
}

async fn tags_block_and_import_bodies_must_carry_their_fields(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567", "tags": ["kept"] }))
        .await;
    let tags = format!("{CUSTOMERS}/{}/tags", id_of(&c));
    let block = format!("{CUSTOMERS}/{}/block", id_of(&c));
    let cases = [
        (tags.as_str(), json!({ "action": "add" }), "tags"),
        (
            tags.as_str(),
            json!({ "tags": "premium", "action": "add" }),
            "tags",
        ),
        (
            tags.as_str(),
            json!({ "tags": [1, 2], "action": "set" }),
            "tags",
        ),
        (
            block.as_str(),
            json!({ "blockReason": "no flag" }),
            "isBlocked",
        ),
        (block.as_str(), json!({ "isBlocked": "yes" }), "isBlocked"),
        (
            block.as_str(),
            json!({ "isBlocked": true, "blockReason": 5 }),
            "blockReason",
        ),
    ];
    for (path, body, field) in cases {
        let (status, resp) = app
            .call(Method::PATCH, path, &app.admin(), Some(body.clone()))
            .await;
        assert_invalid(status, &resp, field);
    }
    let (_, now) = app
        .call(
            Method::GET,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(now["customer"], c, "refused bodies change nothing");
    let import = format!("{CUSTOMERS}/bulk/import");
    for body in [
        json!({}),
        json!({ "customers": "all" }),
        json!({ "customers": { "phoneNumber": "529990000001" } }),
    ] {
        let (status, resp) = app
            .call(Method::POST, &import, &app.admin(), Some(body))
            .await;
        assert_invalid(status, &resp, "customers");
    }
}

crate::db_tests!(
    invalid_phone_is_bad_user_input_naming_the_field,
    bad_email_is_bad_user_input,
    status_blocked_is_refused_on_create_and_on_update,
    unknown_enum_values_are_bad_user_input,
    page_and_limit_must_be_positive_whole_numbers,
    a_nul_character_in_text_is_bad_user_input,
    malformed_json_and_non_object_bodies_are_bad_user_input,
    a_tag_over_64_characters_or_more_than_100_tags_is_bad_user_input,
    permanent_must_be_true_or_false,
    a_request_without_a_bearer_token_is_unauthenticated,
    a_garbage_token_is_unauthenticated,
    an_expired_token_is_unauthenticated,
    a_token_signed_with_another_secret_is_unauthenticated,
    an_unsigned_alg_none_token_is_unauthenticated,
    a_token_with_an_unknown_role_is_unauthenticated,
    a_viewer_may_read_but_not_write,
    an_agent_may_not_hard_delete_or_bulk_import,
    an_unknown_or_malformed_id_is_not_found,
    another_tenants_customer_is_not_found_on_every_route_and_stays_untouched,
    lists_search_and_stats_never_show_another_tenants_customers,
    the_same_phone_may_exist_once_in_each_tenant,
    a_body_over_one_mebibyte_is_payload_too_large,
    bulk_import_accepts_a_body_over_one_mebibyte,
    bulk_import_over_sixty_four_mebibytes_is_payload_too_large,
    a_body_not_declared_as_json_is_unsupported_media_type,
    an_unknown_path_is_not_found_in_the_error_shape,
    text_with_tabs_and_newlines_is_stored_exactly,
    error_bodies_never_leak_sql_driver_or_file_details,
    tags_block_and_import_bodies_must_carry_their_fields,
);
