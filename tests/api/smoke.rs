//! The harness itself: a server answers on both databases.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

async fn created_customer_is_listed(app: TestApp) {
    let created = app
        .create_customer(json!({ "phoneNumber": "529991234567", "firstName": "John" }))
        .await;
    let (status, body) = app.rest().get("/api/v2/customers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customers"][0]["_id"], created["_id"]);
    assert_eq!(body["pagination"]["total"], 1);
}

crate::db_tests!(created_customer_is_listed);
