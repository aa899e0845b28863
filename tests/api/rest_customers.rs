//! The REST routes of the legacy reference, each with its seed example and the
//! rules `contract/rest.md` settles: list filters, search, sorting and
//! pagination, details, create, PUT, tags, block, delete, stats,
//! conversations and bulk import.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::customer;
use reqwest::{Method, StatusCode};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::fixtures::{at, import_indexes, is_contract_timestamp, phone};
use crate::helpers::rest::{id_of, CUSTOMERS};
use crate::helpers::snapshot::customer_settings;
use crate::helpers::TestApp;

/// The create body of the reference, verbatim.
fn reference_body() -> Value {
    json!({
        "phoneNumber": "529991234567",
        "firstName": "John",
        "lastName": "Doe",
        "email": "john@example.com",
        "tags": ["premium"],
        "segment": "new",
        "source": "whatsapp",
        "address": {
            "street": "123 Main St",
            "city": "Cancún",
            "state": "Quintana Roo",
            "country": "México",
            "postalCode": "77500"
        },
        "notes": "VIP customer - priority support",
        "customFields": {
            "birthday": "1990-05-15",
            "company": "Acme Corp"
        },
        "preferences": {
            "language": "es",
            "communicationHours": {
                "start": "09:00",
                "end": "18:00"
            }
        }
    })
}

/// `GET /api/v2/customers?{query}` as admin; must be 200.
async fn list(app: &TestApp, query: &str) -> Value {
    app.rest().get_ok(&format!("{CUSTOMERS}?{query}")).await
}

/// The ids of a list answer, in order.
fn ids(list: &Value) -> Vec<String> {
    list["customers"]
        .as_array()
        .expect("customers array")
        .iter()
        .map(id_of)
        .collect()
}

