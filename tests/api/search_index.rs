//! PostgreSQL's trigram search index keeps no pending list (migration 11):
//! the entries every write adds go straight into the index, so a search
//! never reads an unsorted backlog that grows with the desk's messages.

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
async fn postgres_search_index_takes_writes_without_a_pending_list() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let options = one_value(
        &app,
        "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class \
         WHERE relname = 'customers_search_trgm'",
    )
    .await;
    assert_eq!(options, "fastupdate=off");

    // Writes as a desk makes them: new customers, then a message for one
    // (its statistics and last interaction move, a non-HOT update).
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.new_customer(n).await);
    }
    let conversation = app.new_conversation(ids[0]).await;
    app.new_message(&conversation, "INBOUND", "2026-11-29T10:00:00Z")
        .await;
    app.db
        .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        .await
        .expect("pgstattuple (PostgreSQL's contrib)");
    let pending = one_value(
        &app,
        "SELECT pending_tuples::text FROM pgstatginindex('customers_search_trgm')",
    )
    .await;
    assert_eq!(pending, "0", "every entry is in the index proper");

    // And the index answers: a fragment of the third customer's number.
    let fragment = &phone(2)[6..];
    let (status, body) = app
        .rest()
        .get(&format!("/api/v2/customers?search={fragment}"))
        .await;
    assert!(status.is_success(), "{body}");
    let found: Vec<&str> = body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .filter_map(|c| c["_id"].as_str())
        .collect();
    assert!(found.contains(&ids[2].to_string().as_str()), "{body}");
}
