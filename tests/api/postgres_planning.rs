//! What PostgreSQL needs to keep planning well under a desk's writes: the
//! trigram search index keeps its pending list short (migration 11), so a
//! search never reads a long unsorted backlog of the messages' entries; and the
//! first import into a fresh database leaves statistics behind, so the
//! foreign-key checks of its later batches look customers up by key; and the
//! reads whose best plan does not depend on their values are planned once per
//! connection, not on every call.

use clientela::auth::Role;
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

/// PostgreSQL keeps a prepared statement's generic plan, made once, when it
/// looks no dearer than the plans made for each call's values; a `LIMIT` or
/// `OFFSET` bound as a value makes it look dear, so the list pages and the
/// detail read are written so that it can (`service::plans`). Except where
/// the plan depends on the values: a page of a rare tag, where a plan made
/// for a common one would walk the whole sort index, stays planned per call.
#[tokio::test]
async fn postgres_plans_value_independent_reads_once() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    // 300 customers: every one tagged `common`, one also `rare`.
    let rows = (0..300)
        .map(|n| {
            let tags = if n == 7 {
                vec!["common", "rare"]
            } else {
                vec!["common"]
            };
            serde_json::json!({ "phoneNumber": phone(n), "tags": tags })
        })
        .collect();
    app.import(rows).await;

    // A server of its own over one connection, so this test's session is the
    // one that prepared the server's statements.
    let db = clientela::db::connect(&app.url, 1).await.expect("connect");
    let ctx = clientela::service::Ctx::new(db.clone(), phonenumber::country::Id::MX);
    let router = clientela::app(
        clientela::AppState::new(ctx, app.keys.clone()),
        std::time::Duration::from_secs(30),
    );
    let addr = crate::helpers::spawn_server(router, &Default::default()).await;
    let token = app.token(Role::Agent, "default");
    let get = |path: String| {
        let req = app
            .client
            .get(format!("http://{addr}/api/v2/customers{path}"))
            .bearer_auth(&token);
        crate::helpers::rest::send(req)
    };
    let (_, first) = get("?page=1&limit=20".into()).await;
    let id = first["customers"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    for _ in 0..8 {
        for path in [
            "?page=1&limit=20".to_owned(),
            "?page=3&limit=10".to_owned(),
            "?page=1&limit=20&tags=common".to_owned(),
            "?page=1&limit=20&tags=rare".to_owned(),
            format!("/{id}"),
        ] {
            let (status, body) = get(path.clone()).await;
            assert!(status.is_success(), "{path}: {body}");
        }
    }
    let (_, common) = get("?page=1&limit=20&tags=common".into()).await;
    assert_eq!(common["pagination"]["total"], 300, "{common}");
    let (_, rare) = get("?page=1&limit=20&tags=rare".into()).await;
    assert_eq!(rare["pagination"]["total"], 1, "{rare}");
    assert_eq!(rare["customers"][0]["phoneNumber"], phone(7), "{rare}");

    // The customers statements this session prepared, with how each was planned.
    let plans: Vec<(String, i64, i64)> = db
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE 'SELECT \"customers\".\"tenant_id\", \"customers\".\"id\",%' \
             OR statement LIKE 'SELECT \"tenant_id\", \"id\", \"phone_number\",%UNION ALL%'",
        ))
        .await
        .expect("pg_prepared_statements")
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).expect("statement"),
                r.try_get_by_index(1).expect("generic plans"),
                r.try_get_by_index(2).expect("custom plans"),
            )
        })
        .collect();
    let planned = |what: &str, pick: &dyn Fn(&str) -> bool| {
        let found: Vec<_> = plans.iter().filter(|(sql, ..)| pick(sql)).collect();
        assert_eq!(found.len(), 1, "{what}: {plans:#?}");
        let (_, generic, custom) = found[0];
        (*generic, *custom)
    };
    let tagged = |sql: &str| sql.contains("customer_tags");
    // Planned once (after PostgreSQL's five custom plans): the whole tenant's
    // first page, a later page (deferred join), a common tag's page, the detail.
    for (what, pick) in [
        (
            "first page",
            &(|sql: &str| !tagged(sql) && sql.ends_with(" LIMIT 20")) as &dyn Fn(&str) -> bool,
        ),
        ("page 3", &|sql: &str| sql.contains(" LIMIT 10 OFFSET 20)")),
        ("common tag", &|sql: &str| {
            tagged(sql) && sql.ends_with(" LIMIT 20")
        }),
        ("detail", &|sql: &str| sql.contains(" UNION ALL ")),
    ] {
        let (generic, custom) = planned(what, pick);
        assert!(
            generic >= 3 && custom <= 5,
            "{what}: {generic} generic, {custom} custom plans"
        );
    }
    // The rare tag's page (one hit in 300: a walk of the sort index would
    // pass 6,000 rows) keeps its limit bound, so PostgreSQL weighs a plan for
    // its values each time (which it picks on 300 rows is its own affair).
    let (generic, custom) = planned("rare tag", &|sql: &str| {
        tagged(sql) && sql.contains(" LIMIT $")
    });
    assert_eq!(generic + custom, 9, "rare tag");
}