/// The phone numbers of a list answer, sorted.
fn phones(list: &Value) -> BTreeSet<String> {
    list["customers"]
        .as_array()
        .expect("customers array")
        .iter()
        .map(|c| c["phoneNumber"].as_str().expect("phoneNumber").to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `GET /api/v2/customers/{id}` as admin; must be 200; the whole answer.
async fn details(app: &TestApp, id: &str) -> Value {
    app.rest().get_ok(&format!("{CUSTOMERS}/{id}")).await
}

/// `PUT /api/v2/customers/{id}` as admin; must be 200; the whole answer.
async fn put_ok(app: &TestApp, id: &str, body: Value) -> Value {
    let (status, answer) = app.rest().put(&format!("{CUSTOMERS}/{id}"), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Customers 1, 2 and 3 (their [`phone`] only, created in that order); their ids.
async fn three_customers(app: &TestApp) -> [String; 3] {
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(app.new_customer(n).await.to_string());
    }
    ids.try_into().expect("three ids")
}

/// Sets a timestamp column the API never lets a caller write (times that
/// conversations and messages would move), straight in the database.
async fn set_time(app: &TestApp, id: &str, column: customer::Column, value: Option<DateTime<Utc>>) {
    let id = uuid::Uuid::parse_str(id).expect("a uuid");
    let result = customer::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .filter(customer::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .expect("update a timestamp");
    assert_eq!(result.rows_affected, 1);
}

async fn list_has_the_reference_shape_with_default_pagination(app: TestApp) {
    for n in 0..3 {
        app.create_customer(json!({ "phoneNumber": phone(n) }))
            .await;
    }
    let body = list(&app, "").await;
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["customers"].as_array().expect("customers").len(), 3);
    assert_eq!(
        body["pagination"],
        json!({ "page": 1, "limit": 20, "total": 3, "pages": 1 })
    );
    for c in body["customers"].as_array().expect("customers") {
        assert_eq!(c["_id"], c["id"], "{c}");
    }
}

async fn list_filters_by_status_segment_source_and_any_of_the_tags(app: TestApp) {
    let a = app
        .create_customer(json!({ "phoneNumber": phone(1), "status": "vip", "segment": "vip", "source": "referral", "tags": ["premium"] }))
        .await;
    let b = app
        .create_customer(json!({ "phoneNumber": phone(2), "status": "active", "segment": "vip", "source": "website", "tags": ["loyal", "x"] }))
        .await;
    let c = app
        .create_customer(json!({ "phoneNumber": phone(3), "status": "inactive", "segment": "regular", "source": "referral", "tags": ["other"] }))
        .await;
    let d = app
        .create_customer(json!({ "phoneNumber": phone(4) }))
        .await;
    let ids_of = |docs: &[&Value]| docs.iter().map(|d| id_of(d)).collect::<BTreeSet<_>>();
    let got = |body: &Value| ids(body).into_iter().collect::<BTreeSet<_>>();

    assert_eq!(got(&list(&app, "status=vip").await), ids_of(&[&a]));
    assert_eq!(got(&list(&app, "status=active").await), ids_of(&[&b, &d]));
    assert_eq!(got(&list(&app, "segment=vip").await), ids_of(&[&a, &b]));
    assert_eq!(got(&list(&app, "segment=new").await), ids_of(&[&d]));
    assert_eq!(got(&list(&app, "source=referral").await), ids_of(&[&a, &c]));
    assert_eq!(got(&list(&app, "source=whatsapp").await), ids_of(&[&d]));
    // Tags: ANY of them.
    assert_eq!(
        got(&list(&app, "tags=premium,loyal").await),
        ids_of(&[&a, &b])
    );
    assert_eq!(got(&list(&app, "tags=other").await), ids_of(&[&c]));
    assert_eq!(
        got(&list(&app, "tags=Premium").await),
        ids_of(&[]),
        "tags are case-sensitive"
    );
    // Filters combine with AND, and the total counts the filtered set.
    let body = list(&app, "segment=vip&source=website&tags=premium,loyal").await;
    assert_eq!(got(&body), ids_of(&[&b]));
    assert_eq!(body["pagination"]["total"], 1);
}

async fn search_is_case_and_accent_insensitive_and_every_word_must_match(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": phone(1), "firstName": "José", "lastName": "Pérez", "email": "jose.perez@example.com" }))
        .await;
    app.create_customer(json!({ "phoneNumber": phone(2), "firstName": "Jose", "lastName": "Doe" }))
        .await;
    app.create_customer(json!({ "phoneNumber": phone(3), "firstName": "John", "lastName": "Doe", "email": "john.doe@example.com" }))
        .await;
    app.create_customer(
        json!({ "phoneNumber": phone(4), "firstName": "Johnny", "lastName": "Smith" }),
    )
    .await;
    app.create_customer(json!({ "phoneNumber": phone(5), "firstName": "Jane", "lastName": "Doe" }))
        .await;
    let (p1, p2, p3, p4, p5) = (phone(1), phone(2), phone(3), phone(4), phone(5));

    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        ("josé", set(&[&p1, &p2])),
        ("JOSE", set(&[&p1, &p2])),
        ("Jósé", set(&[&p1, &p2])),
        ("perez", set(&[&p1])),
        ("PÉREZ", set(&[&p1])),
        ("john%20doe", set(&[&p3])),
        ("doe%20JOHN", set(&[&p3])),
        ("doe", set(&[&p2, &p3, &p5])),
        ("jo", set(&[&p1, &p2, &p3, &p4])),
        ("john", set(&[&p3, &p4])),
        ("example.com", set(&[&p1, &p3])),
        ("JOHN.DOE%40EXAMPLE", set(&[&p3])),
        ("jane%20smith", set(&[])),
        ("zzz", set(&[])),
    ];
    for (search, want) in cases {
        let body = list(&app, &format!("search={search}")).await;
        assert_eq!(phones(&body), want, "search={search}");
        assert_eq!(
            body["pagination"]["total"],
            json!(want.len()),
            "search={search}"
        );
    }
}

async fn search_finds_a_customer_by_a_fragment_of_the_phone_number(app: TestApp) {
    let target = app
        .create_customer(json!({ "phoneNumber": "+52 999 765 4321", "firstName": "Target" }))
        .await;
    app.create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Other" }))
        .await;
    for search in [
        "765-4321",
        "7654321",
        "9997654",
        "(999)%20765",
        "529997654321",
        "%2B52%20999%20765%204321",
        "4321",
    ] {
        let body = list(&app, &format!("search={search}")).await;
        assert_eq!(ids(&body), vec![id_of(&target)], "search={search}");
    }
}

async fn sort_by_first_name_or_email_puts_missing_values_last_in_both_orders(app: TestApp) {
    let p1 = id_of(&app.create_customer(json!({ "phoneNumber": phone(1), "firstName": "Carlos", "email": "carlos@example.com" })).await);
    let p2 = id_of(
        &app.create_customer(json!({ "phoneNumber": phone(2), "firstName": "Ana" }))
            .await,
    );
    let p3 = id_of(
        &app.create_customer(json!({ "phoneNumber": phone(3), "email": "beto@example.com" }))
            .await,
    );
    let p4 = id_of(
        &app.create_customer(
            json!({ "phoneNumber": phone(4), "firstName": "Beto", "email": "ana@example.com" }),
        )
        .await,
    );

    let cases = [
        ("sortBy=firstName&sortOrder=asc", [&p2, &p4, &p1, &p3]),
        ("sortBy=firstName&sortOrder=desc", [&p1, &p4, &p2, &p3]),
        ("sortBy=email&sortOrder=asc", [&p4, &p3, &p1, &p2]),
        ("sortBy=email&sortOrder=desc", [&p1, &p3, &p4, &p2]),
        ("sortBy=phoneNumber&sortOrder=asc", [&p1, &p2, &p3, &p4]),
        ("sortBy=phoneNumber&sortOrder=desc", [&p4, &p3, &p2, &p1]),
    ];
    for (query, want) in cases {
        let want: Vec<String> = want.iter().map(|s| (*s).clone()).collect();
        assert_eq!(ids(&list(&app, query).await), want, "{query}");
    }
}

async fn walking_every_page_with_limit_two_sees_each_customer_exactly_once(app: TestApp) {
    // One import gives every row the same createdAt and lastInteraction: all ties.
    let rows: Vec<Value> = (0..7)
        .map(|n| json!({ "phoneNumber": phone(n), "firstName": "Same" }))
        .collect();
    let imported = app.import(rows).await;
    let all: BTreeSet<String> = imported["details"]["success"]
        .as_array()
        .expect("success")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(all.len(), 7);

    for order in [
        "",
        "sortOrder=asc",
        "sortBy=createdAt&sortOrder=asc",
        "sortBy=createdAt&sortOrder=desc",
        "sortBy=firstName&sortOrder=asc",
        "sortBy=firstName&sortOrder=desc",
        "sortBy=email&sortOrder=asc",
        "sortBy=lastMessageAt&sortOrder=desc",
        "sortBy=firstContact&sortOrder=asc",
        "sortBy=updatedAt&sortOrder=desc",
        "sortBy=lastName&sortOrder=asc",
    ] {
        let mut seen = Vec::new();
        for page in 1..=4 {
            let body = list(&app, &format!("{order}&limit=2&page={page}")).await;
            assert_eq!(
                body["pagination"],
                json!({ "page": page, "limit": 2, "total": 7, "pages": 4 }),
                "{order}"
            );
            seen.extend(ids(&body));
        }
        assert_eq!(seen.len(), 7, "{order}: {seen:?}");
        assert_eq!(
            seen.iter().cloned().collect::<BTreeSet<_>>(),
            all,
            "{order}: pages overlap or skip"
        );
        // The same query gives the same order every time.
        let mut again = Vec::new();
        for page in 1..=4 {
            again.extend(ids(
                &list(&app, &format!("{order}&limit=2&page={page}")).await
            ));
        }
        assert_eq!(again, seen, "{order}: order is not stable");
    }
}

async fn limit_above_one_hundred_is_clamped_to_one_hundred(app: TestApp) {
    let rows: Vec<Value> = (0..105)
        .map(|n| json!({ "phoneNumber": phone(n) }))
        .collect();
    app.import(rows).await;
    let body = list(&app, "limit=500").await;
    assert_eq!(body["customers"].as_array().expect("customers").len(), 100);
    assert_eq!(
        body["pagination"],
        json!({ "page": 1, "limit": 100, "total": 105, "pages": 2 })
    );
    let body = list(&app, "limit=101&page=2").await;
    assert_eq!(body["customers"].as_array().expect("customers").len(), 5);
    assert_eq!(
        body["pagination"],
        json!({ "page": 2, "limit": 100, "total": 105, "pages": 2 })
    );
}

async fn page_past_the_end_is_an_empty_list_with_the_true_pagination(app: TestApp) {
    for n in 0..3 {
        app.create_customer(json!({ "phoneNumber": phone(n) }))
            .await;
    }
    let body = list(&app, "page=5&limit=2").await;
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["customers"], json!([]));
    assert_eq!(
        body["pagination"],
        json!({ "page": 5, "limit": 2, "total": 3, "pages": 2 })
    );
    let empty = list(&app, "search=nobody").await;
    assert_eq!(empty["customers"], json!([]));
    assert_eq!(
        empty["pagination"],
        json!({ "page": 1, "limit": 20, "total": 0, "pages": 0 })
    );
}

async fn details_show_the_customer_its_statistics_and_no_recent_conversations_when_new(
    app: TestApp,
) {
    const NAME: &str = "details_of_a_new_customer";
    let created = app.create_customer(reference_body()).await;
    let id = id_of(&created);
    let body = details(&app, &id).await;
    assert_eq!(body["success"], json!(true));
    let customer = &body["customer"];
    assert_eq!(customer["_id"], json!(id));
    assert_eq!(customer["id"], json!(id));
    assert_eq!(customer, &created, "details show what create answered");
    customer_settings(".customer").bind(|| insta::assert_json_snapshot!(NAME, body));
    for key in ["createdAt", "updatedAt", "lastInteraction"] {
        assert!(
            is_contract_timestamp(&customer[key]),
            "{key}: {}",
            customer[key]
        );
    }
    assert_eq!(customer["firstContact"], Value::Null, "no contact yet");
    assert_eq!(customer["lastMessageAt"], Value::Null, "no message yet");
    assert_eq!(customer["createdAt"], customer["updatedAt"]);
}

async fn create_with_the_reference_body_is_created_and_echoes_every_field(app: TestApp) {
    const NAME: &str = "create_with_the_reference_body";
    let (status, body) = app.rest().post(CUSTOMERS, reference_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["success"], json!(true));
    let c = &body["customer"];
    assert!(
        c["_id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{c}"
    );
    assert_eq!(c["_id"], c["id"]);
    for key in ["createdAt", "updatedAt", "lastInteraction"] {
        assert!(is_contract_timestamp(&c[key]), "{key}: {}", c[key]);
    }
    customer_settings(".customer").bind(|| insta::assert_json_snapshot!(NAME, body));
    // And it is stored as echoed.
    assert_eq!(&details(&app, &id_of(c)).await["customer"], c);
}

async fn create_with_only_a_phone_gets_the_documented_defaults(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "9991234567" }))
        .await;
    assert_eq!(c["phoneNumber"], "529991234567");
    assert_eq!(c["segment"], "new");
    assert_eq!(c["source"], "whatsapp");
    assert_eq!(c["status"], "active");
    assert_eq!(c["preferences"]["language"], "es");
    assert_eq!(c["isBlocked"], json!(false));
    assert_eq!(c["tags"], json!([]));
    assert_eq!(c["alternativePhones"], json!([]));
    assert_eq!(c["customFields"], json!({}));
    for key in ["firstName", "lastName", "email", "notes", "blockReason"] {
        assert_eq!(c[key], Value::Null, "{key}");
    }
}

