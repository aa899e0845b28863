//! Fixtures: phone numbers, times as the contract writes them, and
//! customers, conversations and messages created through the API with sane
//! defaults (REST for customers, GraphQL as an agent for the rest).

use chrono::{DateTime, SecondsFormat, Utc};
use clientela::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::graphql::{ADD_MESSAGE, CREATE_CONVERSATION};
use super::rest::{CUSTOMERS, IMPORT};
use super::TestApp;

/// A valid Mexican mobile number, distinct for each `n` below 1,000,000.
pub fn phone(n: usize) -> String {
    format!("52999{:07}", 2_000_000 + n)
}

/// A time as the contract writes it: `2024-01-15T10:30:00.000Z`.
pub fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An RFC 3339 literal (`2024-01-15T10:30:00Z`) as a time.
#[track_caller]
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("not a timestamp: {rfc3339}: {e}"))
        .with_timezone(&Utc)
}

/// A timestamp of a response.
#[track_caller]
pub fn time(v: &Value) -> DateTime<Utc> {
    at(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")))
}

/// Whether a timestamp is written exactly like `2024-01-15T10:30:00.000Z`.
pub fn is_contract_timestamp(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let shape_ok = text.len() == 24
        && text.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == '.',
            23 => c == 'Z',
            _ => c.is_ascii_digit(),
        });
    shape_ok && DateTime::parse_from_rfc3339(text).is_ok()
}

/// The `id` of a response object, as a UUID.
#[track_caller]
pub fn uuid_of(v: &Value) -> Uuid {
    let s = v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}"));
    Uuid::parse_str(s).expect("ids are UUIDs")
}

impl TestApp {
    /// Creates a customer through REST as admin and returns its document.
    pub async fn create_customer(&self, body: Value) -> Value {
        let (status, resp) = self.rest().post(CUSTOMERS, body).await;
        assert_eq!(status, StatusCode::CREATED, "{resp}");
        resp["customer"].clone()
    }

    /// Creates customer number `n` (its [`phone`], nothing else); its id.
    pub async fn new_customer(&self, n: usize) -> Uuid {
        uuid_of(
            &self
                .create_customer(json!({ "phoneNumber": phone(n) }))
                .await,
        )
    }

    /// Opens a conversation of `customer` as an agent; its id.
    pub async fn new_conversation(&self, customer: impl ToString) -> Value {
        let agent = self.token(Role::Agent, "default");
        let input = json!({ "customerId": customer.to_string() });
        let data = self
            .gql_data(&agent, CREATE_CONVERSATION, json!({ "input": input }))
            .await;
        data["createConversation"]["id"].clone()
    }

    /// Adds a message to `conversation` as an agent (`INBOUND` or
    /// `OUTBOUND`, sent at `sent_at`); its id.
    pub async fn new_message(&self, conversation: &Value, direction: &str, sent_at: &str) -> Value {
        let agent = self.token(Role::Agent, "default");
        let input = json!({
            "conversationId": conversation, "direction": direction, "body": "x", "sentAt": sent_at,
        });
        let data = self
            .gql_data(&agent, ADD_MESSAGE, json!({ "input": input }))
            .await;
        data["addMessage"]["id"].clone()
    }
}

impl TestApp {
    /// Bulk import of `rows` through REST as admin; must answer 200; the
    /// whole answer.
    pub async fn import(&self, rows: Vec<Value>) -> Value {
        let (status, body) = self.rest().post(IMPORT, json!({ "customers": rows })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Bulk import of `rows` that must store every one of them; the whole
    /// answer.
    pub async fn import_all(&self, rows: Vec<Value>) -> Value {
        let count = rows.len();
        let body = self.import(rows).await;
        assert_eq!(
            body["results"],
            json!({ "imported": count, "duplicates": 0, "failed": 0 }),
            "{}",
            body["details"]["failed"]
        );
        body
    }
}

/// The row indexes an import answer reports under `details.<key>`
/// (`duplicates` or `failed`), in order.
#[track_caller]
pub fn import_indexes(answer: &Value, key: &str) -> Vec<u64> {
    answer["details"][key]
        .as_array()
        .unwrap_or_else(|| panic!("no details.{key} in {answer}"))
        .iter()
        .map(|row| row["index"].as_u64().expect("index"))
        .collect()
}

/// The ids an import answer reports under `details.success`, in the order of
/// `phones` (the numbers of the rows sent, as stored).
#[track_caller]
pub fn imported_ids(answer: &Value, phones: &[String]) -> Vec<Uuid> {
    let by_phone: std::collections::HashMap<&str, Uuid> = answer["details"]["success"]
        .as_array()
        .expect("imported customers")
        .iter()
        .map(|c| (c["phoneNumber"].as_str().expect("phone"), uuid_of(c)))
        .collect();
    phones
        .iter()
        .map(|p| *by_phone.get(p.as_str()).expect("an imported phone"))
        .collect()
}
