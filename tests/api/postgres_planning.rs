//! What PostgreSQL needs to keep planning well under a desk's writes: the
//! trigram search index keeps its pending list short (migration 11), so a
//! search never reads a long unsorted backlog of the messages' entries; and the
//! first import into a fresh database leaves statistics behind, so the
//! foreign-key checks of its later batches look customers up by key; and the
//! reads whose best plan does not depend on their values are planned once per
//! connection, not on every call.

use clientela::auth::Role;
use std::net::SocketAddr;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

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

/// A server of its own over one connection, so that the session of the
/// connection returned is the one that prepared the server's statements.
async fn one_connection_server(app: &TestApp) -> (DatabaseConnection, SocketAddr) {
    let db = clientela::db::connect(&app.url, 1).await.expect("connect");
    let ctx = clientela::service::Ctx::new(db.clone(), phonenumber::country::Id::MX);
    let router = clientela::app(
        clientela::AppState::new(ctx, app.keys.clone()),
        std::time::Duration::from_secs(30),
    );
    let addr = crate::helpers::spawn_server(router, &Default::default()).await;
    (db, addr)
}

/// 300 customers of numbers `phone(0..300)`, then [`one_connection_server`]
/// and an agent's token for it.
async fn numbered_behind_one_connection(app: &TestApp) -> (DatabaseConnection, SocketAddr, String) {
    let rows = (0..300)
        .map(|n| serde_json::json!({ "phoneNumber": phone(n) }))
        .collect();
    app.import(rows).await;
    let (db, addr) = one_connection_server(app).await;
    (db, addr, app.token(Role::Agent, "default"))
}

