//! Nested GraphQL fields are batched by DataLoaders: a page of customers
//! with their conversations, agents and messages costs a fixed number of SQL
//! statements, whatever the number of customers on the page.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::fixtures::{imported_ids, phone};
use crate::helpers::TestApp;

/// Customers, each with two conversations of four messages.
const CUSTOMERS: usize = 100;
const CONVERSATIONS_PER_CUSTOMER: usize = 2;
const MESSAGES_PER_CONVERSATION: usize = 4;
const AGENT_NAME: &str = "Ana Batch";

const NESTED: &str = "query($limit: Int!) {
  customers(limit: $limit) {
    items {
      id
      recentConversations {
        id
        assignedAgent { name }
        messages(limit: 3) { items { body } }
      }
    }
  }
}";

const CONVERSATION_TOTALS: &str = "query($limit: Int!) {
  customers(limit: $limit) {
    items { id conversations(page: 1, limit: 1) { pagination { total } } }
  }
}";

/// The body of message `k` of conversation `c` of customer `i`.
fn body(i: usize, c: usize, k: usize) -> String {
    format!("customer {i} conversation {c} message {k}")
}

/// What the seed wrote: each customer's id with its index.
struct Seeded {
    customers: Vec<(Uuid, usize)>,
}

/// Imports the customers through REST, creates the agent through GraphQL,
/// and inserts conversations and messages straight into the tables (their
/// statistics columns do not matter here).
async fn seed(app: &TestApp) -> Seeded {
    let rows: Vec<Value> = (0..CUSTOMERS)
        .map(|i| json!({ "phoneNumber": phone(i), "firstName": format!("Customer {i}") }))
        .collect();
    let body_json = app.import_all(rows).await;
    let phones: Vec<String> = (0..CUSTOMERS).map(phone).collect();
    let customers: Vec<(Uuid, usize)> = imported_ids(&body_json, &phones)
        .into_iter()
        .zip(0..)
        .collect();

    let agent = app
        .gql(
            &app.admin(),
            "mutation($input: AgentInput!) { upsertAgent(input: $input) { id } }",
            json!({ "input": { "name": AGENT_NAME } }),
        )
        .await;
    let agent_id = Uuid::parse_str(
        agent["data"]["upsertAgent"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("agent created: {agent}")),
    )
    .expect("uuid");

    let base: DateTime<Utc> = DateTime::parse_from_rfc3339("2024-01-01T00:00:00.000Z")
        .expect("valid time")
        .with_timezone(&Utc);
    let mut conversations = Vec::new();
    let mut messages = Vec::new();
    for (customer_id, i) in &customers {
        for c in 0..CONVERSATIONS_PER_CUSTOMER {
            let id = Uuid::now_v7();
            let created = base + TimeDelta::minutes((i * 10 + c) as i64);
            let last = created + TimeDelta::seconds(MESSAGES_PER_CONVERSATION as i64);
            conversations.push(entity::conversation::ActiveModel::from(
                entity::conversation::Model {
                    id,
                    tenant_id: "default".to_owned(),
                    customer_id: *customer_id,
                    status: entity::enums::ConversationStatus::Open,
                    channel: "whatsapp".to_owned(),
                    subject: None,
                    assigned_agent_id: Some(agent_id),
                    rating: None,
                    message_count: MESSAGES_PER_CONVERSATION as i32,
                    last_message_at: Some(last),
                    activity_at: last,
                    response_time_ms: 0,
                    response_count: 0,
                    created_at: created,
                    updated_at: created,
                    resolved_at: None,
                },
            ));
            for k in 0..MESSAGES_PER_CONVERSATION {
                messages.push(entity::message::ActiveModel::from(entity::message::Model {
                    id: Uuid::now_v7(),
                    tenant_id: "default".to_owned(),
                    conversation_id: id,
                    customer_id: *customer_id,
                    direction: if k % 2 == 0 {
                        entity::enums::MessageDirection::Inbound
                    } else {
                        entity::enums::MessageDirection::Outbound
                    },
                    body: body(*i, c, k),
                    agent_id: None,
                    sent_at: created + TimeDelta::seconds(k as i64 + 1),
                    created_at: created,
                }));
            }
        }
    }
    entity::conversation::Entity::insert_many(conversations)
        .exec_without_returning(&app.db)
        .await
        .expect("insert conversations");
    for chunk in messages.chunks(400) {
        entity::message::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .expect("insert messages");
    }
    Seeded { customers }
}

