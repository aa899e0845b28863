//! `customersConnection`: keyset cursors over the same filters and orders as
//! `customers`, both directions, bounded page sizes, opaque cursors that
//! reject tampering, tenancy, and walks that stay exact while other requests
//! create and delete customers between pages.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use clientela::auth::Role;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::graphql::code;
use crate::helpers::TestApp;

const CONNECTION: &str = "query(
  $filter: CustomerFilter, $first: Int, $after: String, $last: Int, $before: String,
  $sortBy: CustomerSortField, $sortOrder: SortOrder
) {
  customersConnection(
    filter: $filter, first: $first, after: $after, last: $last, before: $before,
    sortBy: $sortBy, sortOrder: $sortOrder
  ) {
    edges { cursor node { id } }
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}";

const LIST: &str =
    "query($filter: CustomerFilter, $sortBy: CustomerSortField, $sortOrder: SortOrder) {
  customers(filter: $filter, limit: 100, sortBy: $sortBy, sortOrder: $sortOrder) {
    items { id }
    pagination { total }
  }
}";

/// Orders the ten-customer fixture exercises: ties on every one, nulls on the nullable ones.
const ORDERS: &[(&str, &str)] = &[
    ("LAST_INTERACTION", "DESC"),
    ("LAST_INTERACTION", "ASC"),
    ("CREATED_AT", "ASC"),
    ("FIRST_CONTACT", "DESC"),
    ("FIRST_CONTACT", "ASC"),
    ("LAST_MESSAGE_AT", "DESC"),
    ("FIRST_NAME", "ASC"),
    ("LAST_NAME", "DESC"),
    ("EMAIL", "ASC"),
    ("PHONE_NUMBER", "DESC"),
];

/// One page of a connection, checked for internal consistency.
#[derive(Debug)]
struct Page {
    ids: Vec<String>,
    has_next: bool,
    has_previous: bool,
    start: Option<String>,
    end: Option<String>,
    total: u64,
}

/// Runs `customersConnection` with `variables` and reads the page; edges and
/// nodes must list the same customers, and the cursors of pageInfo must be
/// those of the first and last edge.
async fn connection(app: &TestApp, token: &str, variables: Value) -> Page {
    let body = app.gql(token, CONNECTION, variables.clone()).await;
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "errors for {variables}: {body}"
    );
    let c = &body["data"]["customersConnection"];
    let edges = c["edges"].as_array().expect("edges");
    let ids: Vec<String> = edges
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("node id").to_owned())
        .collect();
    let nodes: Vec<String> = c["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids, nodes, "edges and nodes differ: {body}");
    let cursor = |v: &Value| v.as_str().map(str::to_owned);
    let info = &c["pageInfo"];
    let page = Page {
        ids,
        has_next: info["hasNextPage"].as_bool().expect("hasNextPage"),
        has_previous: info["hasPreviousPage"].as_bool().expect("hasPreviousPage"),
        start: cursor(&info["startCursor"]),
        end: cursor(&info["endCursor"]),
        total: c["totalCount"].as_u64().expect("totalCount"),
    };
    assert_eq!(
        page.start,
        edges.first().and_then(|e| cursor(&e["cursor"])),
        "{body}"
    );
    assert_eq!(
        page.end,
        edges.last().and_then(|e| cursor(&e["cursor"])),
        "{body}"
    );
    page
}

/// `base` with more variables set.
fn with(base: &Value, extra: Value) -> Value {
    let mut v = base.clone();
    for (k, x) in extra.as_object().expect("an object") {
        v[k] = x.clone();
    }
    v
}

/// The ids `customers` lists for the same filter and order, and its total.
async fn listed(app: &TestApp, token: &str, variables: &Value) -> (Vec<String>, u64) {
    let body = app.gql(token, LIST, variables.clone()).await;
    let page = &body["data"]["customers"];
    let ids = page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("customers listed: {body}"))
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, page["pagination"]["total"].as_u64().expect("total"))
}

