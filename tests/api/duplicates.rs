//! The duplicate finder on both faces: each reason found with its
//! confidence, several reasons raising it, the trash and other tenants left
//! out, paging by cursor, and any role may read.

use clientela::auth::Role;
use entity::{customer, customer_phone};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::fixtures::uuid_of;
use crate::helpers::rest::CUSTOMERS;
use crate::helpers::TestApp;

const DUPLICATES: &str = "/api/v2/customers/duplicates";

const QUERY: &str = "query($first: Int, $after: String, $min: Float) {
  customerDuplicates(first: $first, after: $after, minConfidence: $min) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { confidence customers { id firstName } reasons { kind value customerIds } } }
    nodes { confidence customers { id } }
  }
}";

/// Creates a customer in `tenant` through REST; its id.
async fn create_in(app: &TestApp, tenant: &str, body: Value) -> String {
    let token = app.token(Role::Admin, tenant);
    let (status, resp) = app.rest_as(&token).post(CUSTOMERS, body).await;
    assert_eq!(status, StatusCode::CREATED, "{resp}");
    uuid_of(&resp["customer"]).to_string()
}

/// Stores `phone` as a customer's own number, as a row written before the
/// variant rules existed would hold it (the API folds such spellings).
async fn store_number(app: &TestApp, id: &str, old: &str, phone: &str) {
    let id: uuid::Uuid = id.parse().expect("uuid");
    customer::Entity::update_many()
        .col_expr(customer::Column::PhoneNumber, Expr::value(phone))
        .filter(customer::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .expect("number");
    customer_phone::Entity::update_many()
        .col_expr(customer_phone::Column::Phone, Expr::value(phone))
        .filter(customer_phone::Column::Phone.eq(old))
        .exec(&app.db)
        .await
        .expect("phone row");
}

/// Puts a customer in the trash (the column the trash sets).
async fn trash(app: &TestApp, id: &str) {
    let id: uuid::Uuid = id.parse().expect("uuid");
    customer::Entity::update_many()
        .col_expr(customer::Column::DeletedAt, Expr::value(chrono::Utc::now()))
        .filter(customer::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .expect("trash");
}

/// The REST groups as `(confidence, sorted member ids, sorted reason kinds)`.
fn rest_groups(body: &Value) -> Vec<(f64, Vec<String>, Vec<String>)> {
    body["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups in {body}"))
        .iter()
        .map(|g| {
            let mut ids: Vec<String> = g["customers"]
                .as_array()
                .expect("customers")
                .iter()
                .map(|c| c["_id"].as_str().expect("_id").to_owned())
                .collect();
            ids.sort();
            let mut kinds: Vec<String> = g["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .map(|r| r["kind"].as_str().expect("kind").to_owned())
                .collect();
            kinds.sort();
            (g["confidence"].as_f64().expect("confidence"), ids, kinds)
        })
        .collect()
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

async fn each_reason_is_found_with_its_confidence_on_both_faces(app: TestApp) {
    // Argentina: a mobile written without its "9" is stored as a landline.
    let ar_mobile = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "+54 9 11 2345-6789" }),
    )
    .await;
    let ar_plain = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "+54 11 2345-6789" }),
    )
    .await;
    // Mexico: a row holding the legacy "52 1" spelling.
    let mx_new = create_in(&app, "default", json!({ "phoneNumber": "529991112233" })).await;
    let mx_old = create_in(&app, "default", json!({ "phoneNumber": "529991112244" })).await;
    store_number(&app, &mx_old, "529991112244", "5219991112233").await;
    // Brazil: a mobile with and without its ninth digit.
    let br_nine = create_in(&app, "default", json!({ "phoneNumber": "529991113001" })).await;
    let br_eight = create_in(&app, "default", json!({ "phoneNumber": "529991113002" })).await;
    store_number(&app, &br_nine, "529991113001", "5511987654321").await;
    store_number(&app, &br_eight, "529991113002", "551187654321").await;
    // The same email, in other cases.
    let mail_a = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529991114001", "email": "Ana@Example.com" }),
    )
    .await;
    let mail_b = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529991114002", "email": "ana@example.COM " }),
    )
    .await;
    // The same folded name, numbers ending alike.
    let name_a = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529991234567", "firstName": "José", "lastName": "Pérez" }),
    )
    .await;
    let name_b = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529981234567", "firstName": "JOSE", "lastName": "perez" }),
    )
    .await;
    // Email and name + suffix together.
    let both_a = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "528117654321", "firstName": "Lía", "email": "lia@x.mx" }),
    )
    .await;
    let both_b = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "523317654321", "firstName": "lia", "email": "LIA@x.mx" }),
    )
    .await;
    // Alone: same name, other digits; same digits, other name.
    create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529997654000", "firstName": "José", "lastName": "Pérez" }),
    )
    .await;
    create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529977654000", "firstName": "Otro" }),
    )
    .await;

    let viewer = app.token(Role::Viewer, "default");
    let body = app.rest_as(&viewer).get_ok(DUPLICATES).await;
    assert_eq!(body["success"], true, "{body}");
    let groups = rest_groups(&body);
    let want = vec![
        (
            0.96,
            sorted(&[&both_a, &both_b]),
            vec!["email".to_owned(), "name_and_phone_suffix".to_owned()],
        ),
        (
            0.95,
            sorted(&[&ar_mobile, &ar_plain]),
            vec!["phone_variant".to_owned()],
        ),
        (
            0.95,
            sorted(&[&mx_new, &mx_old]),
            vec!["phone_variant".to_owned()],
        ),
        (
            0.95,
            sorted(&[&br_nine, &br_eight]),
            vec!["phone_variant".to_owned()],
        ),
        (0.9, sorted(&[&mail_a, &mail_b]), vec!["email".to_owned()]),
        (
            0.6,
            sorted(&[&name_a, &name_b]),
            vec!["name_and_phone_suffix".to_owned()],
        ),
    ];
    let mut got = groups.clone();
    let mut expected = want.clone();
    // Equal confidences sort by the oldest member; compare as sets.
    got.sort_by(|a, b| a.1.cmp(&b.1));
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(got, expected, "{body:#}");
    let confidences: Vec<f64> = groups.iter().map(|g| g.0).collect();
    assert!(
        confidences.windows(2).all(|w| w[0] >= w[1]),
        "most certain first: {confidences:?}"
    );
    assert_eq!(body["totalCount"], 6);
    assert_eq!(body["pageInfo"]["hasNextPage"], false);
    let ar = body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| {
            g["customers"][0]["_id"] == ar_mobile.as_str()
                || g["customers"][1]["_id"] == ar_mobile.as_str()
        })
        .expect("the Argentine group");
    assert_eq!(ar["reasons"][0]["value"], "541123456789", "{ar}");
    let names = body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["confidence"] == 0.6)
        .expect("the name group");
    assert_eq!(names["reasons"][0]["value"], "jose perez · 1234567");

    // GraphQL, as a viewer: the same groups in the same order.
    let data = app.gql_data(&viewer, QUERY, json!({})).await;
    let conn = &data["customerDuplicates"];
    assert_eq!(conn["totalCount"], 6, "{conn}");
    let gql: Vec<(f64, Vec<String>)> = conn["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let mut ids: Vec<String> = e["node"]["customers"]
                .as_array()
                .expect("customers")
                .iter()
                .map(|c| c["id"].as_str().expect("id").to_owned())
                .collect();
            ids.sort();
            (e["node"]["confidence"].as_f64().expect("confidence"), ids)
        })
        .collect();
    let rest: Vec<(f64, Vec<String>)> = groups.iter().map(|g| (g.0, g.1.clone())).collect();
    assert_eq!(gql, rest);
    assert_eq!(
        conn["edges"][0]["node"]["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r["kind"].as_str().expect("kind"))
            .collect::<Vec<_>>(),
        ["EMAIL", "NAME_AND_PHONE_SUFFIX"]
    );

    // A floor leaves out the weaker groups.
    let strong = app
        .rest_as(&viewer)
        .get_ok(&format!("{DUPLICATES}?minConfidence=0.9"))
        .await;
    assert_eq!(strong["totalCount"], 5, "{strong}");
    let data = app.gql_data(&viewer, QUERY, json!({ "min": 0.95 })).await;
    assert_eq!(data["customerDuplicates"]["totalCount"], 4);
}

