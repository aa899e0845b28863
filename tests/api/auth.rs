//! Authentication, roles and tenancy (rest.md "Authentication and roles"),
//! through both faces: REST `GET /api/v2/customers` and GraphQL `me`.
//! Tokens are built here by hand so each rule is tested on exactly one
//! defect: wrong secret, expired, no `exp`, `alg: none`, algorithm switching,
//! future `nbf`, unknown role, missing claims.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clientela::auth::Role;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{TestApp, SECRET};

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Claims of a valid admin token of the default tenant, valid an hour.
fn valid_claims() -> Value {
    json!({ "sub": "agent-1", "role": "admin", "tenant": "default", "exp": now() + 3600 })
}

/// `claims` signed with `algorithm` and `secret`.
fn sign_with(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// `claims` signed as the server expects (HS256 with its secret).
fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, SECRET, claims)
}

/// `GET /api/v2/customers` with this Authorization header value (or none).
async fn list_with_header(app: &TestApp, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.client.get(app.url("/api/v2/customers"));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GraphQL `{ me { agentId role tenant } }` with this Authorization header value (or none).
async fn me_with_header(app: &TestApp, authorization: Option<&str>) -> Value {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ me { agentId role tenant } }" }));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    req.send().await.expect("send").json().await.expect("json")
}

/// Both faces refuse this Authorization header: REST 401 in the error
/// envelope, GraphQL UNAUTHENTICATED without data.
async fn assert_refused(app: &TestApp, authorization: Option<&str>, why: &str) {
    let (status, body) = list_with_header(app, authorization).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "REST, {why}: {body}");
    assert_eq!(body["success"], false, "REST, {why}: {body}");
    assert_eq!(body["code"], "UNAUTHENTICATED", "REST, {why}: {body}");
    assert!(body.get("customers").is_none(), "REST, {why}: {body}");

    let body = me_with_header(app, authorization).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "GraphQL, {why}: {body}"
    );
    assert!(body["data"].is_null(), "GraphQL, {why}: {body}");
}

/// Both faces accept this token; returns what `me` says.
async fn assert_accepted(app: &TestApp, token: &str, why: &str) -> Value {
    let (status, body) = list_with_header(app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "REST, {why}: {body}");
    let body = me_with_header(app, Some(&format!("Bearer {token}"))).await;
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "GraphQL, {why}: {body}"
    );
    body["data"]["me"].clone()
}

/// A `Bearer` header for `claims` signed as the server expects.
fn bearer(claims: &Value) -> String {
    format!("Bearer {}", sign(claims))
}

async fn a_well_formed_token_is_accepted_on_both_faces(app: TestApp) {
    let me = assert_accepted(&app, &sign(&valid_claims()), "valid token").await;
    assert_eq!(
        me,
        json!({ "agentId": "agent-1", "role": "ADMIN", "tenant": "default" })
    );
}

async fn a_request_without_a_token_is_unauthenticated(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    assert_refused(&app, None, "no Authorization header").await;
}

async fn malformed_authorization_headers_are_unauthenticated(app: TestApp) {
    let token = sign(&valid_claims());
    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        format!("Token {token}"),
        token.clone(),
        format!("Bearer {token}x"),
        format!("Bearer {}", &token[..token.len() - 5]),
    ] {
        assert_refused(&app, Some(&header), &format!("header {header:?}")).await;
    }
    // The scheme name itself is case-insensitive (RFC 7235).
    let (status, body) = list_with_header(&app, Some(&format!("bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_token_signed_with_another_secret_is_unauthenticated(app: TestApp) {
    let forged = sign_with(
        Algorithm::HS256,
        "another-secret-that-is-also-long-enough!!",
        &valid_claims(),
    );
    assert_refused(&app, Some(&format!("Bearer {forged}")), "wrong secret").await;
}

async fn an_expired_token_is_unauthenticated(app: TestApp) {
    let claims =
        json!({ "sub": "agent-1", "role": "admin", "tenant": "default", "exp": now() - 3600 });
    assert_refused(&app, Some(&bearer(&claims)), "exp an hour ago").await;
}

async fn a_token_without_exp_is_unauthenticated(app: TestApp) {
    let claims = json!({ "sub": "agent-1", "role": "admin", "tenant": "default" });
    assert_refused(&app, Some(&bearer(&claims)), "no exp").await;
}

async fn an_alg_none_token_is_unauthenticated(app: TestApp) {
    let claims = valid_claims().to_string();
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
    ] {
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(&claims)
        );
        assert_refused(
            &app,
            Some(&format!("Bearer {unsigned}")),
            &format!("unsigned {header}"),
        )
        .await;
    }
}

