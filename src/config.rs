//! Configuration: one clap struct, every field settable by flag or environment
//! variable. Each field's doc line is its line in the README's table.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

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

    /// Largest number of pooled database connections.
    #[arg(long, env = "CLIENTELA_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// HS256 secret for tokens. Unset: `serve` makes a random one per process and prints an admin token.
    #[arg(long, env = "CLIENTELA_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

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
}

/// Settings of the short-lived export links (GraphQL `exportLink`).
#[derive(Debug, Clone, Args)]
pub struct ExportLinkConfig {
    /// Secret (at least 32 bytes) that signs export links. Default: derived from `CLIENTELA_JWT_SECRET`; with RS256/ES256 and no secret, `exportLink` is unavailable.
    #[arg(long, env = "CLIENTELA_EXPORT_LINK_SECRET", hide_env_values = true)]
    pub export_link_secret: Option<String>,

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

    /// Highest complexity (fields selected) a GraphQL operation may have.
    #[arg(long, env = "CLIENTELA_GRAPHQL_MAX_COMPLEXITY", default_value_t = 2000)]
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
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            graphql_max_depth: 12,
            graphql_max_complexity: 2000,
            graphql_max_aliases: 30,
            graphql_max_batch: 10,
            graphql_introspection: true,
            graphql_apq_cache: 1000,
        }
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
}

impl ServeConfig {
    /// The request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
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
                ours.graphql_apq_cache
            ),
            (
                clap.graphql_max_depth,
                clap.graphql_max_complexity,
                clap.graphql_max_aliases,
                clap.graphql_max_batch,
                clap.graphql_introspection,
                clap.graphql_apq_cache
            )
        );
        assert_eq!(
            ExportLinkConfig::default().export_link_ttl,
            cli.config.export_link.export_link_ttl
        );
    }
}
