//! A search that finds many reads its page by walking the default order's
//! index, which on SQLite holds each customer's search text, instead of
//! reading every hit through the trigram index first; a walk that meets its
//! bound before the page's end (hits gathered at the far end of the order)
//! reads the page again through the trigram index. Whatever the path, each
//! page is the rows of the order that have every word, which this file
//! checks against the table itself (`instr`, `strpos`) on both databases,
//! and on SQLite it checks which path each page took.

use entity::customer;
use reqwest::StatusCode;
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, TransactionTrait,
};
use serde_json::{json, Value};

use crate::helpers::fixtures::{at, phone};
use crate::helpers::rest::CUSTOMERS;
use crate::helpers::{Backend, TestApp};

/// Customers of the default tenant, the n-th last touched n minutes before
/// the newest: those touched longest ago (the last 300) named `Ortiz`, at
/// the far end of the newest-first order and the start of the oldest-first
/// one; of the others, every second `Rivera` (450, spread along the order)
/// and the rest `Lopez`; every third first named `Ana`, the others `Luis`.
const CUSTOMERS_MADE: usize = 1_200;

fn last_name(n: usize) -> &'static str {
    if n >= CUSTOMERS_MADE - 300 {
        "Ortiz"
    } else if n % 2 == 0 {
        "Rivera"
    } else {
        "Lopez"
    }
}

/// Imports the customers, then sets when each was last touched.
async fn customers(app: &TestApp) {
    let rows: Vec<Value> = (0..CUSTOMERS_MADE)
        .map(|n| {
            let first = if n % 3 == 0 { "Ana" } else { "Luis" };
            json!({ "phoneNumber": phone(n), "firstName": first, "lastName": last_name(n) })
        })
        .collect();
    for chunk in rows.chunks(600) {
        app.import_all(chunk.to_vec()).await;
    }
    let newest = at("2026-11-20T12:00:00Z");
    let txn = app.db.begin().await.expect("begin");
    for n in 0..CUSTOMERS_MADE {
        let minutes = i64::try_from(n).expect("a small number");
        customer::Entity::update_many()
            .col_expr(
                customer::Column::LastInteraction,
                Expr::value(newest - chrono::Duration::minutes(minutes)),
            )
            .filter(customer::Column::PhoneNumber.eq(phone(n)))
            .exec(&txn)
            .await
            .expect("set when the customer was last touched");
    }
    txn.commit().await.expect("commit");
}

/// The ids of the customers whose search text has every word, in the
/// order's rows `offset .. offset + limit`, as the table itself says.
async fn expected(
    app: &TestApp,
    words: &[&str],
    order: &str,
    offset: u64,
    limit: u64,
) -> (Vec<String>, u64) {
    let backend = app.db.get_database_backend();
    let has = |i: usize| match backend {
        DbBackend::Postgres => format!("strpos(search_text, ${}) > 0", i + 2),
        _ => "instr(search_text, ?) > 0".to_owned(),
    };
    let mut condition = String::from("tenant_id = ");
    condition.push_str(if backend == DbBackend::Postgres {
        "$1"
    } else {
        "?"
    });
    for i in 0..words.len() {
        condition.push_str(" AND ");
        condition.push_str(&has(i));
    }
    let mut values: Vec<sea_orm::Value> = vec!["default".into()];
    values.extend(words.iter().map(|w| sea_orm::Value::from(*w)));
    let page = format!(
        "SELECT id FROM customers WHERE {condition} \
         ORDER BY last_interaction {order}, id {order} LIMIT {limit} OFFSET {offset}"
    );
    let ids = app
        .db
        .query_all(Statement::from_sql_and_values(
            backend,
            page,
            values.clone(),
        ))
        .await
        .expect("the page as the table says")
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id").expect("an id").to_string())
        .collect();
    let count = format!("SELECT count(*) AS n FROM customers WHERE {condition}");
    let total = app
        .db
        .query_one(Statement::from_sql_and_values(backend, count, values))
        .await
        .expect("the count")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count");
    (ids, total.unsigned_abs())
}

