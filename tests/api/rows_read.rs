//! The server reads the rows of customers, conversations and messages by
//! column position, decoding each cell itself (on PostgreSQL without sqlx's
//! per-cell type check: `service::rows`). What it reads must be what sea-orm
//! reads by name from the same rows, on both databases: one row of each
//! model with every nullable column set, one with each of them NULL.

use chrono::{DateTime, TimeZone, Utc};
use clientela::auth::{Actor, Role};
use clientela::domain::ids::{ConversationId, CustomerId};
use clientela::domain::page::PageRequest;
use clientela::service::conversations::{self, Conversation, Message};
use clientela::service::customers::{self, Customer};
use entity::enums::{
    ConversationStatus, CustomerSegment, CustomerSource, CustomerStatus, MessageDirection,
};
use entity::json::{Address, CommunicationHours, Coordinates, StringList};
use entity::{agent, conversation, customer, message};
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder};

use crate::helpers::TestApp;

const TENANT: &str = "rows";

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 30, 15)
        .single()
        .expect("a time")
}

/// A customer with every nullable column set (`full`) or NULL.
fn customer(n: u128, agent: Uuid, full: bool) -> customer::Model {
    let some = |s: &str| full.then(|| s.to_owned());
    customer::Model {
        tenant_id: TENANT.into(),
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
        external_id: some(&format!("crm-{n}")),
        deleted_at: None,
        status_before_delete: full.then_some(CustomerStatus::Inactive),
        search_text: "maria o'brien".into(),
        total_conversations: 1,
        open_conversations: 0,
        resolved_conversations: 1,
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

fn conversation(n: u128, customer: Uuid, agent: Uuid, full: bool) -> conversation::Model {
    conversation::Model {
        tenant_id: TENANT.into(),
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

fn message(n: u128, c: &conversation::Model, agent: Uuid, full: bool) -> message::Model {
    message::Model {
        tenant_id: TENANT.into(),
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

async fn rows_read_by_position_are_those_read_by_name(app: TestApp) {
    let agent = Uuid::from_u128(99);
    agent::Model {
        tenant_id: TENANT.into(),
        id: agent,
        name: "Ana".into(),
        email: None,
        created_at: at(1),
        updated_at: at(1),
    }
    .into_active_model()
    .insert(&app.db)
    .await
    .expect("an agent");
    for (n, full) in [(1, true), (2, false)] {
        let c = customer(n, agent, full);
        let conv = conversation(n, c.id, agent, full);
        let m = message(n, &conv, agent, full);
        c.into_active_model()
            .insert(&app.db)
            .await
            .expect("a customer");
        conv.clone()
            .into_active_model()
            .insert(&app.db)
            .await
            .expect("a conversation");
        m.into_active_model()
            .insert(&app.db)
            .await
            .expect("a message");
    }
    let actor = Actor {
        agent: "tester".into(),
        role: Role::Admin,
        tenant: TENANT.into(),
    };

    // Read by name, as sea-orm reads an entity.
    let customers_by_name: Vec<Customer> = customer::Entity::find()
        .order_by_asc(customer::Column::Id)
        .all(&app.db)
        .await
        .expect("customers by name")
        .into_iter()
        .map(Customer::from)
        .collect();
    let conversations_by_name: Vec<Conversation> = conversation::Entity::find()
        .order_by_asc(conversation::Column::Id)
        .all(&app.db)
        .await
        .expect("conversations by name")
        .into_iter()
        .map(Conversation::from)
        .collect();
    let messages_by_name: Vec<Message> = message::Entity::find()
        .order_by_asc(message::Column::Id)
        .all(&app.db)
        .await
        .expect("messages by name")
        .into_iter()
        .map(Message::from)
        .collect();
    assert_eq!(customers_by_name.len(), 2);
    assert_eq!(conversations_by_name.len(), 2);
    assert_eq!(messages_by_name.len(), 2);

    // Read by position, as lists, details and nested lists read them.
    let customer_ids: Vec<CustomerId> = [1u128, 2].map(|n| Uuid::from_u128(n).into()).to_vec();
    let mut customers = customers::by_ids(&app.ctx, &actor, &customer_ids)
        .await
        .expect("customers by position");
    customers.sort_by_key(|c| Uuid::from(c.id));
    assert_eq!(customers, customers_by_name);

    let recent = conversations::recent_for(&app.ctx, &actor, &customer_ids, 5)
        .await
        .expect("conversations by position");
    let mut conversations: Vec<Conversation> = recent.into_values().flatten().collect();
    conversations.sort_by_key(|c| Uuid::from(c.id));
    assert_eq!(conversations, conversations_by_name);

    let conversation_ids: Vec<ConversationId> = conversations.iter().map(|c| c.id).collect();
    let page = PageRequest::new(None, None, 20).expect("a page");
    let pages = conversations::message_pages_for(&app.ctx, &actor, &conversation_ids, page)
        .await
        .expect("messages by position");
    let mut messages: Vec<Message> = pages.into_values().flat_map(|(items, _)| items).collect();
    messages.sort_by_key(|m| Uuid::from(m.id));
    assert_eq!(messages, messages_by_name);
}

crate::db_tests!(rows_read_by_position_are_those_read_by_name);
