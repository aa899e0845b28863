//! Upsert on both faces: matched by phone (every canonical variant, primary
//! or alternative), email (case-insensitive) or externalId, each item
//! created, updated, unchanged or failed; ambiguity fails the item; the
//! batch limit; `Idempotency-Key` replays, refuses another body and lets
//! exactly one of two racing requests write; an upsert racing a create of a
//! variant of the same phone ends in one customer; externalId's 409.

use clientela::auth::Role;
use entity::customer;
use reqwest::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::rest::CUSTOMERS;
use crate::helpers::TestApp;

const UPSERT: &str = "/api/v2/customers/upsert";
const GQL_UPSERT: &str = "mutation($input: [UpdateCustomerInput!]!, $match: [CustomerMatchKey!]) {
  upsertCustomers(input: $input, match: $match) {
    created updated unchanged failed
    items { index status id matchedOn matchedValue errors { field code message } }
  }
}";

/// Customers of the default tenant, counted in SQL.
pub async fn stored(app: &TestApp) -> u64 {
    customer::Entity::find()
        .filter(customer::Column::TenantId.eq("default"))
        .count(&app.db)
        .await
        .expect("count")
}

async fn upsert(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, UPSERT, &app.admin(), Some(body))
        .await
}

async fn upsert_keyed(app: &TestApp, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    let resp = app
        .request(Method::POST, UPSERT, &app.admin())
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let replayed = resp.headers().contains_key("idempotent-replayed");
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body, replayed)
}

