//! The conversation side, black-box through GraphQL and REST: conversations,
//! messages, ratings, tickets and agents, their roles and tenancy, and what
//! the customer's details (REST and GraphQL) show after such writes.

use chrono::{DateTime, TimeDelta, Utc};
use clientela::auth::Role;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::fixtures::{fmt, phone, time, uuid_of as uuid};
use crate::helpers::graphql::{code, data};
use crate::helpers::TestApp;

/// Every field of a conversation but its messages, as `...V`.
const CONVERSATION: &str = "
fragment V on Conversation {
  id status channel subject rating messageCount lastMessageAt createdAt updatedAt resolvedAt
  customer { id }
  assignedAgent { id name email }
}";

const CREATE_CONVERSATION: &str =
    "mutation($input: CreateConversationInput!) { createConversation(input: $input) { ...V } }";
const ADD_MESSAGE: &str = "mutation($input: AddMessageInput!) {
  addMessage(input: $input) { id conversationId direction body sentAt agent { id name } }
}";
const SET_STATUS: &str = "mutation($id: ID!, $status: ConversationStatus!) {
  setConversationStatus(id: $id, status: $status) { ...V }
}";
const RATE: &str =
    "mutation($id: ID!, $rating: Int!) { rateConversation(id: $id, rating: $rating) { ...V } }";
const CREATE_TICKET: &str = "mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { id subject status createdAt closedAt customer { id } conversation { id } }
}";
const CLOSE_TICKET: &str = "mutation($id: ID!) {
  closeTicket(id: $id) { id subject status createdAt closedAt customer { id } conversation { id } }
}";
const UPSERT_AGENT: &str =
    "mutation($input: AgentInput!) { upsertAgent(input: $input) { id name email } }";
const DELETE_CONVERSATION: &str = "mutation($id: ID!) { deleteConversation(id: $id) }";
const DELETE_MESSAGE: &str = "mutation($id: ID!) { deleteMessage(id: $id) }";
const GET_CONVERSATION: &str = "query($id: ID!) { conversation(id: $id) { ...V } }";
const MESSAGES: &str = "query($id: ID!, $page: Int!, $limit: Int!) {
  conversation(id: $id) {
    messages(page: $page, limit: $limit) {
      items { id direction body sentAt }
      pagination { page limit total pages }
    }
  }
}";
const CUSTOMER: &str = "query($id: ID!) {
  customer(id: $id) {
    statistics {
      totalConversations openConversations resolvedConversations totalMessages totalTickets
      averageResponseTime satisfactionScore
    }
    firstContact lastInteraction lastMessageAt createdAt
    recentConversations { id lastMessageAt createdAt }
  }
}";

/// `query` with the conversation fragment appended.
fn with_conversation(query: &str) -> String {
    format!("{query}\n{CONVERSATION}")
}

/// The conversation `id` as `token` reads it (every field of `...V`), or
/// null; the read must not fail.
async fn read_conversation(app: &TestApp, token: &str, id: &Value) -> Value {
    let query = with_conversation(GET_CONVERSATION);
    let body = app.gql(token, &query, json!({ "id": id })).await;
    data(&body, "conversation").clone()
}

/// An agent token of the default tenant.
fn agent_token(app: &TestApp) -> String {
    app.token(Role::Agent, "default")
}

/// Creates a customer through REST and returns its id.
async fn customer(app: &TestApp, n: usize) -> String {
    let c = app
        .create_customer(json!({ "phoneNumber": phone(n), "firstName": format!("Customer {n}") }))
        .await;
    c["id"].as_str().expect("customer id").to_owned()
}

/// Creates an agent as admin.
async fn agent(app: &TestApp, name: &str, email: &str) -> Value {
    let body = app
        .gql(
            &app.admin(),
            UPSERT_AGENT,
            json!({ "input": { "name": name, "email": email } }),
        )
        .await;
    data(&body, "upsertAgent").clone()
}

/// Opens a conversation as an agent with `input` (plus the customer).
async fn conversation(app: &TestApp, customer_id: &str, input: Value) -> Value {
    let mut input = input;
    input["customerId"] = json!(customer_id);
    let body = app
        .gql(
            &agent_token(app),
            &with_conversation(CREATE_CONVERSATION),
            json!({ "input": input }),
        )
        .await;
    data(&body, "createConversation").clone()
}

/// Adds a message as an agent; `sent_at` when given.
async fn message(
    app: &TestApp,
    conversation: &Value,
    direction: &str,
    sent_at: Option<&str>,
) -> Value {
    let mut input = json!({
        "conversationId": conversation["id"],
        "direction": direction,
        "body": format!("{direction} message"),
    });
    if let Some(t) = sent_at {
        input["sentAt"] = json!(t);
    }
    let body = app
        .gql(&agent_token(app), ADD_MESSAGE, json!({ "input": input }))
        .await;
    data(&body, "addMessage").clone()
}

