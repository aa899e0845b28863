//! What every test binary shares (`mod common;`, and the `api` binary's
//! helpers through a `#[path]`): the test secret and configuration, the real
//! `clientela` binary as a server process or a token minter, and the check
//! that a committed, exported document matches the code. It imports nothing
//! of any one test binary.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the shared code"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clientela::config::{Config, JwtAlgorithm};

/// The HS256 secret every test server verifies with.
pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256!!";

/// The line the server prints once it listens, followed by its base URL.
const LISTENING: &str = "Clientela listening on ";

/// The configuration tests run with, over `url`.
pub fn test_config(url: &str) -> Config {
    Config {
        database_url: Some(url.to_owned()),
        db_max_connections: Some(5),
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

/// The URL of an SQLite file at `path`, created when missing.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The `clientela` binary with a clean environment: no database, no
/// secret, `RUST_LOG=warn`.
pub fn clientela() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clientela"));
    cmd.env_remove("CLIENTELA_JWT_SECRET")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    cmd
}

/// A token from `clientela token` with [`SECRET`] and these arguments
/// (`--role admin`, `--tenant acme`, ...).
pub fn cli_token(args: &[&str]) -> String {
    let out = clientela()
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .arg("token")
        .args(args)
        .output()
        .expect("run clientela token");
    assert!(
        out.status.success(),
        "clientela token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 token")
        .trim()
        .to_owned()
}

/// A `clientela` server process (the real binary); killed when dropped.
pub struct Process {
    child: Child,
    /// What it printed after its address (read on, so its pipe never fills).
    lines: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Spawns `cmd` with its stdout piped here and waits for the address it
    /// prints; the process and its base URL (`http://127.0.0.1:port`), or
    /// `None` when it ended without printing one.
    pub fn start(mut cmd: Command) -> Option<(Process, String)> {
        use std::io::{BufRead, BufReader};
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start clientela");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let process = Process {
            child,
            lines: lines.clone(),
        };
        let mut stdout = BufReader::new(stdout).lines().map_while(Result::ok);
        let base = stdout.by_ref().find_map(|l| {
            Some(
                l.strip_prefix(LISTENING)?
                    .split_whitespace()
                    .next()?
                    .to_owned(),
            )
        })?;
        std::thread::spawn(move || {
            for line in stdout {
                lines.lock().expect("stdout lines").push(line);
            }
        });
        Some((process, base))
    }

    /// The first line printed after the address that `matches`, waiting up
    /// to five seconds for it.
    pub fn printed(&self, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let lines = self.lines.lock().expect("stdout lines");
            if let Some(line) = lines.iter().find(|l| matches(l)) {
                return Some(line.clone());
            }
            drop(lines);
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The base URL of the metrics address the server printed
    /// (`Metrics on http://host:port/metrics`), waiting a few seconds for it.
    pub fn metrics_base(&self) -> Option<String> {
        let line = self.printed(|l| l.starts_with("Metrics on "))?;
        Some(
            line.trim_start_matches("Metrics on ")
                .trim_end_matches("/metrics")
                .to_owned(),
        )
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
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The operating system's id of the server process.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server process over `database_url` with [`SECRET`] and extra
/// environment variables; returns it and its base URL.
pub fn server_process(database_url: &str, env: &[(&str, &str)]) -> (Process, String) {
    let mut cmd = clientela();
    cmd.env("DATABASE_URL", database_url)
        .env("CLIENTELA_JWT_SECRET", SECRET)
        .env("CLIENTELA_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stderr(Stdio::null());
    Process::start(cmd).expect("the server printed its address")
}

/// Whether this run must not skip checks (CI sets `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Fails unless the committed file `name` (at the crate root) is exactly
/// `exported`; the message names the first difference and says how to
/// regenerate the file.
pub fn assert_committed(name: &str, exported: &str, regenerate: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; {regenerate}", path.display()));
    if committed == exported {
        return;
    }
    let first_difference = committed
        .lines()
        .zip(exported.lines())
        .enumerate()
        .find(|(_, (c, e))| c != e)
        .map(|(i, (c, e))| format!("line {}:\n  committed: {c}\n  code:      {e}", i + 1))
        .unwrap_or_else(|| {
            format!(
                "one is a prefix of the other ({} vs {} lines, or line endings differ)",
                committed.lines().count(),
                exported.lines().count()
            )
        });
    panic!("{name} is out of date with the code; {regenerate}.\nFirst difference at {first_difference}");
}