/// Runs `query` with `limit` and returns its data and the statements it cost.
async fn measure(app: &TestApp, query: &str, limit: usize) -> (Value, usize) {
    let token = app.admin();
    let before = app.statement_count();
    let body = app.gql(&token, query, json!({ "limit": limit })).await;
    let statements = app.statement_count() - before;
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {body}"
    );
    (body["data"].clone(), statements)
}

/// Checks every customer of a `NESTED` answer against what was seeded.
fn assert_nested_is_right(data: &Value, seeded: &Seeded, limit: usize) {
    let items = data["customers"]["items"].as_array().expect("items");
    assert_eq!(items.len(), limit);
    for customer in items {
        let id = Uuid::parse_str(customer["id"].as_str().expect("id")).expect("uuid");
        let (_, i) = seeded
            .customers
            .iter()
            .find(|(c, _)| *c == id)
            .expect("a seeded customer");
        let recent = customer["recentConversations"]
            .as_array()
            .expect("recentConversations");
        assert_eq!(recent.len(), CONVERSATIONS_PER_CUSTOMER, "{customer}");
        // Newest first: conversation 1 was created (and last written) after 0.
        for (conversation, c) in recent.iter().zip([1, 0]) {
            assert_eq!(conversation["assignedAgent"]["name"], AGENT_NAME);
            let bodies: Vec<String> = (0..3).map(|k| body(*i, c, k)).collect();
            let items: Vec<Value> = bodies.iter().map(|b| json!({ "body": b })).collect();
            assert_eq!(
                conversation["messages"]["items"],
                json!(items),
                "the three oldest messages of conversation {c} of customer {i}"
            );
        }
    }
}

async fn nested_customers_conversations_agents_and_messages_cost_five_statements_for_10_or_100_customers(
    app: TestApp,
) {
    let seeded = seed(&app).await;
    let (ten, at_10) = measure(&app, NESTED, 10).await;
    let (hundred, at_100) = measure(&app, NESTED, 100).await;
    assert_nested_is_right(&ten, &seeded, 10);
    assert_nested_is_right(&hundred, &seeded, 100);
    // 1 page of customers (no total: `pagination` is not selected), 2 recent
    // conversations of all of them (one statement), 3 their agents by id,
    // 4 the messages windows of all conversations, 5 the message counts (the
    // pagination totals of `messages`).
    assert_eq!(at_10, 5, "statements for 10 customers");
    assert_eq!(at_100, 5, "statements for 100 customers");
}

async fn conversation_totals_of_a_customer_page_cost_three_statements_for_10_or_100_customers(
    app: TestApp,
) {
    let seeded = seed(&app).await;
    let (ten, at_10) = measure(&app, CONVERSATION_TOTALS, 10).await;
    let (hundred, at_100) = measure(&app, CONVERSATION_TOTALS, 100).await;
    for (data, limit) in [(&ten, 10), (&hundred, 100)] {
        let items = data["customers"]["items"].as_array().expect("items");
        assert_eq!(items.len(), limit);
        for c in items {
            assert_eq!(
                c["conversations"]["pagination"]["total"], CONVERSATIONS_PER_CUSTOMER,
                "{c}"
            );
        }
    }
    assert_eq!(seeded.customers.len(), CUSTOMERS);
    // 1 page of customers (no total asked for), 2 conversation counts of all
    // of them, 3 the conversation windows (page 1, limit 1) of all of them.
    assert_eq!(at_10, 3, "statements for 10 customers");
    assert_eq!(at_100, 3, "statements for 100 customers");
}

crate::db_tests!(
    nested_customers_conversations_agents_and_messages_cost_five_statements_for_10_or_100_customers,
    conversation_totals_of_a_customer_page_cost_three_statements_for_10_or_100_customers,
);
