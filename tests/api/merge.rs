//! Merging customers and undoing it, on both faces and databases: rows
//! move, tags, numbers and custom fields unite with the primary winning,
//! statistics and counters stay exact (a recount finds nothing to fix),
//! events go out, the undo restores every customer as it was, refuses when
//! too late, twice or unsafe, and overlapping merges at once stay
//! consistent.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use clientela::auth::Role;
use entity::{customer_change, merge_record};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde_json::{json, Value};

use crate::helpers::fixtures::{phone, uuid_of};
use crate::helpers::graphql::{code, CREATE_TICKET, RATE, SET_STATUS};
use crate::helpers::rest::CUSTOMERS;
use crate::helpers::ws::{self, init_with, subscribe, Seen, TRANSPORT_WS};
use crate::helpers::TestApp;

const MERGE: &str = "mutation($primary: ID!, $others: [ID!]!) {
  mergeCustomers(primaryId: $primary, otherIds: $others) {
    merge { id primaryId otherIds mergedBy undoneAt moved { conversations messages tickets tags phones customFields filled } keptValues { customerId field value } }
    primary { id tags alternativePhones customFields email statistics { totalConversations totalMessages totalTickets } }
    restored { id }
  }
}";

const UNMERGE: &str = "mutation($id: ID!) {
  unmergeCustomers(mergeId: $id) { merge { id undoneAt undoneBy } primary { id } restored { id phoneNumber } }
}";

const BY_PHONE: &str = "query($p: String!) { customerByPhone(phoneNumber: $p) { id } }";

fn customer_path(id: &str) -> String {
    format!("{CUSTOMERS}/{id}")
}

fn merge_path(id: &str) -> String {
    format!("{CUSTOMERS}/{id}/merge")
}

fn undo_path(id: &str) -> String {
    format!("{CUSTOMERS}/merges/{id}/undo")
}

/// A customer with conversations (messages out of order, one resolved and
/// rated) and a ticket; its id.
async fn busy_customer(app: &TestApp, n: usize, extra: Value) -> String {
    let mut body = json!({ "phoneNumber": phone(n) });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let id = uuid_of(&app.create_customer(body).await).to_string();
    let base = Utc::now() - chrono::Duration::days(2) + chrono::Duration::minutes(n as i64);
    for k in 0..2 {
        let conversation = app.new_conversation(&id).await;
        for (direction, minutes) in [("INBOUND", 10), ("OUTBOUND", 25), ("INBOUND", 5)] {
            let sent = base + chrono::Duration::minutes(minutes + 60 * k);
            app.new_message(&conversation, direction, &sent.to_rfc3339())
                .await;
        }
        if k == 0 {
            let admin = app.admin();
            app.gql_data(
                &admin,
                SET_STATUS,
                json!({ "id": conversation, "status": "RESOLVED" }),
            )
            .await;
            app.gql_data(
                &admin,
                RATE,
                json!({ "id": conversation, "rating": 2 + (n % 3) as i64 }),
            )
            .await;
            app.gql_data(
                &admin,
                CREATE_TICKET,
                json!({ "input": { "customerId": id, "conversationId": conversation, "subject": "t" } }),
            )
            .await;
        }
    }
    id
}

/// The REST details of a customer, without `updatedAt` (an undo is a write).
async fn details(app: &TestApp, id: &str) -> Value {
    let mut body = app.rest().get_ok(&customer_path(id)).await;
    if let Some(c) = body["customer"].as_object_mut() {
        c.remove("updatedAt");
    }
    body
}

/// Runs a recount and asserts it finds nothing to fix: every statistic,
/// conversation counter, phone and tag row and tenant counter was exact.
async fn recount_fixes_nothing(app: &TestApp, when: &str) {
    let report = clientela::service::recount::recount(&app.db, "default", 50, |_| {})
        .await
        .expect("recount");
    assert_eq!(
        (
            report.customers_fixed,
            report.conversations_fixed,
            report.index_rows_fixed,
            report.phone_conflicts,
            report.counters_fixed
        ),
        (0, 0, 0, 0, 0),
        "{when}: {report:?}"
    );
}

