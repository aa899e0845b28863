//! The change history of customers: every write records field, old and new
//! value, actor and source; it pages newest first on both faces, stays
//! within its tenant, and outlives a hard delete.

use clientela::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::fixtures::phone;
use crate::helpers::graphql::code;
use crate::helpers::TestApp;

const CUSTOMERS: &str = "/api/v2/customers";

/// A page of `Customer.history` through GraphQL.
const HISTORY: &str = "query($id: ID!, $first: Int, $after: String) {
  customer(id: $id) { history(first: $first, after: $after) {
    edges { cursor node { id customerId field oldValue newValue actor source at } }
    pageInfo { hasNextPage endCursor }
  } }
}";

/// A page of `customerHistory` (also for a customer deleted for good).
const CUSTOMER_HISTORY: &str = "query($id: ID!, $first: Int, $after: String) {
  customerHistory(customerId: $id, first: $first, after: $after) {
    edges { cursor node { field oldValue newValue actor source } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Every entry of a customer's history, newest first, read over REST.
async fn rest_history(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let body = app
        .rest_as(token)
        .get_ok(&format!("{CUSTOMERS}/{id}/history?limit=100"))
        .await;
    body["history"].as_array().expect("history").clone()
}

/// `(field, oldValue, newValue, actor, source)` of each entry.
fn summary(entries: &[Value]) -> Vec<(String, Value, Value, String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e["field"].as_str().expect("field").to_owned(),
                e["oldValue"].clone(),
                e["newValue"].clone(),
                e["actor"].as_str().expect("actor").to_owned(),
                e["source"].as_str().expect("source").to_owned(),
            )
        })
        .collect()
}

/// The entries for one field, newest first.
fn of_field<'a>(entries: &'a [Value], field: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["field"] == field).collect()
}

