//! `GET /api/v2/customers/export`: the reference's CSV columns and quoting,
//! spreadsheet formula guards, JSON with a total, filters, the `?token=` of
//! `window.open`, tenancy, and a few thousand rows streamed whole.

use std::collections::HashSet;

use clientela::auth::Role;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::rest::{id_of, EXPORT};
use crate::helpers::TestApp;

const HEADER: &str =
    "phoneNumber,firstName,lastName,email,status,segment,tags,notes,createdAt,lastInteraction";

/// An export answer: status, content type, disposition and body text.
struct Answer {
    status: StatusCode,
    content_type: String,
    disposition: String,
    body: String,
}

impl Answer {
    /// Asserts a download: a `content_type` body sent as an attachment.
    #[track_caller]
    fn assert_download(&self, content_type: &str) {
        let (got, disposition) = (&self.content_type, &self.disposition);
        assert!(got.starts_with(content_type), "{got}");
        assert!(disposition.starts_with("attachment"), "{disposition}");
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("export JSON does not parse ({e}): {}", self.body))
    }

    /// The CSV records after the header line.
    fn records(&self) -> Vec<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(self.body.as_bytes());
        let header = reader.headers().expect("a header line").clone();
        assert_eq!(header.iter().collect::<Vec<_>>().join(","), HEADER);
        reader
            .records()
            .map(|r| {
                r.expect("a well-formed CSV record")
                    .iter()
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }
}

/// `GET {EXPORT}?{query}` with `token` as bearer (or none).
async fn export(app: &TestApp, query: &str, token: Option<&str>) -> Answer {
    let url = app.url(&format!("{EXPORT}?{query}"));
    let mut req = app.client.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("send");
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, disposition) = (header(CONTENT_TYPE), header(CONTENT_DISPOSITION));
    let status = resp.status();
    let body = resp.text().await.expect("the whole body arrives");
    Answer {
        status,
        content_type,
        disposition,
        body,
    }
}

/// An export as admin that must succeed.
async fn export_ok(app: &TestApp, query: &str) -> Answer {
    let answer = export(app, query, Some(&app.admin())).await;
    assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.body);
    answer
}

fn text<'a>(doc: &'a Value, key: &str) -> &'a str {
    doc[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string: {doc}"))
}

async fn csv_export_has_the_reference_header_and_fully_quoted_rows(app: TestApp) {
    let c = app
        .create_customer(json!({
            "phoneNumber": "+52 999 123 4567",
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com",
            "segment": "vip",
            "tags": ["premium", "loyal"],
            "notes": "VIP customer"
        }))
        .await;
    let answer = export_ok(&app, "format=csv").await;
    answer.assert_download("text/csv");
    let lines: Vec<&str> = answer.body.lines().collect();
    assert_eq!(lines[0], HEADER);
    let want = format!(
        r#""529991234567","John","Doe","john@example.com","active","vip","premium;loyal","VIP customer","{}","{}""#,
        text(&c, "createdAt"),
        text(&c, "lastInteraction")
    );
    assert_eq!(lines[1], want);
    assert_eq!(lines.len(), 2, "{}", answer.body);
    assert!(!answer.body.contains('\r'), "one line ending throughout");
}

async fn csv_writes_a_missing_value_as_an_empty_quoted_cell(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234568" }))
        .await;
    let answer = export_ok(&app, "format=csv").await;
    let want = format!(
        r#""529991234568","","","","active","new","","","{}","{}""#,
        text(&c, "createdAt"),
        text(&c, "lastInteraction")
    );
    assert_eq!(
        answer.body.lines().nth(1),
        Some(want.as_str()),
        "{}",
        answer.body
    );
}