/// Runs a mutation as an agent and returns its `data.<field>`.
async fn mutate(app: &TestApp, query: &str, field: &str, variables: Value) -> Value {
    let body = app
        .gql(&agent_token(app), &with_conversation(query), variables)
        .await;
    data(&body, field).clone()
}

/// Creates a ticket as an agent.
async fn ticket(app: &TestApp, customer_id: &str, conversation: Option<&Value>) -> Value {
    let mut input = json!({ "customerId": customer_id, "subject": "Broken order" });
    if let Some(c) = conversation {
        input["conversationId"] = c["id"].clone();
    }
    let body = app
        .gql(&agent_token(app), CREATE_TICKET, json!({ "input": input }))
        .await;
    data(&body, "createTicket").clone()
}

/// Reads a customer's statistics, timestamps and recent conversations through GraphQL.
async fn graphql_customer(app: &TestApp, id: &str) -> Value {
    let body = app.gql(&app.admin(), CUSTOMER, json!({ "id": id })).await;
    data(&body, "customer").clone()
}

/// Ids of a list of conversations (GraphQL objects or REST documents).
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn create_conversation_defaults_to_whatsapp_and_open_and_resolves_its_agent(app: TestApp) {
    let cid = customer(&app, 1).await;
    let ana = agent(&app, "Ana Pérez", "ana@example.com").await;
    let before = Utc::now() - TimeDelta::seconds(1);
    let conv = conversation(
        &app,
        &cid,
        json!({ "subject": "Order 42", "assignedAgentId": ana["id"] }),
    )
    .await;
    assert_eq!(conv["channel"], "whatsapp", "{conv}");
    assert_eq!(conv["status"], "OPEN");
    assert_eq!(conv["subject"], "Order 42");
    assert_eq!(conv["customer"]["id"], json!(cid));
    assert_eq!(conv["assignedAgent"], ana);
    assert_eq!(conv["assignedAgent"]["name"], "Ana Pérez");
    assert_eq!(conv["messageCount"], 0);
    assert_eq!(conv["rating"], Value::Null);
    assert_eq!(conv["lastMessageAt"], Value::Null);
    assert_eq!(conv["resolvedAt"], Value::Null);
    let created = time(&conv["createdAt"]);
    assert!(created >= before && created <= Utc::now(), "{conv}");

    // Read back, it is the same conversation.
    assert_eq!(
        read_conversation(&app, &app.admin(), &conv["id"]).await,
        conv
    );

    // An explicit channel is kept; no agent means a null assignedAgent.
    let email = conversation(&app, &cid, json!({ "channel": "email" })).await;
    assert_eq!(email["channel"], "email");
    assert_eq!(email["assignedAgent"], Value::Null);
    assert_eq!(email["subject"], Value::Null);
}

async fn add_message_keeps_an_explicit_sent_at_and_defaults_to_now(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;

    let explicit = message(&app, &conv, "INBOUND", Some("2024-03-01T12:00:00.250Z")).await;
    assert_eq!(explicit["sentAt"], "2024-03-01T12:00:00.250Z", "{explicit}");
    assert_eq!(explicit["direction"], "INBOUND");
    assert_eq!(explicit["body"], "INBOUND message");
    assert_eq!(explicit["conversationId"], conv["id"]);
    assert_eq!(explicit["agent"], Value::Null);

    // An offset is taken as the same instant in UTC.
    let offset = message(
        &app,
        &conv,
        "OUTBOUND",
        Some("2024-03-01T08:00:05.000-04:00"),
    )
    .await;
    assert_eq!(offset["sentAt"], "2024-03-01T12:00:05.000Z", "{offset}");

    let before = Utc::now() - TimeDelta::milliseconds(5);
    let default = message(&app, &conv, "OUTBOUND", None).await;
    let after = Utc::now() + TimeDelta::milliseconds(5);
    let sent = time(&default["sentAt"]);
    assert!(
        sent >= before && sent <= after,
        "a message without sentAt is sent now: {sent} not in {before}..{after}"
    );

    let read = read_conversation(&app, &app.admin(), &conv["id"]).await;
    assert_eq!(read["messageCount"], 3);
    assert_eq!(read["lastMessageAt"], default["sentAt"]);
}