/// The statements `db`'s session prepared whose text matches `condition`
/// (SQL over `pg_prepared_statements`), with how many generic and custom
/// plans PostgreSQL made for each.
async fn prepared(db: &DatabaseConnection, condition: &str) -> Vec<(String, i64, i64)> {
    db.query_all(Statement::from_string(
        DbBackend::Postgres,
        format!(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE {condition}"
        ),
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
    .collect()
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

    let (db, addr) = one_connection_server(&app).await;
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
    let plans = prepared(
        &db,
        "statement LIKE 'SELECT \"customers\".\"tenant_id\", \"customers\".\"id\",%' \
         OR statement LIKE 'SELECT \"tenant_id\", \"id\", \"phone_number\",%UNION ALL%'",
    )
    .await;
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

/// A search the count cache last counted at a few hits reads them first,
/// through the trigram index, in a statement PostgreSQL plans once whatever
/// the words (`customers::read::hits_first`); a search that found many is
/// planned for its words each call, as a plan made once could not serve
/// both. The answers are those of the statement planned for the words, and
/// stay exact when the words find many more than when last counted.
#[tokio::test]
async fn postgres_plans_a_search_that_finds_few_once() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    // `52999` is in every number, `200001` in ten of them.
    let (db, addr, token) = numbered_behind_one_connection(&app).await;
    let get = |query: &'static str| {
        let req = app
            .client
            .get(format!("http://{addr}/api/v2/customers?{query}"))
            .bearer_auth(&token);
        async move {
            let (status, body) = crate::helpers::rest::send(req).await;
            assert!(status.is_success(), "{query}: {body}");
            body
        }
    };
    let phones = |body: &serde_json::Value| -> Vec<String> {
        body["customers"]
            .as_array()
            .expect("customers")
            .iter()
            .map(|c| c["phoneNumber"].as_str().expect("a number").to_owned())
            .collect()
    };

    // The first answer of each search comes before any count of it: its
    // statement is planned for its words. The later ones must match it.
    let searches = [
        "search=2000007&page=1&limit=20",
        "search=200001&page=1&limit=20",
        "search=200001&page=2&limit=4",
        "search=52999&page=1&limit=20",
    ];
    let mut first = Vec::new();
    for query in searches {
        first.push(get(query).await);
    }
    assert_eq!(phones(&first[0]), [phone(7)]);
    assert_eq!(first[1]["pagination"]["total"], 10, "{}", first[1]);
    let mut ten: Vec<String> = (10..20).map(phone).collect();
    let mut found = phones(&first[1]);
    ten.sort();
    found.sort();
    assert_eq!(found, ten);
    assert_eq!(first[3]["pagination"]["total"], 300, "{}", first[3]);
    for _ in 0..8 {
        for (query, want) in searches.iter().zip(&first) {
            assert_eq!(&get(query).await, want, "{query}");
        }
    }

    // The hits-first statements: one per page size and offset, planned once
    // (after PostgreSQL's five custom plans) for both words that find few,
    // from each word's second answer on (its first one counted it).
    let hits_first = prepared(
        &db,
        "statement LIKE 'WITH \"customers\" AS%MATERIALIZED (%'",
    )
    .await;
    let with = |tail: &str| {
        let found: Vec<_> = hits_first
            .iter()
            .filter(|(sql, ..)| sql.ends_with(tail))
            .collect();
        assert_eq!(found.len(), 1, "{tail}: {hits_first:#?}");
        (found[0].1, found[0].2)
    };
    let (generic, custom) = with(" LIMIT 20");
    assert_eq!(generic + custom, 16, "page 1: {hits_first:#?}");
    assert!(generic >= 10 && custom <= 5, "page 1: {hits_first:#?}");
    let (generic, custom) = with(" LIMIT 4 OFFSET 4");
    // Every answer of it: the first page's count let its first one in.
    assert!(
        generic >= 4 && generic + custom == 9,
        "page 2: {hits_first:#?}"
    );
    assert_eq!(hits_first.len(), 2, "{hits_first:#?}");
    // The word in every number is read as before, its words in the text
    // PostgreSQL plans for (which plan it picks on 300 rows is its own
    // affair): all nine of its answers, and the first answer of each other
    // word's first page.
    let planned = prepared(
        &db,
        "statement LIKE 'SELECT \"customers\".\"tenant_id\", %\"search_text\" LIKE $% LIMIT $%'",
    )
    .await;
    let answers: i64 = planned.iter().map(|(_, g, c)| g + c).sum();
    assert_eq!(answers, 9 + 2, "{planned:#?}");

    // A word counted at one hit that now finds 40: its next page, read
    // through its hits on that stale count, is still exact, as a word never
    // counted (read as before) shows.
    app.import(vec![
        serde_json::json!({ "phoneNumber": phone(300), "email": "zebra.0@example.com" }),
    ])
    .await;
    let counted = get("search=zebra&page=1&limit=20").await;
    assert_eq!(counted["pagination"]["total"], 1, "{counted}");
    let rows = (301..340)
        .map(|n| serde_json::json!({ "phoneNumber": phone(n), "email": format!("zebra.{n}@example.com") }))
        .collect();
    app.import(rows).await;
    let stale = get("search=zebra&page=2&limit=15").await;
    let fresh = get("search=zebr&page=2&limit=15").await;
    assert_eq!(stale["pagination"]["total"], 40, "{stale}");
    assert_eq!(phones(&stale).len(), 15, "{stale}");
    assert_eq!(stale, fresh);
    let read = prepared(&db, "statement LIKE 'WITH %LIMIT 15 OFFSET 15'").await;
    assert_eq!(read.len(), 1, "{read:#?}");
}

/// `customersConnection` reads a search that found few the same way: its
/// window through the hits, planned once, forward and backward, the
/// answers those of the window planned for its words.
#[tokio::test]
async fn postgres_plans_a_connection_of_a_search_that_finds_few_once() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    // `200001` is in ten numbers.
    let (db, addr, token) = numbered_behind_one_connection(&app).await;
    let query = "query($first: Int, $after: String, $last: Int, $before: String) {
      customersConnection(filter: { search: \"200001\" }, first: $first, after: $after,
                          last: $last, before: $before) {
        edges { cursor node { phoneNumber } }
        pageInfo { hasNextPage hasPreviousPage }
        totalCount
      }
    }";
    let run = |variables: serde_json::Value| {
        let req = app
            .client
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        async move {
            let (status, body) = crate::helpers::rest::send(req).await;
            assert!(status.is_success() && body["errors"].is_null(), "{body}");
            body["data"]["customersConnection"].clone()
        }
    };
    let phones = |c: &serde_json::Value| -> Vec<String> {
        c["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                e["node"]["phoneNumber"]
                    .as_str()
                    .expect("a number")
                    .to_owned()
            })
            .collect()
    };

    // Before any count: planned for its words. Its total counts it.
    let first = run(serde_json::json!({ "first": 4 })).await;
    assert_eq!(first["totalCount"], 10, "{first}");
    assert_eq!(first["pageInfo"]["hasNextPage"], true, "{first}");
    let cursor = first["edges"][3]["cursor"].clone();
    let next = run(serde_json::json!({ "first": 4, "after": cursor })).await;
    let last = run(serde_json::json!({ "last": 3 })).await;
    // The same ten found by two words, never counted (no total asked):
    // read as before, planned for their words.
    let reference = app
        .client
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "{ customersConnection(
            filter: { search: \"200001 52999\" }, first: 10) { edges { node { phoneNumber } } } }" }));
    let (_, reference) = crate::helpers::rest::send(reference).await;
    let all = phones(&reference["data"]["customersConnection"]);
    assert_eq!(all.len(), 10, "{reference}");
    assert_eq!(phones(&first), all[..4]);
    assert_eq!(phones(&next), all[4..8]);
    assert_eq!(phones(&last), all[7..]);
    assert_eq!(next["pageInfo"]["hasPreviousPage"], true, "{next}");
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true, "{last}");
    for _ in 0..8 {
        assert_eq!(run(serde_json::json!({ "first": 4 })).await, first);
        assert_eq!(
            run(serde_json::json!({ "first": 4, "after": cursor })).await,
            next
        );
        assert_eq!(run(serde_json::json!({ "last": 3 })).await, last);
    }

    // The window of the first four (five read: one more tells whether a
    // next page exists), through the hits, planned once after PostgreSQL's
    // five custom plans; the window after the cursor and the last three
    // read through the hits too.
    let windows = prepared(
        &db,
        "statement LIKE 'WITH \"customers\" AS%MATERIALIZED (%'",
    )
    .await;
    let first_window: Vec<_> = windows
        .iter()
        .filter(|(sql, ..)| {
            sql.ends_with(" LIMIT 5") && !sql.contains("\" < $") && !sql.contains("\" > $")
        })
        .collect();
    assert_eq!(first_window.len(), 1, "{windows:#?}");
    let (_, generic, custom) = first_window[0];
    assert_eq!(generic + custom, 8, "{windows:#?}");
    assert!(*generic >= 3, "{windows:#?}");
    // Every other answer too: the first one's total counted the word.
    let answers: i64 = windows.iter().map(|(_, g, c)| g + c).sum();
    assert_eq!(answers, 8 + 9 + 9, "{windows:#?}");
    assert_eq!(windows.len(), 3, "{windows:#?}");
}

