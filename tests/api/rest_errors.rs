//! Every way a REST request can fail, and the one error body it fails with:
//! `{"success": false, "error": "...", "code": "..."}` plus `details` for
//! validation. 400 input rules, 404 ids, 413 sizes, 415 content types,
//! unknown paths, and no leaked internals (401 tokens, 403 roles and 404
//! tenants are `auth`'s).

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::rest::{
    self, assert_error, assert_invalid, id_of, records_of, routes_of, CODES, CUSTOMERS,
};
use crate::helpers::{read_response, TestApp};

/// Creates customer 529991234567; its path.
async fn a_customer(app: &TestApp) -> String {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    format!("{CUSTOMERS}/{}", id_of(&c))
}

/// `GET /api/v2/customers?{key}={value}` is a 400 naming `key`, for each value.
async fn list_refuses(app: &TestApp, key: &str, values: &[&str]) {
    for value in values {
        let query = format!("{CUSTOMERS}?{key}={value}");
        app.rest().invalid(Method::GET, &query, None, key).await;
    }
}

async fn invalid_phone_is_bad_user_input_naming_the_field(app: TestApp) {
    let rest = app.rest();
    let bad = ["123", "not a phone", "+52 123", "999abc1234567", "", "   "];
    let creates = bad
        .map(|phone| json!({ "phoneNumber": phone }))
        .into_iter()
        .chain([json!({ "firstName": "No phone" })]);
    for body in creates {
        rest.invalid(Method::POST, CUSTOMERS, Some(body), "phoneNumber")
            .await;
    }
    let path = a_customer(&app).await;
    for (body, field) in [
        (json!({ "phoneNumber": "12" }), "phoneNumber"),
        (
            json!({ "alternativePhones": ["529991111111", "nope"] }),
            "alternativePhones",
        ),
    ] {
        rest.invalid(Method::PUT, &path, Some(body), field).await;
    }
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
        let (status, body) = app.rest().post(CUSTOMERS, body).await;
        assert_invalid(status, &body, "email");
    }
    let (_, list) = app.rest().get(CUSTOMERS).await;
    assert_eq!(list["pagination"]["total"], 0, "nothing stored");
}

async fn status_blocked_is_refused_on_create_and_on_update(app: TestApp) {
    let (status, body) = app
        .rest()
        .post(
            CUSTOMERS,
            json!({ "phoneNumber": "529991234567", "status": "blocked" }),
        )
        .await;
    assert_invalid(status, &body, "status");
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    let (status, body) = app.rest().put(&path, json!({ "status": "blocked" })).await;
    assert_invalid(status, &body, "status");
    let (_, now) = app.rest().get(&path).await;
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
        let (status, resp) = app.rest().post(CUSTOMERS, body).await;
        assert_invalid(status, &resp, key);
    }
    for (key, values) in [
        ("status", &["deleted"][..]),
        ("segment", &["gold"]),
        ("source", &["tiktok"]),
        ("sortBy", &["password", "tenant_id"]),
        ("sortOrder", &["up", "DESCENDING"]),
    ] {
        list_refuses(&app, key, values).await;
    }
    let tags = format!("{}/tags", a_customer(&app).await);
    let body = json!({ "tags": ["a"], "action": "replace" });
    app.rest()
        .invalid(Method::PATCH, &tags, Some(body), "action")
        .await;
}

async fn page_and_limit_must_be_positive_whole_numbers(app: TestApp) {
    list_refuses(&app, "page", &["0", "-1", "1.5", "two"]).await;
    list_refuses(&app, "limit", &["0", "-5", "abc"]).await;
    let conversations = format!("{}/conversations?limit=0", a_customer(&app).await);
    app.rest()
        .invalid(Method::GET, &conversations, None, "limit")
        .await;
}

async fn a_nul_character_in_text_is_bad_user_input(app: TestApp) {
    let rest = app.rest();
    for key in ["firstName", "lastName", "notes"] {
        let mut body = json!({ "phoneNumber": "529991234567" });
        body[key] = json!("ab\u{0}cd");
        rest.invalid(Method::POST, CUSTOMERS, Some(body), key).await;
    }
    for (body, field) in [
        (json!({ "tags": ["ok", "b\u{0}d"] }), "tags"),
        (json!({ "address": { "city": "M\u{0}" } }), "address"),
    ] {
        let mut body = body;
        body["phoneNumber"] = json!("529991234567");
        rest.invalid(Method::POST, CUSTOMERS, Some(body), field)
            .await;
    }
    let search = format!("{CUSTOMERS}?search=a%00b");
    rest.invalid(Method::GET, &search, None, "search").await;
    let block = format!("{}/block", a_customer(&app).await);
    let body = json!({ "isBlocked": true, "blockReason": "x\u{0}" });
    rest.invalid(Method::PATCH, &block, Some(body), "blockReason")
        .await;
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
        let (status, body) = app.rest().send_raw(Method::POST, CUSTOMERS, raw).await;
        assert_invalid(status, &body, "body");
    }
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let (status, body) = app
        .rest()
        .send_raw(Method::PUT, &format!("{CUSTOMERS}/{}", id_of(&c)), "[1,2]")
        .await;
    assert_invalid(status, &body, "body");
    let (status, body) = app
        .rest()
        .send_raw(
            Method::POST,
            &format!("{CUSTOMERS}/bulk/import"),
            r#"[{"phoneNumber": "529991234568"}]"#,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
    let (_, list) = app.rest().get(CUSTOMERS).await;
    assert_eq!(
        list["pagination"]["total"], 1,
        "nothing stored by refused bodies"
    );
}

