//! The GraphQL face as tests call it: operations with a token, the `data`
//! and `errors` of an answer, and the small mutations many suites write
//! through (each selecting only `id`).

use serde_json::{json, Value};

use super::TestApp;

/// Opens a conversation (`input.customerId`, optional subject/channel).
pub const CREATE_CONVERSATION: &str =
    "mutation($input: CreateConversationInput!) { createConversation(input: $input) { id } }";
/// Adds a message (`input.conversationId`, `direction`, `body`, optional `sentAt`).
pub const ADD_MESSAGE: &str =
    "mutation($input: AddMessageInput!) { addMessage(input: $input) { id } }";
/// Sets a conversation's status.
pub const SET_STATUS: &str = "mutation($id: ID!, $status: ConversationStatus!) {
  setConversationStatus(id: $id, status: $status) { id }
}";
/// Rates a conversation.
pub const RATE: &str =
    "mutation($id: ID!, $rating: Int!) { rateConversation(id: $id, rating: $rating) { id } }";
/// Opens a ticket (`input.customerId`, optional `conversationId`, `subject`).
pub const CREATE_TICKET: &str =
    "mutation($input: CreateTicketInput!) { createTicket(input: $input) { id } }";
/// Deletes a message.
pub const DELETE_MESSAGE: &str = "mutation($id: ID!) { deleteMessage(id: $id) }";
/// Deletes a conversation.
pub const DELETE_CONVERSATION: &str = "mutation($id: ID!) { deleteConversation(id: $id) }";

impl TestApp {
    /// Runs a GraphQL operation with `token` and returns the response body.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("send");
        resp.json().await.expect("json")
    }

    /// Runs a GraphQL operation that must succeed; its `data`.
    pub async fn gql_data(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(
            body.get("errors").is_none_or(Value::is_null),
            "{query}: unexpected errors: {body}"
        );
        body["data"].clone()
    }

    /// Runs a GraphQL operation; its `data`, or the errors as a message.
    pub async fn try_gql(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, String> {
        let body = self.gql(token, query, variables.clone()).await;
        if body.get("errors").is_none_or(Value::is_null) && !body["data"].is_null() {
            Ok(body["data"].clone())
        } else {
            Err(format!("{query} with {variables}: {body}"))
        }
    }
}

/// The `data.<field>` of a response that must have no errors.
#[track_caller]
pub fn data<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {body}"
    );
    &body["data"][field]
}

/// `errors[0].extensions.code` of a response that must have failed.
#[track_caller]
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// The first error's message and code, asserting there is one.
#[track_caller]
pub fn first_error(body: &Value) -> (String, String) {
    let error = &body["errors"][0];
    assert!(error.is_object(), "expected an error: {body}");
    (
        error["message"].as_str().unwrap_or_default().to_owned(),
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Asserts an answer with data and no `errors` key at all.
#[track_caller]
pub fn assert_ok(body: &Value) {
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    assert!(body["data"].is_object(), "no data: {body}");
}
