//! `clientela recount`: every derived value recomputed from the rows equals
//! what the write path keeps, and a recount mends what hand-written SQL broke.

use chrono::{Duration as Span, Utc};
use entity::{conversation, customer, customer_phone, customer_tag};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, Set};
use serde_json::{json, Value};

use crate::helpers::graphql::{
    ADD_MESSAGE, CREATE_CONVERSATION, CREATE_TICKET, DELETE_CONVERSATION, DELETE_MESSAGE, RATE,
    SET_STATUS,
};
use crate::helpers::TestApp;

/// Runs an operation as the default admin; its `data`.
async fn gql(app: &TestApp, query: &str, variables: Value) -> Value {
    app.gql_data(&app.admin(), query, variables).await
}

/// Customers with alternative numbers and tags, conversations with messages
/// (out of order), statuses, ratings, tickets, and deletes.
async fn busy_tenant(app: &TestApp) {
    let base = Utc::now() - Span::days(3);
    for n in 0..3 {
        let c = app
            .create_customer(json!({
                "phoneNumber": format!("52999111{n:04}"),
                "alternativePhones": [format!("52999222{n:04}")],
                "firstName": format!("Ana {n}"), "lastName": "Pérez", "email": format!("ana{n}@example.com"),
                "tags": ["vip", format!("t{n}")],
            }))
            .await;
        let id = c["_id"].as_str().expect("id").to_owned();
        let mut messages = Vec::new();
        for k in 0..2 {
            let data = gql(
                app,
                CREATE_CONVERSATION,
                json!({ "input": { "customerId": id, "subject": format!("s{k}") } }),
            )
            .await;
            let conversation = data["createConversation"]["id"].clone();
            for (i, (direction, minutes)) in [
                ("INBOUND", 10),
                ("OUTBOUND", 25),
                ("INBOUND", 5),
                ("OUTBOUND", 40),
            ]
            .into_iter()
            .enumerate()
            {
                let sent = base + Span::minutes(minutes + 60 * (n * 10 + k) as i64 + i as i64);
                let data = gql(
                    app,
                    ADD_MESSAGE,
                    json!({ "input": { "conversationId": conversation, "direction": direction,
                                       "body": "hola", "sentAt": sent.to_rfc3339() } }),
                )
                .await;
                messages.push(data["addMessage"]["id"].clone());
            }
            if k == 0 {
                gql(
                    app,
                    SET_STATUS,
                    json!({ "id": conversation, "status": "RESOLVED" }),
                )
                .await;
                gql(app, RATE, json!({ "id": conversation, "rating": 4 - n })).await;
            }
            gql(
                app,
                CREATE_TICKET,
                json!({ "input": { "customerId": id, "conversationId": conversation, "subject": "t" } }),
            )
            .await;
            if n == 2 && k == 1 {
                gql(app, DELETE_CONVERSATION, json!({ "id": conversation })).await;
            }
        }
        gql(app, DELETE_MESSAGE, json!({ "id": messages[1] })).await;
    }
}

/// Every customer and conversation row, and the phone and tag rows, in a fixed order.
async fn snapshot(
    app: &TestApp,
) -> (
    Vec<customer::Model>,
    Vec<conversation::Model>,
    Vec<customer_phone::Model>,
    Vec<customer_tag::Model>,
) {
    (
        customer::Entity::find()
            .order_by_asc(customer::Column::Id)
            .all(&app.db)
            .await
            .expect("customers"),
        conversation::Entity::find()
            .order_by_asc(conversation::Column::Id)
            .all(&app.db)
            .await
            .expect("conversations"),
        customer_phone::Entity::find()
            .order_by_asc(customer_phone::Column::Phone)
            .all(&app.db)
            .await
            .expect("phones"),
        customer_tag::Entity::find()
            .order_by_asc(customer_tag::Column::CustomerId)
            .order_by_asc(customer_tag::Column::Tag)
            .all(&app.db)
            .await
            .expect("tags"),
    )
}

async fn a_recount_after_real_writes_changes_nothing(app: TestApp) {
    busy_tenant(&app).await;
    let before = snapshot(&app).await;
    let report = clientela::service::recount::recount(&app.db, "default", 2, |_| {})
        .await
        .expect("recount");
    assert_eq!(report.customers, 3);
    assert_eq!(
        (
            report.customers_fixed,
            report.conversations_fixed,
            report.index_rows_fixed,
            report.phone_conflicts
        ),
        (0, 0, 0, 0),
        "the write path already holds what a recount computes"
    );
    assert_eq!(snapshot(&app).await, before);
}

async fn a_recount_mends_what_hand_written_sql_broke(app: TestApp) {
    busy_tenant(&app).await;
    let before = snapshot(&app).await;
    for sql in [
        "UPDATE customers SET total_conversations = 99, total_messages = 0, open_conversations = 7, \
         response_time_ms = 1, rating_count = 0, last_message_at = NULL, search_text = 'x'",
        "UPDATE conversations SET message_count = 0, response_count = 5, last_message_at = NULL",
        "DELETE FROM customer_phones WHERE phone LIKE '52999222%'",
        "DELETE FROM customer_tags WHERE tag = 'vip'",
    ] {
        app.db.execute_unprepared(sql).await.expect(sql);
    }
    let one = before.0[0].id;
    customer_tag::Entity::insert(customer_tag::ActiveModel {
        customer_id: Set(one),
        tag: Set("stray".into()),
        tenant_id: Set("default".into()),
    })
    .exec_without_returning(&app.db)
    .await
    .expect("a stray tag row");
    assert_ne!(snapshot(&app).await, before);
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_clientela"))
            .args(["recount", "--tenant", "default", "--batch", "2"])
            .env("DATABASE_URL", &app.url)
            .output()
            .expect("run clientela recount")
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(said.contains("fixed 3 customers"), "{said}");
    assert_eq!(snapshot(&app).await, before, "every derived value restored");
    // Search works again on the restored search text.
    let (_, body) = app.rest().get("/api/v2/customers?search=perez").await;
    assert_eq!(body["pagination"]["total"], 3, "{body}");
    let second = run();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("fixed 0 customers, 0 conversations, 0 phone/tag rows"),
        "a second run changes nothing: {said}"
    );
}

crate::db_tests!(
    a_recount_after_real_writes_changes_nothing,
    a_recount_mends_what_hand_written_sql_broke,
);
