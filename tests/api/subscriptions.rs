//! Subscriptions over graphql-ws (graphql-transport-ws) at /graphql/ws: live
//! events of the caller's tenant, in process on SQLite and across server
//! processes through PostgreSQL LISTEN/NOTIFY.

use std::time::Duration;

use clientela::auth::Role;
use serde_json::{json, Value};

use crate::helpers::ws::{self, init_with, subscribe, Seen, Socket, TRANSPORT_WS};
use crate::helpers::{server_process, Backend, TestApp};

/// A graphql-transport-ws client with one subscription.
struct Subscriber {
    socket: Socket,
}

impl Subscriber {
    /// Connects to `base` (http://host:port), authenticates with `token` and
    /// subscribes to `query`; `None` when the server refused the connection.
    async fn start(base: &str, token: Option<&str>, query: &str) -> Option<Subscriber> {
        let mut socket = ws::connect(base, TRANSPORT_WS).await;
        let init = token.map_or(
            json!({ "type": "connection_init", "payload": {} }),
            init_with,
        );
        ws::send(&mut socket, init).await;
        match ws::next(&mut socket, Duration::from_secs(5)).await {
            Seen::Message(ack) if ack["type"] == "connection_ack" => {}
            _ => return None,
        }
        ws::send(&mut socket, subscribe("1", query)).await;
        // graphql-ws does not acknowledge a subscribe; the server starts
        // listening as soon as it reads the message (before any lookup), so
        // a second is a wide margin even on a loaded machine.
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some(Subscriber { socket })
    }

    /// The payload of the next event, or `None` when none comes within `within`.
    async fn next(&mut self, within: Duration) -> Option<Value> {
        let Seen::Message(message) = ws::next(&mut self.socket, within).await else {
            return None;
        };
        assert_eq!(message["type"], "next", "{message}");
        Some(message["payload"].clone())
    }
}

const CUSTOMER_CHANGED: &str =
    "subscription { customerChanged { kind customerId customer { firstName } } }";

async fn subscriber_sees_creates_updates_and_deletes_of_its_tenant(app: TestApp) {
    let base = format!("http://{}", app.addr);
    let mut sub = Subscriber::start(&base, Some(&app.admin()), CUSTOMER_CHANGED)
        .await
        .expect("accepted");
    let created = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Ana" }))
        .await;
    let id = created["id"].as_str().expect("id");
    let event = sub
        .next(Duration::from_secs(5))
        .await
        .expect("created event");
    assert_eq!(
        event["data"]["customerChanged"],
        json!({ "kind": "CREATED", "customerId": id, "customer": { "firstName": "Ana" } })
    );

    let path = format!("/api/v2/customers/{id}");
    app.rest()
        .put(&path, json!({ "firstName": "Ana María" }))
        .await;
    let event = sub
        .next(Duration::from_secs(5))
        .await
        .expect("updated event");
    assert_eq!(event["data"]["customerChanged"]["kind"], "UPDATED");
    assert_eq!(
        event["data"]["customerChanged"]["customer"]["firstName"],
        "Ana María"
    );

    app.rest().delete(&format!("{path}?permanent=true")).await;
    let event = sub
        .next(Duration::from_secs(5))
        .await
        .expect("deleted event");
    assert_eq!(
        event["data"]["customerChanged"],
        json!({ "kind": "DELETED", "customerId": id, "customer": null })
    );
}

async fn subscriber_never_sees_another_tenants_events(app: TestApp) {
    let base = format!("http://{}", app.addr);
    let other = app.token(Role::Admin, "other");
    let mut sub = Subscriber::start(&base, Some(&other), CUSTOMER_CHANGED)
        .await
        .expect("accepted");
    app.create_customer(json!({ "phoneNumber": "529991234567", "firstName": "Default" }))
        .await;
    let (status, _) = app
        .rest_as(&other)
        .post(
            "/api/v2/customers",
            json!({ "phoneNumber": "529997654321", "firstName": "Other" }),
        )
        .await;
    assert_eq!(status, 201);
    // The first event this subscriber gets is its own tenant's, though the other write came first.
    let event = sub
        .next(Duration::from_secs(5))
        .await
        .expect("own tenant's event");
    assert_eq!(
        event["data"]["customerChanged"]["customer"]["firstName"],
        "Other"
    );
    assert!(
        sub.next(Duration::from_millis(500)).await.is_none(),
        "nothing else arrives"
    );
}