/// `count(*)` of an SQL query's first column.
async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .query_one(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

/// Rows that point at a customer that does not exist (must be none).
async fn orphans(app: &TestApp) -> i64 {
    let mut n = 0;
    for table in [
        "conversations",
        "messages",
        "tickets",
        "customer_phones",
        "customer_tags",
    ] {
        n += scalar(
            app,
            &format!(
                "SELECT count(*) FROM {table} t WHERE NOT EXISTS \
                 (SELECT 1 FROM customers c WHERE c.tenant_id = t.tenant_id AND c.id = t.customer_id)"
            ),
        )
        .await;
    }
    n
}

async fn a_merge_moves_rows_unites_fields_and_an_undo_restores_everyone(app: TestApp) {
    let a = busy_customer(
        &app,
        1,
        json!({ "alternativePhones": [phone(11)], "tags": ["vip"], "firstName": "Ana",
                "customFields": { "plan": "gold", "city": "Mérida" } }),
    )
    .await;
    let b = busy_customer(
        &app,
        2,
        json!({ "alternativePhones": [phone(12)], "tags": ["vip", "late"], "email": "ana@x.com",
                "customFields": { "plan": "silver", "shoe": 42 } }),
    )
    .await;
    let c = busy_customer(&app, 3, json!({ "tags": ["c"] })).await;
    let bystander = busy_customer(&app, 4, json!({})).await;
    let before: Vec<Value> =
        futures::future::join_all([&a, &b, &c, &bystander].map(|id| details(&app, id))).await;
    let stat = |d: &Value, k: &str| d["customer"]["statistics"][k].as_i64().expect(k);

    let (status, body) = app
        .rest()
        .post(&merge_path(&a), json!({ "others": [b, c] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let merge = &body["merge"];
    assert_eq!(merge["primaryId"], a.as_str());
    assert_eq!(merge["otherIds"], json!([b, c]));
    assert_eq!(merge["mergedBy"], "admin-agent");
    assert_eq!(merge["undoneAt"], Value::Null);
    assert_eq!(merge["moved"]["conversations"], 4);
    assert_eq!(merge["moved"]["messages"], 12);
    assert_eq!(merge["moved"]["tickets"], 2);
    assert_eq!(merge["moved"]["tags"], json!(["late", "c"]));
    assert_eq!(
        merge["moved"]["phones"],
        json!([phone(2), phone(12), phone(3)])
    );
    assert_eq!(merge["moved"]["customFields"], json!(["shoe"]));
    assert_eq!(merge["moved"]["filled"], json!(["email"]));
    assert_eq!(
        merge["keptValues"],
        json!([{ "customerId": b, "field": "customFields.plan", "value": "silver" }])
    );
    let primary = &body["customer"];
    assert_eq!(primary["_id"], a.as_str());
    assert_eq!(primary["tags"], json!(["vip", "late", "c"]));
    assert_eq!(
        primary["alternativePhones"],
        json!([phone(11), phone(2), phone(12), phone(3)])
    );
    assert_eq!(
        primary["customFields"],
        json!({ "plan": "gold", "city": "Mérida", "shoe": 42 })
    );
    assert_eq!(primary["email"], "ana@x.com");
    assert_eq!(primary["firstName"], "Ana");
    for k in [
        "totalConversations",
        "totalMessages",
        "totalTickets",
        "resolvedConversations",
    ] {
        let sum: i64 = before[..3].iter().map(|d| stat(d, k)).sum();
        assert_eq!(
            primary["statistics"][k].as_i64(),
            Some(sum),
            "{k}: {primary}"
        );
    }
    assert_eq!(body["restored"], json!([]));

    // The others are gone from reads, lists, counts and search.
    for id in [&b, &c] {
        let (status, _) = app.rest().get(&customer_path(id)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert_eq!(app.rest().total().await, 2);
    let summary = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/stats/summary"))
        .await;
    assert_eq!(summary["summary"]["totalCustomers"], 2, "{summary}");
    let listed = app.rest().get_ok(&format!("{CUSTOMERS}?tags=late")).await;
    assert_eq!(listed["pagination"]["total"], 1);
    assert_eq!(listed["customers"][0]["_id"], a.as_str());
    // A merged customer's number (any spelling) finds the primary.
    for number in [phone(2), format!("+52 {}", &phone(12)[2..]), phone(3)] {
        let data = app
            .gql_data(&app.admin(), BY_PHONE, json!({ "p": number }))
            .await;
        assert_eq!(data["customerByPhone"]["id"], a.as_str(), "{number}");
    }
    let found = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}?search=ana@x.com"))
        .await;
    assert_eq!(found["customers"][0]["_id"], a.as_str(), "{found}");
    let conversations = app
        .rest()
        .get_ok(&format!("{}/conversations", customer_path(&a)))
        .await;
    assert_eq!(conversations["pagination"]["total"], 6, "{conversations}");
    recount_fixes_nothing(&app, "after the merge").await;
    assert_eq!(orphans(&app).await, 0);
    assert_eq!(details(&app, &bystander).await, before[3]);

    // The record reads back (admin only).
    let id = merge["id"].as_str().expect("merge id").to_owned();
    let record = app.rest().get_ok(&format!("{CUSTOMERS}/merges/{id}")).await;
    assert_eq!(record["merge"], *merge);

    // The undo restores each customer exactly.
    let (status, undone) = app.rest().post(&undo_path(&id), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert!(undone["merge"]["undoneAt"].is_string(), "{undone}");
    assert_eq!(undone["merge"]["undoneBy"], "admin-agent");
    let restored: Vec<&str> = undone["restored"]
        .as_array()
        .expect("restored")
        .iter()
        .map(|c| c["_id"].as_str().expect("_id"))
        .collect();
    assert_eq!(restored, [b.as_str(), c.as_str()]);
    for (id, was) in [&a, &b, &c, &bystander].into_iter().zip(&before) {
        assert_eq!(details(&app, id).await, *was, "{id}");
    }
    assert_eq!(app.rest().total().await, 4);
    recount_fixes_nothing(&app, "after the undo").await;
    assert_eq!(orphans(&app).await, 0);
    let data = app
        .gql_data(&app.admin(), BY_PHONE, json!({ "p": phone(12) }))
        .await;
    assert_eq!(data["customerByPhone"]["id"], b.as_str());

    // Twice is refused.
    let (status, again) = app.rest().post(&undo_path(&id), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["code"], "CONFLICT");
    assert!(
        again["error"]
            .as_str()
            .is_some_and(|e| e.contains("already undone")),
        "{again}"
    );
}

async fn graphql_merges_publish_events_and_later_rows_stay_with_the_primary(app: TestApp) {
    let a = busy_customer(&app, 1, json!({ "firstName": "Ana" })).await;
    let b = busy_customer(&app, 2, json!({})).await;
    let b_before = details(&app, &b).await;
    let base = format!("http://{}", app.addr);
    let mut socket = ws::connect(&base, TRANSPORT_WS).await;
    ws::send(&mut socket, init_with(&app.admin())).await;
    assert!(matches!(
        ws::next(&mut socket, Duration::from_secs(5)).await,
        Seen::Message(m) if m["type"] == "connection_ack"
    ));
    ws::send(
        &mut socket,
        subscribe("1", "subscription { customerChanged { kind customerId } }"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let admin = app.admin();
    let data = app
        .gql_data(&admin, MERGE, json!({ "primary": a, "others": [b] }))
        .await;
    let result = &data["mergeCustomers"];
    assert_eq!(result["primary"]["id"], a.as_str());
    assert_eq!(result["primary"]["statistics"]["totalConversations"], 4);
    assert_eq!(result["merge"]["moved"]["messages"], 6);
    let mut seen = Vec::new();
    for _ in 0..2 {
        match ws::next(&mut socket, Duration::from_secs(5)).await {
            Seen::Message(m) => seen.push(m["payload"]["data"]["customerChanged"].clone()),
            other => panic!("no event: {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            json!({ "kind": "UPDATED", "customerId": a }),
            json!({ "kind": "DELETED", "customerId": b }),
        ]
    );

    // After the merge: a new conversation on the primary, and a message in
    // a conversation that came from b.
    let newer = app.new_conversation(&a).await;
    let from_b = app
        .rest()
        .get_ok(&format!("{}/conversations", customer_path(&a)))
        .await;
    let moved = from_b["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .find(|c| {
            c["_id"] != newer
                && b_before["recentConversations"]
                    .as_array()
                    .expect("recent")
                    .iter()
                    .any(|r| r["_id"] == c["_id"])
        })
        .expect("a conversation of b")["_id"]
        .clone();
    app.new_message(&moved, "INBOUND", &Utc::now().to_rfc3339())
        .await;

    let id = result["merge"]["id"].clone();
    let data = app.gql_data(&admin, UNMERGE, json!({ "id": id })).await;
    let undone = &data["unmergeCustomers"];
    assert_eq!(undone["restored"][0]["id"], b.as_str());
    assert!(undone["merge"]["undoneAt"].is_string());
    for _ in 0..2 {
        match ws::next(&mut socket, Duration::from_secs(5)).await {
            Seen::Message(_) => {}
            other => panic!("no event: {other:?}"),
        }
    }
    // The new conversation stays; the message follows its conversation.
    let a_now = details(&app, &a).await;
    assert_eq!(a_now["customer"]["statistics"]["totalConversations"], 3);
    let b_now = details(&app, &b).await;
    assert_eq!(
        b_now["customer"]["statistics"]["totalMessages"],
        b_before["customer"]["statistics"]["totalMessages"]
            .as_i64()
            .expect("n")
            + 1
    );
    recount_fixes_nothing(&app, "after an undo with later rows").await;
    assert_eq!(orphans(&app).await, 0);
    // Undo twice: CONFLICT on GraphQL too.
    let body = app.gql(&admin, UNMERGE, json!({ "id": id })).await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
}

async fn bad_merges_are_refused_clearly(app: TestApp) {
    let a = app.new_customer(1).await.to_string();
    let b = app.new_customer(2).await.to_string();
    let blocked = app.new_customer(3).await.to_string();
    let trashed = app.new_customer(4).await.to_string();
    let other_tenant = {
        let token = app.token(Role::Admin, "other");
        let (_, body) = app
            .rest_as(&token)
            .post(CUSTOMERS, json!({ "phoneNumber": phone(5) }))
            .await;
        uuid_of(&body["customer"]).to_string()
    };
    app.rest()
        .patch(
            &format!("{}/block", customer_path(&blocked)),
            json!({ "isBlocked": true, "blockReason": "spam" }),
        )
        .await;
    let trash_id: uuid::Uuid = trashed.parse().expect("uuid");
    entity::customer::Entity::update_many()
        .col_expr(entity::customer::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(entity::customer::Column::Id.eq(trash_id))
        .exec(&app.db)
        .await
        .expect("trash");
    let many: Vec<String> = (0..21).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (others, field) in [
        (json!([]), "others"),
        (json!([a]), "others"),
        (json!([b, b]), "others"),
        (json!(many), "others"),
        (json!("x"), "others"),
        (json!([1]), "others"),
        (json!([blocked]), "others"),
        (json!([trashed]), "others"),
    ] {
        let (status, body) = app
            .rest()
            .post(&merge_path(&a), json!({ "others": others }))
            .await;
        crate::helpers::rest::assert_invalid(status, &body, field);
    }
    // The same on GraphQL, named as its argument.
    let body = app
        .gql(
            &app.admin(),
            MERGE,
            json!({ "primary": a, "others": [blocked] }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "otherIds"
    );
    // A trashed primary.
    let (status, body) = app
        .rest()
        .post(&merge_path(&trashed), json!({ "others": [b] }))
        .await;
    crate::helpers::rest::assert_invalid(status, &body, "primaryId");
    // A blocked primary may keep the others.
    // Another tenant's id, an unknown one, a malformed one: 404, nothing told.
    for (primary, other) in [
        (&a, &other_tenant),
        (&other_tenant, &a),
        (&a, &uuid::Uuid::now_v7().to_string()),
        (&a, &"not-an-id".to_owned()),
    ] {
        let (status, body) = app
            .rest()
            .post(&merge_path(primary), json!({ "others": [other] }))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["code"], "NOT_FOUND");
    }
    // Roles: agents and viewers may not merge or undo, on either face.
    for role in [Role::Agent, Role::Viewer] {
        let token = app.token(role, "default");
        let (status, body) = app
            .rest_as(&token)
            .post(&merge_path(&a), json!({ "others": [b] }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let body = app
            .gql(&token, MERGE, json!({ "primary": a, "others": [b] }))
            .await;
        assert_eq!(code(&body), "FORBIDDEN");
        let (status, _) = app
            .rest_as(&token)
            .post(&undo_path(&uuid::Uuid::now_v7().to_string()), json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = app
        .rest()
        .post(&undo_path(&uuid::Uuid::now_v7().to_string()), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing above wrote anything.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM customers WHERE tenant_id = 'default'"
        )
        .await,
        4
    );
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM customer_merges").await,
        0
    );
    let (status, body) = app
        .rest()
        .post(&merge_path(&blocked), json!({ "others": [b] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["customer"]["isBlocked"], true);
    // Another tenant cannot read or undo this merge.
    let id = body["merge"]["id"].as_str().expect("id").to_owned();
    let token = app.token(Role::Admin, "other");
    let (status, _) = app.rest_as(&token).post(&undo_path(&id), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .rest_as(&token)
        .get(&format!("{CUSTOMERS}/merges/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    recount_fixes_nothing(&app, "after refusals and one merge").await;
}

async fn an_unsafe_or_late_undo_is_refused_saying_why(app: TestApp) {
    // Too late: a merge 31 days old.
    let a = app.new_customer(1).await.to_string();
    let b = app.new_customer(2).await.to_string();
    let (_, body) = app
        .rest()
        .post(&merge_path(&a), json!({ "others": [b] }))
        .await;
    let old = body["merge"]["id"].as_str().expect("id").to_owned();
    merge_record::Entity::update_many()
        .col_expr(
            merge_record::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::days(31)),
        )
        .exec(&app.db)
        .await
        .expect("age the merge");
    let (status, body) = app.rest().post(&undo_path(&old), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("30 days")),
        "{body}"
    );

    // A restored number now held by a third customer.
    let c = app.new_customer(3).await.to_string();
    let d = app.new_customer(4).await.to_string();
    let (_, body) = app
        .rest()
        .post(&merge_path(&c), json!({ "others": [d] }))
        .await;
    let taken = body["merge"]["id"].as_str().expect("id").to_owned();
    app.rest()
        .put(&customer_path(&c), json!({ "alternativePhones": [] }))
        .await;
    let e = app.new_customer(4).await.to_string();
    let (status, body) = app.rest().post(&undo_path(&taken), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"][0]["existingId"], e.as_str(), "{body}");

    // The primary merged into another since.
    let f = app.new_customer(5).await.to_string();
    let g = app.new_customer(6).await.to_string();
    let h = app.new_customer(7).await.to_string();
    let (_, body) = app
        .rest()
        .post(&merge_path(&f), json!({ "others": [g] }))
        .await;
    let first = body["merge"]["id"].as_str().expect("id").to_owned();
    let (_, body) = app
        .rest()
        .post(&merge_path(&h), json!({ "others": [f] }))
        .await;
    let second = body["merge"]["id"].as_str().expect("id").to_owned();
    let (status, body) = app.rest().post(&undo_path(&first), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|m| m.contains(&second)),
        "names the merge to undo first: {body}"
    );
    // Undone in order, both work.
    let (status, body) = app.rest().post(&undo_path(&second), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.rest().post(&undo_path(&first), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    recount_fixes_nothing(&app, "after refused and ordered undos").await;
    assert_eq!(orphans(&app).await, 0);
}

async fn overlapping_merges_at_once_stay_consistent(app: TestApp) {
    let app = Arc::new(app);
    let rounds = 12;
    for round in 0..rounds {
        let n = 10 * round;
        let a = busy_customer(&app, n, json!({ "tags": ["a"] })).await;
        let b = busy_customer(&app, n + 1, json!({ "tags": ["b"] })).await;
        let c = app.new_customer(n + 2).await.to_string();
        // Odd rounds: a <- b and b <- c (a chain); even: a <- b and c <- b.
        let (p2, o2) = if round % 2 == 1 {
            (b.clone(), c.clone())
        } else {
            (c.clone(), b.clone())
        };
        let first = {
            let app = app.clone();
            let (a, b) = (a.clone(), b.clone());
            tokio::spawn(async move {
                app.rest()
                    .post(&merge_path(&a), json!({ "others": [b] }))
                    .await
            })
        };
        let second = {
            let app = app.clone();
            tokio::spawn(async move {
                app.rest()
                    .post(&merge_path(&p2), json!({ "others": [o2] }))
                    .await
            })
        };
        let (one, two) = (first.await.expect("join"), second.await.expect("join"));
        let ok = [&one, &two]
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .count();
        for (status, body) in [&one, &two] {
            assert!(
                *status == StatusCode::OK || *status == StatusCode::NOT_FOUND,
                "round {round}: {status} {body}"
            );
        }
        assert!(ok >= 1, "round {round}: one of them went through");
        assert_eq!(orphans(&app).await, 0, "round {round}");
    }
    recount_fixes_nothing(&app, "after the racing merges").await;
    let total = scalar(&app, "SELECT count(*) FROM customers").await;
    assert_eq!(app.rest().total().await as i64, total);
}

/// The JSON text of every stored merge record's snapshot, read with SQL.
async fn stored_snapshots(app: &TestApp) -> Vec<String> {
    merge_record::Entity::find()
        .all(&app.db)
        .await
        .expect("merge records")
        .into_iter()
        .map(|m| m.snapshot.to_string())
        .collect()
}

/// Asserts no stored merge record holds any of `secrets`.
async fn assert_no_record_holds(app: &TestApp, secrets: &[&str], when: &str) {
    for snapshot in stored_snapshots(app).await {
        for secret in secrets {
            assert!(
                !snapshot.contains(secret),
                "{when}: a merge record still holds {secret}: {snapshot}"
            );
        }
    }
}

/// The count of one item of an erasure receipt.
fn erased_count(receipt: &Value, what: &str) -> Option<u64> {
    receipt["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["what"] == what)
        .and_then(|i| i["count"].as_u64())
}

async fn erasing_the_primary_erases_what_its_merge_records_kept_and_the_undo_is_refused(
    app: TestApp,
) {
    let a = uuid_of(
        &app.create_customer(json!({
            "phoneNumber": phone(1), "firstName": "Ana", "lastName": "Pérez",
            "customFields": { "plan": "gold" },
        }))
        .await,
    )
    .to_string();
    let b = uuid_of(
        &app.create_customer(json!({
            "phoneNumber": phone(2), "alternativePhones": [phone(12)],
            "firstName": "Anita", "lastName": "Perez", "email": "anita@example.org",
            "externalId": "crm-77", "notes": "llama por la tarde",
            "customFields": { "plan": "silver", "rfc": "PEPA800101" },
        }))
        .await,
    )
    .to_string();
    let c = uuid_of(
        &app.create_customer(json!({
            "phoneNumber": phone(3), "firstName": "Nena", "email": "nena@example.net",
        }))
        .await,
    )
    .to_string();
    // c into b, then b into a: all three are one person, Ana.
    let (status, body) = app
        .rest()
        .post(&merge_path(&b), json!({ "others": [c] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["merge"]["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .rest()
        .post(&merge_path(&a), json!({ "others": [b] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["merge"]["id"].as_str().expect("id").to_owned();
    let secrets = [
        "Anita",
        "Nena",
        "Perez",
        "example.org",
        "example.net",
        "crm-77",
        "tarde",
        "silver",
        "PEPA",
        &phone(1),
        &phone(2),
        &phone(12),
        &phone(3),
    ];
    let held = stored_snapshots(&app).await.concat();
    assert!(
        ["Anita", "Nena", "silver", &phone(12)]
            .iter()
            .all(|s| held.contains(s)),
        "the records keep the merged customers: {held}"
    );

    // A customer merged away is gone: the person is erased through the primary.
    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{b}/erase"), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{a}/erase"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_record_holds(&app, &secrets, "after erasing the primary").await;
    let receipt = &body["erasure"];
    assert_eq!(erased_count(receipt, "mergeRecords"), Some(2), "{receipt}");
    assert_eq!(
        erased_count(receipt, "mergedCustomers"),
        Some(2),
        "{receipt}"
    );
    // Nor does the history the merged customers left behind.
    let merged: Vec<uuid::Uuid> = [&b, &c]
        .iter()
        .map(|id| id.parse().expect("uuid"))
        .collect();
    let history = customer_change::Entity::find()
        .filter(customer_change::Column::CustomerId.is_in(merged))
        .all(&app.db)
        .await
        .expect("history");
    assert!(!history.is_empty(), "the merged customers have a history");
    for entry in &history {
        for value in [&entry.old_value, &entry.new_value].into_iter().flatten() {
            for secret in &secrets {
                assert!(!value.text().contains(secret), "{entry:?}");
            }
        }
    }

    // Neither merge can be undone any more, on either face, and nothing moved.
    for merge in [&second, &first] {
        let (status, body) = app.rest().post(&undo_path(merge), json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "CONFLICT", "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("was erased") && e.contains(&a)),
            "says the data was erased, and whose: {body}"
        );
        let body = app.gql(&app.admin(), UNMERGE, json!({ "id": merge })).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
    assert_eq!(app.rest().total().await, 1, "nobody was restored");
    // The record still says what happened, without the person's data.
    let record = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/merges/{second}"))
        .await;
    assert_eq!(record["merge"]["otherIds"], json!([b]), "{record}");
    assert_eq!(record["merge"]["moved"]["phones"], json!([]), "{record}");
    assert_eq!(record["merge"]["keptValues"], json!([]), "{record}");
    // Erasing again finds nothing more to erase in the records.
    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{a}/erase"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(erased_count(&body["erasure"], "mergeRecords"), Some(0));
    recount_fixes_nothing(&app, "after the erasure").await;
}

async fn erasing_a_customer_an_undo_restored_clears_its_copy_in_the_undone_merge(app: TestApp) {
    let a = uuid_of(
        &app.create_customer(json!({
            "phoneNumber": phone(21), "firstName": "Ana", "customFields": { "plan": "gold" },
        }))
        .await,
    )
    .to_string();
    let b = uuid_of(
        &app.create_customer(json!({
            "phoneNumber": phone(22), "firstName": "Beto", "email": "beto@example.com",
            "customFields": { "plan": "silver" },
        }))
        .await,
    )
    .to_string();
    let (status, body) = app
        .rest()
        .post(&merge_path(&a), json!({ "others": [b] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let merge = body["merge"]["id"].as_str().expect("id").to_owned();
    let (status, body) = app.rest().post(&undo_path(&merge), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let betos = ["Beto", "beto@example.com", "silver", &phone(22)];

    // The undo said they are two people: erasing Ana leaves Beto's copy.
    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{a}/erase"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let held = stored_snapshots(&app).await.concat();
    assert!(betos.iter().all(|s| held.contains(s)), "{held}");
    assert_eq!(erased_count(&body["erasure"], "mergeRecords"), Some(0));
    assert_eq!(erased_count(&body["erasure"], "mergedCustomers"), Some(0));
    assert_eq!(details(&app, &b).await["customer"]["firstName"], "Beto");

    // Erasing Beto clears it.
    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{b}/erase"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_record_holds(&app, &betos, "after erasing the restored customer").await;
    assert_eq!(erased_count(&body["erasure"], "mergeRecords"), Some(1));
    let record = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/merges/{merge}"))
        .await;
    assert!(record["merge"]["undoneAt"].is_string(), "{record}");
}

/// An erased customer merged into another gives it its conversations, not
/// its placeholder number (`erased-...` is no number anyone has).
async fn an_erased_customer_merged_in_gives_no_placeholder_number(app: TestApp) {
    let a = uuid_of(
        &app.create_customer(json!({ "phoneNumber": phone(31) }))
            .await,
    )
    .to_string();
    let b = uuid_of(
        &app.create_customer(json!({ "phoneNumber": phone(32) }))
            .await,
    )
    .to_string();
    let (status, body) = app
        .rest()
        .post(&format!("{CUSTOMERS}/{b}/erase"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .rest()
        .post(&merge_path(&a), json!({ "others": [b] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alternatives = &details(&app, &a).await["customer"]["alternativePhones"];
    assert_eq!(alternatives, &json!([]), "{alternatives}");
}

crate::db_tests!(
    a_merge_moves_rows_unites_fields_and_an_undo_restores_everyone,
    graphql_merges_publish_events_and_later_rows_stay_with_the_primary,
    bad_merges_are_refused_clearly,
    an_unsafe_or_late_undo_is_refused_saying_why,
    overlapping_merges_at_once_stay_consistent,
    erasing_the_primary_erases_what_its_merge_records_kept_and_the_undo_is_refused,
    erasing_a_customer_an_undo_restored_clears_its_copy_in_the_undone_merge,
    an_erased_customer_merged_in_gives_no_placeholder_number,
);