async fn a_tag_over_64_characters_or_more_than_100_tags_is_bad_user_input(app: TestApp) {
    let (status, body) = app
        .rest()
        .post(
            CUSTOMERS,
            json!({ "phoneNumber": "529991234567", "tags": ["x".repeat(65)] }),
        )
        .await;
    assert_invalid(status, &body, "tags");
    let many: Vec<String> = (0..101).map(|n| format!("t{n}")).collect();
    let (status, body) = app
        .rest()
        .post(
            CUSTOMERS,
            json!({ "phoneNumber": "529991234567", "tags": many }),
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
        .rest()
        .patch(&path, json!({ "tags": ["extra"], "action": "add" }))
        .await;
    assert_invalid(status, &body, "tags");
    let (status, body) = app
        .rest()
        .patch(&path, json!({ "tags": ["y".repeat(65)], "action": "set" }))
        .await;
    assert_invalid(status, &body, "tags");
    let (_, now) = app.rest().get(&format!("{CUSTOMERS}/{}", id_of(&c))).await;
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
            .rest()
            .delete(&format!("{path}?permanent={value}"))
            .await;
        assert_invalid(status, &body, "permanent");
    }
    let (status, now) = app.rest().get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        now["customer"]["status"], "active",
        "a refused delete deletes nothing"
    );
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
        let by_record = records_of(id, id).into_iter().flatten();
        for (method, path, body) in routes_of(id).into_iter().chain(by_record) {
            let (status, resp) = app.rest().send(method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
            assert_error(status, &resp, StatusCode::NOT_FOUND, "NOT_FOUND");
        }
    }
}

async fn a_body_over_one_mebibyte_is_payload_too_large(app: TestApp) {
    let body_of_len = |len: usize| {
        let head = r#"{"phoneNumber":"529991234567","notes":""#;
        let tail = r#""}"#;
        format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
    };
    let mib = 1024 * 1024;
    let (status, body) = app
        .rest()
        .send_raw(Method::POST, CUSTOMERS, body_of_len(mib + 1))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    // Exactly 1 MiB is read (and refused for its overlong notes, not for its size).
    let (status, body) = app
        .rest()
        .send_raw(Method::POST, CUSTOMERS, body_of_len(mib))
        .await;
    assert_invalid(status, &body, "notes");
    let c = app
        .create_customer(json!({ "phoneNumber": "529997654321" }))
        .await;
    let (status, body) = app
        .rest()
        .send_raw(
            Method::PUT,
            &format!("{CUSTOMERS}/{}", id_of(&c)),
            body_of_len(mib + 1),
        )
        .await;
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
    let (status, resp) = app
        .rest()
        .send_raw(Method::POST, &format!("{CUSTOMERS}/bulk/import"), body)
        .await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(
        resp["results"],
        json!({ "imported": 240, "duplicates": 0, "failed": 0 })
    );
    let (_, list) = app.rest().get(CUSTOMERS).await;
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
            let (status, body) = rest::send(req).await;
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
    let (status, body) = rest::send(req).await;
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
        let (status, body) = app.rest().get(path).await;
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
    let (_, got) = app.rest().get(&format!("{CUSTOMERS}/{}", id_of(&c))).await;
    assert_eq!(got["customer"]["notes"], notes);
    assert_eq!(got["customer"]["firstName"], first);
    assert_eq!(got["customer"]["address"]["street"], "Calle 60\nx 45");
    let reason = "line\tone\nline two";
    let (status, body) = app
        .rest()
        .patch(
            &format!("{CUSTOMERS}/{}/block", id_of(&c)),
            json!({ "isBlocked": true, "blockReason": reason }),
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
        let (status, body) = app.rest().send_raw(Method::POST, CUSTOMERS, raw).await;
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
        let (status, body) = app.rest().get(path).await;
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
        let (status, body) = app.rest().get(&path).await;
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
        let (status, resp) = app.rest().patch(path, body.clone()).await;
        assert_invalid(status, &resp, field);
    }
    let (_, now) = app.rest().get(&format!("{CUSTOMERS}/{}", id_of(&c))).await;
    assert_eq!(now["customer"], c, "refused bodies change nothing");
    let import = format!("{CUSTOMERS}/bulk/import");
    for body in [
        json!({}),
        json!({ "customers": "all" }),
        json!({ "customers": { "phoneNumber": "529990000001" } }),
    ] {
        let (status, resp) = app.rest().post(&import, body).await;
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
    an_unknown_or_malformed_id_is_not_found,
    a_body_over_one_mebibyte_is_payload_too_large,
    bulk_import_accepts_a_body_over_one_mebibyte,
    bulk_import_over_sixty_four_mebibytes_is_payload_too_large,
    a_body_not_declared_as_json_is_unsupported_media_type,
    an_unknown_path_is_not_found_in_the_error_shape,
    text_with_tabs_and_newlines_is_stored_exactly,
    error_bodies_never_leak_sql_driver_or_file_details,
    tags_block_and_import_bodies_must_carry_their_fields,
);
