//! The process outlives its database: 503 while the database is away, and
//! service again when it returns.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestApp};

/// A server on PostgreSQL with one customer, an administrator's connection
/// to the cluster, and the name of the server's database.
async fn with_admin() -> Option<(TestApp, sea_orm::DatabaseConnection, String)> {
    let app = TestApp::new(Backend::Postgres).await?;
    app.create_customer(serde_json::json!({ "phoneNumber": "529991234567" }))
        .await;
    let (server, name) = app.url.rsplit_once('/').expect("database url");
    let admin = sea_orm::Database::connect(format!("{server}/postgres"))
        .await
        .expect("admin connection");
    let name = name.to_owned();
    Some((app, admin, name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_and_the_server_recovers() {
    let Some((app, admin, name)) = with_admin().await else {
        return;
    };

    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .expect("refuse");
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate");
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (status, body) = app.rest().get("/api/v2/customers").await;
        answers.push((status, body["code"].clone()));
    }
    assert!(
        answers
            .iter()
            .all(|(s, c)| *s == StatusCode::SERVICE_UNAVAILABLE && c == "SERVICE_UNAVAILABLE"),
        "every request during the outage is a clean 503: {answers:?}"
    );

    admin
        .execute_unprepared(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .expect("allow");
    let mut recovered = false;
    for _ in 0..50 {
        let (status, body) = app.rest().get("/api/v2/customers").await;
        if status == StatusCode::OK {
            assert_eq!(body["pagination"]["total"], 1);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the server serves again once the database is back"
    );
}

/// Connections the database dropped while they sat idle (a restart, a
/// failover, an administrator's `pg_terminate_backend`) are found out when
/// they are next taken from the pool, not by a failed request: the pool
/// skips that check only for a connection used in the last half second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_dropped_while_idle_fail_no_request() {
    let Some((app, admin, name)) = with_admin().await else {
        return;
    };
    // Several requests at once, so that the pool holds several connections.
    let lists = (0..4).map(|_| async {
        let (status, _) = app.rest().get("/api/v2/customers").await;
        status
    });
    let statuses = futures::future::join_all(lists).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );

    let dropped = admin
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid() \
                 AND query NOT ILIKE 'LISTEN%'"
            ),
        ))
        .await
        .expect("terminate")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count");
    assert!(dropped >= 1, "the server held connections: {dropped}");
    tokio::time::sleep(Duration::from_millis(700)).await;

    for _ in 0..6 {
        let (status, body) = app.rest().get("/api/v2/customers").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["pagination"]["total"], 1);
    }
}
