//! Configuration: one clap struct, every field settable by flag or environment
//! variable. Each field's doc line is its line in the README's table.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use secrecy::SecretString;

/// A secret from the command line or environment, kept out of `Debug` output
/// (and so out of any log of the configuration).
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// The signing algorithm tokens must use; any other (and `none`) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    Hs256,
    /// RSA signatures, verified with a public key.
    Rs256,
    /// ECDSA P-256 signatures, verified with a public key.
    Es256,
}

/// Settings shared by every command that touches the database or tokens.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://path?mode=rwc` or `postgres://user:pass@host/db`. Default: `clientela.db` next to the binary.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Largest number of pooled database connections. Default: 10 on PostgreSQL; on SQLite twice the CPUs the process may use, at least 2 and at most 10.
    #[arg(long, env = "CLIENTELA_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,

    /// HS256 secret for tokens. Unset: `serve` makes a random one per process and prints an admin token.
    #[arg(long, env = "CLIENTELA_JWT_SECRET", hide_env_values = true, value_parser = secret)]
    pub jwt_secret: Option<SecretString>,

    /// Algorithm tokens must be signed with: HS256, RS256 or ES256.
    #[arg(
        long,
        env = "CLIENTELA_JWT_ALGORITHM",
        value_enum,
        default_value = "HS256"
    )]
    pub jwt_algorithm: JwtAlgorithm,

    /// PEM file with the public key that verifies RS256/ES256 tokens.
    #[arg(long, env = "CLIENTELA_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Required `iss` claim, when set.
    #[arg(long, env = "CLIENTELA_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim, when set.
    #[arg(long, env = "CLIENTELA_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Region for phone numbers written without a country code (ISO 3166 code).
    #[arg(long, env = "CLIENTELA_DEFAULT_REGION", default_value = "MX")]
    pub default_region: String,

    #[command(flatten)]
    pub export_link: ExportLinkConfig,

    #[command(flatten)]
    pub graphql: GraphqlConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,
}

/// Settings of the short-lived export links (GraphQL `exportLink`).
#[derive(Debug, Clone, Args)]
pub struct ExportLinkConfig {
    /// Secret (at least 32 bytes) that signs export links. Default: derived from `CLIENTELA_JWT_SECRET`; with RS256/ES256 and no secret, `exportLink` is unavailable.
    #[arg(long, env = "CLIENTELA_EXPORT_LINK_SECRET", hide_env_values = true, value_parser = secret)]
    pub export_link_secret: Option<SecretString>,

    /// Seconds an export link stays valid.
    #[arg(long, env = "CLIENTELA_EXPORT_LINK_TTL", default_value_t = 300)]
    pub export_link_ttl: u64,
}

impl Default for ExportLinkConfig {
    fn default() -> Self {
        Self {
            export_link_secret: None,
            export_link_ttl: 300,
        }
    }
}

/// Limits of the public GraphQL endpoint.
#[derive(Debug, Clone, Args)]
pub struct GraphqlConfig {
    /// Deepest selection a GraphQL operation may nest.
    #[arg(long, env = "CLIENTELA_GRAPHQL_MAX_DEPTH", default_value_t = 12)]
    pub graphql_max_depth: usize,

    /// Highest cost a GraphQL operation may have: each field costs 1, and a list field costs its `limit`/`first` (its default when absent) times its children's cost.
    #[arg(
        long,
        env = "CLIENTELA_GRAPHQL_MAX_COMPLEXITY",
        default_value_t = 10_000
    )]
    pub graphql_max_complexity: usize,

    /// Most field aliases one GraphQL document may use.
    #[arg(long, env = "CLIENTELA_GRAPHQL_MAX_ALIASES", default_value_t = 30)]
    pub graphql_max_aliases: usize,

    /// Most operations one batched GraphQL request (a JSON array) may carry.
    #[arg(long, env = "CLIENTELA_GRAPHQL_MAX_BATCH", default_value_t = 10)]
    pub graphql_max_batch: usize,

    /// Whether GraphQL introspection (`__schema`, `__type`) is answered: true or false.
    #[arg(
        long,
        env = "CLIENTELA_GRAPHQL_INTROSPECTION",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub graphql_introspection: bool,

    /// Queries kept for Apollo automatic persisted queries (per process, least recently used dropped).
    #[arg(long, env = "CLIENTELA_GRAPHQL_APQ_CACHE", default_value_t = 1000)]
    pub graphql_apq_cache: usize,

    /// Bytes the document cache may hold in all: parsed queries and their texts (least recently used dropped).
    #[arg(long, env = "CLIENTELA_GRAPHQL_APQ_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub graphql_apq_cache_bytes: usize,

    /// Largest GraphQL query document in bytes (variables not counted).
    #[arg(long, env = "CLIENTELA_GRAPHQL_MAX_DOCUMENT", default_value_t = 100 * 1024)]
    pub graphql_max_document: usize,

    /// Most GraphQL requests over HTTP executed at once; the others wait their turn. Default: twice the database pool.
    #[arg(long, env = "CLIENTELA_GRAPHQL_MAX_RUNNING", value_parser = clap::value_parser!(u32).range(1..))]
    pub graphql_max_running: Option<u32>,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            graphql_max_depth: 12,
            graphql_max_complexity: 10_000,
            graphql_max_aliases: 30,
            graphql_max_batch: 10,
            graphql_introspection: true,
            graphql_apq_cache: 1000,
            graphql_apq_cache_bytes: 8 * 1024 * 1024,
            graphql_max_document: 100 * 1024,
            graphql_max_running: None,
        }
    }
}