async fn a_token_signed_with_another_algorithm_is_unauthenticated(app: TestApp) {
    for algorithm in [Algorithm::HS512, Algorithm::HS384] {
        let switched = sign_with(algorithm, SECRET, &valid_claims());
        assert_refused(
            &app,
            Some(&format!("Bearer {switched}")),
            &format!("{algorithm:?} with the right secret"),
        )
        .await;
    }
}

async fn a_token_not_valid_before_a_future_time_is_unauthenticated(app: TestApp) {
    let mut claims = valid_claims();
    claims["nbf"] = json!(now() + 3600);
    assert_refused(&app, Some(&bearer(&claims)), "nbf in an hour").await;
    // nbf is honoured, not refused on sight.
    claims["nbf"] = json!(now() - 60);
    assert_accepted(&app, &sign(&claims), "nbf a minute ago").await;
}

async fn a_token_with_an_unknown_role_is_unauthenticated(app: TestApp) {
    for role in [
        json!("superuser"),
        json!("ADMIN"),
        json!(""),
        json!(1),
        json!(["admin"]),
    ] {
        let mut claims = valid_claims();
        claims["role"] = role.clone();
        assert_refused(&app, Some(&bearer(&claims)), &format!("role {role}")).await;
    }
}

async fn a_token_without_a_role_acts_as_an_agent(app: TestApp) {
    let token = sign(&json!({ "sub": "agent-7", "tenant": "default", "exp": now() + 3600 }));
    let me = assert_accepted(&app, &token, "no role").await;
    assert_eq!(
        me,
        json!({ "agentId": "agent-7", "role": "AGENT", "tenant": "default" })
    );

    let body = json!({ "phoneNumber": "529991234567" });
    let (status, created) = app
        .call(Method::POST, "/api/v2/customers", &token, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "an agent writes: {created}");
    let id = created["customer"]["_id"].as_str().expect("_id").to_owned();

    let path = format!("/api/v2/customers/{id}?permanent=true");
    let (status, body) = app.call(Method::DELETE, &path, &token, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an agent may not hard delete: {body}"
    );
    assert_eq!(body["code"], "FORBIDDEN");

    let rows = json!({ "customers": [{ "phoneNumber": "529997654321" }] });
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v2/customers/bulk/import",
            &token,
            Some(rows),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an agent may not import: {body}"
    );

    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v2/customers/{id}"),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the customer is still there: {body}"
    );
}

async fn a_token_without_a_tenant_belongs_to_the_default_tenant(app: TestApp) {
    let mine = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let other = app.token(Role::Admin, "acme");
    app.call(
        Method::POST,
        "/api/v2/customers",
        &other,
        Some(json!({ "phoneNumber": "529997654321" })),
    )
    .await;

    let token = sign(&json!({ "sub": "agent-1", "role": "viewer", "exp": now() + 3600 }));
    let me = assert_accepted(&app, &token, "no tenant").await;
    assert_eq!(me["tenant"], "default");
    let (status, body) = app
        .call(Method::GET, "/api/v2/customers", &token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&Value> = body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| &c["_id"])
        .collect();
    assert_eq!(
        ids,
        [&mine["_id"]],
        "sees the default tenant's customers only"
    );
}