async fn every_write_records_what_changed_who_and_through_what(app: TestApp) {
    let agent = app.token(Role::Agent, "default");
    let created = app
        .create_customer(json!({
            "phoneNumber": phone(1), "firstName": "Ana", "email": "ana@example.com",
            "tags": ["vip"], "customFields": {"plan": "gold"},
        }))
        .await;
    let id = created["_id"].as_str().expect("id").to_owned();

    // A creation: one entry per field it set, with no old value.
    let entries = rest_history(&app, &agent, &id).await;
    let fields: Vec<String> = summary(&entries).into_iter().map(|s| s.0).collect();
    for field in [
        "phoneNumber",
        "firstName",
        "email",
        "tags",
        "customFields",
        "status",
    ] {
        assert!(fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
    for field in ["lastName", "notes", "isBlocked", "deletedAt"] {
        assert!(!fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
    assert!(entries
        .iter()
        .all(|e| e["oldValue"].is_null() && e["actor"] == "admin-agent" && e["source"] == "api"));
    let first_name = of_field(&entries, "firstName");
    assert_eq!(first_name[0]["newValue"], "\"Ana\"");

    // An update through GraphQL as an agent.
    app.gql_data(
        &agent,
        "mutation($id: ID!) { updateCustomer(id: $id, input: {firstName: \"Ana María\", notes: \"llamar\"}) { id } }",
        json!({ "id": id }),
    )
    .await;
    // Tags, block and unblock through REST.
    let rest = app.rest_as(&agent);
    let (status, body) = rest
        .patch(
            &format!("{CUSTOMERS}/{id}/tags"),
            json!({ "tags": ["regular"], "action": "add" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for blocked in [true, false] {
        rest.set_blocked(&id, blocked).await;
    }
    // Soft delete, then restore.
    rest.expect(Method::DELETE, &format!("{CUSTOMERS}/{id}"), StatusCode::OK)
        .await;
    rest.expect(
        Method::POST,
        &format!("{CUSTOMERS}/{id}/restore"),
        StatusCode::OK,
    )
    .await;

    let entries = rest_history(&app, &agent, &id).await;
    let s = summary(&entries);
    let newest: Vec<(&str, &str, &str)> = s
        .iter()
        .take(2)
        .map(|(f, _, _, a, src)| (f.as_str(), a.as_str(), src.as_str()))
        .collect();
    // The restore is newest; its two fields in either order.
    let mut restore = newest.clone();
    restore.sort();
    assert_eq!(
        restore,
        [
            ("deletedAt", "agent-agent", "restore"),
            ("status", "agent-agent", "restore")
        ]
    );

    let expect = |field: &str, old: Value, new: Value, source: &str| {
        let found = s.iter().any(|(f, o, n, a, src)| {
            f == field && *o == old && *n == new && a == "agent-agent" && src == source
        });
        assert!(found, "no {field} {old} -> {new} by {source} in {s:#?}");
    };
    expect("firstName", json!("\"Ana\""), json!("\"Ana María\""), "api");
    expect("notes", json!("null"), json!("\"llamar\""), "api");
    expect(
        "tags",
        json!("[\"vip\"]"),
        json!("[\"vip\",\"regular\"]"),
        "api",
    );
    expect("status", json!("\"ACTIVE\""), json!("\"BLOCKED\""), "block");
    expect("isBlocked", json!("false"), json!("true"), "block");
    expect("blockReason", json!("null"), json!("\"spam\""), "block");
    expect("status", json!("\"BLOCKED\""), json!("\"ACTIVE\""), "block");
    expect("status", json!("\"ACTIVE\""), json!("\"INACTIVE\""), "api");
    expect(
        "status",
        json!("\"INACTIVE\""),
        json!("\"ACTIVE\""),
        "restore",
    );
    let deleted = of_field(&entries, "deletedAt");
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert_eq!(deleted[1]["oldValue"], "null");
    assert!(deleted[1]["newValue"]
        .as_str()
        .is_some_and(|v| v.starts_with("\"20")));
    assert_eq!(deleted[0]["newValue"], "null");

    // Statistics are not history: a message changes none of it.
    let before = entries.len();
    let conversation = app.new_conversation(&id).await;
    app.new_message(&conversation, "INBOUND", "2026-01-02T03:04:05Z")
        .await;
    assert_eq!(rest_history(&app, &agent, &id).await.len(), before);

    // GraphQL shows the same entries as REST, in the same order.
    let viewer = app.token(Role::Viewer, "default");
    let data = app
        .gql_data(&viewer, HISTORY, json!({ "id": id, "first": 100 }))
        .await;
    let edges = data["customer"]["history"]["edges"]
        .as_array()
        .expect("edges");
    let ids: Vec<&Value> = edges.iter().map(|e| &e["node"]["id"]).collect();
    let rest_ids: Vec<&Value> = entries.iter().map(|e| &e["id"]).collect();
    assert_eq!(ids, rest_ids);
    assert_eq!(edges[0]["node"]["customerId"], id.as_str());
}

async fn history_pages_newest_first_on_both_faces(app: TestApp) {
    let id = app.new_customer(2).await.to_string();
    let rest = app.rest();
    for n in 0..23 {
        let (status, body) = rest
            .put(
                &format!("{CUSTOMERS}/{id}"),
                json!({ "notes": format!("nota {n}") }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let all = rest_history(&app, &app.admin(), &id).await;
    // phoneNumber, segment, source, preferences, status at creation + 23 notes.
    assert_eq!(all.len(), 5 + 23, "{all:#?}");
    assert_eq!(all[0]["newValue"], "\"nota 22\"");
    let times: Vec<&str> = all.iter().map(|e| e["at"].as_str().expect("at")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // GraphQL, ten at a time with cursors.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .gql_data(
                &app.admin(),
                HISTORY,
                json!({ "id": id, "first": 10, "after": after }),
            )
            .await;
        let page = &data["customer"]["history"];
        let edges = page["edges"].as_array().expect("edges");
        assert!(edges.len() <= 10);
        seen.extend(edges.iter().map(|e| e["node"]["id"].clone()));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let want: Vec<Value> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, want);

    // REST pages agree.
    let body = rest
        .get_ok(&format!("{CUSTOMERS}/{id}/history?page=2&limit=10"))
        .await;
    assert_eq!(body["pagination"]["total"], 28);
    assert_eq!(body["pagination"]["pages"], 3);
    let page2: Vec<Value> = body["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(page2, want[10..20]);

    // Bad input answers the contract's error shape.
    rest.invalid(
        Method::GET,
        &format!("{CUSTOMERS}/{id}/history?limit=0"),
        None,
        "limit",
    )
    .await;
    let body = app
        .gql(
            &app.admin(),
            HISTORY,
            json!({ "id": id, "first": 5, "after": "not-a-cursor" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
}

async fn another_tenant_sees_no_history(app: TestApp) {
    let id = app.new_customer(3).await.to_string();
    let other = app.token(Role::Admin, "other");
    let body = app
        .rest_as(&other)
        .expect(
            Method::GET,
            &format!("{CUSTOMERS}/{id}/history"),
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(body["code"], "NOT_FOUND", "{body}");
    let body = app.gql(&other, CUSTOMER_HISTORY, json!({ "id": id })).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let data = app.gql_data(&other, HISTORY, json!({ "id": id })).await;
    assert!(data["customer"].is_null(), "{data}");
    // A malformed id is a 404 too.
    app.rest_as(&other)
        .expect(
            Method::GET,
            &format!("{CUSTOMERS}/nope/history"),
            StatusCode::NOT_FOUND,
        )
        .await;
}

async fn history_outlives_a_hard_delete(app: TestApp) {
    let id = app.new_customer(4).await.to_string();
    app.rest().hard_delete(&id).await;
    let viewer = app.token(Role::Viewer, "default");
    let entries = rest_history(&app, &viewer, &id).await;
    assert_eq!(entries[0]["field"], "*", "{entries:#?}");
    assert!(entries[0]["oldValue"].is_null() && entries[0]["newValue"].is_null());
    assert_eq!(entries[0]["actor"], "admin-agent");
    assert!(entries.len() > 1);
    let data = app
        .gql_data(&viewer, CUSTOMER_HISTORY, json!({ "id": id, "first": 1 }))
        .await;
    assert_eq!(data["customerHistory"]["edges"][0]["node"]["field"], "*");
    assert_eq!(data["customerHistory"]["pageInfo"]["hasNextPage"], true);
    // Still not another tenant's.
    app.rest_as(&app.token(Role::Viewer, "other"))
        .expect(
            Method::GET,
            &format!("{CUSTOMERS}/{id}/history"),
            StatusCode::NOT_FOUND,
        )
        .await;
}

crate::db_tests!(
    every_write_records_what_changed_who_and_through_what,
    history_pages_newest_first_on_both_faces,
    another_tenant_sees_no_history,
    history_outlives_a_hard_delete,
);