async fn groups_page_by_cursor(app: TestApp) {
    for n in 0..5 {
        for k in 0..2 {
            create_in(
                &app,
                "default",
                json!({ "phoneNumber": format!("52999300{n}{k}00"), "email": format!("p{n}@x.com") }),
            )
            .await;
        }
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(c) => format!("{DUPLICATES}?first=2&after={c}"),
            None => format!("{DUPLICATES}?first=2"),
        };
        let body = app.rest().get_ok(&path).await;
        assert_eq!(body["totalCount"], 5, "{body}");
        for g in body["groups"].as_array().expect("groups") {
            seen.push(g["cursor"].as_str().expect("cursor").to_owned());
        }
        if body["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = body["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5);
    let mut distinct = seen.clone();
    distinct.dedup();
    assert_eq!(distinct, seen, "every group once, in order");
    // GraphQL pages the same way.
    let first = app
        .gql_data(&app.admin(), QUERY, json!({ "first": 3 }))
        .await;
    let end = first["customerDuplicates"]["pageInfo"]["endCursor"].clone();
    assert_eq!(first["customerDuplicates"]["pageInfo"]["hasNextPage"], true);
    let rest = app
        .gql_data(&app.admin(), QUERY, json!({ "first": 3, "after": end }))
        .await;
    let cursors: Vec<&str> = first["customerDuplicates"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .chain(
            rest["customerDuplicates"]["edges"]
                .as_array()
                .expect("edges"),
        )
        .map(|e| e["cursor"].as_str().expect("cursor"))
        .collect();
    assert_eq!(cursors, seen);
    // Bad arguments are bad input on both faces.
    for path in [
        format!("{DUPLICATES}?first=101"),
        format!("{DUPLICATES}?first=x"),
        format!("{DUPLICATES}?minConfidence=2"),
        format!("{DUPLICATES}?after=nonsense"),
    ] {
        let (status, body) = app.rest().get(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], "BAD_USER_INPUT");
    }
    let body = app
        .gql(&app.admin(), QUERY, json!({ "after": "nonsense" }))
        .await;
    assert_eq!(crate::helpers::graphql::code(&body), "BAD_USER_INPUT");
}

