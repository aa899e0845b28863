//! Nested lists are read per parent (a `LATERAL` join on PostgreSQL, a
//! correlated rowid subquery on SQLite, answered as one JSON array): each customer's
//! `recentConversations` and `conversations` page, and each conversation's
//! `messages` page, hold exactly that parent's rows of the caller's tenant,
//! in the contract's order (conversations newest first by activity then id,
//! messages oldest first by send time then id), for many parents at once:
//! customers without any, ties on the order's time, and another tenant's rows
//! under the very same customer and conversation ids.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use entity::enums::{ConversationStatus, MessageDirection};
use entity::{conversation, message};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::fixtures::{at, imported_ids, phone};
use crate::helpers::TestApp;

const CUSTOMERS: usize = 45;
const OTHER_TENANT: &str = "nested-other";

/// A conversation as seeded: what the order and the filters look at.
#[derive(Debug, Clone)]
struct Seeded {
    id: Uuid,
    activity_at: DateTime<Utc>,
    status: ConversationStatus,
}

/// What the seed wrote for the `default` tenant.
struct World {
    /// Every customer, with its conversations in no particular order.
    conversations: HashMap<Uuid, Vec<Seeded>>,
    /// Each conversation's messages (id, sent at), in no particular order.
    messages: HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>>,
}

impl World {
    /// A customer's conversations (with one status), newest first.
    fn newest_first(&self, customer: Uuid, status: Option<ConversationStatus>) -> Vec<Uuid> {
        let mut rows: Vec<&Seeded> = self.conversations[&customer]
            .iter()
            .filter(|c| status.is_none_or(|s| c.status == s))
            .collect();
        rows.sort_by_key(|c| std::cmp::Reverse((c.activity_at, c.id)));
        rows.into_iter().map(|c| c.id).collect()
    }

    /// A conversation's messages, oldest first.
    fn oldest_first(&self, conversation: Uuid) -> Vec<Uuid> {
        let mut rows = self
            .messages
            .get(&conversation)
            .cloned()
            .unwrap_or_default();
        rows.sort_by_key(|(id, sent)| (*sent, *id));
        rows.into_iter().map(|(id, _)| id).collect()
    }
}

