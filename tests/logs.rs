//! Tokens never reach the logs: the real binary, logging everything it
//! can (RUST_LOG=trace), serves exports authorized by `?token=` and by an
//! export link, and its log holds the requests but none of the tokens.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{cli_token, clientela, sqlite_url, Process, SECRET};

/// A server over a fresh SQLite file in `dir` that logs to `server.log`
/// there, with `log` setting its log variables; the server, its base URL
/// and the log's path.
fn logging_server(
    dir: &Path,
    log: impl FnOnce(&mut std::process::Command),
) -> (Process, String, PathBuf) {
    let log_path = dir.join("server.log");
    let mut cmd = clientela();
    cmd.env("DATABASE_URL", sqlite_url(&dir.join("server.db")))
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .stderr(std::fs::File::create(&log_path).expect("log file"));
    log(&mut cmd);
    let (server, base) = Process::start(cmd).expect("the server printed its address");
    (server, base, log_path)
}

/// What `server` logged to `log_path`, once its last lines are written and
/// it has stopped.
async fn log_of(server: Process, log_path: &Path) -> String {
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(server);
    std::fs::read_to_string(log_path).expect("read log")
}

#[tokio::test]
async fn tokens_in_urls_and_headers_never_appear_in_the_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, base, log_path) = logging_server(dir.path(), |cmd| {
        cmd.env("RUST_LOG", "trace");
    });
    let token = cli_token(&["--role", "admin"]);
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

    let text = log_of(server, &log_path).await;
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
    let (server, base, log_path) = logging_server(dir.path(), |cmd| {
        cmd.env("CLIENTELA_LOG_FORMAT", "json")
            .env_remove("RUST_LOG");
    });
    let token = cli_token(&["--role", "admin", "--tenant", "acme"]);
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

    let text = log_of(server, &log_path).await;
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

/// `RUST_LOG` filters by target and level (`warn` drops the requests'
/// closing lines, logged at info) and, for a filter that names spans, by
/// span too (`warn,[request]=info` keeps the lines logged inside a
/// request's span, and still drops the other info lines).
#[tokio::test]
async fn rust_log_filters_by_target_level_and_span() {
    for (filter, closing_lines) in [("warn", false), ("warn,[request]=info", true)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (server, base, log_path) = logging_server(dir.path(), |cmd| {
            cmd.env("CLIENTELA_LOG_FORMAT", "json")
                .env("RUST_LOG", filter);
        });
        let token = cli_token(&["--role", "admin"]);
        let listed = reqwest::Client::new()
            .get(format!("{base}/api/v2/customers"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        assert_eq!(listed.status(), 200);
        let text = log_of(server, &log_path).await;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let closing = lines
            .iter()
            .any(|l| l["span"]["route"] == "/api/v2/customers" && l["status"] == 200);
        assert_eq!(closing, closing_lines, "RUST_LOG={filter}:\n{text}");
        assert!(
            lines
                .iter()
                .all(|l| l["level"] != "INFO" || l.get("span").is_some()),
            "RUST_LOG={filter}: an info line outside a request:\n{text}"
        );
    }
}

/// Text logs written to a file (or a pipe, or the journal) are plain text:
/// no terminal colour codes around the level, the span or the fields.
#[tokio::test]
async fn text_logs_not_on_a_terminal_carry_no_colour_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, base, log_path) = logging_server(dir.path(), |cmd| {
        cmd.env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env("CLIENTELA_LOG_FORMAT", "text");
    });
    let token = cli_token(&["--role", "admin"]);
    let listed = reqwest::Client::new()
        .get(format!("{base}/api/v2/customers"))
        .bearer_auth(&token)
        .header("x-request-id", "plain-text-please")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.status(), 200);
    let text = log_of(server, &log_path).await;
    let closing = text
        .lines()
        .find(|l| l.contains("finished processing request"))
        .unwrap_or_else(|| panic!("no closing line:\n{text}"));
    assert!(
        closing.contains(r#"request{request_id="plain-text-please" method=GET"#),
        "{closing}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in the log:\n{text:?}"
    );
}