/// Every page from the start with `first: size`, checking the page flags of
/// a list nobody changes.
async fn walk_forward(app: &TestApp, token: &str, base: &Value, size: u64) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = connection(
            app,
            token,
            with(base, json!({ "first": size, "after": after })),
        )
        .await;
        assert_eq!(page.has_previous, after.is_some(), "{base}: {page:?}");
        assert!(page.ids.len() as u64 <= size, "{page:?}");
        if page.has_next {
            assert_eq!(
                page.ids.len() as u64,
                size,
                "a full page before the end: {page:?}"
            );
        }
        after = page.end.clone();
        let done = !page.has_next;
        pages.push(page.ids);
        if done {
            return pages;
        }
        assert!(pages.len() < 1000, "the walk never ends");
    }
}

/// Every page from the end with `last: size`, in the order they were read.
async fn walk_backward(app: &TestApp, token: &str, base: &Value, size: u64) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = connection(
            app,
            token,
            with(base, json!({ "last": size, "before": before })),
        )
        .await;
        assert_eq!(page.has_next, before.is_some(), "{base}: {page:?}");
        if page.has_previous {
            assert_eq!(
                page.ids.len() as u64,
                size,
                "a full page before the start: {page:?}"
            );
        }
        before = page.start.clone();
        let done = !page.has_previous;
        pages.push(page.ids);
        if done {
            return pages;
        }
        assert!(pages.len() < 1000, "the walk never ends");
    }
}

/// A time of the fixture, `minutes` after a fixed instant.
fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-01T12:00:00.123Z")
        .expect("valid time")
        .with_timezone(&Utc)
        + TimeDelta::minutes(minutes)
}

/// Ten customers with ties and nulls on every sort column; even ones tagged
/// `even`. Returns their ids.
async fn ten_customers(app: &TestApp) -> Vec<Uuid> {
    let first_names = [
        None,
        Some("Ana"),
        Some("Bea"),
        None,
        Some("Ana"),
        Some("Caro"),
        None,
        Some("Ana"),
        Some("Bea"),
        Some("Dana"),
    ];
    let last_names = [
        Some("Ruiz"),
        Some("Ruiz"),
        None,
        Some("Paz"),
        None,
        Some("Ruiz"),
        Some("Paz"),
        None,
        Some("Oca"),
        Some("Oca"),
    ];
    let mut ids = Vec::new();
    for i in 0..10 {
        let mut body = json!({ "phoneNumber": format!("52999300{i:04}") });
        if let Some(n) = first_names[i] {
            body["firstName"] = json!(n);
        }
        if let Some(n) = last_names[i] {
            body["lastName"] = json!(n);
        }
        if i % 3 != 0 {
            body["email"] = json!(format!("c{}@example.com", i % 4));
        }
        if i % 2 == 0 {
            body["tags"] = json!(["even"]);
        }
        let c = app.create_customer(body).await;
        ids.push(Uuid::parse_str(c["id"].as_str().expect("id")).expect("uuid"));
    }
    use entity::customer::{Column, Entity};
    for (i, id) in ids.iter().enumerate() {
        let first_contact = match i % 4 {
            0 => None,
            1 | 3 => Some(at(0)),
            _ => Some(at(i as i64)),
        };
        let last_message_at = (i == 5 || i == 8).then(|| at(7));
        Entity::update_many()
            .col_expr(Column::FirstContact, Expr::value(first_contact))
            .col_expr(Column::LastMessageAt, Expr::value(last_message_at))
            // Ties in threes.
            .col_expr(Column::LastInteraction, Expr::value(at(i as i64 / 3)))
            .filter(Column::Id.eq(*id))
            .exec(&app.db)
            .await
            .expect("set sort columns");
    }
    ids
}

async fn forward_walk_sees_every_customer_once_in_the_order_of_customers(app: TestApp) {
    ten_customers(&app).await;
    let token = app.admin();
    for (sort_by, sort_order) in ORDERS {
        let base = json!({ "sortBy": sort_by, "sortOrder": sort_order });
        let (want, _) = listed(&app, &token, &base).await;
        assert_eq!(want.len(), 10);
        let pages = walk_forward(&app, &token, &base, 3).await;
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 3, 3, 1],
            "{sort_by} {sort_order}"
        );
        assert_eq!(pages.concat(), want, "{sort_by} {sort_order}");
    }
    // The defaults are the same as those of `customers`: LAST_INTERACTION DESC, 20 a page.
    let (want, _) = listed(&app, &token, &json!({})).await;
    let page = connection(&app, &token, json!({})).await;
    assert_eq!(page.ids, want);
    assert!(!page.has_next && !page.has_previous);
}