async fn csv_guards_cells_that_a_spreadsheet_would_run_as_formulas(app: TestApp) {
    app.create_customer(json!({
        "phoneNumber": "529991234567",
        "firstName": "=HYPERLINK(\"x\")",
        "lastName": "+SUM(A1)",
        "notes": "-2+3",
        "tags": ["@cmd", "ok"]
    }))
    .await;
    app.create_customer(json!({ "phoneNumber": "529991234568", "firstName": "@ann", "lastName": "-", "notes": "=1" }))
        .await;
    let answer = export_ok(&app, "format=csv").await;
    let lines: Vec<&str> = answer.body.lines().collect();
    assert!(
        lines[1].starts_with(r#""529991234567","'=HYPERLINK(""x"")","'+SUM(A1)","","active","new","'@cmd;ok","'-2+3","#),
        "{}",
        lines[1]
    );
    let records = answer.records();
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!(first[1], "'=HYPERLINK(\"x\")");
    assert_eq!(first[2], "'+SUM(A1)");
    assert_eq!(first[6], "'@cmd;ok");
    assert_eq!(first[7], "'-2+3");
    let second = &records[1];
    assert_eq!(
        (second[1].as_str(), second[2].as_str(), second[7].as_str()),
        ("'@ann", "'-", "'=1")
    );
    // The phone number is digits: never guarded, never altered.
    assert_eq!(first[0], "529991234567");
}

async fn csv_doubles_embedded_quotes_and_keeps_newlines_inside_the_cell(app: TestApp) {
    let notes = "He said \"hi\", then left.\nSecond line, with a comma\n\tand a tab";
    let first = "Ana \"La Jefa\"";
    app.create_customer(
        json!({ "phoneNumber": "529991234567", "firstName": first, "notes": notes }),
    )
    .await;
    app.create_customer(json!({ "phoneNumber": "529991234568", "firstName": "Next" }))
        .await;
    let answer = export_ok(&app, "format=csv").await;
    assert!(
        answer.body.contains(r#""Ana ""La Jefa""""#),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains("\"He said \"\"hi\"\", then left.\nSecond line, with a comma\n\tand a tab\""),
        "{}",
        answer.body
    );
    let records = answer.records();
    assert_eq!(
        records.len(),
        2,
        "a newline inside a cell does not start a record"
    );
    assert_eq!(records[0][1], first);
    assert_eq!(records[0][7], notes);
    assert_eq!(records[1][1], "Next");
    for record in &records {
        assert_eq!(record.len(), 10);
    }
}

async fn json_export_answers_with_the_total_and_the_documents(app: TestApp) {
    let a = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "A", "tags": ["x"] }))
        .await;
    let b = app
        .create_customer(json!({ "phoneNumber": "529991234568", "firstName": "B" }))
        .await;
    let answer = export_ok(&app, "format=json").await;
    answer.assert_download("application/json");
    let body = answer.json();
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["total"], 2);
    let customers = body["customers"].as_array().expect("customers");
    assert_eq!(customers.len(), 2);
    let by_id = |id: &str| {
        customers
            .iter()
            .find(|c| c["_id"] == id)
            .cloned()
            .expect("exported")
    };
    assert_eq!(by_id(&id_of(&a)), a, "the same documents as the API");
    assert_eq!(by_id(&id_of(&b)), b);
    for c in customers {
        assert_eq!(c["_id"], c["id"]);
    }
    // Nothing to export is an empty list, still well-formed.
    let empty = export_ok(&app, "format=json&search=nobody").await.json();
    assert_eq!(
        empty,
        json!({ "success": true, "total": 0, "customers": [] })
    );
    let empty = export_ok(&app, "format=csv&search=nobody").await;
    assert_eq!(empty.body.trim_end(), HEADER);
}

