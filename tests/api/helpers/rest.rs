//! The REST face (`/api/v2`) as tests call it: a client per token, the error
//! envelope's assertions, and the route tables that token, role and tenancy
//! tests walk. It knows nothing of GraphQL.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::TestApp;

/// The customers collection.
pub const CUSTOMERS: &str = "/api/v2/customers";
/// Bulk import.
pub const IMPORT: &str = "/api/v2/customers/bulk/import";
/// The export download.
pub const EXPORT: &str = "/api/v2/customers/export";
/// Idempotent upsert.
pub const UPSERT: &str = "/api/v2/customers/upsert";
/// Import jobs.
pub const IMPORTS: &str = "/api/v2/customers/imports";

/// The codes the contract knows.
pub const CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
];

/// REST calls with one bearer token: status and JSON body (a JSON string
/// when the body is not JSON).
pub struct Rest<'a> {
    app: &'a TestApp,
    token: String,
}

impl TestApp {
    /// REST calls as the default tenant's admin.
    pub fn rest(&self) -> Rest<'_> {
        self.rest_as(&self.admin())
    }

    /// REST calls with `token`.
    pub fn rest_as(&self, token: &str) -> Rest<'_> {
        Rest {
            app: self,
            token: token.to_owned(),
        }
    }
}

impl Rest<'_> {
    /// Sends `method path` with a JSON body when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.app.call(method, path, &self.token, body).await
    }

    /// `method path` with `body` sent as it is, declared as JSON.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let req = self
            .app
            .request(method, path, &self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        send(req).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    /// `GET path` that must answer 200; its body.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// `method path` (no body) that must answer `want`; its body.
    pub async fn expect(&self, method: Method, path: &str, want: StatusCode) -> Value {
        let (status, body) = self.send(method.clone(), path, None).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        body
    }

    /// `method path` (JSON body when given) that must be a 400 whose
    /// `details` name `field`.
    pub async fn invalid(&self, method: Method, path: &str, body: Option<Value>, field: &str) {
        let (status, answer) = self.send(method.clone(), path, body).await;
        assert_invalid(status, &answer, field);
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// Deletes the customer `id` for good (`?permanent=true`), which must
    /// answer 200.
    pub async fn hard_delete(&self, id: &str) {
        let path = format!("{CUSTOMERS}/{id}?permanent=true");
        self.expect(Method::DELETE, &path, StatusCode::OK).await;
    }

    /// Blocks (with the reason `spam`) or unblocks the customer `id`, which
    /// must answer 200.
    pub async fn set_blocked(&self, id: &str, blocked: bool) {
        let path = format!("{CUSTOMERS}/{id}/block");
        let (status, body) = self
            .patch(
                &path,
                json!({ "isBlocked": blocked, "blockReason": "spam" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "PATCH {path}: {body}");
    }

    /// The customer list's `pagination.total` for this caller.
    pub async fn total(&self) -> u64 {
        let list = self.get_ok(CUSTOMERS).await;
        list["pagination"]["total"].as_u64().expect("total")
    }
}

/// Sends a request; its status and body (JSON when it parses, else a JSON string).
pub async fn send(req: RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `Content-Type` of a response (empty when there is none).
pub fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The `_id` of a REST document.
#[track_caller]
pub fn id_of(doc: &Value) -> String {
    doc["_id"].as_str().expect("document has an _id").to_owned()
}

/// Asserts the error shape: the status, `success: false`, a message and the code.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a human message: {body}"
    );
    assert_eq!(body["code"], want_code, "{body}");
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["success", "error", "code", "details"].contains(&k.as_str())),
        "only the contract's keys: {body}"
    );
}

/// Asserts a 400 whose `details` name `field` (or a part of it, like `tags[0]`).
#[track_caller]
pub fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_error(status, body, StatusCode::BAD_REQUEST, "BAD_USER_INPUT");
    let details = body["details"]
        .as_array()
        .expect("validation errors carry details");
    assert!(
        details.iter().any(
            |d| d["field"].as_str().is_some_and(|f| f.starts_with(field))
                && d["message"].as_str().is_some_and(|m| !m.is_empty())
        ),
        "details name {field}: {body}"
    );
}

/// One request of a route table: method, path and JSON body.
pub type Route = (Method, String, Option<Value>);

/// The reads of customer `id` any role may make.
fn reads_of(id: &str) -> Vec<Route> {
    ["", "/conversations", "/history"]
        .into_iter()
        .map(|tail| (Method::GET, format!("{CUSTOMERS}/{id}{tail}"), None))
        .collect()
}

/// The reads of customer `id` only an admin may make (erasure receipts).
fn admin_reads_of(id: &str) -> Vec<Route> {
    vec![(Method::GET, format!("{CUSTOMERS}/{id}/erasure"), None)]
}

