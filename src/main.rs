//! The `clientela` command: serve (the default), migrate, token, schema.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use clientela::auth::{self, Actor, Keys, Role};
use clientela::config::{Config, ServeConfig};
use clientela::{db, domain, graphql, service, AppState};

#[derive(Parser)]
#[command(
    name = "clientela",
    version,
    about = "Customer-management API: GraphQL + the /api/v2 REST shim"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// `clientela` with no command: serve, configured from the environment.
#[derive(Parser)]
struct DefaultServe {
    #[command(flatten)]
    config: ServeConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default command).
    Serve(ServeConfig),
    /// Bring the database schema up to date, then exit.
    Migrate(Config),
    /// Print a token signed with the configured HS256 secret.
    Token(TokenArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(clap::Args)]
struct TokenArgs {
    #[command(flatten)]
    config: Config,
    /// Role of the token: admin, agent or viewer.
    #[arg(long, default_value = "agent", value_parser = parse_role)]
    role: Role,
    /// Tenant the token acts for.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Agent id (the `sub` claim).
    #[arg(long, default_value = "agent-1")]
    sub: String,
    /// How long the token lives, e.g. 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: Duration,
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "admin" => Ok(Role::Admin),
        "agent" => Ok(Role::Agent),
        "viewer" => Ok(Role::Viewer),
        _ => Err("expected admin, agent or viewer".into()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "clientela=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(DefaultServe::parse_from(["clientela"]).config).await,
        Some(Command::Serve(config)) => serve(config).await,
        Some(Command::Migrate(config)) => {
            db::connect_and_migrate(&config.database_url(), config.db_max_connections).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Some(Command::Token(args)) => {
            let secret = args
                .config
                .jwt_secret
                .clone()
                .context("set CLIENTELA_JWT_SECRET to mint tokens")?;
            let keys = Keys::new(&args.config, Some(&secret))?;
            let actor = Actor {
                agent: args.sub,
                role: args.role,
                tenant: args.tenant,
            };
            println!("{}", keys.mint(&actor, args.ttl)?);
            Ok(())
        }
        Some(Command::Schema) => {
            print!("{}", graphql::sdl());
            Ok(())
        }
    }
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let region = domain::phone::parse_region(&config.config.default_region).with_context(|| {
        format!(
            "unknown CLIENTELA_DEFAULT_REGION {:?}",
            config.config.default_region
        )
    })?;
    let generated = config.config.jwt_secret.is_none();
    let secret = config
        .config
        .jwt_secret
        .clone()
        .unwrap_or_else(auth::random_secret);
    let keys = Keys::new(&config.config, Some(&secret))?;
    let url = config.config.database_url();
    let db = db::connect_and_migrate(&url, config.config.db_max_connections)
        .await
        .context("could not open the database")?;
    let state = AppState::new(service::Ctx::new(db, region), keys.clone());
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("could not listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    println!(
        "Clientela listening on http://{addr}  (GraphQL: http://{addr}/graphql, REST: http://{addr}/api/v2/customers)"
    );
    if generated {
        let admin = Actor {
            agent: "admin".into(),
            role: Role::Admin,
            tenant: "default".into(),
        };
        println!("No CLIENTELA_JWT_SECRET set: this process signs with a random secret.");
        println!(
            "Admin token (tenant \"default\", valid 24h):\n{}",
            keys.mint(&admin, Duration::from_secs(24 * 3600))?
        );
    }
    let app = clientela::app(state, config.request_timeout());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