async fn conversation_changes_reach_subscribers_of_that_customer(app: TestApp) {
    let base = format!("http://{}", app.addr);
    let customer = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let other = app
        .create_customer(json!({ "phoneNumber": "529997654321" }))
        .await;
    let id = customer["id"].as_str().expect("id");
    let query = format!(
        "subscription {{ conversationChanged(customerId: \"{id}\") {{ kind conversation {{ id messageCount customer {{ id }} }} }} }}"
    );
    let mut sub = Subscriber::start(&base, Some(&app.admin()), &query)
        .await
        .expect("accepted");
    let create = "mutation($c: ID!) { createConversation(input: {customerId: $c}) { id } }";
    app.gql(&app.admin(), create, json!({ "c": other["id"] }))
        .await;
    let opened = app.gql(&app.admin(), create, json!({ "c": id })).await;
    let conversation = opened["data"]["createConversation"]["id"].clone();
    let event = sub
        .next(Duration::from_secs(5))
        .await
        .expect("created event");
    assert_eq!(event["data"]["conversationChanged"]["kind"], "CREATED");
    assert_eq!(
        event["data"]["conversationChanged"]["conversation"]["id"],
        conversation
    );
    assert_eq!(
        event["data"]["conversationChanged"]["conversation"]["customer"]["id"],
        id
    );

    let add = "mutation($c: ID!) { addMessage(input: {conversationId: $c, direction: INBOUND, body: \"hola\"}) { id } }";
    app.gql(&app.admin(), add, json!({ "c": conversation }))
        .await;
    let event = sub
        .next(Duration::from_secs(5))
        .await
        .expect("updated event");
    assert_eq!(event["data"]["conversationChanged"]["kind"], "UPDATED");
    assert_eq!(
        event["data"]["conversationChanged"]["conversation"]["messageCount"],
        1
    );
}

async fn a_connection_without_a_valid_token_is_refused(app: TestApp) {
    let base = format!("http://{}", app.addr);
    assert!(Subscriber::start(&base, None, CUSTOMER_CHANGED)
        .await
        .is_none());
    assert!(
        Subscriber::start(&base, Some("not-a-token"), CUSTOMER_CHANGED)
            .await
            .is_none()
    );
}

async fn subscribing_to_another_tenants_customer_is_not_found(app: TestApp) {
    let base = format!("http://{}", app.addr);
    let customer = app
        .create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let query = format!(
        "subscription {{ customerChanged(id: \"{}\") {{ kind }} }}",
        customer["id"].as_str().expect("id")
    );
    let mut sub = Subscriber::start(&base, Some(&app.token(Role::Admin, "other")), &query)
        .await
        .expect("accepted");
    // An execution error: graphql-ws carries it in a `next` with `errors`.
    let payload = sub.next(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(payload["data"], Value::Null, "{payload}");
    assert_eq!(payload["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let after = ws::next(&mut sub.socket, Duration::from_secs(5))
        .await
        .message();
    assert_eq!(after["type"], "complete", "the subscription ends: {after}");
}

crate::db_tests!(
    subscriber_sees_creates_updates_and_deletes_of_its_tenant,
    subscriber_never_sees_another_tenants_events,
    conversation_changes_reach_subscribers_of_that_customer,
    a_connection_without_a_valid_token_is_refused,
    subscribing_to_another_tenants_customer_is_not_found,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_reaches_a_subscriber_of_another() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let (_a, base_a) = server_process(&app.url, &[]);
    let (_b, base_b) = server_process(&app.url, &[]);
    let token = app.admin();
    let mut sub = Subscriber::start(&base_a, Some(&token), CUSTOMER_CHANGED)
        .await
        .expect("accepted by A");
    let created = reqwest::Client::new()
        .post(format!("{base_b}/api/v2/customers"))
        .bearer_auth(&token)
        .json(&json!({ "phoneNumber": "529991234567", "firstName": "Remota" }))
        .send()
        .await
        .expect("create through B");
    assert_eq!(created.status(), 201);
    let event = sub
        .next(Duration::from_secs(10))
        .await
        .expect("A's subscriber hears B's write");
    assert_eq!(event["data"]["customerChanged"]["kind"], "CREATED");
    assert_eq!(
        event["data"]["customerChanged"]["customer"]["firstName"],
        "Remota"
    );
}

async fn an_invalid_subscription_is_an_error_with_a_code(app: TestApp) {
    let base = format!("http://{}", app.addr);
    let query = "subscription { customerChanged { noSuchField } }";
    let mut sub = Subscriber::start(&base, Some(&app.admin()), query)
        .await
        .expect("accepted");
    // async-graphql answers a document that fails validation with a `next`
    // carrying the errors (then `complete`); what matters is the code.
    let payload = sub.next(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(payload["data"], Value::Null, "{payload}");
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{payload}"
    );
}

mod invalid {
    use super::*;
    crate::db_tests!(an_invalid_subscription_is_an_error_with_a_code);
}