async fn export_applies_the_list_filters(app: TestApp) {
    let rows = [
        json!({ "phoneNumber": "529991000001", "firstName": "José", "status": "vip", "segment": "vip", "tags": ["premium"] }),
        json!({ "phoneNumber": "529991000002", "firstName": "Jose", "segment": "regular", "tags": ["loyal"] }),
        json!({ "phoneNumber": "529991000003", "firstName": "Ana", "status": "inactive", "segment": "vip" }),
        json!({ "phoneNumber": "529991000004", "firstName": "Beto", "source": "referral", "tags": ["other"] }),
    ];
    for row in rows {
        app.create_customer(row).await;
    }
    let cases: &[(&str, &[&str])] = &[
        ("status=vip", &["529991000001"]),
        ("status=active", &["529991000002", "529991000004"]),
        ("segment=vip", &["529991000001", "529991000003"]),
        ("tags=premium,loyal", &["529991000001", "529991000002"]),
        ("search=jos%C3%A9", &["529991000001", "529991000002"]),
        ("search=1000003", &["529991000003"]),
        ("source=referral", &["529991000004"]),
        ("segment=vip&status=inactive", &["529991000003"]),
    ];
    for (filter, want) in cases {
        let want: HashSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
        let json = export_ok(&app, &format!("format=json&{filter}"))
            .await
            .json();
        let got: HashSet<String> = json["customers"]
            .as_array()
            .expect("customers")
            .iter()
            .map(|c| text(c, "phoneNumber").to_owned())
            .collect();
        assert_eq!(got, want, "json {filter}");
        assert_eq!(json["total"], json!(want.len()), "json {filter}");
        let csv = export_ok(&app, &format!("format=csv&{filter}")).await;
        let got: HashSet<String> = csv.records().into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(got, want, "csv {filter}");
    }
    for bad in ["status=gone", "segment=gold", "source=fax"] {
        let answer = export(&app, &format!("format=csv&{bad}"), Some(&app.admin())).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.body
        );
    }
}

async fn export_takes_the_token_from_the_query_string(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567", "status": "active" }))
        .await;
    // The reference's window.open form: no Authorization header.
    let token = app.token(Role::Viewer, "default");
    let answer = export(
        &app,
        &format!("format=csv&status=active&token={token}"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.records().len(), 1);

    for query in [
        "format=csv&token=garbage",
        "format=csv&token=a.b.c",
        "format=csv",
        "format=json&token=",
    ] {
        let answer = export(&app, query, None).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{query}: {}",
            answer.body
        );
        let body = answer.json();
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["code"], "UNAUTHENTICATED");
        assert!(
            !answer.body.contains("529991234567"),
            "no data in a refusal"
        );
    }
    // Another tenant's token in the query string sees only its own tenant.
    let other = app.token(Role::Admin, "tenant-b");
    let answer = export(&app, &format!("format=json&token={other}"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["total"], 0);
}

async fn unknown_export_format_is_bad_user_input(app: TestApp) {
    for format in ["xml", "CSV2", "pdf"] {
        let answer = export(&app, &format!("format={format}"), Some(&app.admin())).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{format}: {}",
            answer.body
        );
        let body = answer.json();
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["code"], "BAD_USER_INPUT");
        assert_eq!(body["details"][0]["field"], "format");
    }
}

