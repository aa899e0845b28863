//! Hostile GraphQL documents: a list field costs its `limit` (or `first`)
//! times its children, so nested lists are priced before anything runs.

use serde_json::json;

use crate::helpers::graphql::first_error;
use crate::helpers::{Backend, TestApp};

async fn nested_lists_are_refused_by_their_cost_before_any_statement_runs(app: TestApp) {
    app.create_customer(json!({ "phoneNumber": "529991234567" }))
        .await;
    let nested = "customers(limit: 100) { items { conversations(limit: 100) { items { \
                  messages(limit: 100) { items { body } } } } } }";
    let query = format!("{{ a: {nested} b: {nested} }}");
    let before = app.statement_count();
    let body = app.gql(&app.admin(), &query, json!({})).await;
    let (message, code) = first_error(&body);
    assert_eq!(code, "BAD_USER_INPUT", "{body}");
    assert!(
        message.contains("costs") && message.contains("at most 10000"),
        "says the cost and the limit: {message}"
    );
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(app.statement_count(), before, "refused before it ran");
}

async fn the_benchmarks_nested_page_fits_the_default_limit(app: TestApp) {
    for i in 0..3 {
        app.create_customer(json!({ "phoneNumber": format!("52999123456{i}") }))
            .await;
    }
    // S5 of the benchmark: 50 customers with their 5 newest conversations.
    let query = "{ customersConnection(first: 50, sortBy: LAST_INTERACTION, sortOrder: DESC) { \
                 nodes { id firstName lastName phoneNumber email status segment tags lastInteraction \
                 recentConversations(limit: 5) { id status channel subject messageCount lastMessageAt } } } }";
    let body = app.gql(&app.admin(), query, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(
        body["data"]["customersConnection"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

crate::db_tests!(
    nested_lists_are_refused_by_their_cost_before_any_statement_runs,
    the_benchmarks_nested_page_fits_the_default_limit,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_costs_its_limit_and_its_default_limit_when_none_is_given() {
    let app = TestApp::with_config(Backend::Sqlite, |c| c.graphql.graphql_max_complexity = 100)
        .await
        .expect("sqlite");
    let token = app.admin();
    // Twenty rows by default: within 100.
    let body = app
        .gql(&token, "{ customers { items { id } } }", json!({}))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    // The same selection for a hundred rows is over it, as a variable too.
    for (query, variables) in [
        ("{ customers(limit: 100) { items { id } } }", json!({})),
        (
            "query($n: Int) { customers(limit: $n) { items { id } } }",
            json!({ "n": 100 }),
        ),
        (
            "{ customersConnection(first: 100) { nodes { id } } }",
            json!({}),
        ),
    ] {
        let body = app.gql(&token, query, variables).await;
        let (message, code) = first_error(&body);
        assert_eq!(code, "BAD_USER_INPUT", "{query}: {body}");
        assert!(message.contains("at most 100"), "{message}");
    }
}
