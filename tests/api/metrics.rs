//! Prometheus metrics of the real binary: off by default, on the main
//! address with `CLIENTELA_METRICS=true` or on an address of their own, and
//! a scrape after known traffic shows that traffic.

use clientela::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::rest::{CUSTOMERS, EXPORT, IMPORT};
use crate::helpers::{server_process, TestApp};

/// Sends `request`; the text of its answer.
async fn text(request: reqwest::RequestBuilder) -> String {
    let resp = request.send().await.expect("send");
    resp.text().await.expect("text")
}

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
    let (agent, admin) = (app.token(Role::Agent, "default"), app.admin());
    let unknown = "/api/v2/customers/0190c4f5-0000-7000-8000-000000000000";
    let who_am_i = json!({ "query": "query WhoAmI { me { role } }", "operationName": "WhoAmI" });
    let phone = |n: u32| json!({ "phoneNumber": format!("52999123450{n}") });
    let one_row = json!({ "customers": [{ "phoneNumber": "529991234509" }] });
    let (get, post) = (Method::GET, Method::POST);
    let (ok, created) = (StatusCode::OK, StatusCode::CREATED);
    let calls = [
        // Two lists pass (a burst of 4 allows them), a 404 by id, an operation.
        (&get, CUSTOMERS, &agent, None, ok),
        (&get, CUSTOMERS, &agent, None, ok),
        (&get, unknown, &agent, None, StatusCode::NOT_FOUND),
        (&post, "/graphql", &agent, Some(who_am_i), ok),
        // The burst is spent: the next one is refused and counted.
        (&get, CUSTOMERS, &agent, None, StatusCode::TOO_MANY_REQUESTS),
        // An admin (a bucket of its own) creates two customers, imports one
        // and exports them.
        (&post, CUSTOMERS, &admin, Some(phone(0)), created),
        (&post, CUSTOMERS, &admin, Some(phone(1)), created),
        (&post, IMPORT, &admin, Some(one_row), ok),
    ];
    for (method, path, token, body, want) in calls {
        let mut request = client
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let status = request.send().await.expect("send").status();
        assert_eq!(status, want, "{method} {path}");
    }
    let export = format!("{base}{EXPORT}?format=csv");
    let csv = text(client.get(export).bearer_auth(&admin)).await;
    assert_eq!(csv.lines().count(), 4, "{csv}");

    let scrape = text(client.get(format!("{base}/metrics"))).await;
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
    // No pool size configured: 10 on PostgreSQL, twice the CPUs (2 to 10)
    // on SQLite.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = match app.backend {
        crate::helpers::Backend::Postgres => 10,
        crate::helpers::Backend::Sqlite => (2 * cpus).clamp(2, 10),
    };
    assert_eq!(count(r#"db_pool_max_connections"#), pool as f64);
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
    let status = |base: &str| client.get(format!("{base}/metrics")).send();
    let (_plain, base) = server_process(&app.url, &[]);
    let off = status(&base).await.expect("send").status();
    assert_eq!(off, StatusCode::NOT_FOUND);

    let (server, base) = server_process(&app.url, &[("CLIENTELA_METRICS_ADDR", "127.0.0.1:0")]);
    let metrics_base = server
        .metrics_base()
        .expect("the server printed its metrics address");
    assert_ne!(metrics_base, base);
    let public = status(&base).await.expect("send").status();
    assert_eq!(public, StatusCode::NOT_FOUND, "not on the public address");
    let scrape = text(client.get(format!("{metrics_base}/metrics"))).await;
    assert!(scrape.contains("db_pool_max_connections"), "{scrape}");
}

crate::db_tests!(
    a_scrape_after_known_traffic_shows_its_counts,
    metrics_are_off_by_default_and_can_have_an_address_of_their_own,
);