/// Limits that keep slow, broken or hostile clients from stalling, starving
/// or ballooning the server.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Requests per second one token (or, without a valid token, one client address) may make; bursts of twice that pass. 0 turns rate limiting off.
    #[arg(long, env = "CLIENTELA_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,

    /// Seconds a client may accept no bytes of a response (an export, say) before it is disconnected.
    #[arg(long, env = "CLIENTELA_SEND_TIMEOUT", default_value_t = 30)]
    pub send_timeout_secs: u64,

    /// Seconds a client has to send a whole request head; also how long an idle keep-alive connection stays open.
    #[arg(long, env = "CLIENTELA_HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Most open client connections; more are answered 503 and closed.
    #[arg(long, env = "CLIENTELA_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most open connections from one client address; more are answered 503 and closed.
    #[arg(long, env = "CLIENTELA_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,

    /// Most exports one tenant may stream at once; more are answered 429.
    #[arg(long, env = "CLIENTELA_MAX_EXPORTS_PER_TENANT", default_value_t = 4)]
    pub max_exports_per_tenant: usize,

    /// Largest WebSocket message (and frame) in bytes on /graphql/ws.
    #[arg(long, env = "CLIENTELA_WS_MAX_MESSAGE", default_value_t = 1024 * 1024)]
    pub ws_max_message: usize,

    /// Seconds a WebSocket has to send `connection_init` before it is closed (4408).
    #[arg(long, env = "CLIENTELA_WS_INIT_TIMEOUT", default_value_t = 10)]
    pub ws_init_timeout_secs: u64,

    /// Most WebSockets one token may hold open at once.
    #[arg(long, env = "CLIENTELA_WS_MAX_PER_TOKEN", default_value_t = 16)]
    pub ws_max_per_token: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            rate_limit: 100,
            send_timeout_secs: 30,
            header_read_timeout_secs: 10,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            max_exports_per_tenant: 4,
            ws_max_message: 1024 * 1024,
            ws_init_timeout_secs: 10,
            ws_max_per_token: 16,
        }
    }
}

impl LimitsConfig {
    /// [`Self::send_timeout_secs`] as a duration.
    pub fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.send_timeout_secs)
    }

    /// [`Self::header_read_timeout_secs`] as a duration.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// [`Self::ws_init_timeout_secs`] as a duration.
    pub fn ws_init_timeout(&self) -> Duration {
        Duration::from_secs(self.ws_init_timeout_secs)
    }
}

/// Settings of the `serve` command.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub config: Config,

    /// Address to listen on.
    #[arg(long, env = "CLIENTELA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "CLIENTELA_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Seconds a SIGTERM (or Ctrl-C) leaves open requests and exports to finish before the server exits; a second signal exits at once.
    #[arg(long, env = "CLIENTELA_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// Serve Prometheus metrics at `/metrics` on the main address: true or false.
    #[arg(long, env = "CLIENTELA_METRICS", default_value_t = false, action = clap::ArgAction::Set)]
    pub metrics: bool,

    /// Serve Prometheus metrics at `/metrics` on this address of their own (e.g. `127.0.0.1:9090`).
    #[arg(long, env = "CLIENTELA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Days a soft-deleted customer stays in the trash, restorable, before the sweep deletes it for good.
    #[arg(long, env = "CLIENTELA_TRASH_DAYS", default_value_t = 30)]
    pub trash_days: u32,

    /// Seconds between two sweeps of the trash (at least 1).
    #[arg(long, env = "CLIENTELA_TRASH_SWEEP_SECS", default_value_t = 600)]
    pub trash_sweep_secs: u64,

    /// Seconds an import job's server may go without writing the job's heartbeat before any server sharing the database marks the job failed (at least 1).
    #[arg(long, env = "CLIENTELA_IMPORT_JOB_LEASE_SECS", default_value_t = 60)]
    pub import_job_lease_secs: u64,
}