/// An id whose order has nothing to do with the order rows were written in.
fn scrambled(a: usize, b: usize, c: usize) -> Uuid {
    let x = (a as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
        ^ (b as u128 + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F_1656_67B1_9E37_79F9)
        ^ (c as u128 + 7).wrapping_mul(0x1656_67B1_9E37_79F9_27D4_EB4F_C2B2_AE3D);
    Uuid::from_u128(x.rotate_left((a + b + c) as u32 % 128))
}

/// A conversation row of `tenant`.
fn conversation_row(
    tenant: &str,
    id: Uuid,
    customer: Uuid,
    status: ConversationStatus,
    channel: &str,
    activity_at: DateTime<Utc>,
) -> conversation::ActiveModel {
    conversation::ActiveModel::from(conversation::Model {
        id,
        tenant_id: tenant.to_owned(),
        customer_id: customer,
        status,
        channel: channel.to_owned(),
        subject: None,
        assigned_agent_id: None,
        rating: None,
        message_count: 0,
        last_message_at: Some(activity_at),
        activity_at,
        response_time_ms: 0,
        response_count: 0,
        created_at: activity_at - TimeDelta::hours(1),
        updated_at: activity_at,
        resolved_at: None,
    })
}

/// A message row of `tenant`.
fn message_row(
    tenant: &str,
    id: Uuid,
    conversation: Uuid,
    customer: Uuid,
    body: &str,
    sent_at: DateTime<Utc>,
) -> message::ActiveModel {
    message::ActiveModel::from(message::Model {
        id,
        tenant_id: tenant.to_owned(),
        conversation_id: conversation,
        customer_id: customer,
        direction: MessageDirection::Inbound,
        body: body.to_owned(),
        agent_id: None,
        sent_at,
        created_at: sent_at,
    })
}

/// Inserts a customer of `tenant` with this id, straight into the table (a
/// second tenant may hold the same id: keys are led by the tenant).
async fn foreign_customer(db: &DatabaseConnection, tenant: &str, id: Uuid) {
    let now = Utc::now();
    let backend = db.get_database_backend();
    let mut n = 0;
    let text: String = "INSERT INTO customers (id, tenant_id, phone_number, alternative_phones, \
         tags, segment, source, custom_fields, preferred_language, status, search_text, \
         last_interaction, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'regular', 'whatsapp', \
         ?, 'es', 'active', '', ?, ?, ?)"
        .split('?')
        .enumerate()
        .map(|(i, part)| match (i, backend) {
            (0, _) => part.to_owned(),
            (_, DbBackend::Postgres) => {
                n += 1;
                format!("${n}{part}")
            }
            _ => format!("?{part}"),
        })
        .collect();
    let values: Vec<sea_orm::Value> = vec![
        id.into(),
        tenant.into(),
        phone(999).into(),
        json!([]).into(),
        json!([]).into(),
        json!({}).into(),
        now.into(),
        now.into(),
        now.into(),
    ];
    db.execute(Statement::from_sql_and_values(backend, text, values))
        .await
        .expect("insert the other tenant's customer");
}

/// Customer `i` has `i % 9` conversations (so every ninth has none), their
/// activity times paired (ties broken by id), statuses in turn; conversation
/// `c` has `c % 4` messages, the last two sent at the same moment. The other
/// tenant holds a customer with the id of customer 1, conversations newer
/// than any of the default tenant's, and one with the id of customer 1's
/// first conversation holding messages older than any.
async fn seed(app: &TestApp) -> World {
    let rows: Vec<Value> = (0..CUSTOMERS)
        .map(|i| json!({ "phoneNumber": phone(i), "firstName": format!("Nested {i}") }))
        .collect();
    let answer = app.import_all(rows).await;
    let phones: Vec<String> = (0..CUSTOMERS).map(phone).collect();
    let ids: Vec<(usize, Uuid)> = imported_ids(&answer, &phones)
        .into_iter()
        .enumerate()
        .collect();

    let base = at("2024-03-01T00:00:00Z");
    let statuses = [
        ConversationStatus::Open,
        ConversationStatus::Resolved,
        ConversationStatus::Pending,
    ];
    let mut world = World {
        conversations: HashMap::new(),
        messages: HashMap::new(),
    };
    let (mut conversations, mut messages) = (Vec::new(), Vec::new());
    for (i, customer) in &ids {
        let mut mine = Vec::new();
        for c in 0..(i % 9) {
            let id = scrambled(*i, c, 0);
            // Written in an order unlike the order read: activity goes
            // down, then up; pairs share a moment.
            let slot = ((c * 5) % 9) / 2;
            let activity_at = base + TimeDelta::minutes((*i * 10 + slot) as i64);
            let status = statuses[(i + c) % 3];
            conversations.push(conversation_row(
                "default",
                id,
                *customer,
                status,
                "whatsapp",
                activity_at,
            ));
            mine.push(Seeded {
                id,
                activity_at,
                status,
            });
            let mut sent = Vec::new();
            for k in 0..(c % 4) {
                let mid = scrambled(*i, c, k + 1);
                let sent_at = activity_at - TimeDelta::seconds(10 - (k.min(1) as i64));
                messages.push(message_row(
                    "default",
                    mid,
                    id,
                    *customer,
                    &format!("m {i} {c} {k}"),
                    sent_at,
                ));
                sent.push((mid, sent_at));
            }
            world.messages.insert(id, sent);
        }
        world.conversations.insert(*customer, mine);
    }
    conversation::Entity::insert_many(conversations)
        .exec_without_returning(&app.db)
        .await
        .expect("insert conversations");
    message::Entity::insert_many(messages)
        .exec_without_returning(&app.db)
        .await
        .expect("insert messages");

    // The other tenant: the same customer id as customer 1, and the same
    // conversation id as customer 1's first conversation.
    let (_, shared_customer) = ids[1];
    let shared_conversation = world.conversations[&shared_customer][0].id;
    foreign_customer(&app.db, OTHER_TENANT, shared_customer).await;
    let later = base + TimeDelta::days(365);
    let foreign: Vec<conversation::ActiveModel> = (0..6)
        .map(|c| {
            let id = if c == 0 {
                shared_conversation
            } else {
                scrambled(1000, c, 0)
            };
            conversation_row(
                OTHER_TENANT,
                id,
                shared_customer,
                ConversationStatus::Open,
                "other-tenant",
                later + TimeDelta::minutes(c as i64),
            )
        })
        .collect();
    conversation::Entity::insert_many(foreign)
        .exec_without_returning(&app.db)
        .await
        .expect("insert the other tenant's conversations");
    let early = base - TimeDelta::days(365);
    let foreign_messages: Vec<message::ActiveModel> = (0..4)
        .map(|k| {
            message_row(
                OTHER_TENANT,
                scrambled(2000, k, 0),
                shared_conversation,
                shared_customer,
                "other tenant",
                early,
            )
        })
        .collect();
    message::Entity::insert_many(foreign_messages)
        .exec_without_returning(&app.db)
        .await
        .expect("insert the other tenant's messages");
    world
}

/// The ids of a list of objects.
fn ids_of(list: &Value) -> Vec<Uuid> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|v| Uuid::parse_str(v["id"].as_str().expect("id")).expect("uuid"))
        .collect()
}

