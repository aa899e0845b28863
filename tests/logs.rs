//! Tokens never reach the logs: the real binary, logging everything it
//! can (RUST_LOG=trace), serves exports authorized by `?token=` and by an
//! export link, and its log holds the requests but none of the tokens.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

const SECRET: &str = "log-test-secret-that-is-long-enough-0123456789";

#[tokio::test]
async fn tokens_in_urls_and_headers_never_appear_in_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut server = Command::new(env!("CARGO_BIN_EXE_clientela"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("l.db").display()),
        )
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start clientela");
    let stdout = server.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Clientela listening on "))
        .expect("the server printed its address");
    let base = line
        .trim_start_matches("Clientela listening on ")
        .split_whitespace()
        .next()
        .expect("address");

    let minted = Command::new(env!("CARGO_BIN_EXE_clientela"))
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .args(["token", "--role", "admin"])
        .output()
        .expect("mint a token");
    let token = String::from_utf8(minted.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/v2/customers"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "phoneNumber": "529991234567", "firstName": "Ana" }))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);

    let by_query = client
        .get(format!(
            "{base}/api/v2/customers/export?format=csv&token={token}"
        ))
        .send()
        .await;
    assert_eq!(by_query.expect("export").status(), 200);

    let link: serde_json::Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "{ exportLink(format: CSV) { url } }" }))
        .send()
        .await
        .expect("exportLink")
        .json()
        .await
        .expect("json");
    let url = link["data"]["exportLink"]["url"]
        .as_str()
        .expect("a link url")
        .to_owned();
    let link_token = url
        .split("link=")
        .nth(1)
        .expect("the link carries a token")
        .to_owned();
    let by_link = client
        .get(format!("{base}{url}"))
        .send()
        .await
        .expect("download");
    assert_eq!(by_link.status(), 200);

    let forged = format!("{token}x");
    let refused = client
        .get(format!("{base}/api/v2/customers"))
        .bearer_auth(&forged)
        .send()
        .await;
    assert_eq!(refused.expect("list").status(), 401);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.kill();
    let _ = server.wait();
    let mut text = String::new();
    std::fs::File::open(&log_path)
        .expect("log")
        .read_to_string(&mut text)
        .expect("read log");
    assert!(
        text.contains("/api/v2/customers/export"),
        "the log records requests:\n{text}"
    );
    // A JWT's signature part is the part only its holder can know.
    for (what, secret) in [
        ("login token", &token),
        ("export link", &link_token),
        ("forged token", &forged),
    ] {
        let signature = secret.rsplit('.').next().expect("a signature");
        assert!(!text.contains(signature), "the {what} appears in the log");
    }
    assert!(
        !text.contains(SECRET),
        "the signing secret appears in the log"
    );
}

/// With `CLIENTELA_LOG_FORMAT=json`, each request's closing line is one JSON
/// object carrying the request id (echoed in `x-request-id`), the tenant,
/// the route template (and never a query string), the status and
/// the duration; a GraphQL request names its operation.
#[tokio::test]
async fn json_logs_give_one_object_per_line_with_request_id_tenant_route_status_and_duration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut server = Command::new(env!("CARGO_BIN_EXE_clientela"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("j.db").display()),
        )
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .env("CLIENTELA_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start clientela");
    let stdout = server.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Clientela listening on "))
        .expect("the server printed its address");
    let base = line
        .trim_start_matches("Clientela listening on ")
        .split_whitespace()
        .next()
        .expect("address")
        .to_owned();
    let minted = Command::new(env!("CARGO_BIN_EXE_clientela"))
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .args(["token", "--role", "admin", "--tenant", "acme"])
        .output()
        .expect("mint a token");
    let token = String::from_utf8(minted.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let id = "0190c4f5-0000-7000-8000-000000000000";
    let missing = client
        .get(format!("{base}/api/v2/customers/{id}?x=1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    let request_id = missing
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    let gql = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "query WhoAmI { me { role } }", "operationName": "WhoAmI" }))
        .send()
        .await
        .expect("graphql");
    assert_eq!(gql.status(), 200);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.kill();
    let _ = server.wait();
    let text = std::fs::read_to_string(&log_path).expect("read log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let closing = |route: &str| {
        lines
            .iter()
            .find(|l| l["span"]["route"] == route && l.get("status").is_some())
            .unwrap_or_else(|| panic!("no closing line for {route} in:\n{text}"))
            .clone()
    };
    let get = closing("/api/v2/customers/{id}");
    assert_eq!(get["span"]["request_id"], request_id.as_str());
    assert_eq!(get["span"]["tenant"], "acme");
    assert_eq!(get["status"], 404);
    assert!(get.get("latency").is_some(), "{get}");
    assert!(!text.contains("x=1"), "query strings stay out of the log");
    let post = closing("/graphql");
    assert_eq!(post["span"]["operation"], "WhoAmI");
    assert_eq!(post["status"], 200);
}
