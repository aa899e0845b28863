//! The trash, restore, the purge sweep and erasure: listed on both faces,
//! restored within the window with the status before the delete, refused
//! after it, purged by the sweep with exact counters, and erased so that no
//! personal value is left in any row while the statistics stay.

use chrono::{Duration as Span, Utc};
use clientela::auth::Role;
use clientela::service;
use entity::enums::ChangeSource;
use entity::{
    conversation, customer, customer_change, customer_count, customer_phone, message, ticket,
};
use reqwest::{Method, StatusCode};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::fixtures::phone;
use crate::helpers::graphql::{code, ADD_MESSAGE, CREATE_CONVERSATION, CREATE_TICKET, RATE};
use crate::helpers::imports::{counts, finished, start};
use crate::helpers::TestApp;

const CUSTOMERS: &str = "/api/v2/customers";

const DELETED: &str = "query($first: Int, $after: String) {
  deletedCustomers(first: $first, after: $after) {
    edges { cursor node { deletedAt purgeAt customer { id status } } }
    pageInfo { hasNextPage endCursor }
  }
}";

const RESTORE: &str = "mutation($id: ID!) { restoreCustomer(id: $id) { id status isBlocked } }";

const ERASE: &str = "mutation($id: ID!) {
  eraseCustomer(id: $id) { id customerId erasedAt actor items { what count } }
}";

const RECEIPTS: &str = "query($id: ID) { erasureReceipts(customerId: $id) { id customerId actor items { what count } } }";

/// A service context over the test's database (for the sweep).
fn ctx(app: &TestApp) -> service::Ctx {
    service::Ctx::new(app.db.clone(), phonenumber::country::Id::MX)
}