async fn message_agent_resolves_to_the_sending_agent(app: TestApp) {
    let cid = customer(&app, 1).await;
    let ana = agent(&app, "Ana", "ana@example.com").await;
    let conv = conversation(&app, &cid, json!({})).await;
    let body = app
        .gql(
            &agent_token(&app),
            ADD_MESSAGE,
            json!({ "input": {
                "conversationId": conv["id"], "direction": "OUTBOUND", "body": "Hello", "agentId": ana["id"],
            } }),
        )
        .await;
    let sent = data(&body, "addMessage");
    assert_eq!(sent["agent"]["id"], ana["id"], "{sent}");
    assert_eq!(sent["agent"]["name"], "Ana");

    let body = app
        .gql(
            &app.admin(),
            "query($id: ID!) { conversation(id: $id) { messages { items { body agent { id name } } } } }",
            json!({ "id": conv["id"] }),
        )
        .await;
    let items = &data(&body, "conversation")["messages"]["items"];
    assert_eq!(
        items,
        &json!([{ "body": "Hello", "agent": { "id": ana["id"], "name": "Ana" } }])
    );
}

async fn conversation_messages_are_oldest_first_by_sent_at_then_id_and_paginated(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;
    // Added out of order; two share a sentAt, so the id decides between them.
    let written = vec![
        message(&app, &conv, "INBOUND", Some("2024-05-01T10:00:03.000Z")).await,
        message(&app, &conv, "OUTBOUND", Some("2024-05-01T10:00:01.000Z")).await,
        message(&app, &conv, "INBOUND", Some("2024-05-01T10:00:02.000Z")).await,
        message(&app, &conv, "OUTBOUND", Some("2024-05-01T10:00:02.000Z")).await,
        message(&app, &conv, "INBOUND", Some("2024-04-30T23:59:59.999Z")).await,
    ];
    let mut expected = written.clone();
    expected.sort_by_key(|m| (time(&m["sentAt"]), uuid(m)));
    let expected: Vec<Value> = expected
        .iter()
        .map(|m| json!({ "id": m["id"], "direction": m["direction"], "body": m["body"], "sentAt": m["sentAt"] }))
        .collect();

    let mut seen = Vec::new();
    for page in 1..=3 {
        let body = app
            .gql(
                &app.admin(),
                MESSAGES,
                json!({ "id": conv["id"], "page": page, "limit": 2 }),
            )
            .await;
        let messages = &data(&body, "conversation")["messages"];
        assert_eq!(
            messages["pagination"],
            json!({ "page": page, "limit": 2, "total": 5, "pages": 3 }),
            "{messages}"
        );
        let items = messages["items"].as_array().expect("items");
        assert_eq!(items.len(), if page < 3 { 2 } else { 1 }, "{messages}");
        seen.extend(items.iter().cloned());
    }
    assert_eq!(seen, expected, "messages are oldest first, then by id");

    // Past the end: empty, with the true pagination.
    let body = app
        .gql(
            &app.admin(),
            MESSAGES,
            json!({ "id": conv["id"], "page": 4, "limit": 2 }),
        )
        .await;
    let messages = &data(&body, "conversation")["messages"];
    assert_eq!(messages["items"], json!([]));
    assert_eq!(messages["pagination"]["total"], 5);
}

async fn set_conversation_status_resolved_sets_resolved_at_and_reopening_clears_it(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;
    let id = conv["id"].clone();

    let pending = mutate(
        &app,
        SET_STATUS,
        "setConversationStatus",
        json!({ "id": id, "status": "PENDING" }),
    )
    .await;
    assert_eq!(pending["status"], "PENDING");
    assert_eq!(pending["resolvedAt"], Value::Null);
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(
        (&stats["openConversations"], &stats["resolvedConversations"]),
        (&json!(1), &json!(0)),
        "PENDING counts as open: {stats}"
    );

    let before = Utc::now() - TimeDelta::seconds(1);
    let resolved = mutate(
        &app,
        SET_STATUS,
        "setConversationStatus",
        json!({ "id": id, "status": "RESOLVED" }),
    )
    .await;
    assert_eq!(resolved["status"], "RESOLVED");
    let at = time(&resolved["resolvedAt"]);
    assert!(at >= before && at <= Utc::now(), "{resolved}");
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["totalConversations"], 1);
    assert_eq!(stats["openConversations"], 0, "{stats}");
    assert_eq!(stats["resolvedConversations"], 1, "{stats}");

    let reopened = mutate(
        &app,
        SET_STATUS,
        "setConversationStatus",
        json!({ "id": id, "status": "OPEN" }),
    )
    .await;
    assert_eq!(reopened["status"], "OPEN");
    assert_eq!(reopened["resolvedAt"], Value::Null, "{reopened}");
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["openConversations"], 1, "{stats}");
    assert_eq!(stats["resolvedConversations"], 0, "{stats}");
}

