//! Authentication, roles and tenancy (rest.md "Authentication and roles"),
//! through both faces: every REST route, and GraphQL `me`. Tokens are built
//! here by hand so each rule is tested on exactly one defect: wrong secret,
//! expired, no `exp`, `alg: none`, algorithm switching, future `nbf`,
//! unknown role, missing claims. A refused token changes nothing; a role
//! may do what rest.md grants it and no more; another tenant's customers
//! are never seen, touched or counted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clientela::auth::Role;
use jsonwebtoken::Algorithm;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::rest::{
    self, admin_reads, all_routes, assert_error, id_of, reads, records_of, routes_of, writes,
    CUSTOMERS, IMPORTS,
};
use crate::helpers::tokens::{bearer, claims, now, sign, sign_with, valid_claims, FOREIGN_SECRET};
use crate::helpers::{TestApp, SECRET};

/// `GET /api/v2/customers` with this Authorization header value (or none).
async fn list_with_header(app: &TestApp, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.client.get(app.url(CUSTOMERS));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    rest::send(req).await
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
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
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

/// The one customer the 401 tests try to reach.
async fn kept_customer(app: &TestApp) -> Value {
    app.create_customer(
        json!({ "phoneNumber": "529991234567", "firstName": "Kept", "tags": ["a"] }),
    )
    .await
}

/// Every route answers 401 to the request `with_auth` builds, and nothing
/// changes: `kept` is the tenant's one customer.
async fn assert_every_route_refuses(
    app: &TestApp,
    kept: &Value,
    what: &str,
    with_auth: impl Fn(RequestBuilder) -> RequestBuilder,
) {
    for (method, path, body) in all_routes(&id_of(kept)) {
        let mut req = with_auth(app.client.request(method.clone(), app.url(&path)));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (status, resp) = rest::send(req).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{what}: {method} {path}: {resp}"
        );
        assert_error(status, &resp, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    let after = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/{}", id_of(kept)))
        .await;
    assert_eq!(&after["customer"], kept, "{what}: nothing changed");
    assert_eq!(app.rest().total().await, 1, "{what}: nothing created");
}

// ---------------------------------------------------------------- tokens

async fn a_well_formed_token_is_accepted_on_both_faces(app: TestApp) {
    let me = assert_accepted(&app, &sign(&valid_claims()), "valid token").await;
    assert_eq!(
        me,
        json!({ "agentId": "agent-1", "role": "ADMIN", "tenant": "default" })
    );
}

async fn a_request_without_a_bearer_token_is_unauthenticated_on_every_route(app: TestApp) {
    let kept = kept_customer(&app).await;
    assert_refused(&app, None, "no Authorization header").await;
    assert_every_route_refuses(&app, &kept, "no header", |req| req).await;
    for header in [
        "Basic x",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Token abc",
        "bearer",
    ] {
        assert_every_route_refuses(&app, &kept, header, |req| {
            req.header("Authorization", header)
        })
        .await;
    }
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

async fn a_garbage_token_is_unauthenticated(app: TestApp) {
    let (status, body) = app.rest_as("garbage").get(CUSTOMERS).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let (status, body) = app.rest_as("a.b.c").get(CUSTOMERS).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    // A valid token with its signature cut off, or with a changed payload.
    let token = app.admin();
    let (head, _) = token.rsplit_once('.').expect("three parts");
    let (status, body) = app.rest_as(&format!("{head}.")).get(CUSTOMERS).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = URL_SAFE_NO_PAD.encode(
        json!({ "sub": "x", "role": "admin", "tenant": "other", "exp": now() + 3600 }).to_string(),
    );
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let (status, body) = app.rest_as(&forged).get(CUSTOMERS).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
}

async fn a_token_signed_with_another_secret_is_unauthenticated_on_every_route(app: TestApp) {
    let forged = sign_with(Algorithm::HS256, FOREIGN_SECRET, &valid_claims());
    assert_refused(&app, Some(&format!("Bearer {forged}")), "wrong secret").await;
    let kept = kept_customer(&app).await;
    assert_every_route_refuses(&app, &kept, "foreign secret", |req| {
        req.bearer_auth(&forged)
    })
    .await;
}

async fn an_expired_token_is_unauthenticated_on_every_route(app: TestApp) {
    // The same claims with a future exp are accepted: only the expiry differs.
    assert_accepted(
        &app,
        &sign(&claims("admin", now() + 3600)),
        "exp in an hour",
    )
    .await;
    let expired = sign(&claims("admin", now() - 3600));
    assert_refused(&app, Some(&format!("Bearer {expired}")), "exp an hour ago").await;
    let kept = kept_customer(&app).await;
    assert_every_route_refuses(&app, &kept, "expired", |req| req.bearer_auth(&expired)).await;
}

async fn a_token_without_exp_is_unauthenticated(app: TestApp) {
    let claims = json!({ "sub": "agent-1", "role": "admin", "tenant": "default" });
    assert_refused(&app, Some(&bearer(&claims)), "no exp").await;
}

async fn an_unsigned_alg_none_token_is_unauthenticated_on_every_route(app: TestApp) {
    let payload = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
    let kept = kept_customer(&app).await;
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"NONE"}"#,
    ] {
        let unsigned = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(header));
        assert_refused(
            &app,
            Some(&format!("Bearer {unsigned}")),
            &format!("unsigned {header}"),
        )
        .await;
        assert_every_route_refuses(&app, &kept, header, |req| req.bearer_auth(&unsigned)).await;
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
    // Known roles with the same minting are accepted.
    for role in ["admin", "agent", "viewer"] {
        assert_accepted(&app, &sign(&claims(role, now() + 3600)), role).await;
    }
    for role in [
        json!("superuser"),
        json!("ADMIN"),
        json!("Admin"),
        json!(""),
        json!(1),
        json!(["admin"]),
    ] {
        let mut claims = valid_claims();
        claims["role"] = role.clone();
        assert_refused(&app, Some(&bearer(&claims)), &format!("role {role}")).await;
        let (status, body) = app
            .rest_as(&sign(&claims))
            .post(CUSTOMERS, json!({ "phoneNumber": "529991234567" }))
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
    assert_eq!(app.rest().total().await, 0, "nothing was created");
}

async fn a_token_without_a_role_acts_as_an_agent(app: TestApp) {
    let token = sign(&json!({ "sub": "agent-7", "tenant": "default", "exp": now() + 3600 }));
    let me = assert_accepted(&app, &token, "no role").await;
    assert_eq!(
        me,
        json!({ "agentId": "agent-7", "role": "AGENT", "tenant": "default" })
    );

    let body = json!({ "phoneNumber": "529991234567" });
    let (status, created) = app.rest_as(&token).post("/api/v2/customers", body).await;
    assert_eq!(status, StatusCode::CREATED, "an agent writes: {created}");
    let id = created["customer"]["_id"].as_str().expect("_id").to_owned();

    let path = format!("/api/v2/customers/{id}?permanent=true");
    let (status, body) = app.rest_as(&token).delete(&path).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an agent may not hard delete: {body}"
    );
    assert_eq!(body["code"], "FORBIDDEN");

    let rows = json!({ "customers": [{ "phoneNumber": "529997654321" }] });
    let (status, body) = app
        .rest_as(&token)
        .post("/api/v2/customers/bulk/import", rows)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an agent may not import: {body}"
    );

    let (status, body) = app.rest().get(&format!("/api/v2/customers/{id}")).await;
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
    app.rest_as(&other)
        .post(
            "/api/v2/customers",
            json!({ "phoneNumber": "529997654321" }),
        )
        .await;

    let token = sign(&json!({ "sub": "agent-1", "role": "viewer", "exp": now() + 3600 }));
    let me = assert_accepted(&app, &token, "no tenant").await;
    assert_eq!(me["tenant"], "default");
    let (status, body) = app.rest_as(&token).get("/api/v2/customers").await;
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

// ---------------------------------------------------------------- roles

async fn a_viewer_reads_everything_but_may_not_write(app: TestApp) {
    let c = app
        .create_customer(
            json!({ "phoneNumber": "529991234567", "firstName": "John", "tags": ["a"] }),
        )
        .await;
    let id = id_of(&c);
    let viewer = app.token(Role::Viewer, "default");
    for (method, path, _) in reads(&id) {
        let (status, body) = app.rest_as(&viewer).send(method, &path, None).await;
        assert_eq!(status, StatusCode::OK, "viewer reads {path}: {body}");
    }
    for (method, path, body) in admin_reads(&id).into_iter().chain(writes(&id)) {
        let (status, resp) = app.rest_as(&viewer).send(method.clone(), &path, body).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "viewer {method} {path}: {resp}"
        );
        assert_error(status, &resp, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let after = app.rest().get_ok(&format!("{CUSTOMERS}/{id}")).await;
    assert_eq!(after["customer"], c, "nothing changed");
    let after = &after["customer"];
    assert_eq!(
        (&after["firstName"], &after["tags"], &after["status"]),
        (&json!("John"), &json!(["a"]), &json!("active"))
    );
    assert_eq!(after["isBlocked"], false);
    assert_eq!(
        app.rest().total().await,
        1,
        "nothing was created or imported"
    );
}

async fn an_agent_may_not_hard_delete_or_bulk_import(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    let agent = app.token(Role::Agent, "default");
    let (status, body) = app
        .rest_as(&agent)
        .delete(&format!("{path}?permanent=true"))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, body) = app
        .rest_as(&agent)
        .post(
            &format!("{CUSTOMERS}/bulk/import"),
            json!({ "customers": [{ "phoneNumber": "529997654321" }] }),
        )
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (_, list) = app.rest().get(CUSTOMERS).await;
    assert_eq!(list["pagination"]["total"], 1, "nothing imported");
    let (status, after) = app.rest().get(&path).await;
    assert_eq!(status, StatusCode::OK, "not deleted");
    assert_eq!(after["customer"], c);

    // An agent reads and writes everything else, soft delete included.
    let (status, body) = app
        .rest_as(&agent)
        .post(CUSTOMERS, json!({ "phoneNumber": "529997654321" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .rest_as(&agent)
        .put(&path, json!({ "firstName": "Agent edit" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.rest_as(&agent).delete(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Customer deactivated");
}

async fn an_agent_may_not_bulk_import_but_an_admin_may(app: TestApp) {
    let rows = json!({ "customers": [{ "phoneNumber": "529990000001" }, { "phoneNumber": "529990000002" }] });
    let agent = app.token(Role::Agent, "default");
    let (status, body) = app
        .rest_as(&agent)
        .post("/api/v2/customers/bulk/import", rows.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");
    let (_, list) = app.rest_as(&agent).get("/api/v2/customers").await;
    assert_eq!(list["pagination"]["total"], 0, "nothing was imported");

    let (status, body) = app.rest().post("/api/v2/customers/bulk/import", rows).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"]["imported"], 2, "{body}");
}

// ---------------------------------------------------------------- tenancy

async fn tenants_never_see_or_touch_each_others_customers(app: TestApp) {
    let tenant_a = app.token(Role::Admin, "tenant-a");
    let tenant_b = app.token(Role::Admin, "tenant-b");
    let body = json!({ "phoneNumber": "529991234567", "firstName": "Alice", "tags": ["vip"] });
    let (status, created) = app.rest_as(&tenant_a).post("/api/v2/customers", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["customer"]["_id"].as_str().expect("_id").to_owned();

    for (method, path, body) in routes_of(&id) {
        let (status, resp) = app
            .rest_as(&tenant_b)
            .send(method.clone(), &path, body)
            .await;
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
        .rest_as(&tenant_b)
        .get("/api/v2/customers?search=alice")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["customers"], json!([]), "absent from B's list");
    assert_eq!(list["pagination"]["total"], 0);
    let (status, export) = app
        .rest_as(&tenant_b)
        .get("/api/v2/customers/export?format=json")
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(
        (&export["total"], &export["customers"]),
        (&json!(0), &json!([])),
        "absent from B's export"
    );
    let (_, stats) = app
        .rest_as(&tenant_b)
        .get("/api/v2/customers/stats/summary")
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
        .rest_as(&tenant_a)
        .get(&format!("/api/v2/customers/{id}"))
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
        .rest_as(&tenant_a)
        .get("/api/v2/customers/export?format=json")
        .await;
    assert_eq!(export["total"], 1, "{export}");

    // B may hold the same number: phone numbers are unique per tenant.
    let body = json!({ "phoneNumber": "+52 999 123 4567" });
    let (status, theirs) = app.rest_as(&tenant_b).post("/api/v2/customers", body).await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    assert_ne!(theirs["customer"]["_id"], created["customer"]["_id"]);
}

async fn another_tenants_customer_is_not_found_on_every_route_and_stays_untouched(app: TestApp) {
    let theirs = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Tenant A", "tags": ["a"], "status": "vip" }))
        .await;
    let id = id_of(&theirs);
    let before = app.rest().get(&format!("{CUSTOMERS}/{id}")).await.1;
    let other = app.token(Role::Admin, "tenant-b");
    for (method, path, body) in routes_of(&id) {
        let (status, resp) = app.rest_as(&other).send(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
        assert_error(status, &resp, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let (status, after) = app.rest().get(&format!("{CUSTOMERS}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before, "the other tenant's customer is untouched");
}

/// A merge and a finished import job of the default tenant: their ids.
async fn a_merge_and_an_import_job(app: &TestApp) -> (String, String) {
    let a = id_of(
        &app.create_customer(json!({ "phoneNumber": "529991234501" }))
            .await,
    );
    let b = id_of(
        &app.create_customer(json!({ "phoneNumber": "529991234502" }))
            .await,
    );
    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{a}/merge"), json!({ "others": [b] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let merge = body["merge"]["id"].as_str().expect("merge id").to_owned();
    let (status, body) = app
        .rest()
        .post(
            &format!("{IMPORTS}?mode=upsert"),
            json!([{ "phoneNumber": "529991234503" }, { "phoneNumber": "bad" }]),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = body["job"]["id"].as_str().expect("job id").to_owned();
    for _ in 0..600 {
        let body = app.rest().get_ok(&format!("{IMPORTS}/{job}")).await;
        if ["succeeded", "failed", "cancelled"]
            .contains(&body["job"]["status"].as_str().unwrap_or(""))
        {
            return (merge, job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {job} did not end");
}

async fn merges_and_import_jobs_answer_by_role_and_stay_in_their_tenant(app: TestApp) {
    let (merge, job) = a_merge_and_an_import_job(&app).await;
    let [reads, admin_reads, writes] = records_of(&merge, &job);
    let records = [
        format!("{CUSTOMERS}/merges/{merge}"),
        format!("{IMPORTS}/{job}"),
    ];
    let mut before = Vec::new();
    for path in &records {
        before.push(app.rest().get_ok(path).await);
    }
    let viewer = app.token(Role::Viewer, "default");
    for (method, path, _) in &reads {
        let (status, body) = app.rest_as(&viewer).send(method.clone(), path, None).await;
        assert_eq!(status, StatusCode::OK, "viewer reads {path}: {body}");
    }
    for (method, path, body) in admin_reads.iter().chain(&writes) {
        let (status, resp) = app
            .rest_as(&viewer)
            .send(method.clone(), path, body.clone())
            .await;
        assert_error(status, &resp, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let agent = app.token(Role::Agent, "default");
    for (method, path, body) in &admin_reads {
        let (status, resp) = app
            .rest_as(&agent)
            .send(method.clone(), path, body.clone())
            .await;
        assert_error(status, &resp, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let other = app.token(Role::Admin, "tenant-b");
    for (method, path, body) in reads.iter().chain(&admin_reads).chain(&writes) {
        let (status, resp) = app
            .rest_as(&other)
            .send(method.clone(), path, body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "tenant B {method} {path}: {resp}"
        );
        assert_error(status, &resp, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    for (path, before) in records.iter().zip(before) {
        let after = app.rest().get_ok(path).await;
        assert_eq!(after, before, "{path} is untouched by the refused requests");
    }
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
        .rest_as(&b)
        .post(
            CUSTOMERS,
            json!({ "phoneNumber": "529997777777", "firstName": "Bob", "tags": ["shared"] }),
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
        let (status, body) = app.rest_as(&b).get(&format!("{CUSTOMERS}{query}")).await;
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
        .rest_as(&b)
        .get(&format!("{CUSTOMERS}/stats/summary"))
        .await;
    assert_eq!(stats["summary"]["totalCustomers"], 1);
    assert_eq!(stats["summary"]["vipCustomers"], 0);
    assert_eq!(stats["segments"], json!([{ "_id": "new", "count": 1 }]));
    let (_, stats) = app.rest().get(&format!("{CUSTOMERS}/stats/summary")).await;
    assert_eq!(stats["summary"]["totalCustomers"], 2);
}

async fn the_same_phone_may_exist_once_in_each_tenant(app: TestApp) {
    let a = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let b_token = app.token(Role::Admin, "tenant-b");
    let (status, b) = app
        .rest_as(&b_token)
        .post(CUSTOMERS, json!({ "phoneNumber": "+52 999 123 4567" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_ne!(b["customer"]["_id"], a["_id"]);
    // Within tenant B it is now taken, and the 409 names B's customer, never A's.
    let (status, body) = app
        .rest_as(&b_token)
        .post(CUSTOMERS, json!({ "phoneNumber": "9991234567" }))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(body["details"][0]["existingId"], b["customer"]["_id"]);
    // Tenant B's bulk import sees only B's numbers.
    let (status, body) = app.rest_as(&b_token).post(&format!("{CUSTOMERS}/bulk/import"), json!({ "customers": [{ "phoneNumber": "529991234567" }, { "phoneNumber": "529990000001" }] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!({ "imported": 1, "duplicates": 1, "failed": 0 })
    );
    let (status, body) = app
        .rest()
        .post(CUSTOMERS, json!({ "phoneNumber": "529990000001" }))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "tenant A may still use B's new number: {body}"
    );
}

crate::db_tests!(
    a_well_formed_token_is_accepted_on_both_faces,
    a_request_without_a_bearer_token_is_unauthenticated_on_every_route,
    malformed_authorization_headers_are_unauthenticated,
    a_garbage_token_is_unauthenticated,
    a_token_signed_with_another_secret_is_unauthenticated_on_every_route,
    an_expired_token_is_unauthenticated_on_every_route,
    a_token_without_exp_is_unauthenticated,
    an_unsigned_alg_none_token_is_unauthenticated_on_every_route,
    a_token_signed_with_another_algorithm_is_unauthenticated,
    a_token_not_valid_before_a_future_time_is_unauthenticated,
    a_token_with_an_unknown_role_is_unauthenticated,
    a_token_without_a_role_acts_as_an_agent,
    a_token_without_a_tenant_belongs_to_the_default_tenant,
    export_takes_a_query_string_token_under_the_same_rules,
    a_viewer_reads_everything_but_may_not_write,
    an_agent_may_not_hard_delete_or_bulk_import,
    an_agent_may_not_bulk_import_but_an_admin_may,
    tenants_never_see_or_touch_each_others_customers,
    another_tenants_customer_is_not_found_on_every_route_and_stays_untouched,
    merges_and_import_jobs_answer_by_role_and_stay_in_their_tenant,
    lists_search_and_stats_never_show_another_tenants_customers,
    the_same_phone_may_exist_once_in_each_tenant,
);