/// Puts a customer's deletion `days` days back.
async fn backdate(app: &TestApp, id: &str, days: i64) {
    let id = Uuid::parse_str(id).expect("uuid");
    customer::Entity::update_many()
        .col_expr(
            customer::Column::DeletedAt,
            Expr::value(Utc::now() - Span::days(days)),
        )
        .filter(customer::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .expect("backdate");
}

/// The tenant's counters equal `count(*)` of its rows: all, each status, blocked.
async fn assert_counters_exact(app: &TestApp, tenant: &str) {
    let counters: Vec<customer_count::Model> = customer_count::Entity::find()
        .filter(customer_count::Column::TenantId.eq(tenant))
        .all(&app.db)
        .await
        .expect("counters");
    let counter = |facet: &str| {
        counters
            .iter()
            .find(|c| c.facet == facet)
            .map_or(0, |c| c.n)
    };
    let rows = || customer::Entity::find().filter(customer::Column::TenantId.eq(tenant));
    let all = rows().count(&app.db).await.expect("count") as i64;
    assert_eq!(counter("all"), all, "all");
    for status in ["active", "inactive", "vip", "blocked"] {
        let n = rows()
            .filter(customer::Column::Status.eq(status))
            .count(&app.db)
            .await
            .expect("count") as i64;
        assert_eq!(counter(&format!("status:{status}")), n, "status:{status}");
    }
    let blocked = rows()
        .filter(customer::Column::IsBlocked.eq(true))
        .count(&app.db)
        .await
        .expect("count") as i64;
    assert_eq!(counter("blocked"), blocked, "blocked");
}

/// A customer with a conversation (subject, three messages, a rating) and a ticket; its id.
async fn busy_customer(app: &TestApp, n: usize, body: Value) -> String {
    let mut body = body;
    body["phoneNumber"] = json!(phone(n));
    let c = app.create_customer(body).await;
    let id = c["_id"].as_str().expect("id").to_owned();
    let admin = app.admin();
    let data = app
        .gql_data(
            &admin,
            CREATE_CONVERSATION,
            json!({ "input": { "customerId": id, "subject": "Pedido de Ana Pérez" } }),
        )
        .await;
    let conversation = data["createConversation"]["id"].clone();
    for (direction, body, minutes) in [
        ("INBOUND", "Hola, soy Ana, mi correo es ana@example.com", 1),
        ("OUTBOUND", "Hola Ana", 3),
        ("INBOUND", "Gracias", 4),
    ] {
        let sent = Utc::now() - Span::hours(1) + Span::minutes(minutes);
        app.gql_data(
            &admin,
            ADD_MESSAGE,
            json!({ "input": { "conversationId": conversation, "direction": direction,
                               "body": body, "sentAt": sent.to_rfc3339() } }),
        )
        .await;
    }
    app.gql_data(&admin, RATE, json!({ "id": conversation, "rating": 4 }))
        .await;
    app.gql_data(
        &admin,
        CREATE_TICKET,
        json!({ "input": { "customerId": id, "conversationId": conversation, "subject": "Devolución de Ana" } }),
    )
    .await;
    id
}

async fn the_trash_lists_soft_deleted_customers_and_restore_brings_back_their_status(app: TestApp) {
    let agent = app.token(Role::Agent, "default");
    let rest = app.rest_as(&agent);
    let vip = app
        .create_customer(json!({ "phoneNumber": phone(1), "status": "vip" }))
        .await["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let blocked = app.new_customer(2).await.to_string();
    let kept = app.new_customer(3).await.to_string();
    rest.set_blocked(&blocked, true).await;
    for id in [&vip, &blocked] {
        let (status, body) = rest.delete(&format!("{CUSTOMERS}/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The contract's answer is unchanged.
        assert_eq!(
            body,
            json!({ "success": true, "message": "Customer deactivated" })
        );
    }
    // A repeated soft delete keeps the first deletion time.
    let first_time =
        app.rest().get_ok(&format!("{CUSTOMERS}/trash")).await["customers"][1]["deletedAt"].clone();
    rest.delete(&format!("{CUSTOMERS}/{vip}")).await;
    assert_counters_exact(&app, "default").await;

    // REST: newest deletion first, with the trash times; a viewer may read it.
    let viewer = app.token(Role::Viewer, "default");
    let body = app
        .rest_as(&viewer)
        .get_ok(&format!("{CUSTOMERS}/trash"))
        .await;
    let listed: Vec<&str> = body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["_id"].as_str().expect("_id"))
        .collect();
    assert_eq!(listed, [blocked.as_str(), vip.as_str()], "{body}");
    assert_eq!(body["pagination"]["total"], 2);
    assert_eq!(body["customers"][1]["deletedAt"], first_time);
    let c = &body["customers"][0];
    assert_eq!(c["status"], "blocked");
    let (deleted, purge) = (
        crate::helpers::fixtures::time(&c["deletedAt"]),
        crate::helpers::fixtures::time(&c["purgeAt"]),
    );
    assert_eq!(purge - deleted, Span::days(30));
    // Still a customer: the contract's list shows it, INACTIVE.
    let one = app.rest().get_ok(&format!("{CUSTOMERS}/{vip}")).await;
    assert_eq!(one["customer"]["status"], "inactive");

    // GraphQL: the same, paged.
    let data = app.gql_data(&viewer, DELETED, json!({ "first": 1 })).await;
    let page = &data["deletedCustomers"];
    assert_eq!(page["edges"][0]["node"]["customer"]["id"], blocked.as_str());
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let data = app
        .gql_data(
            &viewer,
            DELETED,
            json!({ "first": 5, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    let page = &data["deletedCustomers"];
    assert_eq!(page["edges"][0]["node"]["customer"]["id"], vip.as_str());
    assert_eq!(page["edges"][0]["node"]["customer"]["status"], "INACTIVE");
    assert_eq!(page["pageInfo"]["hasNextPage"], false);

    // A viewer may not restore.
    let body = app.gql(&viewer, RESTORE, json!({ "id": vip })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    app.rest_as(&viewer)
        .expect(
            Method::POST,
            &format!("{CUSTOMERS}/{vip}/restore"),
            StatusCode::FORBIDDEN,
        )
        .await;
    // Another tenant's id is a 404.
    let other = app.token(Role::Admin, "other");
    app.rest_as(&other)
        .expect(
            Method::POST,
            &format!("{CUSTOMERS}/{vip}/restore"),
            StatusCode::NOT_FOUND,
        )
        .await;
    let body = app.gql(&other, RESTORE, json!({ "id": vip })).await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(
        app.rest_as(&other)
            .get_ok(&format!("{CUSTOMERS}/trash"))
            .await["pagination"]["total"],
        0
    );

    // An agent restores: the status before the delete returns.
    let data = app.gql_data(&agent, RESTORE, json!({ "id": vip })).await;
    assert_eq!(data["restoreCustomer"]["status"], "VIP");
    let body = rest
        .expect(
            Method::POST,
            &format!("{CUSTOMERS}/{blocked}/restore"),
            StatusCode::OK,
        )
        .await;
    assert_eq!(body["customer"]["status"], "blocked", "{body}");
    assert_eq!(body["customer"]["isBlocked"], true);
    assert_counters_exact(&app, "default").await;
    // Unblocking returns to the status before the block, not the delete's INACTIVE.
    let (_, body) = rest
        .patch(
            &format!("{CUSTOMERS}/{blocked}/block"),
            json!({ "isBlocked": false }),
        )
        .await;
    assert_eq!(body["customer"]["status"], "active", "{body}");
    assert_counters_exact(&app, "default").await;
    assert_eq!(
        app.rest().get_ok(&format!("{CUSTOMERS}/trash")).await["pagination"]["total"],
        0
    );

    // Restoring a customer not in the trash is bad input naming the id.
    rest.invalid(
        Method::POST,
        &format!("{CUSTOMERS}/{kept}/restore"),
        None,
        "id",
    )
    .await;
    let body = app.gql(&agent, RESTORE, json!({ "id": kept })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    // A legacy client's way back, PUT status=active, takes it out of the trash too.
    rest.delete(&format!("{CUSTOMERS}/{kept}")).await;
    let (status, body) = rest
        .put(
            &format!("{CUSTOMERS}/{kept}"),
            json!({ "status": "active" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.rest().get_ok(&format!("{CUSTOMERS}/trash")).await["pagination"]["total"],
        0
    );
}

async fn restore_after_the_window_is_refused(app: TestApp) {
    let id = app.new_customer(5).await.to_string();
    let agent = app.token(Role::Agent, "default");
    app.rest_as(&agent)
        .expect(Method::DELETE, &format!("{CUSTOMERS}/{id}"), StatusCode::OK)
        .await;
    backdate(&app, &id, 31).await;
    let (status, body) = app
        .rest_as(&agent)
        .send(Method::POST, &format!("{CUSTOMERS}/{id}/restore"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "BAD_USER_INPUT");
    assert_eq!(body["details"][0]["field"], "id");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("30 days")),
        "{body}"
    );
    let body = app.gql(&agent, RESTORE, json!({ "id": id })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    // Just inside the window it still works.
    backdate(&app, &id, 29).await;
    app.gql_data(&agent, RESTORE, json!({ "id": id })).await;
}

/// How many rows of `E` have `id` in `column`, across tenants.
async fn rows_of<E: EntityTrait>(app: &TestApp, column: E::Column, id: Uuid) -> u64
where
    E::Model: Sync,
{
    E::find()
        .filter(column.eq(id))
        .count(&app.db)
        .await
        .expect("count")
}

async fn the_sweep_purges_only_expired_customers_and_the_counters_stay_exact(app: TestApp) {
    let expired_a = busy_customer(&app, 10, json!({ "tags": ["vip"] })).await;
    let expired_b = busy_customer(&app, 11, json!({ "alternativePhones": [phone(12)] })).await;
    let recent = busy_customer(&app, 13, json!({})).await;
    let alive = busy_customer(&app, 14, json!({})).await;
    for id in [&expired_a, &expired_b, &recent] {
        app.rest()
            .expect(Method::DELETE, &format!("{CUSTOMERS}/{id}"), StatusCode::OK)
            .await;
    }
    backdate(&app, &expired_a, 31).await;
    backdate(&app, &expired_b, 45).await;
    backdate(&app, &recent, 29).await;

    let ctx = ctx(&app);
    assert_eq!(
        service::trash::sweep(&ctx, Utc::now())
            .await
            .expect("sweep"),
        2
    );
    // A second sweep finds nothing more.
    assert_eq!(
        service::trash::sweep(&ctx, Utc::now())
            .await
            .expect("sweep"),
        0
    );
    for (id, gone) in [
        (&expired_a, true),
        (&expired_b, true),
        (&recent, false),
        (&alive, false),
    ] {
        let uuid = Uuid::parse_str(id).expect("uuid");
        let customers = rows_of::<customer::Entity>(&app, customer::Column::Id, uuid).await;
        let phones =
            rows_of::<customer_phone::Entity>(&app, customer_phone::Column::CustomerId, uuid).await;
        let conversations =
            rows_of::<conversation::Entity>(&app, conversation::Column::CustomerId, uuid).await;
        let messages = rows_of::<message::Entity>(&app, message::Column::CustomerId, uuid).await;
        let tickets = rows_of::<ticket::Entity>(&app, ticket::Column::CustomerId, uuid).await;
        if gone {
            assert_eq!(
                (customers, phones, conversations, messages, tickets),
                (0, 0, 0, 0, 0),
                "{id}"
            );
            // The history keeps the removal, by the server.
            let entries = app
                .rest()
                .get_ok(&format!("{CUSTOMERS}/{id}/history"))
                .await;
            assert_eq!(entries["history"][0]["field"], "*");
            assert_eq!(entries["history"][0]["actor"], "system");
            assert_eq!(entries["history"][0]["source"], "system");
        } else {
            assert_eq!(
                (customers, conversations, messages, tickets),
                (1, 1, 3, 1),
                "{id}"
            );
        }
    }
    assert_counters_exact(&app, "default").await;
    let summary = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/stats/summary"))
        .await;
    assert_eq!(summary["summary"]["totalCustomers"], 2, "{summary}");
    // The freed numbers can be used again.
    app.create_customer(json!({ "phoneNumber": phone(12) }))
        .await;
}

async fn restore_racing_the_sweep_ends_one_way_or_the_other(app: TestApp) {
    let agent = app.token(Role::Agent, "default");
    let mut ids = Vec::new();
    for n in 0..8 {
        let id = app.new_customer(20 + n).await.to_string();
        app.rest()
            .expect(Method::DELETE, &format!("{CUSTOMERS}/{id}"), StatusCode::OK)
            .await;
        ids.push(id);
    }
    // The restores run now (inside the window); the sweep acts as if the
    // window had run out for every one of them. Both go through one service
    // context (a server of its own over the test's database), as in one
    // process: on SQLite its writer slot orders them.
    let ctx = ctx(&app);
    let router = clientela::app(
        clientela::AppState::new(ctx.clone(), app.keys.clone()),
        std::time::Duration::from_secs(30),
    );
    let addr = crate::helpers::spawn_server(router, &Default::default()).await;
    let later = Utc::now() + Span::days(31);
    let restores = futures::future::join_all(ids.iter().map(|id| {
        let req = app
            .client
            .post(format!("http://{addr}{CUSTOMERS}/{id}/restore"))
            .bearer_auth(&agent);
        crate::helpers::rest::send(req)
    }));
    let sweep = async {
        let mut purged = 0;
        for _ in 0..3 {
            purged += service::trash::sweep(&ctx, later).await.expect("sweep");
        }
        purged
    };
    let (answers, purged) = tokio::join!(restores, sweep);
    let mut restored = 0;
    for (id, (status, body)) in ids.iter().zip(answers) {
        let uuid = Uuid::parse_str(id).expect("uuid");
        let row = customer::Entity::find()
            .filter(customer::Column::Id.eq(uuid))
            .one(&app.db)
            .await
            .expect("read");
        match status {
            StatusCode::OK => {
                restored += 1;
                let row = row.expect("a restored customer exists");
                assert!(row.deleted_at.is_none());
                assert_eq!(row.status.as_str(), "active");
            }
            StatusCode::NOT_FOUND => assert!(row.is_none(), "{id}: 404 but still there"),
            other => panic!("{id}: {other} {body}"),
        }
    }
    assert_eq!(restored + purged, ids.len() as u64);
    assert_counters_exact(&app, "default").await;
}

async fn erase_removes_personal_data_everywhere_and_keeps_the_statistics(app: TestApp) {
    let id = busy_customer(
        &app,
        30,
        json!({
            "firstName": "Ana", "lastName": "Pérez", "email": "ana@example.com",
            "alternativePhones": [phone(31)], "notes": "Cliente desde 2020",
            "address": { "street": "Calle 60", "city": "Mérida" },
            "customFields": { "rfc": "PEPA800101" }, "tags": ["vip"],
        }),
    )
    .await;
    let other_customer = busy_customer(&app, 32, json!({ "firstName": "Beto" })).await;
    let uuid = Uuid::parse_str(&id).expect("uuid");
    let before = customer::Entity::find()
        .filter(customer::Column::Id.eq(uuid))
        .one(&app.db)
        .await
        .expect("read")
        .expect("row");

    // Roles and tenancy.
    let agent = app.token(Role::Agent, "default");
    app.rest_as(&agent)
        .expect(
            Method::POST,
            &format!("{CUSTOMERS}/{id}/erase"),
            StatusCode::FORBIDDEN,
        )
        .await;
    let body = app.gql(&agent, ERASE, json!({ "id": id })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let other = app.token(Role::Admin, "other");
    app.rest_as(&other)
        .expect(
            Method::POST,
            &format!("{CUSTOMERS}/{id}/erase"),
            StatusCode::NOT_FOUND,
        )
        .await;

    let body = app
        .rest()
        .expect(
            Method::POST,
            &format!("{CUSTOMERS}/{id}/erase"),
            StatusCode::OK,
        )
        .await;
    let receipt = &body["erasure"];
    assert_eq!(receipt["customerId"], id.as_str());
    assert_eq!(receipt["actor"], "admin-agent");
    let count_of = |what: &str| {
        receipt["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["what"] == what)
            .map(|i| i["count"].clone())
    };
    assert_eq!(count_of("messageBodies"), Some(json!(3)), "{receipt}");
    assert_eq!(count_of("phoneNumbers"), Some(json!(2)));
    assert_eq!(count_of("conversationSubjects"), Some(json!(1)));
    assert_eq!(count_of("ticketSubjects"), Some(json!(1)));
    assert_eq!(count_of("customer.firstName"), Some(json!(1)));
    assert_eq!(count_of("customer.customFields"), Some(json!(1)));
    assert!(count_of("historyValues").is_some_and(|n| n.as_u64() > Some(0)));

    // The rows, read with SQL.
    let after = customer::Entity::find()
        .filter(customer::Column::Id.eq(uuid))
        .one(&app.db)
        .await
        .expect("read")
        .expect("row kept");
    assert_eq!(after.phone_number, format!("erased-{}", uuid.simple()));
    assert!(after.first_name.is_none() && after.last_name.is_none() && after.email.is_none());
    assert!(after.address.is_none() && after.notes.is_none());
    assert!(after.custom_fields.0.is_empty() && after.alternative_phones.0.is_empty());
    for secret in ["ana", "perez", "example", &phone(30), &phone(31)] {
        assert!(!after.search_text.contains(secret), "{}", after.search_text);
    }
    // The statistics, status and tags stay.
    assert_eq!(
        (
            after.total_conversations,
            after.total_messages,
            after.total_tickets,
            after.response_time_ms,
            after.response_count,
            after.rating_total,
            after.rating_count,
            after.first_contact,
            after.last_message_at,
            after.created_at,
            after.status,
            after.tags.clone(),
        ),
        (
            before.total_conversations,
            before.total_messages,
            before.total_tickets,
            before.response_time_ms,
            before.response_count,
            before.rating_total,
            before.rating_count,
            before.first_contact,
            before.last_message_at,
            before.created_at,
            before.status,
            before.tags.clone(),
        )
    );
    let phones: Vec<String> = customer_phone::Entity::find()
        .filter(customer_phone::Column::CustomerId.eq(uuid))
        .all(&app.db)
        .await
        .expect("phones")
        .into_iter()
        .map(|p| p.phone)
        .collect();
    assert_eq!(phones, vec![after.phone_number.clone()]);
    let bodies: Vec<String> = message::Entity::find()
        .filter(message::Column::CustomerId.eq(uuid))
        .all(&app.db)
        .await
        .expect("messages")
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["[erased]"; 3]);
    let conversations = conversation::Entity::find()
        .filter(conversation::Column::CustomerId.eq(uuid))
        .all(&app.db)
        .await
        .expect("conversations");
    assert!(conversations
        .iter()
        .all(|c| c.subject.is_none() && c.message_count == 3 && c.rating == Some(4)));
    let tickets = ticket::Entity::find()
        .filter(ticket::Column::CustomerId.eq(uuid))
        .all(&app.db)
        .await
        .expect("tickets");
    assert!(tickets.iter().all(|t| t.subject == "[erased]"));
    // No personal value is left in the history.
    let history = customer_change::Entity::find()
        .filter(customer_change::Column::CustomerId.eq(uuid))
        .all(&app.db)
        .await
        .expect("history");
    for entry in &history {
        for value in [&entry.old_value, &entry.new_value].into_iter().flatten() {
            for secret in [
                "Ana",
                "rez",
                "example",
                "Calle 60",
                "PEPA",
                &phone(30),
                &phone(31),
            ] {
                assert!(!value.text().contains(secret), "{entry:?}");
            }
        }
    }
    assert!(history.iter().any(|e| e.source == ChangeSource::Erase));
    // The other customer is untouched.
    let untouched = message::Entity::find()
        .filter(message::Column::CustomerId.eq(Uuid::parse_str(&other_customer).expect("uuid")))
        .all(&app.db)
        .await
        .expect("messages");
    assert!(untouched.iter().all(|m| m.body != "[erased]"));

    // Nothing finds the person by the old phone, name or email.
    for search in ["Ana", "ana@example.com", &phone(30)[5..], "rez"] {
        let list = app
            .rest()
            .get_ok(&format!("{CUSTOMERS}?search={search}"))
            .await;
        assert_eq!(list["pagination"]["total"], 0, "search={search}: {list}");
    }
    for number in [phone(30), phone(31)] {
        let data = app
            .gql_data(
                &app.admin(),
                "query($p: String!) { customerByPhone(phoneNumber: $p) { id } }",
                json!({ "p": number }),
            )
            .await;
        assert!(data["customerByPhone"].is_null(), "{data}");
    }
    // The old numbers are free for a new customer.
    app.create_customer(json!({ "phoneNumber": phone(30) }))
        .await;
    assert_counters_exact(&app, "default").await;

    // The receipt is kept and readable (admins only), on both faces.
    let body = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/{id}/erasure"))
        .await;
    assert_eq!(body["erasures"][0]["id"], receipt["id"], "{body}");
    app.rest_as(&agent)
        .expect(
            Method::GET,
            &format!("{CUSTOMERS}/{id}/erasure"),
            StatusCode::FORBIDDEN,
        )
        .await;
    app.rest_as(&other)
        .expect(
            Method::GET,
            &format!("{CUSTOMERS}/{id}/erasure"),
            StatusCode::NOT_FOUND,
        )
        .await;
    let data = app
        .gql_data(&app.admin(), RECEIPTS, json!({ "id": id }))
        .await;
    assert_eq!(data["erasureReceipts"][0]["id"], receipt["id"]);
    let data = app
        .gql_data(
            &app.token(Role::Admin, "other"),
            RECEIPTS,
            json!({ "id": null }),
        )
        .await;
    assert_eq!(data["erasureReceipts"], json!([]));
    // The receipt outlives the customer.
    app.rest().hard_delete(&id).await;
    let body = app
        .rest()
        .get_ok(&format!("{CUSTOMERS}/{id}/erasure"))
        .await;
    assert_eq!(body["erasures"].as_array().map(Vec::len), Some(1));
}

async fn two_erasures_at_once_end_consistent(app: TestApp) {
    let id = busy_customer(
        &app,
        40,
        json!({ "firstName": "Ana", "email": "a@example.com" }),
    )
    .await;
    let admin = app.admin();
    let rest = app.rest_as(&admin);
    let path = format!("{CUSTOMERS}/{id}/erase");
    let (a, b) = tokio::join!(
        app.gql(&admin, ERASE, json!({ "id": id })),
        rest.send(Method::POST, &path, None),
    );
    assert!(a.get("errors").is_none(), "{a}");
    assert_eq!(b.0, StatusCode::OK, "{}", b.1);
    // Exactly one of them erased the messages.
    let counts: Vec<u64> = [
        &a["data"]["eraseCustomer"]["items"],
        &b.1["erasure"]["items"],
    ]
    .iter()
    .map(|items| {
        items
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["what"] == "messageBodies")
            .and_then(|i| i["count"].as_u64())
            .expect("messageBodies")
    })
    .collect();
    assert_eq!(counts.iter().sum::<u64>(), 3, "{counts:?}");
    assert!(counts.contains(&0));
    let data = app.gql_data(&admin, RECEIPTS, json!({ "id": id })).await;
    assert_eq!(data["erasureReceipts"].as_array().map(Vec::len), Some(2));
    let uuid = Uuid::parse_str(&id).expect("uuid");
    let phones = customer_phone::Entity::find()
        .filter(customer_phone::Column::CustomerId.eq(uuid))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(phones, 1);
    assert_counters_exact(&app, "default").await;
}

/// The stored row of customer `id`.
async fn row(app: &TestApp, id: &str) -> customer::Model {
    customer::Entity::find()
        .filter(customer::Column::Id.eq(Uuid::parse_str(id).expect("uuid")))
        .one(&app.db)
        .await
        .expect("read")
        .expect("row")
}

/// Soft-deletes customer `id` (into the trash).
async fn trash(app: &TestApp, id: &str) {
    let (status, body) = app.rest().delete(&format!("{CUSTOMERS}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The ids in the trash, newest deletion first.
async fn trashed_ids(app: &TestApp) -> Vec<String> {
    let body = app.rest().get_ok(&format!("{CUSTOMERS}/trash")).await;
    body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["_id"].as_str().expect("_id").to_owned())
        .collect()
}

const UPSERT: &str = "mutation($input: [UpdateCustomerInput!]!) {
  upsertCustomers(input: $input) { created updated unchanged failed items { status id matchedOn } }
}";

async fn an_upsert_matching_a_trashed_customer_brings_it_back_on_both_faces(app: TestApp) {
    let ana = app
        .create_customer(json!({ "phoneNumber": phone(50), "firstName": "Ana", "status": "vip" }))
        .await["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bo = app.new_customer(51).await.to_string();
    let cy = app.new_customer(52).await.to_string();
    let di = app.new_customer(53).await.to_string();
    for id in [&ana, &bo, &cy, &di] {
        trash(&app, id).await;
    }
    let body = json!({ "customers": [
        { "phoneNumber": phone(50), "firstName": "Ana María" },
        { "phoneNumber": phone(51) },
        { "phoneNumber": phone(52), "firstName": "Cy", "status": "inactive" },
    ] });
    let (status, answer) = app
        .rest()
        .post(&format!("{CUSTOMERS}/upsert"), body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (
            &answer["results"]["created"],
            &answer["results"]["updated"],
            &answer["results"]["unchanged"]
        ),
        (&json!(0), &json!(3), &json!(0)),
        "{answer}"
    );
    for (item, id) in answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .zip([&ana, &bo, &cy])
    {
        assert_eq!(item["id"], id.as_str(), "{answer}");
        assert_eq!(item["matchedOn"], "phone", "{answer}");
    }
    // Out of the trash with the status the delete replaced, as a restore does.
    let a = row(&app, &ana).await;
    assert!(a.deleted_at.is_none() && a.status_before_delete.is_none());
    assert_eq!(a.status.as_str(), "vip");
    assert_eq!(a.first_name.as_deref(), Some("Ana María"));
    assert!(row(&app, &bo).await.deleted_at.is_none());
    // A row that says inactive leaves its customer in the trash, changed.
    let c = row(&app, &cy).await;
    assert!(c.deleted_at.is_some());
    assert_eq!(c.first_name.as_deref(), Some("Cy"));
    assert_eq!(trashed_ids(&app).await, [di.clone(), cy.clone()]);
    // The history says the import took it out.
    let history = customer_change::Entity::find()
        .filter(customer_change::Column::CustomerId.eq(Uuid::parse_str(&ana).expect("uuid")))
        .filter(customer_change::Column::Field.eq("deletedAt"))
        .all(&app.db)
        .await
        .expect("history");
    let revival = history.last().expect("a deletedAt entry");
    assert_eq!(
        revival.new_value.as_ref().map(|v| &v.0),
        Some(&Value::Null),
        "{history:?}"
    );
    assert_eq!(revival.source, ChangeSource::Import, "{history:?}");
    // Sent again, nothing changes.
    let (_, again) = app.rest().post(&format!("{CUSTOMERS}/upsert"), body).await;
    assert_eq!(again["results"]["unchanged"], 3, "{again}");

    // GraphQL, an agent, a status given: that status.
    let agent = app.token(Role::Agent, "default");
    let data = app
        .gql_data(
            &agent,
            UPSERT,
            json!({ "input": [{ "phoneNumber": phone(53), "status": "ACTIVE" }] }),
        )
        .await;
    let result = &data["upsertCustomers"];
    assert_eq!(result["updated"], 1, "{data}");
    assert_eq!(result["items"][0]["id"], di.as_str(), "{data}");
    let d = row(&app, &di).await;
    assert!(d.deleted_at.is_none());
    assert_eq!(d.status.as_str(), "active");
    assert_eq!(trashed_ids(&app).await, [cy]);
    assert_counters_exact(&app, "default").await;
}

/// Starts an import job of `csv` with `query`; the job as it ended.
async fn import_csv(app: &TestApp, query: &str, csv: String) -> Value {
    finished(app, &start(app, query, "text/csv", csv).await).await
}

async fn an_import_job_matching_trashed_customers_brings_them_back_but_their_export_re_imports_unchanged(
    app: TestApp,
) {
    let eva = app
        .create_customer(json!({ "phoneNumber": phone(60), "email": "eva@example.com" }))
        .await["_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let fe = app.new_customer(61).await.to_string();
    let gil = app.new_customer(62).await.to_string();
    let (status, body) = app
        .rest()
        .patch(
            &format!("{CUSTOMERS}/{gil}/block"),
            json!({ "isBlocked": true, "blockReason": "spam" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for id in [&eva, &fe, &gil] {
        trash(&app, id).await;
    }
    // Their export says inactive and blocked: it re-imports unchanged, and
    // they stay in the trash.
    let export = app
        .request(
            Method::GET,
            &format!("{CUSTOMERS}/export?format=csv"),
            &app.admin(),
        )
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    let job = import_csv(&app, "mode=upsert", export).await;
    assert_eq!(counts(&job), json!([3, 0, 0, 3, 0, 0]), "{job}");
    assert_eq!(trashed_ids(&app).await.len(), 3);

    // A list from elsewhere brings the matches back; a dry run says so first.
    let csv = format!(
        "phoneNumber,firstName,email\n{},Eva,\n{},,\n",
        phone(60),
        phone(61)
    );
    for (query, trashed) in [("mode=upsert&dryRun=true", 3), ("mode=update", 1)] {
        let job = import_csv(&app, query, csv.clone()).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(counts(&job), json!([2, 0, 2, 0, 0, 0]), "{query}: {job}");
        assert_eq!(trashed_ids(&app).await.len(), trashed, "{query}");
    }
    let e = row(&app, &eva).await;
    assert!(e.deleted_at.is_none());
    assert_eq!(e.status.as_str(), "active");
    assert_eq!(e.first_name.as_deref(), Some("Eva"));
    assert!(row(&app, &fe).await.deleted_at.is_none());
    assert_eq!(trashed_ids(&app).await, [gil.as_str()]);

    // Create mode: the trashed customer's number is taken, and it says where.
    let job = import_csv(&app, "mode=create", format!("phoneNumber\n{}\n", phone(62))).await;
    assert_eq!(counts(&job), json!([1, 0, 0, 0, 1, 0]), "{job}");
    let data = app
        .gql_data(
            &app.admin(),
            "query($id: ID!) { importJob(id: $id) { errors { row code message } } }",
            json!({ "id": job["id"] }),
        )
        .await;
    let error = &data["importJob"]["errors"][0];
    assert_eq!(error["code"], "DUPLICATE", "{data}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&gil) && message.contains("trash"),
        "{data}"
    );
    assert_counters_exact(&app, "default").await;
}

crate::db_tests!(
    the_trash_lists_soft_deleted_customers_and_restore_brings_back_their_status,
    restore_after_the_window_is_refused,
    the_sweep_purges_only_expired_customers_and_the_counters_stay_exact,
    restore_racing_the_sweep_ends_one_way_or_the_other,
    erase_removes_personal_data_everywhere_and_keeps_the_statistics,
    two_erasures_at_once_end_consistent,
    an_upsert_matching_a_trashed_customer_brings_it_back_on_both_faces,
    an_import_job_matching_trashed_customers_brings_them_back_but_their_export_re_imports_unchanged,
);