async fn export_never_includes_another_tenants_customers(app: TestApp) {
    app.create_customer(
        json!({ "phoneNumber": "529991234567", "firstName": "Mine", "tags": ["t"] }),
    )
    .await;
    let other = app.token(Role::Admin, "tenant-b");
    let (status, body) = app
        .rest_as(&other)
        .post(
            "/api/v2/customers",
            json!({ "phoneNumber": "529997654321", "firstName": "Theirs", "tags": ["t"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for query in [
        "format=csv",
        "format=csv&tags=t",
        "format=csv&search=theirs",
        "format=json",
    ] {
        let answer = export_ok(&app, query).await;
        assert!(
            !answer.body.contains("529997654321"),
            "{query}: {}",
            answer.body
        );
        assert!(!answer.body.contains("Theirs"), "{query}: {}", answer.body);
    }
    let mine = export(&app, "format=json", Some(&other)).await.json();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["customers"][0]["firstName"], "Theirs");
}

/// Several pages of each format (a CSV page is 1,024 rows, a JSON page
/// 256), each page starting after the last key of the one before: every row
/// once, in the list's oldest-first order, including across customers
/// imported together (equal `createdAt`, ordered by id).
async fn export_of_three_thousand_customers_sends_every_row(app: TestApp) {
    let rows: Vec<Value> = (0..3_000)
        .map(|n| json!({ "phoneNumber": format!("52999{:07}", 4_000_000 + n), "firstName": format!("Customer {n}") }))
        .collect();
    app.import_all(rows).await;
    let mut oldest_first = Vec::new();
    for page in 1..=30 {
        let (status, list) = app
            .rest()
            .get(&format!(
                "/api/v2/customers?sortBy=createdAt&sortOrder=asc&limit=100&page={page}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let customers = list["customers"].as_array().expect("customers");
        oldest_first.extend(customers.iter().map(|c| text(c, "phoneNumber").to_owned()));
    }
    assert_eq!(oldest_first.len(), 3_000);

    let records = export_ok(&app, "format=csv").await.records();
    assert_eq!(records.len(), 3_000);
    let phones: HashSet<&str> = records.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(phones.len(), 3_000, "every customer once");
    assert!(records.iter().all(|r| r.len() == 10));
    let csv_order: Vec<&str> = records.iter().map(|r| r[0].as_str()).collect();
    assert!(
        csv_order == oldest_first,
        "CSV rows oldest first, as the list sorts them"
    );

    let json = export_ok(&app, "format=json").await.json();
    assert_eq!(json["total"], 3_000);
    let customers = json["customers"].as_array().expect("customers");
    assert_eq!(customers.len(), 3_000);
    let ids: HashSet<&str> = customers.iter().map(|c| text(c, "_id")).collect();
    assert_eq!(ids.len(), 3_000);
    let json_order: Vec<&str> = customers.iter().map(|c| text(c, "phoneNumber")).collect();
    assert!(
        json_order == oldest_first,
        "JSON customers oldest first, as the list sorts them"
    );
}

/// A cell as the export writes it: prefixed with `'` when a spreadsheet
/// would run it as a formula, quoted, its quotes doubled.
fn csv_cell(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// The CSV line of a customer as the API shows it (a REST document).
fn csv_line(c: &Value) -> String {
    let or_empty = |key: &str| c[key].as_str().unwrap_or_default().to_owned();
    let tags: Vec<&str> = c["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("a tag"))
        .collect();
    let cells = [
        or_empty("phoneNumber"),
        or_empty("firstName"),
        or_empty("lastName"),
        or_empty("email"),
        or_empty("status"),
        or_empty("segment"),
        tags.join(";"),
        or_empty("notes"),
        or_empty("createdAt"),
        or_empty("lastInteraction"),
    ];
    let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    cells.join(",") + "\n"
}

/// The whole CSV export, byte for byte, is the customers as the list shows
/// them, oldest first: whatever their cells hold (quotes, backslashes, the
/// separators of JSON text, newlines, formula starts, characters outside
/// ASCII) and however their stored times fall (a whole second, a fraction
/// shorter than a millisecond or finer than one: cut, never rounded).
async fn csv_export_is_the_customers_as_the_list_shows_them_byte_for_byte(app: TestApp) {
    use entity::customer::{Column, Entity};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let customers = [
        (
            json!({
                "phoneNumber": "529991000001",
                "firstName": "O'Brien",
                "lastName": "Back\\slash",
                "email": "ob@example.com",
                "tags": ["say \"hi\"", "a, b", "\", \"", "back\\slash", "línea\nnueva", "😀"],
                "notes": "=1+1\r\nnext \"line\", here"
            }),
            "2024-01-15T10:30:00Z",
            "2025-06-30T23:59:59.123456Z",
        ),
        (
            json!({ "phoneNumber": "529991000002", "firstName": "-dash", "tags": ["solo"], "segment": "vip", "status": "inactive" }),
            "2024-01-15T10:30:00.1Z",
            "2024-01-15T10:30:00.999999Z",
        ),
        (
            json!({ "phoneNumber": "529991000003" }),
            "2024-01-15T10:30:00.000999Z",
            "2024-02-29T00:00:00.0005Z",
        ),
        (
            json!({ "phoneNumber": "529991000004", "firstName": "Ünïcödé", "lastName": "@at", "tags": [], "notes": "\ttab" }),
            "2024-01-15T10:30:00.999999Z",
            "2026-01-01T00:00:00Z",
        ),
    ];
    for (body, created, last) in &customers {
        let phone = body["phoneNumber"].as_str().expect("a phone").to_owned();
        app.create_customer(body.clone()).await;
        let at = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("a time")
                .to_utc()
        };
        Entity::update_many()
            .col_expr(Column::CreatedAt, Expr::value(at(created)))
            .col_expr(Column::LastInteraction, Expr::value(at(last)))
            .filter(Column::PhoneNumber.eq(phone))
            .exec(&app.db)
            .await
            .expect("set the times");
    }
    let (status, list) = app
        .rest()
        .get("/api/v2/customers?sortBy=createdAt&sortOrder=asc&limit=100")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let shown = list["customers"].as_array().expect("customers");
    let created: Vec<&str> = shown.iter().map(|c| text(c, "createdAt")).collect();
    assert_eq!(
        created,
        [
            "2024-01-15T10:30:00.000Z",
            "2024-01-15T10:30:00.000Z",
            "2024-01-15T10:30:00.100Z",
            "2024-01-15T10:30:00.999Z"
        ],
        "times to the millisecond, cut"
    );
    let want: String = std::iter::once(format!("{HEADER}\n"))
        .chain(shown.iter().map(csv_line))
        .collect();
    let answer = export_ok(&app, "format=csv").await;
    assert_eq!(answer.body, want);
}

/// Filters whose text holds what SQL literals and patterns treat specially
/// (quotes, backslashes, `%`, `_`, `$1`, a statement's end) find in an
/// export exactly the customers the list finds, no more and no fewer.
async fn export_finds_what_the_list_finds_for_filters_with_quotes_and_escapes(app: TestApp) {
    let rows = [
        json!({ "phoneNumber": "529991000001", "firstName": "O'Brien", "lastName": "100%", "tags": ["it's \"x\""] }),
        json!({ "phoneNumber": "529991000002", "firstName": "Back\\slash", "lastName": "a_b", "tags": ["$1"] }),
        json!({ "phoneNumber": "529991000003", "firstName": "OBrien", "lastName": "100x", "tags": ["plain"] }),
        json!({ "phoneNumber": "529991000004", "firstName": "axb", "tags": ["it's", "'); DROP TABLE customers; --"] }),
    ];
    for row in rows {
        app.create_customer(row).await;
    }
    // Each case: the filter's query pairs, then the phones it finds.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (&[("search", "O'Brien")], &["529991000001"]),
        (&[("search", "100%")], &["529991000001"]),
        (&[("search", "a_b")], &["529991000002"]),
        (&[("search", "back\\slash")], &["529991000002"]),
        (&[("search", "\\")], &["529991000002"]),
        (&[("search", "$1")], &[]),
        (&[("search", "') OR 1=1 --")], &[]),
        (&[("tags", "it's \"x\"")], &["529991000001"]),
        (&[("tags", "$1")], &["529991000002"]),
        (&[("tags", "it's")], &["529991000004"]),
        (
            &[("tags", "'); DROP TABLE customers; --")],
            &["529991000004"],
        ),
        (
            &[("tags", "it's,$1"), ("search", "b")],
            &["529991000002", "529991000004"],
        ),
    ];
    let phones = |customers: &Value| -> HashSet<String> {
        customers
            .as_array()
            .expect("customers")
            .iter()
            .map(|c| text(c, "phoneNumber").to_owned())
            .collect()
    };
    for (filter, want) in cases {
        let query = |format: &str| {
            let mut url = reqwest::Url::parse("http://x/").expect("a url");
            url.query_pairs_mut()
                .append_pair("format", format)
                .extend_pairs(filter.iter());
            url.query().unwrap_or_default().to_owned()
        };
        let want: HashSet<String> = want.iter().map(|s| (*s).to_owned()).collect();
        let (status, list) = app
            .rest()
            .get(&format!("/api/v2/customers?limit=100&{}", query("json")))
            .await;
        assert_eq!(status, StatusCode::OK, "{filter:?}: {list}");
        assert_eq!(phones(&list["customers"]), want, "list {filter:?}");
        let json = export_ok(&app, &query("json")).await.json();
        assert_eq!(phones(&json["customers"]), want, "json {filter:?}");
        assert_eq!(json["total"], json!(want.len()), "json {filter:?}");
        let csv = export_ok(&app, &query("csv")).await;
        let got: HashSet<String> = csv.records().into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(got, want, "csv {filter:?}");
    }
    let (status, list) = app.rest().get("/api/v2/customers?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list["customers"].as_array().map(Vec::len),
        Some(4),
        "the table is whole"
    );
}

/// More rows than two PostgreSQL CSV pages (16,384 rows each) and many
/// SQLite ones (1,024), their creation times tied in threes across the
/// pages' borders and their ids in no order of their own: every row once,
/// oldest first and ties by id, as the database orders them.
async fn a_csv_export_of_many_pages_sends_every_row_once_in_order(app: TestApp) {
    use chrono::{TimeDelta, TimeZone, Utc};
    use entity::customer;
    use sea_orm::{EntityTrait, TransactionTrait};

    const ROWS: u128 = 40_000;
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("a time");
    let mut rows: Vec<customer::Model> = (0..ROWS)
        .map(|n| {
            let mut c = crate::helpers::model_rows::customer(n, uuid::Uuid::nil(), false);
            c.tenant_id = "default".into();
            // Distinct ids, scattered: bytewise order has nothing to do with n.
            c.id = uuid::Uuid::from_u128(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
            c.phone_number = format!("52999{n:07}");
            c.created_at = start + TimeDelta::seconds((n / 3) as i64);
            c
        })
        .collect();
    let txn = app.db.begin().await.expect("a transaction");
    for chunk in rows.chunks(500) {
        customer::Entity::insert_many(chunk.iter().cloned().map(customer::ActiveModel::from))
            .exec_without_returning(&txn)
            .await
            .expect("customers");
    }
    txn.commit().await.expect("committed");
    rows.sort_by_key(|c| (c.created_at, c.id));

    let records = export_ok(&app, "format=csv").await.records();
    assert_eq!(records.len(), rows.len(), "every row");
    let first_difference = records
        .iter()
        .zip(&rows)
        .position(|(record, row)| record[0] != row.phone_number);
    assert_eq!(first_difference, None, "oldest first, ties by id");
}

crate::db_tests!(
    a_csv_export_of_many_pages_sends_every_row_once_in_order,
    csv_export_is_the_customers_as_the_list_shows_them_byte_for_byte,
    export_finds_what_the_list_finds_for_filters_with_quotes_and_escapes,
    csv_export_has_the_reference_header_and_fully_quoted_rows,
    csv_writes_a_missing_value_as_an_empty_quoted_cell,
    csv_guards_cells_that_a_spreadsheet_would_run_as_formulas,
    csv_doubles_embedded_quotes_and_keeps_newlines_inside_the_cell,
    json_export_answers_with_the_total_and_the_documents,
    export_applies_the_list_filters,
    export_takes_the_token_from_the_query_string,
    unknown_export_format_is_bad_user_input,
    export_never_includes_another_tenants_customers,
    export_of_three_thousand_customers_sends_every_row,
);
