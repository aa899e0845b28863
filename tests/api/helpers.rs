//! The test harness: a real server on 127.0.0.1:0 over a fresh, migrated
//! database per test (an SQLite file, or a new PostgreSQL database), driven
//! over real HTTP.
//!
//! PostgreSQL: `CLIENTELA_TEST_POSTGRES_URL` (a server URL whose user may
//! create databases) when set; otherwise a throwaway cluster started from the
//! installed PostgreSQL binaries, stopped when the test process ends; otherwise
//! the PostgreSQL half says loudly that it did not run, and fails when
//! `CLIENTELA_REQUIRE_POSTGRES=1` (as CI sets it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clientela::auth::{Actor, Keys, Role};
use clientela::config::{Config, JwtAlgorithm};
use clientela::{service, AppState};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

/// The HS256 secret every test server verifies with.
pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256!!";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server over its own database.
#[allow(dead_code, reason = "not every test binary module uses every field")]
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// The database URL the server uses.
    pub url: String,
    pub db: sea_orm::DatabaseConnection,
    pub keys: Keys,
    /// SQL statements the server has run so far (SeaORM's metric callback).
    pub statements: Arc<AtomicUsize>,
    /// Keeps the SQLite file's folder alive for the test.
    _dir: Option<tempfile::TempDir>,
}

/// The configuration tests run with.
pub fn test_config(url: &str) -> Config {
    Config {
        database_url: Some(url.to_owned()),
        db_max_connections: 5,
        jwt_secret: Some(SECRET.into()),
        jwt_algorithm: JwtAlgorithm::Hs256,
        jwt_public_key_file: None,
        jwt_issuer: None,
        jwt_audience: None,
        default_region: "MX".to_owned(),
        export_link: Default::default(),
        graphql: Default::default(),
        limits: Default::default(),
    }
}

#[allow(dead_code, reason = "helpers are shared by many test modules")]
impl TestApp {
    /// A server on a fresh database of `backend`; `None` when PostgreSQL is
    /// wanted but cannot be had here (and not required).
    pub async fn new(backend: Backend) -> Option<TestApp> {
        Self::with_config(backend, |_| {}).await
    }

    /// A server like [`TestApp::new`]'s, with `change` applied to its configuration.
    pub async fn with_config(
        backend: Backend,
        change: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("clientela.db").display()
                );
                (url, Some(dir))
            }
            Backend::Postgres => (postgres_database().await?, None),
        };
        let mut config = test_config(&url);
        change(&mut config);
        let mut db = clientela::db::connect_and_migrate(&url, config.db_max_connections)
            .await
            .expect("migrate");
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let keys = Keys::new(&config, Some(SECRET)).expect("keys");
        let ctx = service::Ctx::new(db.clone(), phonenumber::country::Id::MX);
        ctx.events
            .listen(&ctx.db, &url)
            .await
            .expect("listen for change events");
        let state = AppState::configured(ctx, keys.clone(), &config.graphql, &config.limits);
        let app = clientela::app(state, Duration::from_secs(30));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limits = config.limits.clone();
        tokio::spawn(async move {
            clientela::http::serve(
                listener,
                app,
                &limits,
                Duration::from_secs(1),
                std::future::pending(),
            )
            .await
        });
        Some(TestApp {
            addr,
            client: reqwest::Client::new(),
            backend,
            url: url.clone(),
            db,
            keys,
            statements,
            _dir: dir,
        })
    }

    /// How many SQL statements the server has run so far.
    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A token for `role` in `tenant`, valid an hour.
    pub fn token(&self, role: Role, tenant: &str) -> String {
        let actor = Actor {
            agent: format!("{}-agent", role.as_str()),
            role,
            tenant: tenant.to_owned(),
        };
        self.keys
            .mint(&actor, Duration::from_secs(3600))
            .expect("mint")
    }

    /// An admin token of the `default` tenant.
    pub fn admin(&self) -> String {
        self.token(Role::Admin, "default")
    }

    /// A request with a bearer token.
    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Sends a request (JSON body when given) and returns status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.request(method, path, token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Runs a GraphQL operation with `token` and returns the response body.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("send");
        resp.json().await.expect("json")
    }

    /// Opens a socket and sends the head of `POST {path}` with the token, a
    /// JSON content type and the `extra` header lines (each ending in
    /// `\r\n`); the body, if any, is the caller's to write.
    pub async fn raw_post(&self, path: &str, token: &str, extra: &str) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let mut socket = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\n{extra}\r\n",
            self.addr
        );
        socket.write_all(head.as_bytes()).await.expect("send head");
        socket
    }

    /// Creates a customer through REST as admin and returns its document.
    pub async fn create_customer(&self, body: Value) -> Value {
        let (status, resp) = self
            .call(Method::POST, "/api/v2/customers", &self.admin(), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{resp}");
        resp["customer"].clone()
    }
}

/// Reads one response from a raw socket (status line, headers, and the body
/// its Content-Length announces) within `limit`: its status and JSON body.
#[allow(dead_code, reason = "helpers are shared by many test modules")]
pub async fn read_response(
    socket: &mut tokio::net::TcpStream,
    limit: Duration,
) -> (StatusCode, Value) {
    use tokio::io::AsyncReadExt;
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse::<u16>().ok())
                        .and_then(|s| StatusCode::from_u16(s).ok())
                        .expect("status code");
                    let body = &buf[end + 4..end + 4 + length];
                    return (status, serde_json::from_slice(body).unwrap_or(Value::Null));
                }
            }
            let n = socket.read(&mut chunk).await.expect("read response");
            assert!(n > 0, "connection closed before a whole response");
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .expect("the response came in time")
}

