//! The parsed-document cache: a query sent again is served from the cache
//! (the binary counts hits and misses in `graphql_document_cache_total`),
//! and a cached document is still checked against each request as if it had
//! just been parsed: the same validation errors for its variables, the same
//! guard (no mutation over GET), the same roles, and the same words as a
//! server without the cache. What validation said of a request is
//! remembered for the next ones with the same document and variables (the
//! binary counts how each was validated in `graphql_validations_total`).

use clientela::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::graphql::first_error;
use crate::helpers::rest::send;
use crate::helpers::{server_process, TestApp};

/// The value of the sample whose name and labels are exactly `series`.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

async fn a_query_sent_again_is_served_from_the_cache(app: TestApp) {
    let (_server, base) = server_process(
        &app.url,
        &[("CLIENTELA_METRICS", "true"), ("CLIENTELA_RATE_LIMIT", "0")],
    );
    let client = reqwest::Client::new();
    let admin = app.admin();
    let query = "query Again($n: Int) { customers(limit: $n) { items { id } } }";
    for n in [1, 2, 3] {
        answered(&client, &base, &admin, query, json!({ "n": n })).await;
    }
    let scrape = scrape(&client, &base).await;
    let miss = sample(&scrape, "graphql_document_cache_total{result=\"miss\"}");
    let hit = sample(&scrape, "graphql_document_cache_total{result=\"hit\"}");
    assert_eq!(miss, Some(1.0), "parsed once:\n{scrape}");
    assert_eq!(hit, Some(2.0), "served twice from the cache:\n{scrape}");
}

/// Each case twice, so the second is answered from a cached document.
const CASES: &[(&str, &str)] = &[
    // A field the schema lacks: a validation error.
    ("{ customers { items { id nickname } } }", "{}"),
    // An argument of the wrong type, through a variable.
    (
        "query($n: Int!) { customers(limit: $n) { items { id } } }",
        r#"{ "n": "many" }"#,
    ),
    // A variable it needs and was not given.
    (
        "query($n: Int!) { customers(limit: $n) { items { id } } }",
        "{}",
    ),
    // Two operations and no name to choose one.
    ("query A { me { role } } query B { me { tenant } }", "{}"),
    // Not a document at all.
    ("{ customers { items { id }", "{}"),
    // An unknown enum value.
    ("{ customers(sortBy: SHOE_SIZE) { items { id } } }", "{}"),
];