impl ServeConfig {
    /// The request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The shutdown grace period as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The period of the trash sweep as a duration.
    pub fn trash_sweep_period(&self) -> Duration {
        Duration::from_secs(self.trash_sweep_secs.max(1))
    }

    /// The lease of import jobs as a duration.
    pub fn import_job_lease(&self) -> Duration {
        Duration::from_secs(self.import_job_lease_secs.max(1))
    }
}

impl Config {
    /// The database URL, defaulting to an SQLite file next to the running binary.
    pub fn database_url(&self) -> String {
        if let Some(url) = &self.database_url {
            return url.clone();
        }
        let dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        format!("sqlite://{}?mode=rwc", dir.join("clientela.db").display())
    }

    /// The largest number of pooled connections to `url`: as configured,
    /// else 10 for PostgreSQL, and for SQLite twice the CPUs this process
    /// may use (at least 2, at most 10). Each SQLite connection is a thread
    /// of its own that runs its statements on this machine's CPUs; with
    /// more of them than the CPUs can run, they only take turns. On 2 CPUs,
    /// 4 connections served 18 % more list pages and 49 % more nested lists
    /// than 10 did, and no scenario fewer (`bench/RESULTS.md`, session 19).
    pub fn pool_size(&self, url: &str) -> u32 {
        if let Some(configured) = self.db_max_connections {
            return configured;
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return 10;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        u32::try_from(cpus.saturating_mul(2)).map_or(10, |n| n.clamp(2, 10))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let cli = Cli::try_parse_from([
            "clientela",
            "--jwt-secret",
            "a-jwt-secret-nobody-may-read-0123456789",
            "--export-link-secret",
            "a-link-secret-nobody-may-read-0123456789",
        ])
        .expect("parse");
        let shown = format!("{:?}", cli.config);
        assert!(!shown.contains("nobody-may-read"), "{shown}");
        assert!(cli.config.jwt_secret.is_some());
    }

    #[test]
    fn the_pool_is_as_configured_else_sized_by_the_database() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).expect("parse").config;
        let default = parse(&["clientela"]);
        let sqlite = "sqlite://clientela.db?mode=rwc";
        assert_eq!(default.pool_size("postgres://u@h/db"), 10);
        assert_eq!(default.pool_size("postgresql://u@h/db"), 10);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let want = u32::try_from(2 * cpus).unwrap_or(10).clamp(2, 10);
        assert_eq!(default.pool_size(sqlite), want);
        let configured = parse(&["clientela", "--db-max-connections", "7"]);
        assert_eq!(configured.pool_size(sqlite), 7);
        assert_eq!(configured.pool_size("postgres://u@h/db"), 7);
    }

    #[test]
    fn defaults_in_code_match_the_documented_ones() {
        let cli = Cli::try_parse_from(["clientela"]).expect("parse");
        let (ours, clap) = (GraphqlConfig::default(), cli.config.graphql);
        assert_eq!(
            (
                ours.graphql_max_depth,
                ours.graphql_max_complexity,
                ours.graphql_max_aliases,
                ours.graphql_max_batch,
                ours.graphql_introspection,
                ours.graphql_apq_cache,
                ours.graphql_apq_cache_bytes,
                ours.graphql_max_document,
                ours.graphql_max_running,
            ),
            (
                clap.graphql_max_depth,
                clap.graphql_max_complexity,
                clap.graphql_max_aliases,
                clap.graphql_max_batch,
                clap.graphql_introspection,
                clap.graphql_apq_cache,
                clap.graphql_apq_cache_bytes,
                clap.graphql_max_document,
                clap.graphql_max_running,
            )
        );
        let (ours, clap) = (LimitsConfig::default(), cli.config.limits);
        assert_eq!(format!("{ours:?}"), format!("{clap:?}"));
        assert_eq!(
            ExportLinkConfig::default().export_link_ttl,
            cli.config.export_link.export_link_ttl
        );
    }
}