async fn rate_conversation_accepts_one_to_five_replaces_and_refuses_zero_and_six(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;
    let id = conv["id"].clone();
    for rating in 1..=5 {
        let rated = mutate(
            &app,
            RATE,
            "rateConversation",
            json!({ "id": id, "rating": rating }),
        )
        .await;
        assert_eq!(rated["rating"], rating);
        let stats = &graphql_customer(&app, &cid).await["statistics"];
        assert_eq!(
            stats["satisfactionScore"].as_f64(),
            Some(f64::from(rating)),
            "rating again replaces the old rating: {stats}"
        );
    }
    for bad in [0, 6, -1] {
        let body = app
            .gql(
                &agent_token(&app),
                &with_conversation(RATE),
                json!({ "id": id, "rating": bad }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "rating {bad}: {body}");
    }
    assert_eq!(
        read_conversation(&app, &app.admin(), &id).await["rating"],
        5
    );

    // A second conversation: the score is the mean of the conversations' ratings.
    let other = conversation(&app, &cid, json!({})).await;
    mutate(
        &app,
        RATE,
        "rateConversation",
        json!({ "id": other["id"], "rating": 2 }),
    )
    .await;
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["satisfactionScore"].as_f64(), Some(3.5), "{stats}");
}

async fn create_ticket_with_and_without_a_conversation_and_close_it(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;

    let before = Utc::now() - TimeDelta::seconds(1);
    let linked = ticket(&app, &cid, Some(&conv)).await;
    assert_eq!(linked["subject"], "Broken order");
    assert_eq!(linked["status"], "OPEN");
    assert_eq!(linked["closedAt"], Value::Null);
    assert_eq!(linked["customer"]["id"], json!(cid));
    assert_eq!(linked["conversation"]["id"], conv["id"]);
    let created = time(&linked["createdAt"]);
    assert!(created >= before && created <= Utc::now(), "{linked}");

    let loose = ticket(&app, &cid, None).await;
    assert_eq!(loose["conversation"], Value::Null);
    assert_eq!(loose["customer"]["id"], json!(cid));
    assert_eq!(loose["status"], "OPEN");

    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["totalTickets"], 2, "{stats}");

    let before = Utc::now() - TimeDelta::seconds(1);
    let body = app
        .gql(
            &agent_token(&app),
            CLOSE_TICKET,
            json!({ "id": linked["id"] }),
        )
        .await;
    let closed = data(&body, "closeTicket");
    assert_eq!(closed["status"], "CLOSED", "{closed}");
    let at = time(&closed["closedAt"]);
    assert!(at >= before && at <= Utc::now(), "{closed}");
    assert_eq!(closed["id"], linked["id"]);
    assert_eq!(closed["conversation"]["id"], conv["id"]);
    assert_eq!(closed["createdAt"], linked["createdAt"]);
}

