//! The server reads the rows of customers, conversations and messages by
//! column position, decoding each cell itself (on PostgreSQL without sqlx's
//! per-cell type check: `service::rows`). What it reads must be what sea-orm
//! reads by name from the same rows, on both databases: one row of each
//! model with every nullable column set, one with each of them NULL.

use clientela::auth::{Actor, Role};
use clientela::domain::ids::{ConversationId, CustomerId};
use clientela::domain::page::PageRequest;
use clientela::service::conversations::{self, Conversation, Message};
use clientela::service::customers::{self, Customer};
use clientela::service::Columns;
use entity::{conversation, customer, message};
use sea_orm::prelude::Uuid;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder, Select};

use crate::helpers::TestApp;

use crate::helpers::model_rows::{customer, insert_rows};

/// The tenant of the shared rows (`tests/common/model_rows.rs`).
const TENANT: &str = "t";

/// The rows `q` selects, read by name as sea-orm reads an entity, as views.
async fn by_name<E: EntityTrait, V: From<E::Model>>(app: &TestApp, q: Select<E>) -> Vec<V> {
    q.all(&app.db)
        .await
        .expect("rows by name")
        .into_iter()
        .map(V::from)
        .collect()
}

async fn rows_read_by_position_are_those_read_by_name(app: TestApp) {
    let agent = Uuid::from_u128(99);
    insert_rows(&app.db, true).await;
    // Times around the epochs times are counted from (1970 for Unix,
    // 2000 for PostgreSQL), before and after, to the microsecond.
    let micro = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .with_timezone(&chrono::Utc)
    };
    customer::Model {
        deleted_at: None,
        first_contact: Some(micro("1969-07-20T20:17:40.000001Z")),
        last_interaction: micro("1999-12-31T23:59:59.999999Z"),
        last_message_at: Some(micro("2000-01-01T00:00:00.000001Z")),
        created_at: micro("1970-01-01T00:00:00Z"),
        updated_at: micro("2038-01-19T03:14:08.5Z"),
        external_id: Some("crm-3".into()),
        ..customer(3, agent, true)
    }
    .into_active_model()
    .insert(&app.db)
    .await
    .expect("a customer of odd times");
    let actor = Actor {
        agent: "tester".into(),
        role: Role::Admin,
        tenant: TENANT.into(),
    };

    // Read by name, as sea-orm reads an entity.
    let every_customer = customer::Entity::find().order_by_asc(customer::Column::Id);
    let customers_by_name: Vec<Customer> = by_name(&app, every_customer).await;
    let every_conversation = conversation::Entity::find().order_by_asc(conversation::Column::Id);
    let conversations_by_name: Vec<Conversation> = by_name(&app, every_conversation).await;
    let every_message = message::Entity::find().order_by_asc(message::Column::Id);
    let messages_by_name: Vec<Message> = by_name(&app, every_message).await;
    assert_eq!(customers_by_name.len(), 3);
    assert_eq!(conversations_by_name.len(), 2);
    assert_eq!(messages_by_name.len(), 2);

    // Read by position, as lists, details and nested lists read them.
    let customer_ids: Vec<CustomerId> = [1u128, 2, 3].map(|n| Uuid::from_u128(n).into()).to_vec();
    let mut customers = customers::by_ids(&app.ctx, &actor, &customer_ids)
        .await
        .expect("customers by position");
    customers.sort_by_key(|c| Uuid::from(c.id));
    assert_eq!(customers, customers_by_name);

    let recent = conversations::recent_for(&app.ctx, &actor, &customer_ids, 5, Columns::ALL)
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