async fn the_trash_and_other_tenants_are_left_out(app: TestApp) {
    let a = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529991115001", "email": "x@x.com" }),
    )
    .await;
    let b = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529991115002", "email": "x@x.com" }),
    )
    .await;
    let c = create_in(
        &app,
        "default",
        json!({ "phoneNumber": "529991115003", "email": "x@x.com" }),
    )
    .await;
    // Another tenant has the same email and the same numbers.
    for n in 1..=3 {
        create_in(
            &app,
            "other",
            json!({ "phoneNumber": format!("52999111500{n}"), "email": "x@x.com" }),
        )
        .await;
    }
    let body = app.rest().get_ok(DUPLICATES).await;
    assert_eq!(rest_groups(&body)[0].1, sorted(&[&a, &b, &c]), "{body}");
    assert_eq!(body["totalCount"], 1);

    trash(&app, &c).await;
    let body = app.rest().get_ok(DUPLICATES).await;
    assert_eq!(rest_groups(&body)[0].1, sorted(&[&a, &b]), "{body}");
    trash(&app, &b).await;
    let body = app.rest().get_ok(DUPLICATES).await;
    assert_eq!(body["totalCount"], 0, "a group of one is no group: {body}");

    // The other tenant sees its own three, none of ours.
    let other = app.token(Role::Viewer, "other");
    let body = app.rest_as(&other).get_ok(DUPLICATES).await;
    let groups = rest_groups(&body);
    assert_eq!(groups.len(), 1, "{body}");
    assert_eq!(groups[0].1.len(), 3);
    assert!(!groups[0].1.contains(&a));
    // No token, no answer.
    let resp = app
        .client
        .get(app.url(DUPLICATES))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

crate::db_tests!(
    each_reason_is_found_with_its_confidence_on_both_faces,
    groups_page_by_cursor,
    the_trash_and_other_tenants_are_left_out,
);
