//! The `clientela` binary itself: what the README promises of its commands.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clientela::auth::{Keys, Role};
use clientela::config::{Config, JwtAlgorithm};

const SECRET: &str = "cli-test-secret-that-is-long-enough-0123456789";

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clientela"));
    cmd.env_remove("CLIENTELA_JWT_SECRET")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    cmd
}

fn config() -> Config {
    Config {
        database_url: None,
        db_max_connections: 1,
        jwt_secret: Some(SECRET.into()),
        jwt_algorithm: JwtAlgorithm::Hs256,
        jwt_public_key_file: None,
        jwt_issuer: None,
        jwt_audience: None,
        default_region: "MX".into(),
        export_link: Default::default(),
        graphql: Default::default(),
        limits: Default::default(),
    }
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `clientela` with no command on a free port over `db`; returns the
/// server, its base URL and the admin token it printed.
fn serve(db: &std::path::Path) -> (Server, String, String) {
    let child = bin()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clientela");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    let mut token = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("Clientela listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("eyJ") {
            token = Some(line.trim().to_owned());
            break;
        }
    }
    (
        server,
        base.expect("printed its address"),
        token.expect("printed a token"),
    )
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
    let actor = Keys::new(&config(), Some(SECRET))
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
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
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
    let url = format!("sqlite://{}?mode=rwc", db.display());
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