async fn four_spellings_of_one_mobile_number_are_one_customer(app: TestApp) {
    let first = app
        .create_customer(json!({ "phoneNumber": "+52 (999) 123-4567", "firstName": "First" }))
        .await;
    assert_eq!(first["phoneNumber"], "529991234567");
    for spelling in [
        "52 999 123 4567",
        "9991234567",
        "5219991234567",
        "+52 (999) 123-4567",
        "529991234567",
    ] {
        let (status, body) = app
            .rest()
            .post(
                CUSTOMERS,
                json!({ "phoneNumber": spelling, "firstName": "Again" }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{spelling}: {body}");
        assert_eq!(body["success"], json!(false));
        assert_eq!(body["code"], "CONFLICT");
        assert_eq!(body["details"][0]["field"], "phoneNumber", "{body}");
        assert_eq!(
            body["details"][0]["existingId"], first["_id"],
            "the 409 names the holder: {body}"
        );
        assert!(
            body["details"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    assert_eq!(list(&app, "").await["pagination"]["total"], 1);
}

async fn alternative_phones_are_normalized_and_cannot_belong_to_two_customers(app: TestApp) {
    let holder = app
        .create_customer(json!({
            "phoneNumber": "529991234567",
            "alternativePhones": ["+52 998 765 4321", "9987654321", "5219987654321"]
        }))
        .await;
    assert_eq!(holder["alternativePhones"], json!(["529987654321"]));

    // Someone else's primary number that the holder has as an alternative.
    let (status, body) = app
        .rest()
        .post(CUSTOMERS, json!({ "phoneNumber": "998 765 4321" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"][0]["field"], "phoneNumber");
    assert_eq!(body["details"][0]["existingId"], holder["_id"]);

    // An alternative that is the holder's alternative, or the holder's primary.
    for taken in ["52 998 765 4321", "+52 999 123 4567"] {
        let new = json!({ "phoneNumber": phone(1), "alternativePhones": [phone(2), taken] });
        let (status, body) = app.rest().post(CUSTOMERS, new).await;
        assert_eq!(status, StatusCode::CONFLICT, "{taken}: {body}");
        assert_eq!(body["code"], "CONFLICT");
        assert_eq!(body["details"][0]["field"], "alternativePhones", "{body}");
        assert_eq!(body["details"][0]["existingId"], holder["_id"], "{body}");
    }

    // The same through PUT.
    let other = app
        .create_customer(json!({ "phoneNumber": phone(3) }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&other));
    let (status, body) = app
        .rest()
        .put(&path, json!({ "alternativePhones": ["(998) 765-4321"] }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"][0]["field"], "alternativePhones");
    assert_eq!(body["details"][0]["existingId"], holder["_id"]);
    let (status, body) = app
        .rest()
        .put(&path, json!({ "phoneNumber": "5219987654321" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"][0]["field"], "phoneNumber");
    assert_eq!(body["details"][0]["existingId"], holder["_id"]);

    // Nothing was stored by the refused writes; a free alternative is fine.
    assert_eq!(list(&app, "").await["pagination"]["total"], 2);
    let (status, body) = app
        .rest()
        .put(
            &path,
            json!({ "alternativePhones": [format!("+{}", phone(4))] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer"]["alternativePhones"], json!([phone(4)]));
}

async fn email_is_trimmed_and_lowercased(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(1), "email": "  John.Doe@Example.COM \t" }))
        .await;
    assert_eq!(c["email"], "john.doe@example.com");
    let body = put_ok(&app, &id_of(&c), json!({ "email": " ANA@Example.Org " })).await;
    assert_eq!(body["customer"]["email"], "ana@example.org");
    // Email is not unique.
    let twin = app
        .create_customer(json!({ "phoneNumber": phone(2), "email": "ana@example.org" }))
        .await;
    assert_eq!(twin["email"], "ana@example.org");
}

async fn tags_are_trimmed_deduplicated_in_order_and_case_sensitive(app: TestApp) {
    let c = app
        .create_customer(json!({
            "phoneNumber": phone(1),
            "tags": [" premium ", "", "loyal", "premium", "Premium", "   ", "\tloyal\n", "high-value"]
        }))
        .await;
    assert_eq!(
        c["tags"],
        json!(["premium", "loyal", "Premium", "high-value"])
    );
    let body = put_ok(&app, &id_of(&c), json!({ "tags": ["b", " a", "b ", "A"] })).await;
    assert_eq!(body["customer"]["tags"], json!(["b", "a", "A"]));
    // The tag filter follows the stored tags.
    assert_eq!(ids(&list(&app, "tags=A").await), vec![id_of(&c)]);
    assert_eq!(ids(&list(&app, "tags=premium").await), Vec::<String>::new());
}

async fn put_changes_only_the_fields_it_names(app: TestApp) {
    let created = app.create_customer(reference_body()).await;
    let id = id_of(&created);
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The reference's PUT example.
    let update = json!({
        "firstName": "John",
        "lastName": "Smith",
        "email": "john.smith@example.com",
        "segment": "vip",
        "notes": "Updated notes"
    });
    let body = put_ok(&app, &id, update).await;
    assert_eq!(body["success"], json!(true));
    let updated = &body["customer"];
    assert_eq!(updated["lastName"], "Smith");
    assert_eq!(updated["email"], "john.smith@example.com");
    assert_eq!(updated["segment"], "vip");
    assert_eq!(updated["notes"], "Updated notes");
    for key in [
        "_id",
        "phoneNumber",
        "firstName",
        "tags",
        "source",
        "status",
        "address",
        "customFields",
        "preferences",
        "createdAt",
    ] {
        assert_eq!(
            updated[key], created[key],
            "{key} was not in the PUT and must stay"
        );
    }
    let (before, after) = (
        created["updatedAt"].as_str().expect("ts"),
        updated["updatedAt"].as_str().expect("ts"),
    );
    assert!(after > before, "updatedAt moves: {before} -> {after}");
    assert_eq!(&details(&app, &id).await["customer"], updated);
}

async fn put_null_clears_a_nullable_field(app: TestApp) {
    let created = app.create_customer(reference_body()).await;
    let id = id_of(&created);
    put_ok(
        &app,
        &id,
        json!({ "notes": null, "email": null, "lastName": null, "address": null }),
    )
    .await;
    let c = &details(&app, &id).await["customer"];
    for key in ["notes", "email", "lastName", "address"] {
        assert_eq!(c[key], Value::Null, "{key} is cleared");
    }
    assert_eq!(c["firstName"], "John");
    assert_eq!(c["tags"], json!(["premium"]));
    // A cleared email is no longer found by search.
    assert_eq!(
        list(&app, "search=john%40example").await["pagination"]["total"],
        0
    );
}

async fn put_replaces_nested_objects_whole(app: TestApp) {
    let mut body = reference_body();
    body["preferences"]["language"] = json!("en");
    let created = app.create_customer(body).await;
    let id = id_of(&created);
    put_ok(
        &app,
        &id,
        json!({
            "address": { "city": "Mérida" },
            "customFields": { "company": "Globex" },
            "preferences": { "communicationHours": { "start": "10:00", "end": "14:00" } }
        }),
    )
    .await;
    let c = &details(&app, &id).await["customer"];
    assert_eq!(c["address"]["city"], "Mérida");
    for key in ["street", "state", "country", "postalCode"] {
        assert_eq!(
            c["address"][key],
            Value::Null,
            "address.{key} is gone with the old address"
        );
    }
    assert_eq!(c["customFields"], json!({ "company": "Globex" }));
    assert_eq!(
        c["preferences"]["communicationHours"],
        json!({ "start": "10:00", "end": "14:00" })
    );
    assert_eq!(
        c["preferences"]["language"], "es",
        "a replaced preferences object starts from the defaults"
    );
}

async fn put_of_a_whole_document_from_get_changes_only_what_was_edited(app: TestApp) {
    let created = app.create_customer(reference_body()).await;
    let id = id_of(&created);
    let original = details(&app, &id).await["customer"].clone();
    tokio::time::sleep(Duration::from_millis(5)).await;

    let mut doc = original.clone();
    doc["firstName"] = json!("Johnny");
    // Read-only fields sent back with other values are ignored, as are unknown ones.
    let other_id = uuid::Uuid::now_v7().to_string();
    doc["_id"] = json!(other_id);
    doc["id"] = json!(other_id);
    doc["statistics"] = json!({ "totalConversations": 99, "openConversations": 9, "resolvedConversations": 90,
                                "totalMessages": 500, "totalTickets": 7, "averageResponseTime": 1.5, "satisfactionScore": 5 });
    doc["createdAt"] = json!("2000-01-01T00:00:00.000Z");
    doc["updatedAt"] = json!("2000-01-01T00:00:00.000Z");
    doc["isBlocked"] = json!(true);
    doc["blockReason"] = json!("sneaked in");
    doc["firstContact"] = json!("2000-01-01T00:00:00.000Z");
    doc["lastInteraction"] = json!("2000-01-01T00:00:00.000Z");
    doc["lastMessageAt"] = json!("2000-01-01T00:00:00.000Z");
    doc["__v"] = json!(0);
    doc["somethingElse"] = json!({ "x": 1 });

    let body = put_ok(&app, &id, doc).await;
    let updated = body["customer"].clone();
    let original_map = original.as_object().expect("document");
    for (key, value) in original_map {
        if key == "firstName" || key == "updatedAt" {
            continue;
        }
        assert_eq!(&updated[key], value, "{key} must not change");
    }
    assert_eq!(
        updated.as_object().expect("document").len(),
        original_map.len(),
        "no new keys: {updated}"
    );
    assert_eq!(updated["firstName"], "Johnny");
    assert!(
        updated["updatedAt"].as_str().expect("ts") > original["updatedAt"].as_str().expect("ts"),
        "updatedAt moves"
    );
    assert_eq!(details(&app, &id).await["customer"], updated);
    // No customer appears under the sent _id.
    let path = format!("{CUSTOMERS}/{other_id}");
    app.rest()
        .expect(Method::GET, &path, StatusCode::NOT_FOUND)
        .await;
}

async fn patch_tags_sets_adds_without_duplicates_and_removes(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(1), "tags": ["a", "b"] }))
        .await;
    let path = format!("{CUSTOMERS}/{}/tags", id_of(&c));
    let steps = [
        (
            json!({ "tags": ["premium", "loyal", "high-value"], "action": "set" }),
            json!(["premium", "loyal", "high-value"]),
        ),
        (
            json!({ "tags": ["loyal", "vip", " vip ", "Loyal"], "action": "add" }),
            json!(["premium", "loyal", "high-value", "vip", "Loyal"]),
        ),
        (
            json!({ "tags": ["premium", "Loyal", "absent"], "action": "remove" }),
            json!(["loyal", "high-value", "vip"]),
        ),
        (json!({ "tags": [], "action": "set" }), json!([])),
        (json!({ "tags": ["z"], "action": "add" }), json!(["z"])),
    ];
    for (body, want) in steps {
        let (status, resp) = app.rest().patch(&path, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {resp}");
        assert_eq!(resp["success"], json!(true));
        assert_eq!(resp["customer"]["tags"], want, "{body}");
        assert_eq!(
            details(&app, &id_of(&c)).await["customer"]["tags"],
            want,
            "stored after {body}"
        );
    }
    // The tag filter sees the patched tags.
    assert_eq!(ids(&list(&app, "tags=z").await), vec![id_of(&c)]);
    assert!(ids(&list(&app, "tags=a,b,premium").await).is_empty());
}

async fn block_sets_status_blocked_and_unblock_restores_the_previous_status(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(1), "status": "vip" }))
        .await;
    let path = format!("{CUSTOMERS}/{}/block", id_of(&c));
    let (status, body) = app
        .rest()
        .patch(
            &path,
            json!({ "isBlocked": true, "blockReason": "Spam or abusive behavior" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["customer"]["status"], "blocked");
    assert_eq!(body["customer"]["isBlocked"], json!(true));
    assert_eq!(body["customer"]["blockReason"], "Spam or abusive behavior");
    assert_eq!(ids(&list(&app, "status=blocked").await), vec![id_of(&c)]);

    // Blocking again changes the reason but not the status to come back to.
    let (status, body) = app
        .rest()
        .patch(&path, json!({ "isBlocked": true, "blockReason": "Again" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer"]["blockReason"], "Again");

    let (status, body) = app.rest().patch(&path, json!({ "isBlocked": false })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer"]["status"], "vip", "vip -> blocked -> vip");
    assert_eq!(body["customer"]["isBlocked"], json!(false));
    assert_eq!(body["customer"]["blockReason"], Value::Null);
    assert_eq!(
        details(&app, &id_of(&c)).await["customer"],
        body["customer"]
    );

    // An active customer comes back active.
    let d = app
        .create_customer(json!({ "phoneNumber": phone(2) }))
        .await;
    let path = format!("{CUSTOMERS}/{}/block", id_of(&d));
    app.rest()
        .patch(&path, json!({ "isBlocked": true, "blockReason": "x" }))
        .await;
    let (_, body) = app.rest().patch(&path, json!({ "isBlocked": false })).await;
    assert_eq!(body["customer"]["status"], "active");
}

async fn soft_delete_deactivates_and_is_idempotent(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(1) }))
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    for query in ["", "?permanent=false"] {
        let (status, body) = app.rest().delete(&format!("{path}{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({ "success": true, "message": "Customer deactivated" })
        );
        let c = &details(&app, &id_of(&c)).await["customer"];
        assert_eq!(c["status"], "inactive");
        assert_eq!(c["phoneNumber"], phone(1), "the data is kept");
    }
    assert_eq!(ids(&list(&app, "status=inactive").await), vec![id_of(&c)]);
}

async fn hard_delete_removes_the_customer_and_frees_its_numbers(app: TestApp) {
    let c = app
        .create_customer(
            json!({ "phoneNumber": phone(1), "alternativePhones": [phone(2)], "tags": ["t"] }),
        )
        .await;
    let path = format!("{CUSTOMERS}/{}", id_of(&c));
    let (status, body) = app.rest().delete(&format!("{path}?permanent=true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "success": true, "message": "Customer permanently deleted" })
    );
    let (status, body) = app.rest().get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(list(&app, "").await["pagination"]["total"], 0);
    assert!(ids(&list(&app, "tags=t").await).is_empty());
    // Both numbers can be used again.
    let again = app
        .create_customer(json!({ "phoneNumber": phone(1) }))
        .await;
    assert_ne!(again["_id"], c["_id"]);
    app.create_customer(json!({ "phoneNumber": phone(2) }))
        .await;
    // A deleted customer stays gone.
    let permanently = format!("{path}?permanent=true");
    let rest = app.rest();
    rest.expect(Method::DELETE, &permanently, StatusCode::NOT_FOUND)
        .await;
}

async fn stats_summary_counts_customers_and_lists_segments_largest_first(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": phone(1), "segment": "vip", "status": "vip" }))
        .await;
    app.create_customer(json!({ "phoneNumber": phone(2), "segment": "vip", "status": "active" }))
        .await;
    app.create_customer(json!({ "phoneNumber": phone(3), "segment": "regular" }))
        .await;
    let blocked = app
        .create_customer(json!({ "phoneNumber": phone(4), "segment": "regular" }))
        .await;
    app.create_customer(
        json!({ "phoneNumber": phone(5), "segment": "regular", "status": "inactive" }),
    )
    .await;
    let old = app
        .create_customer(json!({ "phoneNumber": phone(6) }))
        .await;
    // Created in 2020: not new this month. Written behind the API's back, so
    // the tenant's counters are recounted after it, as an operator would.
    set_time(
        &app,
        &id_of(&old),
        customer::Column::CreatedAt,
        Some(at("2020-01-01T00:00:00Z")),
    )
    .await;
    clientela::service::recount::recount(&app.db, "default", 100, |_| {})
        .await
        .expect("recount");
    let (status, body) = app
        .rest()
        .patch(
            &format!("{CUSTOMERS}/{}/block", id_of(&blocked)),
            json!({ "isBlocked": true, "blockReason": "spam" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app.rest().get(&format!("{CUSTOMERS}/stats/summary")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(
        body["summary"],
        json!({
            "totalCustomers": 6,
            "activeCustomers": 3,
            "vipCustomers": 2,
            "blockedCustomers": 1,
            "newThisMonth": 5
        })
    );
    // The segment "inactive" has no customer and is left out.
    assert_eq!(
        body["segments"],
        json!([{ "_id": "regular", "count": 3 }, { "_id": "vip", "count": 2 }, { "_id": "new", "count": 1 }])
    );
}

async fn stats_of_an_empty_tenant_are_zero_with_no_segments(app: TestApp) {
    let (status, body) = app.rest().get(&format!("{CUSTOMERS}/stats/summary")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "success": true,
            "summary": { "totalCustomers": 0, "activeCustomers": 0, "vipCustomers": 0, "blockedCustomers": 0, "newThisMonth": 0 },
            "segments": []
        })
    );
}

async fn conversations_of_a_new_customer_are_an_empty_page(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(1) }))
        .await;
    let path = format!("{CUSTOMERS}/{}/conversations", id_of(&c));
    let (status, body) = app.rest().get(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "success": true, "conversations": [], "pagination": { "page": 1, "limit": 20, "total": 0, "pages": 0 } })
    );
    let (status, body) = app.rest().get(&format!("{path}?page=2&limit=5")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["pagination"],
        json!({ "page": 2, "limit": 5, "total": 0, "pages": 0 })
    );
}

async fn bulk_import_stores_valid_rows_and_reports_duplicates_and_failures_by_index(app: TestApp) {
    let existing = app
        .create_customer(json!({ "phoneNumber": "529991111111", "firstName": "Existing" }))
        .await;
    let rows = vec![
        // 0: the reference's first row, valid.
        json!({ "phoneNumber": "529992222222", "firstName": "Customer2", "email": "customer2@example.com" }),
        // 1: the existing customer in another spelling.
        json!({ "phoneNumber": "+52 999 111 1111", "firstName": "Dup of stored" }),
        // 2: a number that cannot be valid.
        json!({ "phoneNumber": "123", "firstName": "Bad phone" }),
        // 3: valid, with tags to clean.
        json!({ "phoneNumber": "529993333333", "firstName": "Customer3", "tags": [" a ", "a", "b"] }),
        // 4: row 0 again, in another spelling.
        json!({ "phoneNumber": "999 222 2222", "firstName": "Dup of row 0" }),
        // 5: a bad email.
        json!({ "phoneNumber": "529994444444", "email": "not-an-email" }),
        // 6: no phone at all.
        json!({ "firstName": "No phone" }),
        // 7: not an object.
        json!("529995555555"),
        // 8: valid.
        json!({ "phoneNumber": "+52 999 666 6666", "segment": "vip" }),
    ];
    let body = app.import(rows).await;
    assert_eq!(body["success"], json!(true));
    assert_eq!(
        body["results"],
        json!({ "imported": 3, "duplicates": 2, "failed": 4 }),
        "{body}"
    );

    let success = body["details"]["success"].as_array().expect("success");
    let stored: BTreeSet<String> = success
        .iter()
        .map(|c| c["phoneNumber"].as_str().expect("phone").to_owned())
        .collect();
    assert_eq!(
        stored,
        set(&["529992222222", "529993333333", "529996666666"])
    );
    for doc in success {
        assert_eq!(doc["_id"], doc["id"], "{doc}");
        assert_eq!(
            &details(&app, &id_of(doc)).await["customer"],
            doc,
            "details.success holds the stored documents"
        );
    }
    let row3 = success
        .iter()
        .find(|c| c["phoneNumber"] == "529993333333")
        .expect("row 3");
    assert_eq!(row3["tags"], json!(["a", "b"]));
    assert_eq!(row3["segment"], "new");

    assert_eq!(import_indexes(&body, "duplicates"), vec![1, 4]);
    assert_eq!(import_indexes(&body, "failed"), vec![2, 5, 6, 7]);
    for issue in body["details"]["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .chain(body["details"]["duplicates"].as_array().expect("dups"))
    {
        assert!(
            issue["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "every issue says why: {issue}"
        );
    }
    let failed = body["details"]["failed"].as_array().expect("failed");
    assert!(
        failed[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("phone"),
        "{}",
        failed[0]
    );
    assert!(
        failed[1]["reason"]
            .as_str()
            .expect("reason")
            .contains("email"),
        "{}",
        failed[1]
    );

    // The list shows the stored rows and the customer that was there.
    let all = list(&app, "limit=100").await;
    assert_eq!(all["pagination"]["total"], 4);
    assert_eq!(
        phones(&all),
        set(&[
            "529991111111",
            "529992222222",
            "529993333333",
            "529996666666"
        ])
    );
    let existing_now = details(&app, &id_of(&existing)).await;
    assert_eq!(
        existing_now["customer"]["firstName"], "Existing",
        "a duplicate row does not overwrite"
    );
}

async fn bulk_import_of_only_duplicates_and_failures_stores_nothing(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": phone(1) }))
        .await;
    let body = app
        .import(vec![
            json!({ "phoneNumber": phone(1) }),
            json!({ "phoneNumber": "00" }),
        ])
        .await;
    assert_eq!(
        body["results"],
        json!({ "imported": 0, "duplicates": 1, "failed": 1 })
    );
    assert_eq!(body["details"]["success"], json!([]));
    let body = app.import(vec![]).await;
    assert_eq!(
        body["results"],
        json!({ "imported": 0, "duplicates": 0, "failed": 0 })
    );
    assert_eq!(list(&app, "").await["pagination"]["total"], 1);
}

async fn default_order_is_the_most_recent_interaction_first(app: TestApp) {
    let customers = three_customers(&app).await;
    let [a, b, c] = customers.each_ref().map(String::as_str);
    for (id, last_interaction, created_at) in [
        (a, "2024-01-15T10:30:00Z", "2022-01-01T00:00:00Z"),
        (b, "2024-12-10T15:45:00Z", "2021-01-01T00:00:00Z"),
        (c, "2023-03-01T00:00:00.5Z", "2023-01-01T00:00:00Z"),
    ] {
        let times = [
            (customer::Column::LastInteraction, last_interaction),
            (customer::Column::CreatedAt, created_at),
        ];
        for (column, time) in times {
            set_time(&app, id, column, Some(at(time))).await;
        }
    }

    for (query, want) in [
        ("", [b, a, c]),
        ("sortBy=lastInteraction&sortOrder=desc", [b, a, c]),
        ("sortOrder=asc", [c, a, b]),
        ("sortBy=createdAt&sortOrder=asc", [b, a, c]),
        ("sortBy=createdAt", [c, a, b]), // desc by default
    ] {
        assert_eq!(ids(&list(&app, query).await), want, "?{query}");
    }
    // Times are shown as the reference writes them.
    let doc = &details(&app, a).await["customer"];
    assert_eq!(doc["lastInteraction"], "2024-01-15T10:30:00.000Z");
    assert_eq!(doc["createdAt"], "2022-01-01T00:00:00.000Z");
    assert_eq!(
        details(&app, c).await["customer"]["lastInteraction"],
        "2023-03-01T00:00:00.500Z"
    );
}

async fn sort_by_last_message_or_first_contact_puts_customers_without_one_last(app: TestApp) {
    let customers = three_customers(&app).await;
    let [a, b, c] = customers.each_ref().map(String::as_str);
    for column in [
        customer::Column::LastMessageAt,
        customer::Column::FirstContact,
    ] {
        set_time(&app, a, column, Some(at("2024-01-01T00:00:00Z"))).await;
        set_time(&app, c, column, Some(at("2024-02-01T00:00:00Z"))).await;
    }
    for field in ["lastMessageAt", "firstContact"] {
        for (order, want) in [("asc", [a, c, b]), ("desc", [c, a, b])] {
            let query = format!("sortBy={field}&sortOrder={order}");
            assert_eq!(ids(&list(&app, &query).await), want, "?{query}");
        }
    }
    assert_eq!(
        details(&app, c).await["customer"]["lastMessageAt"],
        "2024-02-01T00:00:00.000Z"
    );
}

async fn put_with_a_new_phone_frees_the_old_one_and_is_found_by_the_new_one(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Mover" }))
        .await;
    let body = put_ok(
        &app,
        &id_of(&c),
        json!({ "phoneNumber": "+52 (998) 765-4321" }),
    )
    .await;
    assert_eq!(body["customer"]["phoneNumber"], "529987654321");
    assert_eq!(ids(&list(&app, "search=9987654321").await), vec![id_of(&c)]);
    assert!(ids(&list(&app, "search=9991234567").await).is_empty());
    let (status, body) = app
        .rest()
        .post(CUSTOMERS, json!({ "phoneNumber": "9987654321" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"][0]["existingId"], c["_id"]);
    app.create_customer(json!({ "phoneNumber": "9991234567" }))
        .await;
}

async fn concurrent_creates_of_one_number_make_exactly_one_customer(app: TestApp) {
    let spellings = [
        "529991234567",
        "+52 999 123 4567",
        "9991234567",
        "5219991234567",
        "52 999 123 4567",
        "+52 (999) 123-4567",
    ];
    let token = app.admin();
    let calls = spellings.iter().map(|p| {
        let body = json!({ "phoneNumber": p });
        let (app, token) = (&app, &token);
        async move { app.rest_as(token).post(CUSTOMERS, body).await }
    });
    let answers = futures::future::join_all(calls).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| &b["customer"])
        .collect();
    assert_eq!(created.len(), 1, "exactly one wins: {answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            body["details"][0]["existingId"], created[0]["_id"],
            "{body}"
        );
    }
    assert_eq!(list(&app, "").await["pagination"]["total"], 1);
}

async fn concurrent_tag_additions_are_all_kept(app: TestApp) {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(1), "tags": ["base"] }))
        .await;
    let path = format!("{CUSTOMERS}/{}/tags", id_of(&c));
    let token = app.admin();
    let calls = (0..8).map(|n| {
        let (app, token, path) = (&app, &token, &path);
        async move {
            app.rest_as(token)
                .patch(path, json!({ "tags": [format!("t{n}")], "action": "add" }))
                .await
        }
    });
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let tags: BTreeSet<String> = details(&app, &id_of(&c)).await["customer"]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("tag").to_owned())
        .collect();
    let want: BTreeSet<String> = std::iter::once("base".to_owned())
        .chain((0..8).map(|n| format!("t{n}")))
        .collect();
    assert_eq!(tags, want, "no addition is lost");
}

async fn bulk_import_judges_alternative_phones_as_duplicates_too(app: TestApp) {
    let existing = app
        .create_customer(json!({ "phoneNumber": phone(1), "alternativePhones": [phone(2)] }))
        .await;
    let rows = vec![
        // 0: its primary is the stored customer's alternative.
        json!({ "phoneNumber": phone(2) }),
        // 1: its alternative is the stored customer's primary.
        json!({ "phoneNumber": phone(3), "alternativePhones": [phone(1)] }),
        // 2: valid, with an alternative.
        json!({ "phoneNumber": phone(4), "alternativePhones": [format!("+{}", phone(5))] }),
        // 3: its primary is row 2's alternative.
        json!({ "phoneNumber": phone(5) }),
    ];
    let body = app.import(rows).await;
    assert_eq!(
        body["results"],
        json!({ "imported": 1, "duplicates": 3, "failed": 0 }),
        "{body}"
    );
    assert_eq!(import_indexes(&body, "duplicates"), vec![0, 1, 3]);
    assert_eq!(
        body["details"]["success"][0]["alternativePhones"],
        json!([phone(5)])
    );
    assert_eq!(phones(&list(&app, "").await), set(&[&phone(1), &phone(4)]));
    assert_eq!(details(&app, &id_of(&existing)).await["customer"], existing);
}

crate::db_tests!(
    list_has_the_reference_shape_with_default_pagination,
    list_filters_by_status_segment_source_and_any_of_the_tags,
    search_is_case_and_accent_insensitive_and_every_word_must_match,
    search_finds_a_customer_by_a_fragment_of_the_phone_number,
    sort_by_first_name_or_email_puts_missing_values_last_in_both_orders,
    walking_every_page_with_limit_two_sees_each_customer_exactly_once,
    limit_above_one_hundred_is_clamped_to_one_hundred,
    page_past_the_end_is_an_empty_list_with_the_true_pagination,
    details_show_the_customer_its_statistics_and_no_recent_conversations_when_new,
    create_with_the_reference_body_is_created_and_echoes_every_field,
    create_with_only_a_phone_gets_the_documented_defaults,
    four_spellings_of_one_mobile_number_are_one_customer,
    alternative_phones_are_normalized_and_cannot_belong_to_two_customers,
    email_is_trimmed_and_lowercased,
    tags_are_trimmed_deduplicated_in_order_and_case_sensitive,
    put_changes_only_the_fields_it_names,
    put_null_clears_a_nullable_field,
    put_replaces_nested_objects_whole,
    put_of_a_whole_document_from_get_changes_only_what_was_edited,
    patch_tags_sets_adds_without_duplicates_and_removes,
    block_sets_status_blocked_and_unblock_restores_the_previous_status,
    soft_delete_deactivates_and_is_idempotent,
    hard_delete_removes_the_customer_and_frees_its_numbers,
    stats_summary_counts_customers_and_lists_segments_largest_first,
    stats_of_an_empty_tenant_are_zero_with_no_segments,
    conversations_of_a_new_customer_are_an_empty_page,
    bulk_import_stores_valid_rows_and_reports_duplicates_and_failures_by_index,
    bulk_import_of_only_duplicates_and_failures_stores_nothing,
    default_order_is_the_most_recent_interaction_first,
    sort_by_last_message_or_first_contact_puts_customers_without_one_last,
    put_with_a_new_phone_frees_the_old_one_and_is_found_by_the_new_one,
    concurrent_creates_of_one_number_make_exactly_one_customer,
    concurrent_tag_additions_are_all_kept,
    bulk_import_judges_alternative_phones_as_duplicates_too,
);