async fn a_viewer_reads_but_may_not_write(app: TestApp) {
    let c = app
        .create_customer(
            json!({ "phoneNumber": "529991234567", "firstName": "John", "tags": ["a"] }),
        )
        .await;
    let id = c["_id"].as_str().expect("_id");
    let viewer = app.token(Role::Viewer, "default");

    for path in [
        "/api/v2/customers".to_owned(),
        format!("/api/v2/customers/{id}"),
        format!("/api/v2/customers/{id}/conversations"),
        "/api/v2/customers/stats/summary".to_owned(),
        "/api/v2/customers/export?format=json".to_owned(),
    ] {
        let (status, body) = app.call(Method::GET, &path, &viewer, None).await;
        assert_eq!(status, StatusCode::OK, "viewer reads {path}: {body}");
    }

    let writes = [
        (
            Method::POST,
            "/api/v2/customers".to_owned(),
            Some(json!({ "phoneNumber": "529997654321" })),
        ),
        (
            Method::PUT,
            format!("/api/v2/customers/{id}"),
            Some(json!({ "firstName": "Eve" })),
        ),
        (
            Method::PATCH,
            format!("/api/v2/customers/{id}/tags"),
            Some(json!({ "tags": ["b"], "action": "set" })),
        ),
        (
            Method::PATCH,
            format!("/api/v2/customers/{id}/block"),
            Some(json!({ "isBlocked": true })),
        ),
        (Method::DELETE, format!("/api/v2/customers/{id}"), None),
        (
            Method::DELETE,
            format!("/api/v2/customers/{id}?permanent=true"),
            None,
        ),
        (
            Method::POST,
            "/api/v2/customers/bulk/import".to_owned(),
            Some(json!({ "customers": [{ "phoneNumber": "529990000001" }] })),
        ),
    ];
    for (method, path, body) in writes {
        let (status, resp) = app.call(method.clone(), &path, &viewer, body).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "viewer {method} {path}: {resp}"
        );
        assert_eq!(resp["code"], "FORBIDDEN", "viewer {method} {path}: {resp}");
    }

    let (_, after) = app
        .call(
            Method::GET,
            &format!("/api/v2/customers/{id}"),
            &app.admin(),
            None,
        )
        .await;
    let after = &after["customer"];
    assert_eq!(
        (&after["firstName"], &after["tags"], &after["status"]),
        (&json!("John"), &json!(["a"]), &json!("active"))
    );
    assert_eq!(after["isBlocked"], false);
    let (_, list) = app
        .call(Method::GET, "/api/v2/customers", &app.admin(), None)
        .await;
    assert_eq!(
        list["pagination"]["total"], 1,
        "nothing was created or imported"
    );
}

