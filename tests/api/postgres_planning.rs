//! What PostgreSQL needs to keep planning well under a desk's writes: the
//! trigram search index keeps its pending list short (migration 11), so a
//! search never reads a long unsorted backlog of the messages' entries; and the
//! first import into a fresh database leaves statistics behind, so the
//! foreign-key checks of its later batches look customers up by key.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::fixtures::phone;
use crate::helpers::{Backend, TestApp};

async fn one_value(app: &TestApp, sql: &str) -> String {
    app.db
        .query_one(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<String>(0)
        .expect("a text value")
}

#[tokio::test]
async fn postgres_search_index_keeps_its_pending_list_short() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let options = one_value(
        &app,
        "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class \
         WHERE relname = 'customers_search_trgm'",
    )
    .await;
    assert_eq!(options, "gin_pending_list_limit=256");

    // Writes as a desk makes them: new customers (more trigram entries than
    // 256 kB holds), then a message for one (its statistics and last
    // interaction move: a non-HOT update).
    let rows: Vec<_> = (0..1_500)
        .map(|n| {
            serde_json::json!({
                "phoneNumber": phone(n),
                "firstName": format!("Guadalupe{n}"),
                "lastName": "Hernández Zúñiga",
                "email": format!("guadalupe.hernandez.{n}@example.com"),
            })
        })
        .collect();
    app.import(rows).await;
    let id = app.new_customer(2_000).await;
    let conversation = app.new_conversation(id).await;
    app.new_message(&conversation, "INBOUND", "2026-11-29T10:00:00Z")
        .await;
    app.db
        .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        .await
        .expect("pgstattuple (PostgreSQL's contrib)");
    let pending: i64 = one_value(
        &app,
        "SELECT pending_pages::text FROM pgstatginindex('customers_search_trgm')",
    )
    .await
    .parse()
    .expect("a number");
    // 256 kB are 32 pages of 8 kB; the write that passes the limit merges.
    assert!(pending <= 33, "{pending} pending pages");

    // And the index answers: a fragment of one imported customer's number.
    let fragment = &phone(1_234)[5..];
    let (status, body) = app
        .rest()
        .get(&format!("/api/v2/customers?search={fragment}"))
        .await;
    assert!(status.is_success(), "{body}");
    let found: Vec<&str> = body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .filter_map(|c| c["phoneNumber"].as_str())
        .collect();
    assert_eq!(found, [phone(1_234)], "{body}");
}

/// The first import into a fresh database leaves the planner statistics of
/// `customers`: without them PostgreSQL plans the foreign-key checks of the
/// phone and tag rows as scans of an empty table and keeps those plans
/// while the import fills it (each batch slower than the one before).
#[tokio::test]
async fn postgres_first_import_into_a_fresh_database_leaves_statistics() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let reltuples =
        "SELECT reltuples::bigint::text FROM pg_class WHERE oid = 'customers'::regclass";
    assert_eq!(one_value(&app, reltuples).await, "-1", "never analyzed yet");
    let rows = (0..3)
        .map(|n| serde_json::json!({ "phoneNumber": phone(n), "tags": ["vip"] }))
        .collect();
    app.import(rows).await;
    assert_eq!(one_value(&app, reltuples).await, "3");
}
