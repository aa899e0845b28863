//! A GraphQL list of customers reads only the columns of the fields it
//! selects (and of its recent conversations, only theirs): the rest of each
//! row is left blank by the service. What every field shows must still be
//! what a whole read shows: each field of `Customer` and of `Conversation`,
//! selected alone, in `customersConnection` (`nodes`, `edges { node }`) and
//! in `customers`, on rows with every column set and with every nullable
//! one NULL, on both databases.

use std::collections::HashMap;

use clientela::auth::{Actor, Role};
use clientela::domain::customer::{CustomerSortField, SortOrder};
use clientela::domain::ids::CustomerId;
use clientela::domain::page::PageRequest;
use clientela::service::customers::{self, ConnectionQuery, CustomerFilter, ListQuery};
use clientela::service::{conversations, Columns};
use sea_orm::prelude::Uuid;
use serde_json::{json, Value};

use crate::helpers::TestApp;

use crate::helpers::model_rows::insert_rows;

/// The tenant of the shared rows (`tests/common/model_rows.rs`).
const TENANT: &str = "t";

/// Every field of `Customer` as this test selects it (objects with their
/// fields): a field of the schema missing here fails the test.
const CUSTOMER_FIELDS: &[&str] = &[
    "id",
    "phoneNumber",
    "firstName",
    "lastName",
    "email",
    "avatar",
    "alternativePhones",
    "address { street city state country postalCode coordinates { latitude longitude } }",
    "tags",
    "segment",
    "source",
    "customFields",
    "preferences { language communicationHours { start end } preferredAgent { id name } }",
    "status",
    "isBlocked",
    "blockReason",
    "notes",
    "externalId",
    "statistics { totalConversations openConversations resolvedConversations totalMessages \
     totalTickets averageResponseTime satisfactionScore }",
    "firstContact",
    "lastInteraction",
    "lastMessageAt",
    "createdAt",
    "updatedAt",
    "history(first: 5) { edges { cursor } pageInfo { hasNextPage } }",
    "conversations(limit: 5) { items { id subject } pagination { total } }",
    "recentConversations(limit: 5) { id subject }",
    "__typename",
];

/// Every field of `Conversation`, as [`CUSTOMER_FIELDS`] has `Customer`'s.
const CONVERSATION_FIELDS: &[&str] = &[
    "id",
    "customer { id phoneNumber email }",
    "status",
    "channel",
    "subject",
    "assignedAgent { id name }",
    "rating",
    "messageCount",
    "lastMessageAt",
    "createdAt",
    "updatedAt",
    "resolvedAt",
    "messages(limit: 5) { items { id body } pagination { total } }",
    "__typename",
];

/// The names of the fields of the schema's type `name`.
async fn fields_of(app: &TestApp, token: &str, name: &str) -> Vec<String> {
    let data = app
        .gql_data(
            token,
            "query($name: String!) { __type(name: $name) { fields { name } } }",
            json!({ "name": name }),
        )
        .await;
    let mut names: Vec<String> = data["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect();
    names.push("__typename".into());
    names
}

/// Asserts that `selections` select each of `names`, and nothing else.
fn covers(selections: &[&str], names: &[String]) {
    let heads: Vec<&str> = selections
        .iter()
        .map(|s| s.split([' ', '(']).next().unwrap_or_default())
        .collect();
    for name in names {
        assert!(
            heads.contains(&name.as_str()),
            "select `{name}` in this test"
        );
    }
    assert_eq!(heads.len(), names.len(), "{heads:?} against {names:?}");
}

/// The objects of `list`, by their `id`.
fn by_id(list: &Value) -> HashMap<String, Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| (item["id"].as_str().expect("an id").to_owned(), item.clone()))
        .collect()
}