/// Runs `query` as the default tenant's admin and returns its data.
async fn data(app: &TestApp, query: &str, variables: Value) -> Value {
    let body = app.gql(&app.admin(), query, variables).await;
    assert!(
        body.get("errors").is_none_or(Value::is_null),
        "unexpected errors: {body}"
    );
    body["data"].clone()
}

async fn recent_conversations_are_each_customers_newest_in_order(app: TestApp) {
    let world = seed(&app).await;
    let query = "query($n: Int!) { customers(limit: 100) { items { id \
                 recentConversations(limit: $n) { id channel } } } }";
    for limit in [1, 2, 5, 8] {
        let data = data(&app, query, json!({ "n": limit })).await;
        let items = data["customers"]["items"].as_array().expect("items");
        assert_eq!(items.len(), CUSTOMERS);
        for item in items {
            let customer = Uuid::parse_str(item["id"].as_str().expect("id")).expect("uuid");
            let mut want = world.newest_first(customer, None);
            want.truncate(limit);
            let recent = &item["recentConversations"];
            assert_eq!(ids_of(recent), want, "customer {customer}, limit {limit}");
            for c in recent.as_array().expect("list") {
                assert_eq!(c["channel"], "whatsapp", "never another tenant's: {c}");
            }
        }
    }
}

async fn the_s5_shape_gives_fifty_customers_their_five_newest(app: TestApp) {
    let world = seed(&app).await;
    let query = "{ customersConnection(first: 50, sortBy: LAST_INTERACTION, sortOrder: DESC) { \
                 nodes { id firstName recentConversations(limit: 5) { id status channel \
                 subject messageCount lastMessageAt } } } }";
    let data = data(&app, query, json!({})).await;
    let nodes = data["customersConnection"]["nodes"]
        .as_array()
        .expect("nodes");
    assert_eq!(nodes.len(), CUSTOMERS);
    let mut without = 0;
    for node in nodes {
        let customer = Uuid::parse_str(node["id"].as_str().expect("id")).expect("uuid");
        let mut want = world.newest_first(customer, None);
        want.truncate(5);
        without += usize::from(want.is_empty());
        assert_eq!(ids_of(&node["recentConversations"]), want, "{node}");
    }
    assert_eq!(
        without,
        CUSTOMERS.div_ceil(9),
        "customers without any are listed too"
    );
}

