//! Prometheus metrics of the real binary: off by default, on the main
//! address with `CLIENTELA_METRICS=true` or on an address of their own, and
//! a scrape after known traffic shows that traffic.

use clientela::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{server_process, TestApp};

/// The value of the sample whose name and labels are exactly `series`.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

async fn a_scrape_after_known_traffic_shows_its_counts(app: TestApp) {
    let (_server, base) = server_process(
        &app.url,
        &[("CLIENTELA_METRICS", "true"), ("CLIENTELA_RATE_LIMIT", "2")],
    );
    let client = reqwest::Client::new();
    let token = app.token(Role::Agent, "default");
    // Two lists pass (a burst of 4 allows them), and a 404 by id.
    for _ in 0..2 {
        let resp = client
            .get(format!("{base}/api/v2/customers"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let resp = client
        .get(format!(
            "{base}/api/v2/customers/0190c4f5-0000-7000-8000-000000000000"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "query WhoAmI { me { role } }", "operationName": "WhoAmI" }))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    // The burst is spent: the next one is refused and counted.
    let resp = client
        .get(format!("{base}/api/v2/customers"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);

    // An admin (a bucket of its own) creates two customers, imports one and exports them.
    let admin = app.admin();
    for n in 0..2 {
        let resp = client
            .post(format!("{base}/api/v2/customers"))
            .bearer_auth(&admin)
            .json(&json!({ "phoneNumber": format!("52999123450{n}") }))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let imported = client
        .post(format!("{base}/api/v2/customers/bulk/import"))
        .bearer_auth(&admin)
        .json(&json!({ "customers": [{ "phoneNumber": "529991234509" }] }))
        .send()
        .await
        .expect("import");
    assert_eq!(imported.status(), StatusCode::OK);
    let csv = client
        .get(format!("{base}/api/v2/customers/export?format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("csv");
    assert_eq!(csv.lines().count(), 4, "{csv}");

    let scrape = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let count = |series: &str| {
        sample(&scrape, series).unwrap_or_else(|| panic!("no {series} in\n{scrape}"))
    };
    assert_eq!(
        count(r#"http_requests_total{route="/api/v2/customers",method="GET",status="200"}"#),
        2.0
    );
    assert_eq!(
        count(r#"http_requests_total{route="/api/v2/customers/{id}",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(
        count(r#"graphql_operations_total{operation="WhoAmI",outcome="ok"}"#),
        1.0
    );
    assert_eq!(count(r#"rate_limited_total{bucket="token"}"#), 1.0);
    assert!(count(r#"db_pool_max_connections"#) >= 1.0);
    assert_eq!(count("export_rows_total"), 3.0);
    assert_eq!(count("import_rows_total"), 1.0);
    assert_eq!(count("imports_in_flight"), 0.0);
    assert_eq!(count("exports_in_flight"), 0.0, "the export's slot is back");
    assert!(scrape.contains("db_write_wait_seconds_count"));
    assert!(scrape.contains("http_request_duration_seconds_bucket{route=\"/api/v2/customers\""));
    assert!(scrape.contains("db_statement_duration_seconds_count"));
    assert!(
        !scrape.contains("0190c4f5"),
        "labels carry route templates, never raw paths"
    );
}

async fn metrics_are_off_by_default_and_can_have_an_address_of_their_own(app: TestApp) {
    let client = reqwest::Client::new();
    let (_plain, base) = server_process(&app.url, &[]);
    let resp = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let (server, base) = server_process(&app.url, &[("CLIENTELA_METRICS_ADDR", "127.0.0.1:0")]);
    let metrics_base = server
        .metrics_base()
        .expect("the server printed its metrics address");
    assert_ne!(metrics_base, base);
    let resp = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        resp.status(),
        StatusCode::NOT_FOUND,
        "not on the public address"
    );
    let scrape = client
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(scrape.contains("db_pool_max_connections"), "{scrape}");
}

crate::db_tests!(
    a_scrape_after_known_traffic_shows_its_counts,
    metrics_are_off_by_default_and_can_have_an_address_of_their_own,
);