async fn rest_items_match_phone_variants_email_case_and_external_id(app: TestApp) {
    let a = app
        .create_customer(json!({"phoneNumber": "+52 (999) 123-4567", "email": "ana@example.com", "firstName": "Ana"}))
        .await;
    let b = app
        .create_customer(json!({"phoneNumber": "5215550001111", "email": "bo@example.com", "externalId": "shop-7"}))
        .await;
    let (status, body) = upsert(
        &app,
        json!({"customers": [
            {"phoneNumber": "5219991234567", "firstName": "Ana"},
            {"email": "ANA@Example.com", "lastName": "Pérez"},
            {"email": "bo@example.com", "lastName": "Pérez"},
            {"externalId": "shop-7", "firstName": "Bo"},
            {"phoneNumber": "5213330002222", "firstName": "New"},
            {"phoneNumber": "not a phone"},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items[0]["status"], "unchanged", "{body}");
    assert_eq!(items[0]["matchedOn"], "phone");
    assert_eq!(items[0]["matchedValue"], "529991234567");
    assert_eq!(items[0]["id"], a["_id"]);
    // Two items of one batch on one customer: the later one is not applied.
    assert_eq!(items[1]["status"], "failed");
    assert_eq!(items[1]["errors"][0]["code"], "DUPLICATE");
    assert_eq!(items[1]["matchedOn"], "email");
    assert_eq!(items[1]["id"], a["_id"]);
    assert_eq!(items[2]["status"], "updated");
    assert_eq!(items[2]["matchedOn"], "email");
    assert_eq!(items[3]["status"], "failed", "{body}");
    assert_eq!(items[3]["errors"][0]["code"], "DUPLICATE");
    assert_eq!(items[4]["status"], "created");
    assert!(items[4]["matchedOn"].is_null());
    assert_eq!(items[5]["status"], "failed");
    assert_eq!(items[5]["errors"][0]["field"], "phoneNumber");
    assert_eq!(
        body["results"],
        json!({"created": 1, "updated": 1, "unchanged": 1, "failed": 3})
    );
    let (_, body) = upsert(
        &app,
        json!({"customers": [
            {"email": "ANA@Example.com", "lastName": "Pérez"},
            {"externalId": "shop-7", "firstName": "Bo"},
        ]}),
    )
    .await;
    let items = body["items"].as_array().expect("items");
    assert_eq!(items[0]["status"], "updated", "{body}");
    assert_eq!(items[0]["matchedOn"], "email");
    assert_eq!(items[0]["matchedValue"], "ana@example.com");
    assert_eq!(items[1]["status"], "updated");
    assert_eq!(items[1]["matchedOn"], "externalId");
    assert_eq!(items[1]["id"], b["_id"]);
    assert_eq!(stored(&app).await, 3);
    let got = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/{}", b["_id"].as_str().expect("id")))
        .await;
    assert_eq!(got["customer"]["firstName"], "Bo", "{got}");
    assert_eq!(got["customer"]["externalId"], "shop-7", "{got}");
}

async fn graphql_items_match_alternative_numbers_and_a_second_run_is_unchanged(app: TestApp) {
    app.create_customer(
        json!({"phoneNumber": "5219990000001", "alternativePhones": ["+52 999 000 0002"]}),
    )
    .await;
    let vars = json!({"input": [
        {"phoneNumber": "529990000002", "firstName": "Alt"},
        {"phoneNumber": "5219990000003", "externalId": "x-3"},
    ]});
    let first = app.gql_data(&app.admin(), GQL_UPSERT, vars.clone()).await;
    let r = &first["upsertCustomers"];
    assert_eq!(r["items"][0]["status"], "UPDATED", "{r}");
    assert_eq!(r["items"][0]["matchedOn"], "PHONE");
    assert_eq!(r["items"][0]["matchedValue"], "529990000002");
    assert_eq!(r["items"][1]["status"], "CREATED");
    let again = app.gql_data(&app.admin(), GQL_UPSERT, vars).await;
    let r = &again["upsertCustomers"];
    assert_eq!(r["unchanged"], 2, "{r}");
    assert_eq!(r["items"][1]["matchedOn"], "PHONE");
    // By external id only, the second item matches on it.
    let by_ext = app
        .gql_data(
            &app.admin(),
            GQL_UPSERT,
            json!({"input": [{"externalId": "x-3", "notes": "n"}], "match": ["EXTERNAL_ID"]}),
        )
        .await;
    assert_eq!(by_ext["upsertCustomers"]["items"][0]["status"], "UPDATED");
    assert_eq!(
        by_ext["upsertCustomers"]["items"][0]["matchedOn"],
        "EXTERNAL_ID"
    );
    assert_eq!(stored(&app).await, 2);
}

async fn an_item_whose_phone_and_email_match_two_customers_fails_as_ambiguous(app: TestApp) {
    app.create_customer(json!({"phoneNumber": "5219991110001"}))
        .await;
    app.create_customer(json!({"phoneNumber": "5219991110002", "email": "b@example.com"}))
        .await;
    let (status, body) = upsert(
        &app,
        json!({"customers": [{"phoneNumber": "5219991110001", "email": "B@example.com", "firstName": "X"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = &body["items"][0];
    assert_eq!(item["status"], "failed", "{body}");
    assert_eq!(item["errors"][0]["code"], "AMBIGUOUS");
    let message = item["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("phone") && message.contains("email"),
        "{message}"
    );
    // Nothing changed.
    let named = customer::Entity::find()
        .filter(customer::Column::FirstName.eq("X"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(named, 0);
}

async fn more_than_a_thousand_items_are_refused_on_both_faces(app: TestApp) {
    let items: Vec<Value> = (0..1001)
        .map(|i| json!({"phoneNumber": format!("52199900{i:05}")}))
        .collect();
    let (status, body) = upsert(&app, json!({"customers": items})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "BAD_USER_INPUT");
    let gql = app
        .gql(&app.admin(), GQL_UPSERT, json!({"input": items}))
        .await;
    assert_eq!(
        gql["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{gql}"
    );
    assert_eq!(stored(&app).await, 0);
    // A viewer may not upsert.
    let viewer = app.token(Role::Viewer, "default");
    let (status, _) = app
        .call(
            Method::POST,
            UPSERT,
            &viewer,
            Some(json!({"customers": []})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body(app: TestApp) {
    let body = json!({"customers": [{"phoneNumber": "5219992220001", "firstName": "Idem"}]});
    let (s1, b1, replayed1) = upsert_keyed(&app, "key-1", &body).await;
    assert_eq!(s1, StatusCode::OK, "{b1}");
    assert!(!replayed1);
    assert_eq!(b1["items"][0]["status"], "created");
    let statements = app.statement_count();
    let (s2, b2, replayed2) = upsert_keyed(&app, "key-1", &body).await;
    assert_eq!((s2, &b2), (s1, &b1), "the first answer, byte for byte");
    assert!(replayed2);
    assert_eq!(stored(&app).await, 1);
    // The replay read its key and wrote nothing more than that.
    assert!(app.statement_count() - statements < 10);
    let other = json!({"customers": [{"phoneNumber": "5219992220002"}]});
    let (s3, b3, _) = upsert_keyed(&app, "key-1", &other).await;
    assert_eq!(s3, StatusCode::CONFLICT, "{b3}");
    assert_eq!(b3["code"], "CONFLICT");
    assert_eq!(stored(&app).await, 1);
    // Keys are per tenant: another tenant's same key runs.
    let other_tenant = app.token(Role::Admin, "other");
    let resp = app
        .request(Method::POST, UPSERT, &other_tenant)
        .header("Idempotency-Key", "key-1")
        .json(&other)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    // A 400 is kept and replayed too.
    let bad = json!({"customers": "nope"});
    let (s4, b4, _) = upsert_keyed(&app, "key-2", &bad).await;
    assert_eq!(s4, StatusCode::BAD_REQUEST);
    let (s5, b5, replayed5) = upsert_keyed(&app, "key-2", &bad).await;
    assert_eq!((s5, b5), (s4, b4));
    assert!(replayed5);
}

async fn concurrent_requests_with_one_key_write_once(app: TestApp) {
    for round in 0..5 {
        let body = json!({"customers": (0..50).map(|i| json!({"phoneNumber": format!("52199933{round}{i:04}")})).collect::<Vec<_>>()});
        let key = format!("race-{round}");
        let (a, b) = tokio::join!(
            upsert_keyed(&app, &key, &body),
            upsert_keyed(&app, &key, &body)
        );
        let created: u64 = [&a, &b]
            .iter()
            .filter(|(s, b, replayed)| {
                *s == StatusCode::OK && !replayed && b["results"]["created"] == 50
            })
            .count() as u64;
        assert_eq!(created, 1, "exactly one wrote: {a:?} {b:?}");
        for (s, body, _) in [&a, &b] {
            assert!(
                *s == StatusCode::OK || (*s == StatusCode::CONFLICT && body["code"] == "CONFLICT"),
                "{s} {body}"
            );
        }
    }
    assert_eq!(stored(&app).await, 250);
}

async fn an_upsert_racing_a_create_of_a_phone_variant_ends_in_one_customer(app: TestApp) {
    for round in 0..12 {
        let national = format!("+52 (999) 124-{:04}", 1000 + round);
        let canonical_variant = format!("521999124{:04}", 1000 + round);
        let admin = app.admin();
        let create = app.call(
            Method::POST,
            CUSTOMERS,
            &admin,
            Some(json!({"phoneNumber": national, "firstName": "Create"})),
        );
        let up = upsert(
            &app,
            json!({"customers": [{"phoneNumber": canonical_variant, "lastName": "Upsert"}]}),
        );
        let ((cs, cb), (us, ub)) = tokio::join!(create, up);
        assert!(
            cs == StatusCode::CREATED || cs == StatusCode::CONFLICT,
            "{cs} {cb}"
        );
        assert_eq!(us, StatusCode::OK, "{ub}");
        let status = ub["items"][0]["status"].as_str().expect("status");
        assert!(["created", "updated"].contains(&status), "{ub}");
        let n = customer::Entity::find()
            .filter(customer::Column::TenantId.eq("default"))
            .filter(customer::Column::PhoneNumber.eq(format!("52999124{:04}", 1000 + round)))
            .count(&app.db)
            .await
            .expect("count");
        assert_eq!(n, 1, "round {round}: {cb} {ub}");
    }
    assert_eq!(stored(&app).await, 12);
}

async fn a_taken_external_id_is_a_conflict_naming_its_holder_on_both_faces(app: TestApp) {
    let a = app
        .create_customer(json!({"phoneNumber": "5219994440001", "externalId": " crm-1 "}))
        .await;
    assert_eq!(a["externalId"], "crm-1", "{a}");
    let (status, body) = app
        .rest()
        .post(
            CUSTOMERS,
            json!({"phoneNumber": "5219994440002", "externalId": "crm-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"][0]["field"], "externalId");
    assert_eq!(body["details"][0]["existingId"], a["_id"]);
    let gql = app
        .gql(
            &app.admin(),
            "mutation { createCustomer(input: {phoneNumber: \"5219994440003\", externalId: \"crm-1\"}) { id externalId } }",
            json!({}),
        )
        .await;
    assert_eq!(gql["errors"][0]["extensions"]["code"], "CONFLICT", "{gql}");
    assert_eq!(gql["errors"][0]["extensions"]["existingId"], a["_id"]);
    assert_eq!(stored(&app).await, 1);
}

crate::db_tests!(
    rest_items_match_phone_variants_email_case_and_external_id,
    graphql_items_match_alternative_numbers_and_a_second_run_is_unchanged,
    an_item_whose_phone_and_email_match_two_customers_fails_as_ambiguous,
    more_than_a_thousand_items_are_refused_on_both_faces,
    an_idempotency_key_replays_the_first_answer_and_refuses_another_body,
    concurrent_requests_with_one_key_write_once,
    an_upsert_racing_a_create_of_a_phone_variant_ends_in_one_customer,
    a_taken_external_id_is_a_conflict_naming_its_holder_on_both_faces,
);