/// Runs each named `async fn(TestApp)` on SQLite and on PostgreSQL:
/// `db_tests!(a, b)` makes `sqlite::a`, `postgres::a`, ...; with
/// `db_tests!(with make => a, b)` each gets its server from
/// `make(backend) -> Option<TestApp>` (a configured one) instead.
#[macro_export]
macro_rules! db_tests {
    (with $make:ident => $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = super::$make($crate::helpers::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = super::$make($crate::helpers::Backend::Postgres).await else {
                        return;
                    };
                    super::$name(app).await;
                }
            )+
        }
    };
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::new($crate::helpers::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::new($crate::helpers::Backend::Postgres).await else {
                        return;
                    };
                    super::$name(app).await;
                }
            )+
        }
    };
}

/// The PostgreSQL server the tests use: its admin URL, without a database.
fn postgres_server() -> Option<&'static str> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let server = match std::env::var("CLIENTELA_TEST_POSTGRES_URL") {
                Ok(url) if !url.is_empty() => Some(url),
                _ => start_cluster().map_err(|why| eprintln!("could not start PostgreSQL: {why}")).ok(),
            };
            if server.is_none() {
                eprintln!(
                    "\n*** THE POSTGRESQL HALF OF THE SUITE DID NOT RUN: set CLIENTELA_TEST_POSTGRES_URL or install \
                     PostgreSQL (initdb, postgres) ***\n"
                );
                assert!(
                    std::env::var("CLIENTELA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "CLIENTELA_REQUIRE_POSTGRES=1 but no PostgreSQL could be had"
                );
            }
            server
        })
        .as_deref()
}

/// A fresh database on the test server; its URL.
async fn postgres_database() -> Option<String> {
    use sea_orm::ConnectionTrait;
    let server = postgres_server()?;
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let admin = sea_orm::Database::connect(format!("{server}/postgres"))
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    Some(format!("{server}/{name}"))
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin").join(name));
    in_path.chain(debian).find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs `program args` as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root), else as ourselves.
fn command_as_postgres(program: &Path) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if is_root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Starts a throwaway cluster in a temp folder on a free port. A watchdog
/// stops it and removes the folder once this test process has exited.
fn start_cluster() -> Result<String, String> {
    let initdb = find_binary("initdb").ok_or("initdb not found")?;
    let postgres = find_binary("postgres").ok_or("postgres not found")?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("clientela-pg-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // The postgres user must own the folder when we run as root.
    let _ = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&dir)
        .status();
    let data = dir.join("data");
    let out = command_as_postgres(&initdb)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = free_port();
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 >'{dir}/log' 2>&1 & pg=$!; \
         while [ -d /proc/{pid} ]; do sleep 1; done; kill -INT $pg; wait $pg; rm -rf '{dir}'",
        postgres = postgres.display(),
        data = data.display(),
        dir = dir.display(),
        pid = std::process::id(),
    );
    let mut watchdog = command_as_postgres(Path::new("/bin/sh"));
    watchdog
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    watchdog.spawn().map_err(|e| e.to_string())?;
    let url = format!("postgres://postgres@127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(Duration::from_millis(200));
            return Ok(url);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "PostgreSQL did not start; see {}/log",
        dir.display()
    ))
}

/// A `clientela` server process (the real binary); killed when dropped.
pub struct Process(std::process::Child, Arc<std::sync::Mutex<Vec<String>>>);

#[allow(dead_code, reason = "not every test module reads the process id")]
impl Process {
    /// The base URL of the metrics address the server printed
    /// (`Metrics on http://host:port/metrics`), waiting a few seconds for it.
    pub fn metrics_base(&self) -> Option<String> {
        for _ in 0..50 {
            let lines = self.1.lock().expect("stdout lines").clone();
            if let Some(url) = lines.iter().find_map(|l| l.strip_prefix("Metrics on ")) {
                return Some(url.trim_end_matches("/metrics").to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Sends the server SIGTERM, as a service manager stopping it would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "SIGTERM delivered");
    }

    /// The server's exit status, if it exits within `wait`.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The operating system's id of the server process.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// The server's resident memory now (VmRSS), in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server is running");
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kib * 1024
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server process over `database_url` with extra environment
/// variables; returns it and its base URL (`http://127.0.0.1:port`).
pub fn server_process(database_url: &str, env: &[(&str, &str)]) -> (Process, String) {
    use std::io::{BufRead, BufReader};
    let child = Command::new(env!("CARGO_BIN_EXE_clientela"))
        .env("DATABASE_URL", database_url)
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start clientela");
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut process = Process(child, lines.clone());
    let stdout = process.0.stdout.take().expect("stdout");
    let mut stdout = BufReader::new(stdout).lines().map_while(Result::ok);
    let line = stdout
        .by_ref()
        .find(|l| l.starts_with("Clientela listening on "));
    let line = line.expect("the server printed its address");
    // Keep reading what it prints later (and never let its pipe fill up).
    std::thread::spawn(move || {
        for line in stdout {
            lines.lock().expect("stdout lines").push(line);
        }
    });
    let base = line
        .trim_start_matches("Clientela listening on ")
        .split_whitespace()
        .next()
        .expect("address");
    (process, base.to_owned())
}

/// Sends raw bytes on a new connection to `addr` and returns everything the
/// server answers before it closes or `wait` passes.
pub async fn raw_exchange(addr: SocketAddr, request: &[u8], wait: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    socket.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}
