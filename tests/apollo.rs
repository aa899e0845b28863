//! Apollo Client compatibility: the Node suite in `tests/apollo/` (real
//! `@apollo/client` 4 with `graphql-ws`, pinned by its package-lock.json)
//! runs against the real `clientela` binary serving a fresh SQLite file.
//!
//! This test starts the server, mints an admin and a viewer token with the
//! binary's `token` command, runs `node --test` in `tests/apollo/` with
//! `CLIENTELA_URL`, `CLIENTELA_TOKEN` and `CLIENTELA_VIEWER_TOKEN`, prints
//! node's report and fails when any Apollo test fails. It installs the Node
//! packages with `npm ci` when `tests/apollo/node_modules` is missing or older
//! than the lock file (`.ci/run` installs them up front).
//!
//! Needs Node.js 20 or later. Without it the test fails when `CI=true` and
//! elsewhere says loudly that it did not run.

mod common;

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cli_token, clientela, sqlite_url, Process, SECRET};
/// How long the whole Node suite may take on a busy machine.
const NODE_DEADLINE: Duration = Duration::from_secs(300);

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apollo")
}

/// Whether Node.js 20+ is installed; panics when it is missing under `CI=true`.
fn node_installed() -> bool {
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let major = version
        .as_deref()
        .and_then(|v| v.strip_prefix('v')?.split('.').next()?.parse::<u32>().ok());
    if major.is_some_and(|m| m >= 20) {
        return true;
    }
    let found = version.map_or_else(|| "no `node`".to_owned(), |v| format!("node {v}"));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{found} found: CI must run the Apollo Client suite (needs Node.js 20+ and npm)"
    );
    // Written to the process's stderr directly: the test harness would
    // swallow an eprintln! of a passing test.
    let bar = "!".repeat(78);
    let _ = writeln!(
        std::io::stderr(),
        "\n{bar}\n!! SKIPPED: the Apollo Client compatibility suite did NOT run: {found} found.\n\
         !! Install Node.js 20+ and npm to run it (CI=true makes this a failure).\n{bar}\n"
    );
    false
}

/// Runs `npm ci` in the suite's directory unless its packages are installed
/// from the current lock file.
fn install_packages(dir: &Path) {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    if installed.is_some() && installed >= locked {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .expect("run npm (it comes with Node.js)");
    assert!(
        out.status.success(),
        "npm ci in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A token of the default tenant for `role`, naming `sub`, valid an hour.
fn mint(role: &str, sub: &str) -> String {
    cli_token(&[
        "--role", role, "--tenant", "default", "--sub", sub, "--ttl", "1h",
    ])
}

/// The real server over a fresh SQLite file, logging to a file there.
struct Server {
    base: String,
    log: PathBuf,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("server.log");
        let mut cmd = clientela();
        cmd.env("DATABASE_URL", sqlite_url(&dir.path().join("x.db")))
            .env("CLIENTELA_JWT_SECRET", SECRET)
            .env("CLIENTELA_ADDR", "127.0.0.1:0")
            .stderr(std::fs::File::create(&log).expect("server log"));
        let Some((process, base)) = Process::start(cmd) else {
            panic!(
                "clientela did not print its address; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Server {
            base,
            log,
            _process: process,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Reads a child's pipe to the end on its own thread.
fn drain(pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = BufReader::new(pipe).read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[test]
fn apollo_client_4_works_against_the_real_server() {
    if !node_installed() {
        return;
    }
    let dir = suite_dir();
    install_packages(&dir);

    let server = Server::start();
    let admin = mint("admin", "apollo-admin");
    let viewer = mint("viewer", "apollo-viewer");

    let mut node = Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .current_dir(&dir)
        .env("CLIENTELA_URL", &server.base)
        .env("CLIENTELA_TOKEN", &admin)
        .env("CLIENTELA_VIEWER_TOKEN", &viewer)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node --test");
    let stdout = drain(node.stdout.take().expect("stdout"));
    let stderr = drain(node.stderr.take().expect("stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = node.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > NODE_DEADLINE {
            let _ = node.kill();
            let _ = node.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    println!("== node --test (tests/apollo)\n{stdout}");
    if !stderr.trim().is_empty() {
        println!("== node stderr\n{stderr}");
    }
    let Some(status) = status else {
        panic!(
            "the Apollo suite did not finish within {NODE_DEADLINE:?} (output above); server log:\n{}",
            server.log()
        );
    };
    assert!(
        status.success(),
        "the Apollo Client suite failed ({status}); node's report is above. Server log:\n{}",
        server.log()
    );
}