async fn conversation_pages_slice_each_customers_list_with_its_own_total(app: TestApp) {
    let world = seed(&app).await;
    let query = "query($status: ConversationStatus) { customers(limit: 100) { items { id \
                 conversations(page: 2, limit: 2, status: $status) { pagination { total } \
                 items { id channel } } } } }";
    for (status, filter) in [
        (Value::Null, None),
        (json!("OPEN"), Some(ConversationStatus::Open)),
        (json!("RESOLVED"), Some(ConversationStatus::Resolved)),
    ] {
        let data = data(&app, query, json!({ "status": status })).await;
        for item in data["customers"]["items"].as_array().expect("items") {
            let customer = Uuid::parse_str(item["id"].as_str().expect("id")).expect("uuid");
            let all = world.newest_first(customer, filter);
            let want: Vec<Uuid> = all.iter().skip(2).take(2).copied().collect();
            let page = &item["conversations"];
            assert_eq!(ids_of(&page["items"]), want, "{customer} {status}");
            assert_eq!(
                page["pagination"]["total"],
                all.len(),
                "{customer} {status}"
            );
        }
    }
}

async fn message_pages_slice_each_conversations_messages_oldest_first(app: TestApp) {
    let world = seed(&app).await;
    let query = "query($page: Int!) { customers(limit: 50) { items { id \
                 recentConversations(limit: 8) { id messages(page: $page, limit: 2) { \
                 pagination { total } items { id body } } } } } }";
    for page in [1, 2] {
        let data = data(&app, query, json!({ "page": page })).await;
        let mut conversations = 0;
        for item in data["customers"]["items"].as_array().expect("items") {
            for c in item["recentConversations"].as_array().expect("list") {
                conversations += 1;
                let id = Uuid::parse_str(c["id"].as_str().expect("id")).expect("uuid");
                let all = world.oldest_first(id);
                let want: Vec<Uuid> = all.iter().skip((page - 1) * 2).take(2).copied().collect();
                assert_eq!(ids_of(&c["messages"]["items"]), want, "{c}");
                assert_eq!(c["messages"]["pagination"]["total"], all.len(), "{c}");
                for m in c["messages"]["items"].as_array().expect("list") {
                    assert_ne!(m["body"], "other tenant", "never another tenant's: {m}");
                }
            }
        }
        assert_eq!(conversations, world.messages.len());
    }
}

async fn a_customer_on_its_own_gets_the_same_slices(app: TestApp) {
    let world = seed(&app).await;
    let query = "query($id: ID!) { customer(id: $id) { recentConversations(limit: 3) { id } \
                 conversations(page: 2, limit: 2) { pagination { total } items { id } } } }";
    for customer in world.conversations.keys() {
        let data = data(&app, query, json!({ "id": customer })).await;
        let all = world.newest_first(*customer, None);
        let recent: Vec<Uuid> = all.iter().take(3).copied().collect();
        assert_eq!(ids_of(&data["customer"]["recentConversations"]), recent);
        let page: Vec<Uuid> = all.iter().skip(2).take(2).copied().collect();
        let conversations = &data["customer"]["conversations"];
        assert_eq!(ids_of(&conversations["items"]), page, "{customer}");
        assert_eq!(conversations["pagination"]["total"], all.len());
    }
}