async fn an_agent_may_not_bulk_import_but_an_admin_may(app: TestApp) {
    let rows = json!({ "customers": [{ "phoneNumber": "529990000001" }, { "phoneNumber": "529990000002" }] });
    let agent = app.token(Role::Agent, "default");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v2/customers/bulk/import",
            &agent,
            Some(rows.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");
    let (_, list) = app
        .call(Method::GET, "/api/v2/customers", &agent, None)
        .await;
    assert_eq!(list["pagination"]["total"], 0, "nothing was imported");

    let (status, body) = app
        .call(
            Method::POST,
            "/api/v2/customers/bulk/import",
            &app.admin(),
            Some(rows),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"]["imported"], 2, "{body}");
}

async fn tenants_never_see_or_touch_each_others_customers(app: TestApp) {
    let tenant_a = app.token(Role::Admin, "tenant-a");
    let tenant_b = app.token(Role::Admin, "tenant-b");
    let body = json!({ "phoneNumber": "529991234567", "firstName": "Alice", "tags": ["vip"] });
    let (status, created) = app
        .call(Method::POST, "/api/v2/customers", &tenant_a, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["customer"]["_id"].as_str().expect("_id").to_owned();

    let attempts = [
        (Method::GET, format!("/api/v2/customers/{id}"), None),
        (
            Method::GET,
            format!("/api/v2/customers/{id}/conversations"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v2/customers/{id}"),
            Some(json!({ "firstName": "Mallory" })),
        ),
        (
            Method::PATCH,
            format!("/api/v2/customers/{id}/tags"),
            Some(json!({ "tags": ["owned"] })),
        ),
        (
            Method::PATCH,
            format!("/api/v2/customers/{id}/block"),
            Some(json!({ "isBlocked": true })),
        ),
        (Method::DELETE, format!("/api/v2/customers/{id}"), None),
        (
            Method::DELETE,
            format!("/api/v2/customers/{id}?permanent=true"),
            None,
        ),
    ];
    for (method, path, body) in attempts {
        let (status, resp) = app.call(method.clone(), &path, &tenant_b, body).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "tenant B {method} {path}: {resp}"
        );
        assert_eq!(
            resp["code"], "NOT_FOUND",
            "tenant B {method} {path}: {resp}"
        );
    }

    let (status, list) = app
        .call(
            Method::GET,
            "/api/v2/customers?search=alice",
            &tenant_b,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["customers"], json!([]), "absent from B's list");
    assert_eq!(list["pagination"]["total"], 0);
    let (status, export) = app
        .call(
            Method::GET,
            "/api/v2/customers/export?format=json",
            &tenant_b,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(
        (&export["total"], &export["customers"]),
        (&json!(0), &json!([])),
        "absent from B's export"
    );
    let (_, stats) = app
        .call(
            Method::GET,
            "/api/v2/customers/stats/summary",
            &tenant_b,
            None,
        )
        .await;
    assert_eq!(
        stats["summary"]["totalCustomers"], 0,
        "absent from B's stats: {stats}"
    );
    let body = app
        .gql(
            &tenant_b,
            "query($id: ID!) { customer(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["customer"], Value::Null, "{body}");
    let body = app
        .gql(
            &tenant_b,
            r#"{ customerByPhone(phoneNumber: "9991234567") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["customerByPhone"], Value::Null, "{body}");

    // A's customer is exactly as A left it.
    let (status, mine) = app
        .call(
            Method::GET,
            &format!("/api/v2/customers/{id}"),
            &tenant_a,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let c = &mine["customer"];
    assert_eq!(
        (&c["firstName"], &c["tags"], &c["status"], &c["isBlocked"]),
        (
            &json!("Alice"),
            &json!(["vip"]),
            &json!("active"),
            &json!(false)
        )
    );
    let (_, export) = app
        .call(
            Method::GET,
            "/api/v2/customers/export?format=json",
            &tenant_a,
            None,
        )
        .await;
    assert_eq!(export["total"], 1, "{export}");

    // B may hold the same number: phone numbers are unique per tenant.
    let body = json!({ "phoneNumber": "+52 999 123 4567" });
    let (status, theirs) = app
        .call(Method::POST, "/api/v2/customers", &tenant_b, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    assert_ne!(theirs["customer"]["_id"], created["customer"]["_id"]);
}

async fn export_takes_a_query_string_token_under_the_same_rules(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let good = sign(&valid_claims());
    let resp = app
        .client
        .get(app.url(&format!(
            "/api/v2/customers/export?format=json&token={good}"
        )))
        .send()
        .await;
    let resp = resp.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["total"], 1, "{body}");

    let expired = sign(&json!({ "sub": "agent-1", "role": "admin", "exp": now() - 3600 }));
    let forged = sign_with(
        Algorithm::HS256,
        "another-secret-that-is-also-long-enough!!",
        &valid_claims(),
    );
    for token in [expired, forged, "garbage".to_owned()] {
        let url = app.url(&format!(
            "/api/v2/customers/export?format=json&token={token}"
        ));
        let resp = app.client.get(url).send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "token {token}");
    }
    let resp = app
        .client
        .get(app.url("/api/v2/customers/export?format=json"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no token at all");
}

crate::db_tests!(
    a_well_formed_token_is_accepted_on_both_faces,
    a_request_without_a_token_is_unauthenticated,
    malformed_authorization_headers_are_unauthenticated,
    a_token_signed_with_another_secret_is_unauthenticated,
    an_expired_token_is_unauthenticated,
    a_token_without_exp_is_unauthenticated,
    an_alg_none_token_is_unauthenticated,
    a_token_signed_with_another_algorithm_is_unauthenticated,
    a_token_not_valid_before_a_future_time_is_unauthenticated,
    a_token_with_an_unknown_role_is_unauthenticated,
    a_token_without_a_role_acts_as_an_agent,
    a_token_without_a_tenant_belongs_to_the_default_tenant,
    a_viewer_reads_but_may_not_write,
    an_agent_may_not_bulk_import_but_an_admin_may,
    tenants_never_see_or_touch_each_others_customers,
    export_takes_a_query_string_token_under_the_same_rules,
);