async fn a_cached_document_is_answered_like_a_fresh_parse(app: TestApp) {
    let uncached = TestApp::with_config(app.backend, |c| c.graphql.graphql_apq_cache = 0)
        .await
        .expect("a server without the cache");
    let admin = app.admin();
    for (query, variables) in CASES {
        let variables: Value = serde_json::from_str(variables).expect("json");
        let first = app.gql(&admin, query, variables.clone()).await;
        let second = app.gql(&admin, query, variables.clone()).await;
        let fresh = uncached
            .gql(&uncached.admin(), query, variables.clone())
            .await;
        assert!(first["errors"].is_array(), "{query}: {first}");
        assert_eq!(second, first, "{query}: the cached document answers alike");
        assert_eq!(second, fresh, "{query}: as a server without the cache");
    }
    // A valid variable after an invalid one: the error was not cached.
    let query = "query($n: Int!) { customers(limit: $n) { items { id } } }";
    let body = app.gql(&admin, query, json!({ "n": 1 })).await;
    assert!(body.get("errors").is_none(), "{body}");

    // Once a document passed validation with some variables, others are
    // still validated: a wrong kind of id, a wrong type, a missing one.
    let by_id = "query($id: ID!, $n: Int) { customer(id: $id) { id recentConversations(limit: $n) { id } } }";
    let valid = json!({ "id": "0190c4f5-0000-7000-8000-000000000000", "n": 2 });
    for _ in 0..3 {
        let body = app.gql(&admin, by_id, valid.clone()).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    for variables in [
        json!({ "id": 1.5, "n": 2 }),
        json!({ "id": true, "n": 2 }),
        json!({ "id": null, "n": 2 }),
        json!({ "n": 2 }),
        json!({ "id": "0190c4f5-0000-7000-8000-000000000000", "n": "two" }),
        json!({ "id": "0190c4f5-0000-7000-8000-000000000000", "n": 2.5 }),
    ] {
        let cached = app.gql(&admin, by_id, variables.clone()).await;
        let fresh = uncached
            .gql(&uncached.admin(), by_id, variables.clone())
            .await;
        assert!(cached["errors"].is_array(), "{variables}: {cached}");
        assert_eq!(cached, fresh, "{variables}: as a server without the cache");
    }
    // Another id of the same kind runs as the first did.
    let other = json!({ "id": "0190c4f5-0000-7000-8000-000000000001", "n": 2 });
    let body = app.gql(&admin, by_id, other).await;
    assert!(body.get("errors").is_none(), "{body}");

    // A cost within bounds, remembered, lets no larger one through: the
    // cost reads the limits by value.
    app.new_customer(1).await;
    let costly = "query($n: Int, $m: Int) { customers(limit: $n) { items { id recentConversations(limit: $m) { id status channel } } } }";
    for _ in 0..3 {
        let body = app.gql(&admin, costly, json!({ "n": 1, "m": 1 })).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let over = json!({ "n": 100, "m": 100 });
    let cached = app.gql(&admin, costly, over.clone()).await;
    let fresh = uncached.gql(&uncached.admin(), costly, over).await;
    assert!(cached["errors"].is_array(), "{cached}");
    assert_eq!(cached, fresh, "as a server without the cache");
}

/// The metrics of the server at `base`.
async fn scrape(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text")
}

/// The `graphql_validations_total` sample of `kind` in a scrape of `base`.
async fn validations(client: &reqwest::Client, base: &str, kind: &str) -> Option<f64> {
    sample(
        &scrape(client, base).await,
        &format!("graphql_validations_total{{kind=\"{kind}\"}}"),
    )
}

async fn a_request_validated_before_is_not_validated_again(app: TestApp) {
    let (_server, base) = server_process(
        &app.url,
        &[("CLIENTELA_METRICS", "true"), ("CLIENTELA_RATE_LIMIT", "0")],
    );
    let client = reqwest::Client::new();
    let admin = app.admin();
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(app.new_customer(n).await);
    }
    let run = |query, variables| answered(&client, &base, &admin, query, variables);
    // One customer, its fields answered in place: validated once, then
    // remembered, for any customer of the same kind of id.
    let one =
        "query($id: ID!) { customer(id: $id) { id phoneNumber firstName status segment tags } }";
    let mut answers = Vec::new();
    for id in [ids[0], ids[0], ids[1]] {
        answers.push(run(one, json!({ "id": id })).await);
    }
    assert_eq!(answers[1], answers[0], "the same answer, remembered");
    assert_eq!(answers[2]["data"]["customer"]["id"], ids[1].to_string());
    assert_eq!(validations(&client, &base, "full").await, Some(1.0));
    assert_eq!(validations(&client, &base, "remembered").await, Some(2.0));
    assert_eq!(validations(&client, &base, "fast").await, None);

    // A list the engine answers item by item (each customer's history is
    // read through a loader): its hooks would cost more than validation,
    // so it is validated again in the engine's fast mode.
    let many = "{ customers(limit: 6) { items { id history { edges { cursor } } } } }";
    let first = run(many, json!({})).await;
    for _ in 0..2 {
        assert_eq!(run(many, json!({})).await, first);
    }
    assert_eq!(validations(&client, &base, "full").await, Some(2.0));
    assert_eq!(validations(&client, &base, "remembered").await, Some(2.0));
    assert_eq!(validations(&client, &base, "fast").await, Some(2.0));
}

async fn a_cached_document_is_still_guarded_and_run_as_its_caller(app: TestApp) {
    let admin = app.admin();
    let mutation =
        "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }";
    let body = app
        .gql(
            &admin,
            mutation,
            json!({ "input": { "phoneNumber": "529991234560" } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "an admin creates: {body}");

    // The same text (now cached) from a viewer is refused by its role.
    let viewer = app.token(Role::Viewer, "default");
    let body = app
        .gql(
            &viewer,
            mutation,
            json!({ "input": { "phoneNumber": "529991234561" } }),
        )
        .await;
    assert_eq!(first_error(&body).1, "FORBIDDEN", "{body}");

    // Over GET the guard still refuses the cached mutation.
    let (status, body) = send(
        app.client
            .get(app.url("/graphql"))
            .query(&[
                ("query", mutation),
                ("variables", r#"{"input":{"phoneNumber":"529991234562"}}"#),
            ])
            .header("apollo-require-preflight", "true")
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");

    // Another tenant's admin runs the cached query over its own rows.
    let query = "{ customers { pagination { total } } }";
    let mine = app.gql_data(&admin, query, json!({})).await;
    assert_eq!(mine["customers"]["pagination"]["total"], 1);
    let other = app.token(Role::Admin, "document-cache-other");
    let theirs = app.gql_data(&other, query, json!({})).await;
    assert_eq!(theirs["customers"]["pagination"]["total"], 0);
}

/// The answer to `query` asked by `token` at `base`, which must be a 200
/// without errors.
async fn answered(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let request = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }));
    let (status, answer) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{query}: {answer}");
    assert!(answer.get("errors").is_none(), "{query}: {answer}");
    answer
}

/// The `graphql_hollow_documents_total` sample in a scrape of `base` (0
/// before the first).
async fn hollowed(client: &reqwest::Client, base: &str) -> f64 {
    sample(
        &scrape(client, base).await,
        "graphql_hollow_documents_total",
    )
    .unwrap_or(0.0)
}

/// Once a request of a document has passed validation, the next ones run on
/// the document's hollow copy (the engine gets its root fields, the objects
/// under them read their selections from the cached document): they answer
/// exactly as the whole document did, and as a server without the cache on
/// the same database. A document with a directive below a root, or in a
/// fragment, has no hollow copy.
async fn a_document_run_on_its_hollow_copy_answers_as_the_whole_one(app: TestApp) {
    let (_server, base) = server_process(
        &app.url,
        &[("CLIENTELA_METRICS", "true"), ("CLIENTELA_RATE_LIMIT", "0")],
    );
    let (_fresh_server, fresh_base) = server_process(
        &app.url,
        &[
            ("CLIENTELA_GRAPHQL_APQ_CACHE", "0"),
            ("CLIENTELA_RATE_LIMIT", "0"),
        ],
    );
    let client = reqwest::Client::new();
    let admin = app.admin();
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(app.new_customer(n).await);
    }
    for _ in 0..3 {
        app.new_conversation(ids[0]).await;
    }
    let run = |base, query, variables| answered(&client, base, &admin, query, variables);
    let id = json!({ "id": ids[0] });
    let unknown = json!({ "id": "0190c4f5-0000-7000-8000-000000000000" });
    let cases: [(&str, Value, bool); 8] = [
        // Nested objects, a list read with the customer, a field of a
        // conversation read through a loader, an inline fragment, an alias.
        (
            "query One($id: ID!) { customer(id: $id) { __typename id firstName tags \
             address { city } statistics { totalConversations } \
             recentConversations(limit: 2) { id status customer { id phoneNumber } } \
             ... on Customer { phoneNumber } kind: segment } }",
            id.clone(),
            true,
        ),
        ("{ customerStats { summary { totalCustomers blockedCustomers } segments { segment count } } }", json!({}), true),
        // An alias at the root, beside a root field that keeps its selection.
        (
            "query Page($n: Int) { page: customers(limit: $n, sortBy: CREATED_AT, sortOrder: ASC) { \
             items { id phoneNumber recentConversations(limit: 1) { id } } pagination { total pages } } \
             me { role } }",
            json!({ "n": 2 }),
            true,
        ),
        ("query($id: ID!) { customer(id: $id) { id firstName } }", unknown, true),
        // The engine applies directives to its own copy.
        (
            "query($id: ID!, $x: Boolean!) { customer(id: $id) { id firstName @include(if: $x) } }",
            json!({ "id": ids[1], "x": false }),
            false,
        ),
        // Fragments, kept whole in the copy, below a root and around one.
        (
            "query($id: ID!) { ...Q customer(id: $id) { ...F recentConversations(limit: 1) { ...C } } } \
             fragment F on Customer { id phoneNumber } fragment C on Conversation { id status } \
             fragment Q on Query { customerStats { summary { totalCustomers } } }",
            json!({ "id": ids[0] }),
            true,
        ),
        // A directive in a fragment is the engine's to apply.
        (
            "query($id: ID!, $x: Boolean!) { customer(id: $id) { ...F } } \
             fragment F on Customer { id phoneNumber @skip(if: $x) }",
            json!({ "id": ids[2], "x": true }),
            false,
        ),
        // Only the roots that answer in place are emptied.
        ("{ me { role tenant } }", json!({}), false),
    ];
    let one = cases[0].0;
    for (query, variables, hollow) in cases {
        let before = hollowed(&client, &base).await;
        let first = run(&base, query, variables.clone()).await;
        for _ in 0..2 {
            assert_eq!(run(&base, query, variables.clone()).await, first, "{query}");
        }
        let fresh = run(&fresh_base, query, variables.clone()).await;
        assert_eq!(fresh, first, "{query}: as a server without the cache");
        let runs = hollowed(&client, &base).await - before;
        assert_eq!(
            runs,
            if hollow { 2.0 } else { 0.0 },
            "{query}: hollow copies run"
        );
    }
    // The copy really answered: the customer's conversations, not nulls.
    let data = run(&base, one, id).await;
    assert_eq!(
        data["data"]["customer"]["recentConversations"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{data}"
    );
}

crate::db_tests!(
    a_query_sent_again_is_served_from_the_cache,
    a_cached_document_is_answered_like_a_fresh_parse,
    a_cached_document_is_still_guarded_and_run_as_its_caller,
    a_request_validated_before_is_not_validated_again,
    a_document_run_on_its_hollow_copy_answers_as_the_whole_one,
);