async fn each_field_of_a_list_shows_what_a_whole_read_shows(app: TestApp) {
    let ids = insert_rows(&app.db, true).await;
    let token = app.token(Role::Admin, TENANT);
    covers(CUSTOMER_FIELDS, &fields_of(&app, &token, "Customer").await);
    covers(
        CONVERSATION_FIELDS,
        &fields_of(&app, &token, "Conversation").await,
    );

    let lists = [
        (
            "customersConnection(first: 10) { nodes { id %s } }",
            "/customersConnection/nodes",
        ),
        (
            "customersConnection(last: 10) { edges { node { id %s } } }",
            "/customersConnection/edges",
        ),
        (
            "customers(limit: 10) { items { id %s } }",
            "/customers/items",
        ),
    ];
    let mut selections: Vec<&str> = CUSTOMER_FIELDS.to_vec();
    // Fragments and aliases are selections too.
    selections.extend([
        "...F",
        "... on Customer { statistics { satisfactionScore } }",
        "mail: email n: notes",
        "every: statistics { totalMessages } tags",
    ]);
    const FRAGMENT: &str =
        " fragment F on Customer { email preferences { preferredAgent { id } } }";
    for selection in selections {
        let fragment = if selection == "...F" { FRAGMENT } else { "" };
        // The same selection of each customer read whole, by id.
        let mut whole = HashMap::new();
        for id in &ids {
            let query =
                format!("query($id: ID!) {{ customer(id: $id) {{ id {selection} }} }}{fragment}");
            let data = app
                .gql_data(&token, &query, json!({ "id": id.to_string() }))
                .await;
            whole.insert(id.to_string(), data["customer"].clone());
        }
        for (list, path) in lists {
            let query = format!("{{ {} }}{fragment}", list.replace("%s", selection));
            let data = app.gql_data(&token, &query, json!({})).await;
            let mut items = data.pointer(path).expect("the list").clone();
            if path.ends_with("edges") {
                let nodes = items
                    .as_array()
                    .expect("edges")
                    .iter()
                    .map(|e| e["node"].clone());
                items = Value::Array(nodes.collect());
            }
            assert_eq!(by_id(&items), whole, "{query}");
        }
    }

    // The recent conversations of a list, each field alone, against the
    // same selection of the conversation read whole.
    for selection in CONVERSATION_FIELDS {
        let mut whole = HashMap::new();
        for n in [1u128, 2] {
            let id = Uuid::from_u128(1000 + n).to_string();
            let query = format!("query($id: ID!) {{ conversation(id: $id) {{ id {selection} }} }}");
            let data = app.gql_data(&token, &query, json!({ "id": id })).await;
            whole.insert(id, data["conversation"].clone());
        }
        let query = format!(
            "{{ customersConnection(first: 10) {{ nodes {{ id recentConversations(limit: 5) \
             {{ id {selection} }} }} }} }}"
        );
        let data = app.gql_data(&token, &query, json!({})).await;
        let recent: Vec<Value> = data["customersConnection"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .flat_map(|n| n["recentConversations"].as_array().expect("a list").clone())
            .collect();
        assert_eq!(by_id(&Value::Array(recent)), whole, "{query}");
    }
}

async fn a_read_of_some_columns_leaves_the_others_blank(app: TestApp) {
    let ids = insert_rows(&app.db, true).await;
    let actor = Actor {
        agent: "tester".into(),
        role: Role::Admin,
        tenant: TENANT.into(),
    };
    let shown = customers::columns_of(["firstName"]);
    let query = ConnectionQuery {
        filter: CustomerFilter::default(),
        sort_by: CustomerSortField::CreatedAt,
        sort_order: SortOrder::Asc,
        first: Some(10),
        after: None,
        last: None,
        before: None,
        with_total: false,
        columns: shown,
    };
    let page = customers::connection(&app.ctx, &actor, &query)
        .await
        .expect("a window");
    let full = page
        .items
        .iter()
        .find(|c| Uuid::from(c.id) == ids[0])
        .expect("the full customer");
    assert_eq!(full.first_name.as_deref(), Some("María"));
    // Set in the row, not read.
    assert_eq!(full.email, None);
    assert_eq!(full.statistics.total_messages, 0);
    assert!(full.tags.is_empty());

    let list = ListQuery {
        filter: CustomerFilter::default(),
        page: PageRequest::new(None, None, 20).expect("a page"),
        sort_by: CustomerSortField::CreatedAt,
        sort_order: SortOrder::Asc,
        columns: shown,
    };
    for (items, what) in [
        (
            customers::page(&app.ctx, &actor, &list)
                .await
                .expect("a page"),
            "page",
        ),
        (
            customers::list(&app.ctx, &actor, &list)
                .await
                .expect("a list")
                .0,
            "list",
        ),
    ] {
        let full = items
            .iter()
            .find(|c| Uuid::from(c.id) == ids[0])
            .expect("the full customer");
        assert_eq!(full.first_name.as_deref(), Some("María"), "{what}");
        assert_eq!(full.email, None, "{what}");
        // Every column: the same customer as a whole read.
        let all = ListQuery {
            columns: Columns::ALL,
            ..list.clone()
        };
        let whole = customers::page(&app.ctx, &actor, &all)
            .await
            .expect("a page");
        let whole = whole
            .iter()
            .find(|c| Uuid::from(c.id) == ids[0])
            .expect("the full customer");
        assert_eq!(whole.email.as_deref(), Some("maria@example.com"), "{what}");
    }

    let customer_ids: Vec<CustomerId> = ids.iter().map(|id| (*id).into()).collect();
    let recent = conversations::recent_for(
        &app.ctx,
        &actor,
        &customer_ids,
        5,
        conversations::columns_of(["channel"]),
    )
    .await
    .expect("conversations");
    let first = &recent[&customer_ids[0]][0];
    assert_eq!(first.channel, "whatsapp");
    assert_eq!(first.subject, None, "set in the row, not read");
    assert_eq!(first.message_count, 0, "set in the row, not read");
}

crate::db_tests!(
    each_field_of_a_list_shows_what_a_whole_read_shows,
    a_read_of_some_columns_leaves_the_others_blank,
);
