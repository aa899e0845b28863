//! Import jobs as the tests drive them: start one over REST, cancel it,
//! wait for it to end, read its counts.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::TestApp;

/// Where import jobs start and are read.
pub const IMPORTS: &str = "/api/v2/customers/imports";

/// Starts a job with `body` as `content_type`; its id.
pub async fn start(app: &TestApp, query: &str, content_type: &str, body: String) -> String {
    let resp = app
        .request(Method::POST, &format!("{IMPORTS}?{query}"), &app.admin())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = resp.status();
    let body: Value = resp.json().await.expect("json");
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["job"]["status"], "queued", "{body}");
    body["job"]["id"].as_str().expect("id").to_owned()
}

/// Cancels a job as an admin (REST), which must answer 200.
pub async fn cancel(app: &TestApp, id: &str) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{IMPORTS}/{id}/cancel"),
            &app.admin(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits for a job to end; the job.
pub async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let job = app.rest().get_ok(&format!("{IMPORTS}/{id}")).await["job"].clone();
        if ["succeeded", "failed", "cancelled"].contains(&job["status"].as_str().unwrap_or("")) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not end");
}

/// `[rowsRead, created, updated, unchanged, duplicate, failed]` of a job.
pub fn counts(job: &Value) -> Value {
    json!([
        job["rowsRead"],
        job["created"],
        job["updated"],
        job["unchanged"],
        job["duplicate"],
        job["failed"]
    ])
}
