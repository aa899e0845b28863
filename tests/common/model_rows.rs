//! One row of each model the server reads by column position (customers,
//! conversations, messages): with every nullable column set (`full`) or
//! each of them NULL. Shared by `service::rows`' unit tests (SQLite) and
//! the `api` tests (both databases) through `#[path]`; it imports only the
//! `entity` crate, `chrono` and `sea_orm`.

use chrono::{TimeZone, Utc};
use entity::enums::{
    ConversationStatus, CustomerSegment, CustomerSource, CustomerStatus, MessageDirection,
};
use entity::json::{Address, CommunicationHours, Coordinates, StringList};
use entity::{agent, conversation, customer, message};
use sea_orm::prelude::{DateTimeUtc, Uuid};
use sea_orm::{ConnectionTrait, EntityTrait};

pub fn at(day: u32) -> DateTimeUtc {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 30, 15)
        .single()
        .expect("a time")
}

/// A customer with every nullable column set (`full`) or NULL.
pub fn customer(n: u128, agent: Uuid, full: bool) -> customer::Model {
    let some = |s: &str| full.then(|| s.to_owned());
    customer::Model {
        tenant_id: "t".into(),
        id: Uuid::from_u128(n),
        phone_number: format!("5215500000{n:03}"),
        first_name: some("María"),
        last_name: some("O'Brien \"quoted\""),
        email: some("maria@example.com"),
        avatar: some("https://example.com/a.png"),
        alternative_phones: StringList(if full {
            vec!["5215511111111".into()]
        } else {
            vec![]
        }),
        address: full.then(|| Address {
            street: Some("Reforma 1".into()),
            city: Some("CDMX".into()),
            state: None,
            country: Some("MX".into()),
            postal_code: Some("06600".into()),
            coordinates: Some(Coordinates {
                latitude: 19.43,
                longitude: -99.13,
            }),
        }),
        tags: StringList(vec!["vip".into(), "loyal".into()]),
        segment: CustomerSegment::Vip,
        source: CustomerSource::Referral,
        custom_fields: serde_json::from_value(serde_json::json!({ "plan": "gold", "n": 3 }))
            .expect("an object"),
        preferred_language: "es".into(),
        communication_hours: full.then(|| CommunicationHours {
            start: Some("09:00".into()),
            end: Some("18:00".into()),
        }),
        preferred_agent_id: full.then_some(agent),
        status: CustomerStatus::Blocked,
        status_before_block: full.then_some(CustomerStatus::Active),
        is_blocked: full,
        block_reason: some("spam"),
        notes: some("línea 1\nlínea 2"),
        external_id: some("crm-1"),
        deleted_at: full.then(|| at(20)),
        status_before_delete: full.then_some(CustomerStatus::Inactive),
        search_text: "maria o'brien".into(),
        total_conversations: 1,
        open_conversations: 2,
        resolved_conversations: 3,
        total_messages: 4,
        total_tickets: 5,
        response_time_ms: 6_000_000_000,
        response_count: 7,
        rating_total: 8,
        rating_count: 9,
        first_contact: full.then(|| at(2)),
        last_interaction: at(3),
        last_message_at: full.then(|| at(4)),
        created_at: at(1),
        updated_at: at(5),
    }
}

pub fn conversation(n: u128, customer: Uuid, agent: Uuid, full: bool) -> conversation::Model {
    conversation::Model {
        tenant_id: "t".into(),
        id: Uuid::from_u128(1000 + n),
        customer_id: customer,
        status: ConversationStatus::Resolved,
        channel: "whatsapp".into(),
        subject: full.then(|| "Pedido".into()),
        assigned_agent_id: full.then_some(agent),
        rating: full.then_some(4),
        message_count: 2,
        last_message_at: full.then(|| at(6)),
        activity_at: at(7),
        response_time_ms: 1_500,
        response_count: 1,
        created_at: at(1),
        updated_at: at(8),
        resolved_at: full.then(|| at(9)),
    }
}

pub fn message(n: u128, c: &conversation::Model, agent: Uuid, full: bool) -> message::Model {
    message::Model {
        tenant_id: "t".into(),
        id: Uuid::from_u128(2000 + n),
        conversation_id: c.id,
        customer_id: c.customer_id,
        direction: MessageDirection::Outbound,
        body: "¡Hola!".into(),
        agent_id: full.then_some(agent),
        sent_at: at(10),
        created_at: at(11),
    }
}

/// The rows' agent (99), customer 1 with every nullable column set and
/// customer 2 with each NULL, a conversation of each and a message of that,
/// written into `db`; the customers' ids. A `listed` customer has no
/// deletion time (a deleted one is in no list).
pub async fn insert_rows(db: &impl ConnectionTrait, listed: bool) -> Vec<Uuid> {
    let agent = Uuid::from_u128(99);
    agent::Entity::insert(agent::ActiveModel::from(agent::Model {
        tenant_id: "t".into(),
        id: agent,
        name: "Ana".into(),
        email: None,
        created_at: at(1),
        updated_at: at(1),
    }))
    .exec(db)
    .await
    .expect("an agent");
    let mut ids = Vec::new();
    for (n, full) in [(1, true), (2, false)] {
        let mut c = customer(n, agent, full);
        if listed {
            c.deleted_at = None;
        }
        ids.push(c.id);
        let conv = conversation(n, c.id, agent, full);
        let m = message(n, &conv, agent, full);
        customer::Entity::insert(customer::ActiveModel::from(c))
            .exec(db)
            .await
            .expect("a customer");
        conversation::Entity::insert(conversation::ActiveModel::from(conv))
            .exec(db)
            .await
            .expect("a conversation");
        message::Entity::insert(message::ActiveModel::from(m))
            .exec(db)
            .await
            .expect("a message");
    }
    ids
}
