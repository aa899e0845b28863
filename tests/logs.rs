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