/// A customer id no fixture uses: the others a merge names in the tables.
const ANOTHER_CUSTOMER: &str = "0190f5a2-0000-7000-8000-00000000beef";

/// The writes to customer `id` (each would change it if it went through).
fn writes_of(id: &str) -> Vec<Route> {
    vec![
        (
            Method::PUT,
            format!("{CUSTOMERS}/{id}"),
            Some(json!({ "firstName": "Changed", "tags": ["changed"] })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/tags"),
            Some(json!({ "tags": ["changed"], "action": "set" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/block"),
            Some(json!({ "isBlocked": true, "blockReason": "x" })),
        ),
        (
            Method::PATCH,
            format!("{CUSTOMERS}/{id}/block"),
            Some(json!({ "isBlocked": false })),
        ),
        (Method::POST, format!("{CUSTOMERS}/{id}/restore"), None),
        (
            Method::POST,
            format!("{CUSTOMERS}/{id}/merge"),
            Some(json!({ "others": [ANOTHER_CUSTOMER] })),
        ),
        (Method::POST, format!("{CUSTOMERS}/{id}/erase"), None),
        (Method::DELETE, format!("{CUSTOMERS}/{id}"), None),
        (
            Method::DELETE,
            format!("{CUSTOMERS}/{id}?permanent=true"),
            None,
        ),
    ]
}

/// Every request about customer `id` by its id: the reads (any role's,
/// then an admin's), then every write (each would change the customer if
/// it went through).
pub fn routes_of(id: &str) -> Vec<Route> {
    reads_of(id)
        .into_iter()
        .chain(admin_reads_of(id))
        .chain(writes_of(id))
        .collect()
}

/// Every read of the customer routes any role may make, customer `id`'s
/// included.
pub fn reads(id: &str) -> Vec<Route> {
    let collection = [
        CUSTOMERS.to_owned(),
        format!("{CUSTOMERS}/stats/summary"),
        format!("{EXPORT}?format=json"),
        format!("{EXPORT}?format=csv"),
        format!("{CUSTOMERS}/trash"),
        format!("{CUSTOMERS}/duplicates"),
        format!("{CUSTOMERS}/imports"),
    ];
    collection
        .into_iter()
        .map(|path| (Method::GET, path, None))
        .chain(reads_of(id))
        .collect()
}

/// Every read only an admin may make (they show erased or merged-away
/// people's data), customer `id`'s included.
pub fn admin_reads(id: &str) -> Vec<Route> {
    admin_reads_of(id)
}

/// Every write of the customer routes, to customer `id` or creating
/// customers (with numbers no fixture uses).
pub fn writes(id: &str) -> Vec<Route> {
    let creates = [
        (
            Method::POST,
            CUSTOMERS.to_owned(),
            Some(json!({ "phoneNumber": "529990000001" })),
        ),
        (
            Method::POST,
            IMPORT.to_owned(),
            Some(json!({ "customers": [{ "phoneNumber": "529990000002" }] })),
        ),
        (
            Method::POST,
            UPSERT.to_owned(),
            Some(json!({ "customers": [{ "phoneNumber": "529990000003" }] })),
        ),
        (
            Method::POST,
            format!("{IMPORTS}?mode=create"),
            Some(json!([{ "phoneNumber": "529990000004" }])),
        ),
    ];
    creates.into_iter().chain(writes_of(id)).collect()
}

/// Every request about merge `merge` or import job `job` by its id: the
/// reads any role may make, the reads only an admin may make, the writes.
pub fn records_of(merge: &str, job: &str) -> [Vec<Route>; 3] {
    [
        vec![
            (Method::GET, format!("{IMPORTS}/{job}"), None),
            (Method::GET, format!("{IMPORTS}/{job}/errors.csv"), None),
        ],
        vec![(Method::GET, format!("{CUSTOMERS}/merges/{merge}"), None)],
        vec![
            (
                Method::POST,
                format!("{CUSTOMERS}/merges/{merge}/undo"),
                None,
            ),
            (Method::POST, format!("{IMPORTS}/{job}/cancel"), None),
        ],
    ]
}

/// Every route that needs a token: [`reads`], [`admin_reads`], [`writes`]
/// and [`records_of`] (with ids nobody has: a token is checked first).
pub fn all_routes(id: &str) -> Vec<Route> {
    let unknown = "0190f5a2-0000-7000-8000-0000000dead0";
    reads(id)
        .into_iter()
        .chain(admin_reads(id))
        .chain(writes(id))
        .chain(records_of(unknown, unknown).into_iter().flatten())
        .collect()
}