/// A page of `search` through REST: its ids and total.
async fn page(
    app: &TestApp,
    search: &str,
    order: &str,
    page: u64,
    limit: u64,
) -> (Vec<String>, u64) {
    let path = format!(
        "{CUSTOMERS}?search={search}&sortBy=lastInteraction&sortOrder={order}&page={page}&limit={limit}"
    )
    .replace(' ', "%20");
    let (status, body) = app.rest().get(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids = body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["_id"].as_str().expect("an id").to_owned())
        .collect();
    (ids, body["pagination"]["total"].as_u64().expect("a total"))
}

/// How an SQLite page statement reached its rows: through the index of
/// the default order alone (`walk`), or through the trigram index.
#[derive(Debug, PartialEq)]
enum Path {
    Walk,
    Trigrams,
}

/// The paths of the page statements among `statements` (those that read
/// customers in an order: not the counts), by SQLite's plan of each.
async fn paths(app: &TestApp, statements: &[Statement]) -> Vec<Path> {
    let mut out = Vec::new();
    for stmt in statements {
        if !stmt.sql.contains("ORDER BY") || !stmt.sql.contains("FROM \"customers\"") {
            continue;
        }
        let explain = Statement {
            sql: format!("EXPLAIN QUERY PLAN {}", stmt.sql),
            ..stmt.clone()
        };
        let plan: Vec<String> = app
            .db
            .query_all(explain)
            .await
            .expect("the plan")
            .iter()
            .map(|row| row.try_get::<String>("", "detail").expect("a step"))
            .collect();
        let plan = plan.join("\n");
        if plan.contains("customer_search") {
            out.push(Path::Trigrams);
        } else {
            assert!(
                plan.contains("customers_tenant_last_interaction_search"),
                "{}\n{plan}",
                stmt.sql
            );
            out.push(Path::Walk);
        }
    }
    out
}

async fn a_search_that_finds_many_pages_as_the_order_says_by_whichever_path(app: TestApp) {
    customers(&app).await;
    // (search, order, page, limit, the paths of its page statements on
    // SQLite). A walk may pass twice the entries it passes when the hits are
    // spread evenly, and is taken when that is no more than the hits.
    let cases: &[(&str, &str, u64, u64, &[Path])] = &[
        // 450 hits spread along the order: a walk of up to 106 entries.
        ("rivera", "desc", 1, 20, &[Path::Walk]),
        ("rivera", "desc", 3, 20, &[Path::Walk]),
        // With a one-letter word too (tested by `LIKE` on every path).
        ("rivera a", "desc", 1, 20, &[Path::Walk]),
        // The oldest-first order starts with 300 Ortiz: the walk's 106
        // entries find no Rivera, and the trigram index reads the page.
        ("rivera", "asc", 1, 20, &[Path::Walk, Path::Trigrams]),
        // Deep: the walk would pass more entries than there are hits.
        ("rivera", "desc", 20, 20, &[Path::Trigrams]),
        // 300 hits at the far end of the walk: its bound (160) comes first.
        ("ortiz", "desc", 1, 20, &[Path::Walk, Path::Trigrams]),
        // The same hits at the start of the other order.
        ("ortiz", "asc", 1, 20, &[Path::Walk]),
        ("ortiz", "asc", 2, 20, &[Path::Trigrams]),
        ("ana", "desc", 1, 20, &[Path::Walk]),
        // Fewer hits (150; one): read through the trigram index.
        ("rivera ana", "desc", 1, 20, &[Path::Trigrams]),
        ("2000999", "desc", 1, 20, &[Path::Trigrams]),
    ];
    for &(search, order, number, limit, want) in cases {
        let words: Vec<&str> = search.split(' ').collect();
        let offset = (number - 1) * limit;
        let (ids, total) = expected(&app, &words, order, offset, limit).await;
        assert!(!ids.is_empty(), "{search}: no hits");
        let ((got, got_total), statements) =
            app.record(page(&app, search, order, number, limit)).await;
        assert_eq!(got, ids, "{search} {order} page {number}");
        assert_eq!(got_total, total, "{search} {order} page {number}");
        if app.backend == Backend::Sqlite {
            assert_eq!(
                paths(&app, &statements).await,
                want,
                "{search} {order} page {number}"
            );
        }
    }
}

crate::db_tests!(a_search_that_finds_many_pages_as_the_order_says_by_whichever_path);