/// PostgreSQL guesses the customers a search word finds from how many of
/// the search text's histogram bounds it matches. Two thousand customers
/// (every row sampled), their texts ordered by phone number: the word is on
/// every twentieth from the twelfth (100 of them, 5 %). The histogram of
/// 101 bounds PostgreSQL keeps by default has them at positions 20i - 1,
/// which no such customer holds: a guess of next to none, a plan that
/// reads every hit to sort them. The one of 1,001 bounds the migration
/// asks for has them at 2i - 1, and matches one bound in twenty.
#[tokio::test]
async fn postgres_guesses_a_search_words_hits_from_a_fine_histogram() {
    let Some(app) = TestApp::new(Backend::Postgres).await else {
        return;
    };
    let target = one_value(
        &app,
        "SELECT attstattarget::text FROM pg_attribute \
         WHERE attrelid = 'customers'::regclass AND attname = 'search_text'",
    )
    .await;
    assert_eq!(target, "1000");
    let rows: Vec<_> = (0..2_000)
        .map(|n| {
            let last = if n % 20 == 11 { "Zunzun" } else { "Lopez" };
            serde_json::json!({ "phoneNumber": phone(n), "lastName": last })
        })
        .collect();
    for chunk in rows.chunks(1_000) {
        app.import_all(chunk.to_vec()).await;
    }
    app.db
        .execute_unprepared("ANALYZE customers")
        .await
        .expect("analyze");
    let plan: serde_json::Value = app
        .db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM customers WHERE search_text LIKE '%zunzun%'",
        ))
        .await
        .expect("explain")
        .expect("a plan")
        .try_get_by_index(0)
        .expect("a JSON plan");
    let guess = plan[0]["Plan"]["Plan Rows"]
        .as_f64()
        .expect("a row estimate");
    assert!(
        (50.0..=200.0).contains(&guess),
        "guessed {guess} of 100 hits: {plan}"
    );
}