async fn create_ticket_with_another_customers_conversation_is_bad_user_input(app: TestApp) {
    let mine = customer(&app, 1).await;
    let theirs = customer(&app, 2).await;
    let their_conversation = conversation(&app, &theirs, json!({})).await;
    let body = app
        .gql(
            &agent_token(&app),
            CREATE_TICKET,
            json!({ "input": {
                "customerId": mine, "conversationId": their_conversation["id"], "subject": "Mixed up",
            } }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let count = entity::ticket::Entity::find()
        .count(&app.db)
        .await
        .expect("count tickets");
    assert_eq!(count, 0, "nothing was stored");
    for id in [&mine, &theirs] {
        let stats = &graphql_customer(&app, id).await["statistics"];
        assert_eq!(stats["totalTickets"], 0, "{stats}");
    }
}

async fn conversation_of_another_tenant_is_null_and_cannot_be_written(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;
    let other_admin = app.token(Role::Admin, "other");
    let other_agent = app.token(Role::Agent, "other");

    assert_eq!(
        read_conversation(&app, &other_admin, &conv["id"]).await,
        Value::Null
    );

    let body = app
        .gql(
            &other_agent,
            ADD_MESSAGE,
            json!({ "input": { "conversationId": conv["id"], "direction": "INBOUND", "body": "hi" } }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = app
        .gql(
            &other_agent,
            &with_conversation(RATE),
            json!({ "id": conv["id"], "rating": 3 }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = app
        .gql(
            &other_admin,
            DELETE_CONVERSATION,
            json!({ "id": conv["id"] }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = app
        .gql(
            &other_agent,
            &with_conversation(CREATE_CONVERSATION),
            json!({ "input": { "customerId": cid } }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let body = app
        .gql(
            &other_agent,
            CREATE_TICKET,
            json!({ "input": { "customerId": cid, "subject": "Not yours" } }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["totalConversations"], 1, "{stats}");
    assert_eq!(stats["totalTickets"], 0, "{stats}");

    // Still there, untouched, for its own tenant.
    let read = read_conversation(&app, &app.admin(), &conv["id"]).await;
    assert_eq!(read["messageCount"], 0);
    assert_eq!(read["rating"], Value::Null);
}

async fn viewer_cannot_create_conversation_add_message_rate_or_create_ticket(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;
    let viewer = app.token(Role::Viewer, "default");
    let attempts = [
        (
            with_conversation(CREATE_CONVERSATION),
            json!({ "input": { "customerId": cid } }),
        ),
        (
            ADD_MESSAGE.to_owned(),
            json!({ "input": { "conversationId": conv["id"], "direction": "INBOUND", "body": "hi" } }),
        ),
        (
            with_conversation(RATE),
            json!({ "id": conv["id"], "rating": 4 }),
        ),
        (
            CREATE_TICKET.to_owned(),
            json!({ "input": { "customerId": cid, "subject": "No" } }),
        ),
        (
            with_conversation(SET_STATUS),
            json!({ "id": conv["id"], "status": "RESOLVED" }),
        ),
    ];
    for (query, variables) in attempts {
        let body = app.gql(&viewer, &query, variables).await;
        assert_eq!(code(&body), "FORBIDDEN", "{query}: {body}");
    }
    // Nothing was written.
    let customer = graphql_customer(&app, &cid).await;
    let stats = &customer["statistics"];
    assert_eq!(stats["totalConversations"], 1, "{stats}");
    assert_eq!(stats["totalMessages"], 0, "{stats}");
    assert_eq!(stats["totalTickets"], 0, "{stats}");
    assert_eq!(stats["satisfactionScore"], Value::Null, "{stats}");
    assert_eq!(stats["openConversations"], 1, "{stats}");

    // A viewer may read.
    assert_eq!(
        read_conversation(&app, &viewer, &conv["id"]).await["id"],
        conv["id"]
    );
}

async fn agent_cannot_upsert_agent_or_delete_conversation_or_message(app: TestApp) {
    let cid = customer(&app, 1).await;
    let conv = conversation(&app, &cid, json!({})).await;
    let msg = message(&app, &conv, "INBOUND", None).await;
    let agent = agent_token(&app);

    let body = app
        .gql(
            &agent,
            UPSERT_AGENT,
            json!({ "input": { "name": "Mallory", "email": "m@example.com" } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = app
        .gql(&agent, DELETE_CONVERSATION, json!({ "id": conv["id"] }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let body = app
        .gql(&agent, DELETE_MESSAGE, json!({ "id": msg["id"] }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    let body = app.gql(&agent, "{ agents { id name } }", json!({})).await;
    assert_eq!(data(&body, "agents"), &json!([]), "no agent was created");
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["totalConversations"], 1, "{stats}");
    assert_eq!(stats["totalMessages"], 1, "{stats}");

    // The admin may do all three.
    let created = agent_named(&app, "Ana").await;
    let body = app
        .gql(
            &app.admin(),
            UPSERT_AGENT,
            json!({ "input": { "id": created["id"], "name": "Ana María" } }),
        )
        .await;
    assert_eq!(data(&body, "upsertAgent")["name"], "Ana María");
    let body = app
        .gql(&app.admin(), DELETE_MESSAGE, json!({ "id": msg["id"] }))
        .await;
    assert_eq!(data(&body, "deleteMessage"), &json!(true));
    let body = app
        .gql(
            &app.admin(),
            DELETE_CONVERSATION,
            json!({ "id": conv["id"] }),
        )
        .await;
    assert_eq!(data(&body, "deleteConversation"), &json!(true));
    let body = app.gql(&agent, "{ agents { name } }", json!({})).await;
    assert_eq!(data(&body, "agents"), &json!([{ "name": "Ana María" }]));
    let stats = &graphql_customer(&app, &cid).await["statistics"];
    assert_eq!(stats["totalConversations"], 0, "{stats}");
    assert_eq!(stats["totalMessages"], 0, "{stats}");
}

/// Creates an agent without an email.
async fn agent_named(app: &TestApp, name: &str) -> Value {
    let body = app
        .gql(
            &app.admin(),
            UPSERT_AGENT,
            json!({ "input": { "name": name } }),
        )
        .await;
    data(&body, "upsertAgent").clone()
}

/// What the test wrote for one conversation.
struct Written {
    conversation: Value,
    sent: Vec<DateTime<Utc>>,
}

impl Written {
    /// The contract's "newest" key: last message time, else creation time.
    fn activity(&self) -> DateTime<Utc> {
        self.sent
            .iter()
            .copied()
            .max()
            .unwrap_or_else(|| time(&self.conversation["createdAt"]))
    }
}

/// Seven conversations with messages out of order, statuses, ratings and a
/// ticket, for one customer; what was written, and the customer's createdAt.
async fn seven_conversations(app: &TestApp, cid: &str) -> (Vec<Written>, Vec<DateTime<Utc>>) {
    let base = "2024-01-01T";
    // (messages as (direction, sentAt)); an empty list is a conversation without messages.
    let plan: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("INBOUND", format!("{base}01:00:00.000Z"))],
        vec![("OUTBOUND", format!("{base}03:00:00.000Z"))],
        vec![("INBOUND", format!("{base}02:00:00.000Z"))],
        // Replied an hour later, and last at the same time as the one before.
        vec![
            ("OUTBOUND", format!("{base}02:00:00.000Z")),
            ("INBOUND", format!("{base}01:00:00.000Z")),
        ],
        vec![],
        // Added newest first: the inbound message is older, so this is a 6 h reply.
        vec![
            ("OUTBOUND", format!("{base}05:00:00.000Z")),
            ("INBOUND", "2023-12-31T23:00:00.000Z".to_owned()),
        ],
    ];
    let mut written = Vec::new();
    for messages in plan {
        let conv = conversation(app, cid, json!({})).await;
        let mut sent = Vec::new();
        for (direction, at) in &messages {
            let m = message(app, &conv, direction, Some(at)).await;
            sent.push(time(&m["sentAt"]));
        }
        written.push(Written {
            conversation: conv,
            sent,
        });
    }
    let id = |i: usize| written[i].conversation["id"].clone();
    for (i, status) in [(1, "RESOLVED"), (2, "PENDING"), (3, "RESOLVED")] {
        mutate(
            app,
            SET_STATUS,
            "setConversationStatus",
            json!({ "id": id(i), "status": status }),
        )
        .await;
    }
    for (i, rating) in [(1, 4), (2, 5), (2, 2)] {
        mutate(
            app,
            RATE,
            "rateConversation",
            json!({ "id": id(i), "rating": rating }),
        )
        .await;
    }
    let t = ticket(app, cid, Some(&written[0].conversation)).await;
    (written, vec![time(&t["createdAt"])])
}

/// The conversations newest first: by activity, then id, both descending.
fn newest_first(written: &[Written]) -> Vec<String> {
    let mut order: Vec<&Written> = written.iter().collect();
    order.sort_by_key(|w| std::cmp::Reverse((w.activity(), uuid(&w.conversation))));
    order
        .iter()
        .map(|w| w.conversation["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn customer_details_show_exactly_what_was_written(app: TestApp) {
    let cid = customer(&app, 1).await;
    let (written, tickets) = seven_conversations(&app, &cid).await;
    let order = newest_first(&written);
    assert_eq!(order.len(), 7);

    let (status, rest) = app.rest().get(&format!("/api/v2/customers/{cid}")).await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(
        rest["statistics"],
        json!({ "totalConversations": 7, "openConversations": 5, "resolvedConversations": 2 }),
        "OPEN and PENDING count as open: {rest}"
    );
    assert_eq!(
        ids(&rest["recentConversations"]),
        order[..5].to_vec(),
        "the five newest, by last message (or creation) time, then id"
    );
    for doc in rest["recentConversations"].as_array().expect("list") {
        assert_eq!(doc["_id"], doc["id"], "{doc}");
    }

    // The REST conversation list pages through all seven in the same order.
    let mut listed = Vec::new();
    for page in 1..=4 {
        let (status, body) = app
            .rest()
            .get(&format!(
                "/api/v2/customers/{cid}/conversations?page={page}&limit=2"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["pagination"],
            json!({ "page": page, "limit": 2, "total": 7, "pages": 4 }),
            "{body}"
        );
        listed.extend(ids(&body["conversations"]));
    }
    assert_eq!(listed, order);

    // GraphQL: the same statistics and timestamps, and the same order.
    let gql = graphql_customer(&app, &cid).await;
    let stats = &gql["statistics"];
    assert_eq!(stats["totalConversations"], 7, "{stats}");
    assert_eq!(stats["openConversations"], 5, "{stats}");
    assert_eq!(stats["resolvedConversations"], 2, "{stats}");
    assert_eq!(stats["totalMessages"], 7, "{stats}");
    assert_eq!(stats["totalTickets"], 1, "{stats}");
    // Replies: 1 h (conversation 4) and 6 h (conversation 6).
    let art = stats["averageResponseTime"]
        .as_f64()
        .expect("a reply exists");
    assert!((art - 12_600.0).abs() < 0.001, "averageResponseTime {art}");
    // Ratings 4 and 2 (5 replaced by 2).
    assert_eq!(stats["satisfactionScore"].as_f64(), Some(3.0), "{stats}");
    assert_eq!(gql["lastMessageAt"], "2024-01-01T05:00:00.000Z");
    assert_eq!(gql["firstContact"], "2023-12-31T23:00:00.000Z");
    let newest = written
        .iter()
        .map(|w| time(&w.conversation["createdAt"]))
        .chain(written.iter().flat_map(|w| w.sent.iter().copied()))
        .chain(tickets)
        .chain([time(&gql["createdAt"])])
        .max()
        .expect("times");
    assert_eq!(gql["lastInteraction"], json!(fmt(newest)));
    assert_eq!(ids(&gql["recentConversations"]), order[..5].to_vec());
    for c in gql["recentConversations"].as_array().expect("list") {
        let w = written
            .iter()
            .find(|w| w.conversation["id"] == c["id"])
            .expect("written");
        assert_eq!(c["createdAt"], w.conversation["createdAt"]);
        let last = w.sent.iter().copied().max().map(fmt);
        assert_eq!(c["lastMessageAt"], json!(last), "{c}");
    }

    // And the REST customer document carries the same timestamps.
    let doc = &rest["customer"];
    for key in ["firstContact", "lastInteraction", "lastMessageAt"] {
        assert_eq!(doc[key], gql[key], "{key}");
    }
}

async fn recent_conversations_are_at_most_five_and_follow_a_new_message(app: TestApp) {
    let cid = customer(&app, 1).await;
    let (mut written, _) = seven_conversations(&app, &cid).await;
    // The oldest conversation gets a new message and becomes the newest.
    let oldest_id = newest_first(&written)[6].clone();
    let oldest = written
        .iter_mut()
        .find(|w| w.conversation["id"] == json!(oldest_id))
        .expect("oldest");
    let m = message(&app, &oldest.conversation, "INBOUND", None).await;
    oldest.sent.push(time(&m["sentAt"]));
    let order = newest_first(&written);
    assert_eq!(
        order[0], oldest_id,
        "a new message makes a conversation the newest"
    );

    let (_, rest) = app.rest().get(&format!("/api/v2/customers/{cid}")).await;
    assert_eq!(ids(&rest["recentConversations"]), order[..5].to_vec());
    let gql = graphql_customer(&app, &cid).await;
    assert_eq!(ids(&gql["recentConversations"]), order[..5].to_vec());

    let body = app
        .gql(
            &app.admin(),
            "query($id: ID!) { customer(id: $id) { all: recentConversations(limit: 10) { id } two: recentConversations(limit: 2) { id } } }",
            json!({ "id": cid }),
        )
        .await;
    let c = data(&body, "customer");
    assert_eq!(ids(&c["all"]), order);
    assert_eq!(ids(&c["two"]), order[..2].to_vec());
}

/// A customer's details (REST) and a customer with its recent
/// conversations (GraphQL) cost one statement each: for a customer with
/// conversations, one without any, and an unknown id.
async fn a_customer_and_its_recent_conversations_are_one_statement(app: TestApp) {
    let cid = customer(&app, 1).await;
    let (written, _) = seven_conversations(&app, &cid).await;
    let order = newest_first(&written);
    // Another customer's conversations stay out of the first one's.
    let other = customer(&app, 2).await;
    conversation(&app, &other, json!({})).await;
    let empty = customer(&app, 3).await;
    let unknown = Uuid::new_v4().to_string();

    for (id, want) in [(&cid, order[..5].to_vec()), (&empty, vec![])] {
        let before = app.statement_count();
        let body = app.rest().get_ok(&format!("/api/v2/customers/{id}")).await;
        assert_eq!(app.statement_count() - before, 1, "REST details of {id}");
        assert_eq!(body["customer"]["_id"], json!(id));
        assert_eq!(ids(&body["recentConversations"]), want);
    }
    let before = app.statement_count();
    let (status, _) = app
        .rest()
        .get(&format!("/api/v2/customers/{unknown}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.statement_count() - before,
        1,
        "REST details of an unknown id"
    );

    let query = "query($id: ID!) { customer(id: $id) { id recentConversations(limit: 3) { id } } }";
    for (id, want) in [(&cid, order[..3].to_vec()), (&empty, vec![])] {
        let before = app.statement_count();
        let body = app.gql(&app.admin(), query, json!({ "id": id })).await;
        assert_eq!(app.statement_count() - before, 1, "GraphQL customer {id}");
        let c = data(&body, "customer");
        assert_eq!(c["id"], json!(id));
        assert_eq!(ids(&c["recentConversations"]), want);
    }
    let before = app.statement_count();
    let body = app.gql(&app.admin(), query, json!({ "id": unknown })).await;
    assert_eq!(body["data"]["customer"], Value::Null, "{body}");
    assert_eq!(
        app.statement_count() - before,
        1,
        "GraphQL customer of an unknown id"
    );
}

/// `column`'s table, and how many of its rows have `customer` in that column.
async fn count<C>(app: &TestApp, column: C, customer: Uuid) -> (String, u64)
where
    C: ColumnTrait,
    C::EntityName: EntityTrait,
    <C::EntityName as EntityTrait>::Model: Sync,
{
    let table = column.entity_name().to_string();
    let rows = <C::EntityName as EntityTrait>::find()
        .filter(column.eq(customer))
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"));
    (table, rows)
}

/// Rows that still name `customer`, per table.
async fn rows_of(app: &TestApp, customer: Uuid) -> Vec<(String, u64)> {
    use entity::{
        conversation, customer as customers, customer_phone, customer_tag, message, ticket,
    };
    vec![
        count(app, customers::Column::Id, customer).await,
        count(app, conversation::Column::CustomerId, customer).await,
        count(app, message::Column::CustomerId, customer).await,
        count(app, ticket::Column::CustomerId, customer).await,
        count(app, customer_tag::Column::CustomerId, customer).await,
        count(app, customer_phone::Column::CustomerId, customer).await,
    ]
}

/// A customer with tags, an alternative phone, two conversations with
/// messages and two tickets; its id.
async fn busy_customer(app: &TestApp, n: usize) -> Uuid {
    let c = app
        .create_customer(json!({
            "phoneNumber": phone(n),
            "alternativePhones": [phone(n + 100)],
            "tags": ["vip", "late payer"],
        }))
        .await;
    let cid = c["id"].as_str().expect("id").to_owned();
    for _ in 0..2 {
        let conv = conversation(app, &cid, json!({})).await;
        message(app, &conv, "INBOUND", Some("2024-02-01T10:00:00.000Z")).await;
        message(app, &conv, "OUTBOUND", None).await;
        ticket(app, &cid, Some(&conv)).await;
    }
    Uuid::parse_str(&cid).expect("uuid")
}

async fn hard_delete_of_a_customer_removes_every_row_of_it_and_no_other(app: TestApp) {
    let doomed = busy_customer(&app, 1).await;
    let kept = busy_customer(&app, 2).await;
    let before = rows_of(&app, doomed).await;
    assert!(
        before.iter().all(|(_, n)| *n > 0),
        "the customer has rows everywhere: {before:?}"
    );
    let kept_before = rows_of(&app, kept).await;

    let (status, body) = app
        .rest()
        .delete(&format!("/api/v2/customers/{doomed}?permanent=true"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Customer permanently deleted");

    let after = rows_of(&app, doomed).await;
    assert!(
        after.iter().all(|(_, n)| *n == 0),
        "nothing of the customer is left: {after:?}"
    );
    assert_eq!(
        rows_of(&app, kept).await,
        kept_before,
        "the other customer is untouched"
    );

    let (status, _) = app.rest().get(&format!("/api/v2/customers/{doomed}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Its phone numbers are free again.
    app.create_customer(json!({ "phoneNumber": phone(1), "alternativePhones": [phone(101)] }))
        .await;
    let stats = &graphql_customer(&app, &kept.to_string()).await["statistics"];
    assert_eq!(stats["totalConversations"], 2, "{stats}");
    assert_eq!(stats["totalMessages"], 4, "{stats}");
    assert_eq!(stats["totalTickets"], 2, "{stats}");
}

crate::db_tests!(
    create_conversation_defaults_to_whatsapp_and_open_and_resolves_its_agent,
    add_message_keeps_an_explicit_sent_at_and_defaults_to_now,
    message_agent_resolves_to_the_sending_agent,
    conversation_messages_are_oldest_first_by_sent_at_then_id_and_paginated,
    set_conversation_status_resolved_sets_resolved_at_and_reopening_clears_it,
    rate_conversation_accepts_one_to_five_replaces_and_refuses_zero_and_six,
    create_ticket_with_and_without_a_conversation_and_close_it,
    create_ticket_with_another_customers_conversation_is_bad_user_input,
    conversation_of_another_tenant_is_null_and_cannot_be_written,
    viewer_cannot_create_conversation_add_message_rate_or_create_ticket,
    agent_cannot_upsert_agent_or_delete_conversation_or_message,
    customer_details_show_exactly_what_was_written,
    recent_conversations_are_at_most_five_and_follow_a_new_message,
    a_customer_and_its_recent_conversations_are_one_statement,
    hard_delete_of_a_customer_removes_every_row_of_it_and_no_other,
);
