//! Customers as both faces show them ([`Customer`], [`Statistics`],
//! [`PreferencesView`]), made from their rows, and the proptest strategies
//! that generate them. Imports no other `service` module.

use crate::domain::customer::{
    Address, CommunicationHours, CustomerSegment, CustomerSource, CustomerStatus,
};
use crate::domain::ids::{AgentId, CustomerId};
use crate::domain::time;
use chrono::{DateTime, Utc};
use entity::customer;
use serde::Serialize;
use serde_json::{Map, Value};

/// A customer as both faces show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[schema(value_type = uuid::Uuid)]
    pub id: CustomerId,
    pub phone_number: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub avatar: Option<String>,
    pub alternative_phones: Vec<String>,
    pub address: Option<Address>,
    pub tags: Vec<String>,
    pub segment: CustomerSegment,
    pub source: CustomerSource,
    /// Free-form key-value pairs.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub preferences: PreferencesView,
    pub status: CustomerStatus,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
    pub notes: Option<String>,
    /// The customer's id in another system; left out of REST documents when
    /// none, so the legacy shape of customers without one is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub statistics: Statistics,
    #[serde(with = "time::serde_ms::option")]
    pub first_contact: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms")]
    pub last_interaction: DateTime<Utc>,
    #[serde(with = "time::serde_ms::option")]
    pub last_message_at: Option<DateTime<Utc>>,
    #[serde(with = "time::serde_ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "time::serde_ms")]
    pub updated_at: DateTime<Utc>,
}

/// A customer's stored preferences.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesView {
    pub language: String,
    pub communication_hours: Option<CommunicationHours>,
    /// The preferred agent's id.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub preferred_agent: Option<AgentId>,
}

/// Auto-calculated per customer; kept current as conversations, messages and tickets are written.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub total_conversations: i32,
    pub open_conversations: i32,
    pub resolved_conversations: i32,
    pub total_messages: i32,
    pub total_tickets: i32,
    /// Mean seconds between an inbound message and the next outbound reply; null until a reply exists.
    pub average_response_time: Option<f64>,
    /// Mean of conversation ratings, 1 to 5; null until a rating exists.
    pub satisfaction_score: Option<f64>,
}

impl From<customer::Model> for Customer {
    fn from(m: customer::Model) -> Self {
        let mean = |total: f64, count: i32| (count > 0).then(|| total / f64::from(count));
        // Stored in milliseconds so sums stay exact; shown in seconds.
        let response_seconds = m.response_time_ms as f64 / 1000.0;
        Customer {
            id: m.id.into(),
            phone_number: m.phone_number,
            first_name: m.first_name,
            last_name: m.last_name,
            email: m.email,
            avatar: m.avatar,
            alternative_phones: m.alternative_phones.0,
            address: m.address,
            tags: m.tags.0,
            segment: m.segment,
            source: m.source,
            custom_fields: m.custom_fields.0,
            preferences: PreferencesView {
                language: m.preferred_language,
                communication_hours: m.communication_hours,
                preferred_agent: m.preferred_agent_id.map(AgentId::from),
            },
            status: m.status,
            is_blocked: m.is_blocked,
            block_reason: m.block_reason,
            notes: m.notes,
            external_id: m.external_id,
            statistics: Statistics {
                total_conversations: m.total_conversations,
                open_conversations: m.open_conversations,
                resolved_conversations: m.resolved_conversations,
                total_messages: m.total_messages,
                total_tickets: m.total_tickets,
                average_response_time: mean(response_seconds, m.response_count),
                satisfaction_score: mean(f64::from(m.rating_total), m.rating_count),
            },
            first_contact: m.first_contact,
            last_interaction: m.last_interaction,
            last_message_at: m.last_message_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// proptest strategies for customers, shared by the property tests of the
/// cursors (here) and of the CSV export (`rest::export`).
#[cfg(test)]
pub(crate) mod strategies {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    /// Any time the server can store, at the milliseconds it keeps: RFC 3339
    /// input in UTC, where a timestamp's offset may carry it a day outside
    /// years 0000-9999 (`0000-01-01T00:00:00+23:59` is in year -1).
    pub fn timestamp() -> impl Strategy<Value = DateTime<Utc>> {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("a valid bound")
                .timestamp_millis()
        };
        let (first, last) = (
            at("0000-01-01T00:00:00+23:59"),
            at("9999-12-31T23:59:59.999-23:59"),
        );
        let now = Utc::now().timestamp_millis();
        prop_oneof![
            first..=last,
            now - 1_000_000_000_000..=now + 1_000_000_000_000,
            prop::sample::select(vec![first, last, 0, -1]),
        ]
        .prop_map(|ms| Utc.timestamp_millis_opt(ms).single().expect("in range"))
    }

    /// Text a spreadsheet, a CSV reader or a JSON cursor might trip on:
    /// quotes, separators, line breaks, formula starts, any unicode.
    pub fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[=+\\-@\t\r\n\",;' ]{0,3}\\PC{0,12}[\"\r\n,]{0,2}",
            "[=+\\-@\t\r]\\PC{0,8}",
        ]
    }

    /// A customer with random text, enums and times.
    pub fn customer() -> impl Strategy<Value = Customer> {
        let texts = (
            "[0-9]{8,15}",
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::collection::vec(text(), 0..4),
        );
        let enums = (
            prop::sample::select(CustomerStatus::ALL.to_vec()),
            prop::sample::select(CustomerSegment::ALL.to_vec()),
            prop::sample::select(CustomerSource::ALL.to_vec()),
        );
        let times = (
            prop::option::of(timestamp()),
            timestamp(),
            prop::option::of(timestamp()),
            timestamp(),
            timestamp(),
        );
        (any::<u128>(), texts, enums, times).prop_map(
            |(id, (phone, first, last, email, notes, tags), (status, segment, source), times)| {
                let (first_contact, last_interaction, last_message_at, created_at, updated_at) =
                    times;
                Customer {
                    id: uuid::Uuid::from_u128(id).into(),
                    phone_number: phone,
                    first_name: first,
                    last_name: last,
                    email,
                    avatar: None,
                    alternative_phones: Vec::new(),
                    address: None,
                    tags,
                    segment,
                    source,
                    custom_fields: Map::new(),
                    preferences: PreferencesView {
                        language: "es".to_owned(),
                        communication_hours: None,
                        preferred_agent: None,
                    },
                    status,
                    is_blocked: false,
                    block_reason: None,
                    notes,
                    external_id: None,
                    statistics: Statistics {
                        total_conversations: 0,
                        open_conversations: 0,
                        resolved_conversations: 0,
                        total_messages: 0,
                        total_tickets: 0,
                        average_response_time: None,
                        satisfaction_score: None,
                    },
                    first_contact,
                    last_interaction,
                    last_message_at,
                    created_at,
                    updated_at,
                }
            },
        )
    }
}
