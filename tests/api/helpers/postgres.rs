//! The PostgreSQL half of the harness: a fresh database per test on
//! `CLIENTELA_TEST_POSTGRES_URL`, or on a throwaway cluster started from the
//! installed binaries and stopped when the test process ends. It knows
//! nothing of the server under test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
pub async fn postgres_database() -> Option<String> {
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