/// `customer(id)` reads the conversations its selection shows beside the
/// customer, with the limit it reads off the selection: every way of
/// writing that limit gives each customer's newest, and selections it does
/// not read ahead for (two limits, a refused limit) answer as the field
/// always did.
async fn a_customer_reads_its_recent_conversations_with_it(app: TestApp) {
    let world = seed(&app).await;
    let newest = |customer: &Uuid, n: usize| -> Vec<Uuid> {
        world
            .newest_first(*customer, None)
            .into_iter()
            .take(n)
            .collect()
    };
    let variable = "query($id: ID!, $n: Int) { customer(id: $id) { \
                    recentConversations(limit: $n) { id } } }";
    let forms = "query($id: ID!) { customer(id: $id) { id ...recent \
                 two: recentConversations(limit: 2) { id } \
                 same: recentConversations(limit: 2) { id status } \
                 skipped: recentConversations(limit: 2) @skip(if: true) { id } } } \
                 fragment recent on Customer { recentConversations { id } }";
    let nested = "query($id: ID!) { customer(id: $id) { recentConversations(limit: 4) { \
                  id assignedAgent { id } customer { id } \
                  messages(limit: 3) { pagination { total } items { id } } } } }";
    for customer in world.conversations.keys() {
        for (n, want) in [(json!(3), 3), (json!(null), 5), (json!(100), 100)] {
            let answer = data(&app, variable, json!({ "id": customer, "n": n })).await;
            let got = ids_of(&answer["customer"]["recentConversations"]);
            assert_eq!(got, newest(customer, want), "{customer}, limit {n}");
        }

        let answer = data(&app, forms, json!({ "id": customer })).await;
        let c = &answer["customer"];
        assert_eq!(ids_of(&c["recentConversations"]), newest(customer, 5));
        assert_eq!(ids_of(&c["two"]), newest(customer, 2));
        assert_eq!(ids_of(&c["same"]), newest(customer, 2));
        assert!(
            c.get("skipped").is_none(),
            "skipped fields are not shown: {c}"
        );

        let answer = data(&app, nested, json!({ "id": customer })).await;
        let recent = &answer["customer"]["recentConversations"];
        assert_eq!(ids_of(recent), newest(customer, 4));
        for conversation in recent.as_array().expect("list") {
            assert_eq!(conversation["customer"]["id"], json!(customer));
            let id = Uuid::parse_str(conversation["id"].as_str().expect("id")).expect("uuid");
            let messages = world.oldest_first(id);
            let want: Vec<Uuid> = messages.iter().take(3).copied().collect();
            assert_eq!(ids_of(&conversation["messages"]["items"]), want);
            assert_eq!(
                conversation["messages"]["pagination"]["total"],
                messages.len()
            );
        }
    }

    // A limit the field refuses is refused by the field, as before.
    let customer = world.conversations.keys().next().expect("a customer");
    let body = app
        .gql(&app.admin(), variable, json!({ "id": customer, "n": 0 }))
        .await;
    assert_eq!(
        body["errors"][0]["path"],
        json!(["customer", "recentConversations"]),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

/// The keys of an answer's object, in the order they came.
fn keys(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// A list whose customers' recent conversations are read with them (one
/// limit for all) is answered at once, in the order of the selection: the
/// page's fields too, which the engine would order by when each was done.
async fn lists_with_recent_conversations_answer_in_the_selection_order(app: TestApp) {
    let world = seed(&app).await;
    let pages = [
        (
            "query($n: Int) { customers(limit: 100) { items { \
             recentConversations(limit: $n) { subject id } id } pagination { total } } }",
            "customers",
            "items",
            vec!["items", "pagination"],
        ),
        (
            "query($n: Int) { customersConnection(first: 100) { \
             nodes { recentConversations(limit: $n) { subject id } id } \
             edges { node { id recentConversations(limit: $n) { id } } } \
             totalCount pageInfo { hasNextPage } } }",
            "customersConnection",
            "nodes",
            vec!["nodes", "edges", "totalCount", "pageInfo"],
        ),
    ];
    for (query, root, list, order) in pages {
        for n in [json!(3), json!(null)] {
            let data = data(&app, query, json!({ "n": n })).await;
            let page = &data[root];
            assert_eq!(keys(page), order, "{query}");
            let items = page[list].as_array().expect("a list");
            assert_eq!(items.len(), CUSTOMERS);
            for item in items {
                assert_eq!(keys(item), ["recentConversations", "id"]);
                let customer = Uuid::parse_str(item["id"].as_str().expect("id")).expect("uuid");
                let mut want = world.newest_first(customer, None);
                want.truncate(n.as_u64().unwrap_or(5) as usize);
                assert_eq!(ids_of(&item["recentConversations"]), want);
                for c in item["recentConversations"].as_array().expect("list") {
                    assert_eq!(keys(c), ["subject", "id"]);
                }
            }
        }
    }
}

crate::db_tests!(
    a_customer_reads_its_recent_conversations_with_it,
    lists_with_recent_conversations_answer_in_the_selection_order,
    a_customer_on_its_own_gets_the_same_slices,
    recent_conversations_are_each_customers_newest_in_order,
    the_s5_shape_gives_fifty_customers_their_five_newest,
    conversation_pages_slice_each_customers_list_with_its_own_total,
    message_pages_slice_each_conversations_messages_oldest_first,
);
