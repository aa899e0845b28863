//! The `clientela` binary itself: what the README promises of its commands.

mod common;

use std::process::Stdio;
use std::time::Duration;

use clientela::auth::{Keys, Role};
use common::{clientela as bin, sqlite_url, test_config, Process, SECRET};

/// Starts `clientela` with no command and no secret on a free port over
/// `db`; returns the server, its base URL and the admin token it printed.
fn serve(db: &std::path::Path) -> (Process, String, String) {
    let mut cmd = bin();
    cmd.env("DATABASE_URL", sqlite_url(db))
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .stderr(Stdio::null());
    let (server, base) = Process::start(cmd).expect("printed its address");
    let token = server
        .printed(|l| l.starts_with("eyJ"))
        .expect("printed a token");
    (server, base, token.trim().to_owned())
}

#[tokio::test]
async fn serve_without_a_secret_prints_an_admin_token_that_works() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_server, base, token) = serve(&dir.path().join("clientela.db"));
    let client = reqwest::Client::new();
    let create = client
        .post(format!("{base}/api/v2/customers"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"phoneNumber": "+52 (999) 123-4567"}))
        .send()
        .await
        .expect("create");
    assert_eq!(create.status(), 201);
    let list: serde_json::Value = client
        .get(format!("{base}/api/v2/customers"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["customers"][0]["phoneNumber"], "529991234567");
    let unauthenticated = client
        .get(format!("{base}/api/v2/customers"))
        .send()
        .await
        .expect("list");
    assert_eq!(unauthenticated.status(), 401);
}

#[test]
fn token_prints_a_token_for_the_role_tenant_and_subject_asked() {
    let out = bin()
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .args([
            "token", "--role", "viewer", "--tenant", "acme", "--sub", "agent-7", "--ttl", "1h",
        ])
        .output()
        .expect("run token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("utf-8");
    let actor = Keys::new(&test_config(""), Some(SECRET))
        .expect("keys")
        .verify(token.trim())
        .expect("valid token");
    assert_eq!(
        (actor.role, actor.tenant.as_str(), actor.agent.as_str()),
        (Role::Viewer, "acme", "agent-7")
    );
}

#[test]
fn token_without_a_secret_fails_with_a_clear_message() {
    let out = bin()
        .args(["token", "--role", "admin"])
        .output()
        .expect("run token");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CLIENTELA_JWT_SECRET"));
}

#[test]
fn token_refuses_an_unknown_role() {
    let out = bin()
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .args(["token", "--role", "root"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir.path().join("m.db"));
    for _ in 0..2 {
        let out = bin()
            .env("DATABASE_URL", &url)
            .arg("migrate")
            .output()
            .expect("run migrate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("m.db").exists());
}

#[tokio::test]
async fn seed_fills_an_empty_tenant_once_and_the_server_serves_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("seed.db");
    let url = sqlite_url(&db);
    let seed = || {
        bin()
            .env("DATABASE_URL", &url)
            .args(["seed", "--customers", "300", "--batch", "128"])
            .output()
    };
    let out = seed().expect("run seed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = seed().expect("run seed again");
    assert!(
        !again.status.success(),
        "a second seed of the same tenant must refuse"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has customers"));

    let (_server, base, token) = serve(&db);
    let stats: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v2/customers/stats/summary"))
        .bearer_auth(&token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["summary"]["totalCustomers"], 300);
}
