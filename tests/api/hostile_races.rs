//! Double clicks: the same write sent many times at once takes effect once,
//! and the customer's stored statistics still equal a recomputation from
//! its rows (`statistics::check`).

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta, Utc};
use clientela::auth::Role;
use serde_json::{json, Value};

use crate::helpers::fixtures::fmt;
use crate::helpers::graphql::{ADD_MESSAGE, DELETE_MESSAGE};
use crate::helpers::TestApp;
use crate::statistics::check;

const TRIES: usize = 20;

/// Sends the same GraphQL operation `TRIES` times at once; the answers.
async fn all_at_once(
    app: &Arc<TestApp>,
    token: &str,
    query: &'static str,
    variables: Value,
) -> Vec<Value> {
    let tasks: Vec<_> = (0..TRIES)
        .map(|_| {
            let (app, token, variables) = (app.clone(), token.to_owned(), variables.clone());
            tokio::spawn(async move { app.gql(&token, query, variables).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("request task"));
    }
    answers
}

async fn twenty_parallel_deletes_of_one_message_decrement_the_counters_once(app: TestApp) {
    let app = Arc::new(app);
    let customer = app.new_customer(1).await;
    let agent = app.token(Role::Agent, "default");
    let conversation = app.new_conversation(customer).await;
    let base = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .expect("truncate to seconds");
    let mut messages = Vec::new();
    for (k, direction) in ["INBOUND", "OUTBOUND", "INBOUND", "OUTBOUND"]
        .into_iter()
        .enumerate()
    {
        let input = json!({
            "conversationId": conversation,
            "direction": direction,
            "body": format!("message {k}"),
            "sentAt": fmt(base + TimeDelta::seconds(60 * k as i64)),
        });
        let data = app
            .try_gql(&agent, ADD_MESSAGE, json!({ "input": input }))
            .await
            .expect("add message");
        messages.push(data["addMessage"]["id"].clone());
    }
    // The first reply: deleting it changes the reply times too.
    let target = messages[1].clone();

    let answers = all_at_once(&app, &app.admin(), DELETE_MESSAGE, json!({ "id": target })).await;
    let deleted = answers
        .iter()
        .filter(|a| a["data"]["deleteMessage"] == json!(true))
        .count();
    let not_found = answers
        .iter()
        .filter(|a| a["errors"][0]["extensions"]["code"] == "NOT_FOUND")
        .count();
    assert_eq!(
        (deleted, not_found),
        (1, TRIES - 1),
        "one delete succeeds, the others find the message gone: {answers:?}"
    );
    check(&app, customer)
        .await
        .unwrap_or_else(|e| panic!("after {TRIES} parallel deletes of one message: {e}"));
    // And the customer still takes writes that count right.
    let input = json!({ "conversationId": conversation, "direction": "INBOUND", "body": "again" });
    app.try_gql(&agent, ADD_MESSAGE, json!({ "input": input }))
        .await
        .expect("add message");
    check(&app, customer)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

crate::db_tests!(twenty_parallel_deletes_of_one_message_decrement_the_counters_once,);