async fn backward_walk_sees_the_same_customers_in_reverse_page_order(app: TestApp) {
    ten_customers(&app).await;
    let token = app.admin();
    for (sort_by, sort_order) in ORDERS {
        let base = json!({ "sortBy": sort_by, "sortOrder": sort_order });
        let (want, _) = listed(&app, &token, &base).await;
        let pages = walk_backward(&app, &token, &base, 3).await;
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 3, 3, 1],
            "{sort_by} {sort_order}"
        );
        let seen: Vec<String> = pages.into_iter().rev().flatten().collect();
        assert_eq!(seen, want, "{sort_by} {sort_order}");
    }
}

async fn after_and_before_together_bound_the_window_from_both_sides(app: TestApp) {
    ten_customers(&app).await;
    let token = app.admin();
    let base = json!({ "sortBy": "FIRST_CONTACT", "sortOrder": "ASC" });
    let (want, _) = listed(&app, &token, &base).await;
    let all = connection(&app, &token, with(&base, json!({ "first": 10 }))).await;
    assert_eq!(all.ids, want);
    let body = app
        .gql(&token, CONNECTION, with(&base, json!({ "first": 10 })))
        .await;
    let cursors: Vec<String> = body["data"]["customersConnection"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["cursor"].as_str().expect("cursor").to_owned())
        .collect();
    // Strictly between the 2nd and the 8th.
    let window = json!({ "after": cursors[1], "before": cursors[7] });
    let forward = connection(
        &app,
        &token,
        with(&base, with(&window, json!({ "first": 4 }))),
    )
    .await;
    assert_eq!(forward.ids, want[2..6]);
    assert!(forward.has_next && forward.has_previous);
    let backward = connection(
        &app,
        &token,
        with(&base, with(&window, json!({ "last": 4 }))),
    )
    .await;
    assert_eq!(backward.ids, want[3..7]);
    assert!(backward.has_next && backward.has_previous);
    // first: 0 is an empty page that still says whether more exist.
    let empty = connection(&app, &token, with(&base, json!({ "first": 0 }))).await;
    assert!(empty.ids.is_empty() && empty.has_next && empty.start.is_none());
}

async fn total_count_is_the_filtered_count_on_every_page(app: TestApp) {
    let ids = ten_customers(&app).await;
    let token = app.admin();
    let filtered =
        json!({ "filter": { "tags": ["even"] }, "sortBy": "FIRST_NAME", "sortOrder": "DESC" });
    let (want, total) = listed(&app, &token, &filtered).await;
    assert_eq!(total, 5);
    let pages = walk_forward(&app, &token, &filtered, 2).await;
    assert_eq!(pages.concat(), want);
    let mut after: Option<String> = None;
    for _ in 0..3 {
        let page = connection(
            &app,
            &token,
            with(&filtered, json!({ "first": 2, "after": after })),
        )
        .await;
        assert_eq!(page.total, 5, "{page:?}");
        after = page.end;
    }
    let evens: Vec<String> = ids.iter().step_by(2).map(Uuid::to_string).collect();
    assert!(want.iter().all(|id| evens.contains(id)));
    let unfiltered = connection(&app, &token, json!({ "first": 1 })).await;
    assert_eq!(unfiltered.total, 10);
    let searched = connection(&app, &token, json!({ "filter": { "search": "ana" } })).await;
    assert_eq!(searched.total, 4, "Ana three times and Dana");
    assert_eq!(searched.ids.len(), 4);
}

