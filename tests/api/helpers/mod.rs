//! The test harness of the `api` binary: a real server on 127.0.0.1:0 over
//! a fresh, migrated database per test (an SQLite file, or a new PostgreSQL
//! database), driven over real HTTP. Typed clients for each face
//! ([`rest`], [`graphql`], [`ws`]), fixtures ([`fixtures`]) and tokens
//! ([`tokens`]) and snapshot settings ([`snapshot`]) live in submodules, so no test file carries a copy.
//! Test files import from here; nothing here imports a test file.
//!
//! PostgreSQL: `CLIENTELA_TEST_POSTGRES_URL` (a server URL whose user may
//! create databases) when set; otherwise a throwaway cluster started from the
//! installed PostgreSQL binaries, stopped when the test process ends; otherwise
//! the PostgreSQL half says loudly that it did not run, and fails when
//! `CLIENTELA_REQUIRE_POSTGRES=1` (as CI sets it).

pub mod fixtures;
pub mod graphql;
pub mod imports;
/// Rows of each model with every nullable column set, or NULL (shared with
/// `service::rows`' unit tests).
#[path = "../../common/model_rows.rs"]
pub mod model_rows;
mod postgres;
pub mod rest;
pub mod snapshot;
pub mod tokens;
pub mod ws;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clientela::auth::Keys;
use clientela::config::{Config, LimitsConfig};
use clientela::{service, AppState};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

#[allow(
    unused_imports,
    reason = "the browser binary reuses this harness without them"
)]
pub use crate::common::{server_process, test_config, Process, SECRET};

/// Statements the server runs, kept while a test records them.
type Recorded = Arc<Mutex<Option<Vec<sea_orm::Statement>>>>;

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
    /// The statements the server runs while recording ([`TestApp::record`]).
    recorded: Recorded,
    /// The server's service context (its process id as import job owner, its lease).
    pub ctx: service::Ctx,
    /// Keeps the SQLite file's folder alive for the test.
    _dir: Option<tempfile::TempDir>,
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
        Self::with_settings(backend, change, service::import::jobs::DEFAULT_LEASE).await
    }

    /// A server like [`TestApp::new`]'s whose import jobs are leased for `lease`.
    pub async fn with_job_lease(backend: Backend, lease: Duration) -> Option<TestApp> {
        Self::with_settings(backend, |_| {}, lease).await
    }

    async fn with_settings(
        backend: Backend,
        change: impl FnOnce(&mut Config),
        lease: Duration,
    ) -> Option<TestApp> {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = crate::common::sqlite_url(&dir.path().join("clientela.db"));
                (url, Some(dir))
            }
            Backend::Postgres => (postgres::postgres_database().await?, None),
        };
        let mut config = test_config(&url);
        change(&mut config);
        let mut db = clientela::db::connect_and_migrate(&url, config.pool_size(&url))
            .await
            .expect("migrate");
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        let recorded = Recorded::default();
        let recorder = recorded.clone();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::SeqCst);
            if let Some(kept) = recorder.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                kept.push(info.statement.clone());
            }
        });
        let keys = Keys::new(&config, Some(SECRET)).expect("keys");
        let ctx = service::Ctx::new(db.clone(), phonenumber::country::Id::MX).with_job_lease(lease);
        recover_jobs(&ctx).await;
        ctx.events
            .listen(&ctx.db, &url)
            .await
            .expect("listen for change events");
        let state =
            AppState::configured(ctx.clone(), keys.clone(), &config.graphql, &config.limits);
        let app = clientela::app(state, Duration::from_secs(30));
        let addr = spawn_server(app, &config.limits).await;
        Some(TestApp {
            addr,
            client: reqwest::Client::new(),
            backend,
            url: url.clone(),
            db,
            keys,
            statements,
            recorded,
            ctx,
            _dir: dir,
        })
    }

    /// A second server over this one's database, started as the binary
    /// starts (a restart after a crash, as far as the database can tell; or
    /// another instance beside this one), with this one's job lease.
    pub async fn restart(&self) -> TestApp {
        let config = test_config(&self.url);
        let db = clientela::db::connect_and_migrate(&self.url, config.pool_size(&self.url))
            .await
            .expect("migrate");
        let keys = Keys::new(&config, Some(SECRET)).expect("keys");
        let ctx = service::Ctx::new(db.clone(), phonenumber::country::Id::MX)
            .with_job_lease(self.ctx.job_lease);
        recover_jobs(&ctx).await;
        let state =
            AppState::configured(ctx.clone(), keys.clone(), &config.graphql, &config.limits);
        let app = clientela::app(state, Duration::from_secs(30));
        let addr = spawn_server(app, &config.limits).await;
        TestApp {
            addr,
            client: reqwest::Client::new(),
            backend: self.backend,
            url: self.url.clone(),
            db,
            keys,
            statements: Arc::new(AtomicUsize::new(0)),
            recorded: Recorded::default(),
            ctx,
            _dir: None,
        }
    }

    /// The statements the server runs during `during`, in order (not on a
    /// [`TestApp::restart`]ed server, which records nothing).
    pub async fn record<T>(
        &self,
        during: impl std::future::Future<Output = T>,
    ) -> (T, Vec<sea_orm::Statement>) {
        let lock = || self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        *lock() = Some(Vec::new());
        let out = during.await;
        let kept = lock().take().unwrap_or_default();
        (out, kept)
    }

    /// How many SQL statements the server has run so far.
    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The status of `GET /healthz` (no token) sent with `client`.
    pub async fn health_with(&self, client: &reqwest::Client) -> StatusCode {
        let resp = client.get(self.url("/healthz")).send().await.expect("send");
        resp.status()
    }

    /// The status of `GET /healthz` (no token).
    pub async fn health(&self) -> StatusCode {
        self.health_with(&self.client).await
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
        rest::send(req).await
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
}

/// As the binary does at start: import jobs whose server stopped (their
/// lease ran out) are failed, then again every half lease while the test runs.
async fn recover_jobs(ctx: &service::Ctx) {
    service::import::jobs::recover(ctx)
        .await
        .expect("recover jobs");
    tokio::spawn(service::import::jobs::run_recovery(
        ctx.clone(),
        std::future::pending(),
    ));
}

/// Serves `app` on 127.0.0.1:0 the way the binary does (connection limits
/// from `limits`, a one-second grace), until the test process ends; its
/// address.
pub async fn spawn_server(app: axum::Router, limits: &LimitsConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = limits.clone();
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
    addr
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