async fn first_and_last_above_100_are_clamped_to_100(app: TestApp) {
    let rows: Vec<Value> = (0..105)
        .map(|i| json!({ "phoneNumber": format!("52999100{i:04}") }))
        .collect();
    app.import_all(rows).await;
    let token = app.admin();
    let first = connection(&app, &token, json!({ "first": 1000 })).await;
    assert_eq!(first.ids.len(), 100);
    assert!(first.has_next && !first.has_previous);
    assert_eq!(first.total, 105);
    let last = connection(&app, &token, json!({ "last": 1000 })).await;
    assert_eq!(last.ids.len(), 100);
    assert!(last.has_previous && !last.has_next);
    let rest = connection(&app, &token, json!({ "first": 1000, "after": first.end })).await;
    assert_eq!(rest.ids.len(), 5);
    assert!(!rest.has_next && rest.has_previous);
    let default = connection(&app, &token, json!({})).await;
    assert_eq!(default.ids.len(), 20);
}

/// A cursor as the server would write it, with any content.
fn forged(json: Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

async fn bad_sizes_and_cursors_are_bad_user_input(app: TestApp) {
    ten_customers(&app).await;
    let token = app.admin();
    let by_name = connection(&app, &token, json!({ "first": 2, "sortBy": "FIRST_NAME" })).await;
    let name_cursor = by_name.end.expect("a cursor");
    let id = Uuid::now_v7().to_string();
    let cases = [
        json!({ "first": -1 }),
        json!({ "last": -1 }),
        json!({ "first": 2, "last": 2 }),
        json!({ "first": 2, "after": "garbage!!" }),
        json!({ "first": 2, "after": "" }),
        json!({ "last": 2, "before": "bm90IGpzb24" }),
        json!({ "first": 2, "after": forged(json!({})) }),
        json!({ "first": 2, "after": forged(json!({ "s": "createdAt", "v": "yesterday", "id": id })) }),
        json!({ "first": 2, "after": forged(json!({ "s": "createdAt", "v": null, "id": id })) }),
        json!({ "first": 2, "after": forged(json!({ "s": "createdAt", "v": "2024-01-01T00:00:00.000Z", "id": "x" })) }),
        json!({ "first": 2, "after": forged(json!({ "s": "nope", "v": null, "id": id })) }),
        json!({ "first": 2, "after": "A".repeat(10_000) }),
        // A cursor of a FIRST_NAME list given to a CREATED_AT one.
        json!({ "first": 2, "after": name_cursor, "sortBy": "CREATED_AT" }),
        json!({ "last": 2, "before": name_cursor, "sortBy": "CREATED_AT" }),
    ];
    for variables in cases {
        let body = app.gql(&token, CONNECTION, variables.clone()).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{variables}: {body}");
    }
    // A forged but well-formed cursor is only a position: no error.
    let page = connection(
        &app,
        &token,
        json!({ "first": 20, "after": forged(json!({ "s": "firstName", "v": null, "id": id })), "sortBy": "FIRST_NAME" }),
    )
    .await;
    assert!(page.ids.len() <= 3, "{page:?}");
}

async fn another_tenants_customers_never_appear(app: TestApp) {
    let other = app.token(Role::Admin, "other");
    let mut theirs = HashSet::new();
    for i in 0..5 {
        let (status, body) = app
            .rest_as(&other)
            .post(
                "/api/v2/customers",
                json!({ "phoneNumber": format!("52999400{i:04}") }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        theirs.insert(body["customer"]["id"].as_str().expect("id").to_owned());
    }
    for i in 0..4 {
        app.create_customer(json!({ "phoneNumber": format!("52999500{i:04}") }))
            .await;
    }
    let token = app.token(Role::Viewer, "default");
    for base in [
        json!({}),
        json!({ "sortBy": "CREATED_AT", "sortOrder": "ASC" }),
    ] {
        let pages = walk_forward(&app, &token, &base, 3).await;
        let seen = pages.concat();
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|id| !theirs.contains(id)), "{seen:?}");
        let backward = walk_backward(&app, &token, &base, 3).await.concat();
        assert_eq!(backward.len(), 4);
        assert!(backward.iter().all(|id| !theirs.contains(id)));
    }
    let page = connection(&app, &token, json!({ "first": 100 })).await;
    assert_eq!(page.total, 4);
    let mine = connection(&app, &other, json!({ "first": 100 })).await;
    assert_eq!(mine.ids.iter().cloned().collect::<HashSet<_>>(), theirs);
}

async fn walk_sees_every_survivor_once_while_customers_are_created_and_deleted(app: TestApp) {
    let rows: Vec<Value> = (0..200)
        .map(|i| json!({ "phoneNumber": format!("52999100{i:04}") }))
        .collect();
    let body = app.import_all(rows).await;
    let initial: Vec<String> = body["details"]["success"]
        .as_array()
        .expect("imported")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(initial.len(), 200);
    // Every third initial customer is deleted during one of the two walks.
    let doomed: Vec<&String> = initial.iter().step_by(3).collect();
    let (doomed_first, doomed_second) = doomed.split_at(doomed.len() / 2);
    let rounds = [
        ("CREATED_AT", "ASC", doomed_first),
        ("LAST_INTERACTION", "DESC", doomed_second),
    ];
    let token = app.token(Role::Viewer, "default");
    let mut deleted: HashSet<String> = HashSet::new();
    let mut created_before: Vec<String> = Vec::new();
    for (round, (sort_by, sort_order, victims)) in rounds.into_iter().enumerate() {
        // Customers that exist throughout this walk: the initial ones never
        // deleted (so far or in this round) and those the last round created.
        let survivors: HashSet<String> = initial
            .iter()
            .chain(&created_before)
            .filter(|id| !deleted.contains(*id) && !victims.contains(id))
            .cloned()
            .collect();
        let ops = Arc::new(AtomicUsize::new(0));
        let writer = {
            let client = app.client.clone();
            let base = app.url("");
            let admin = app.admin();
            let victims: Vec<String> = victims.iter().map(|v| (*v).clone()).collect();
            let ops = ops.clone();
            tokio::spawn(async move {
                let mut created = Vec::new();
                for (n, victim) in victims.iter().enumerate() {
                    let resp = client
                        .post(format!("{base}/api/v2/customers"))
                        .bearer_auth(&admin)
                        .json(&json!({ "phoneNumber": format!("5299920{round}{n:04}") }))
                        .send()
                        .await
                        .expect("create");
                    assert_eq!(resp.status(), StatusCode::CREATED);
                    let body: Value = resp.json().await.expect("json");
                    created.push(body["customer"]["id"].as_str().expect("id").to_owned());
                    let resp = client
                        .delete(format!("{base}/api/v2/customers/{victim}?permanent=true"))
                        .bearer_auth(&admin)
                        .send()
                        .await
                        .expect("delete");
                    assert_eq!(resp.status(), StatusCode::OK);
                    ops.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                created
            })
        };
        let base = json!({ "sortBy": sort_by, "sortOrder": sort_order });
        let ops_at_start = ops.load(Ordering::SeqCst);
        let mut seen: HashSet<String> = HashSet::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = connection(
                &app,
                &token,
                with(&base, json!({ "first": 7, "after": after })),
            )
            .await;
            for id in page.ids {
                assert!(seen.insert(id.clone()), "{sort_by}: {id} seen twice");
                assert!(
                    !deleted.contains(&id),
                    "{sort_by}: {id} was deleted before the walk"
                );
            }
            pages += 1;
            assert!(pages < 500, "the walk never ends");
            if !page.has_next {
                break;
            }
            after = page.end;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ops_during = ops.load(Ordering::SeqCst) - ops_at_start;
        let created = writer.await.expect("writer");
        assert!(
            ops_during > 0,
            "{sort_by}: no write happened during the walk"
        );
        let missed: Vec<&String> = survivors.iter().filter(|id| !seen.contains(*id)).collect();
        assert!(missed.is_empty(), "{sort_by}: missed {missed:?}");
        deleted.extend(victims.iter().map(|v| (*v).clone()));
        created_before.extend(created);
    }
}

crate::db_tests!(
    forward_walk_sees_every_customer_once_in_the_order_of_customers,
    backward_walk_sees_the_same_customers_in_reverse_page_order,
    after_and_before_together_bound_the_window_from_both_sides,
    total_count_is_the_filtered_count_on_every_page,
    first_and_last_above_100_are_clamped_to_100,
    bad_sizes_and_cursors_are_bad_user_input,
    another_tenants_customers_never_appear,
    walk_sees_every_survivor_once_while_customers_are_created_and_deleted,
);
