//! The `clientela` command: serve (the default), migrate, token, schema, openapi.

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use clientela::auth::{self, Actor, Keys, Role};
use clientela::config::{Config, ServeConfig};
use clientela::{db, domain, graphql, service, AppState};
use secrecy::ExposeSecret;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// mimalloc instead of the C library's allocator for Rust's allocations: a
/// fifth of the server's instructions for a nested GraphQL page went to
/// glibc's `malloc` and `free` (`callgrind`, `bench/RESULTS.md`, session
/// 17). Built without transparent huge pages (`no_thp`): with them its
/// peak resident memory under load was 58–66 MB against glibc's 42 MB;
/// without, 45–50 MB, and 31–46 MB through the peer kit's scenarios.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "clientela",
    version,
    about = "Customer-management API: GraphQL + the /api/v2 REST shim"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Log lines as text for people or as one JSON object per line for machines: text or json.
    #[arg(
        long,
        env = "CLIENTELA_LOG_FORMAT",
        global = true,
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the request's span fields (request id,
    /// tenant, route or operation) beside the event's (status, latency).
    Json,
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
    /// Fill a tenant with deterministic demo data (customers, conversations, messages, tickets).
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Recompute every derived value (statistics, search text, phone and tag rows) from the rows; safe while serving.
    Recount(RecountArgs),
    /// Print the OpenAPI 3.1 document of the REST API (`/api/v2`).
    Openapi,
}

#[derive(clap::Args)]
struct RecountArgs {
    #[command(flatten)]
    config: Config,
    /// Tenant to recount; every tenant when omitted.
    #[arg(long)]
    tenant: Option<String>,
    /// Customers recounted per transaction.
    #[arg(long, default_value_t = 500)]
    batch: u64,
}

#[derive(clap::Args)]
struct SeedArgs {
    #[command(flatten)]
    config: Config,
    /// How many customers to create.
    #[arg(long, default_value_t = 1000)]
    customers: u64,
    /// Seed of the generator: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Tenant to fill; it must have no customers yet.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// Customers written per transaction.
    #[arg(long, default_value_t = 2000)]
    batch: u64,
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

fn main() -> anyhow::Result<()> {
    purge_freed_memory_at_once();
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// At most two glibc malloc arenas, for what C code allocates (SQLite's
/// pages and statements; Rust's allocations go to [`ALLOCATOR`]). By
/// default glibc gives threads up to eight arenas per core, and the server
/// has many threads (the runtime's, one per pooled SQLite connection,
/// blocking work): each arena keeps its own freed memory, which showed as a
/// third of the resident memory under load. Set before any thread starts,
/// so every thread shares the two.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets an allocator parameter; it is called
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// mimalloc 3's `mi_option_purge_delay`, which libmimalloc-sys does not
/// name: the option before `mi_option_use_numa_nodes` (Cargo.lock pins
/// the mimalloc it builds; the test checks the option's default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// mimalloc gives memory freed back to the system at once, not a second
/// later (its default). Under 32 concurrent nested pages (S5) at 1,000,000
/// customers the SQLite server's peak resident memory was 48–49 MB with
/// this against 56 MB without (a fresh server, S5 alone), and 54 MB against
/// 60–63 MB after every other scenario had run; the rate of each scenario
/// moved within the machine's noise (`bench/RESULTS.md`, session 23).
/// `MIMALLOC_PURGE_DELAY`, when set, still decides.
#[allow(unsafe_code)]
fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one of the allocator's options; called first in `main`,
    // before any other thread exists (the setter is not thread-safe).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// What is logged when `RUST_LOG` does not say (or says something that is
/// not a filter).
const DEFAULT_LOG_FILTER: &str = "clientela=info,tower_http=info";

/// The log filter `RUST_LOG` gives. One of targets and levels only (the
/// default, and the usual kind) is a [`Targets`] filter, which decides
/// once per call site; one with span or field directives
/// (`target[span{field=value}]=level`) needs an [`EnvFilter`], which also
/// looks each span up on every entry and exit: 2.5 % of the server's CPU
/// under issue 9's S5 (`perf`, `bench/RESULTS.md`, session 26).
///
/// [`Targets`]: tracing_subscriber::filter::Targets
/// [`EnvFilter`]: tracing_subscriber::EnvFilter
fn log_filter() -> Box<dyn Layer<Registry> + Send + Sync> {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::EnvFilter;
    let wanted = std::env::var("RUST_LOG").ok();
    let text = match wanted.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LOG_FILTER,
        Some(text) => text,
    };
    if !text.contains('[') {
        if let Ok(targets) = text.parse::<Targets>() {
            return Box::new(targets);
        }
    }
    Box::new(EnvFilter::try_new(text).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)))
}

/// Whether text log lines are coloured: only for a person at a terminal
/// who did not ask for no colour (`NO_COLOR`). A file, a pipe or the journal
/// gets plain text, which is also cheaper to write: the colour codes were a
/// third of the work of logging a request (`bench/RESULTS.md`, session 27).
fn colour_logs() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::registry().with(log_filter());
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs());
    match cli.log_format {
        LogFormat::Text => logs.with(lines).init(),
        LogFormat::Json => logs
            .with(
                lines
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .init(),
    }
    match cli.command {
        None => serve(DefaultServe::parse_from(["clientela"]).config).await,
        Some(Command::Serve(config)) => serve(config).await,
        Some(Command::Migrate(config)) => {
            let url = config.database_url();
            db::connect_and_migrate(&url, config.pool_size(&url)).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Some(Command::Token(args)) => {
            let secret = args
                .config
                .jwt_secret
                .as_ref()
                .context("set CLIENTELA_JWT_SECRET to mint tokens")?;
            let keys = Keys::new(&args.config, Some(secret.expose_secret()))?;
            let actor = Actor {
                agent: args.sub,
                role: args.role,
                tenant: args.tenant,
            };
            println!("{}", keys.mint(&actor, args.ttl)?);
            Ok(())
        }
        Some(Command::Seed(args)) => seed(args).await,
        Some(Command::Recount(args)) => recount(args).await,
        Some(Command::Schema) => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Some(Command::Openapi) => {
            print!("{}", clientela::rest::openapi::document());
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
    let secret = match &config.config.jwt_secret {
        Some(configured) => configured.expose_secret().to_owned(),
        None => auth::random_secret(),
    };
    let keys = Keys::new(&config.config, Some(&secret))?;
    let url = config.config.database_url();
    let mut db = db::connect_and_migrate(&url, config.config.pool_size(&url))
        .await
        .context("could not open the database")?;
    let metrics = if config.metrics || config.metrics_addr.is_some() {
        clientela::http::metrics::time_statements(&mut db);
        Some(clientela::http::metrics::install()?)
    } else {
        None
    };
    let ctx = service::Ctx::new(db, region)
        .with_trash_days(config.trash_days)
        .with_job_lease(config.import_job_lease());
    // Import jobs whose server stopped (its lease ran out) are failed, with
    // what they committed; jobs other live servers run are left alone.
    service::import::jobs::recover(&ctx)
        .await
        .context("could not recover interrupted import jobs")?;
    // On PostgreSQL, hear the change events of every instance (subscriptions).
    ctx.events
        .listen(&ctx.db, &url)
        .await
        .context("could not listen for change events")?;
    let state = AppState::configured(
        ctx,
        keys.clone(),
        &config.config.graphql,
        &config.config.limits,
    );
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
    let stopping = state.shutdown.clone();
    let sockets = state.open_sockets.clone();
    // Purges customers whose time in the trash ran out; stops with the server.
    let sweeper = {
        let (ctx, shutdown) = (state.ctx.clone(), state.shutdown.clone());
        let period = config.trash_sweep_period();
        tokio::spawn(async move {
            service::trash::run_sweeper(ctx, period, async move { shutdown.begun().await }).await;
        })
    };
    // Fails the import jobs of servers that stopped, every half lease; stops with the server.
    let recovery = {
        let (ctx, shutdown) = (state.ctx.clone(), state.shutdown.clone());
        tokio::spawn(async move {
            service::import::jobs::run_recovery(ctx, async move { shutdown.begun().await }).await;
        })
    };
    let db = state.ctx.db.clone();
    let mut app = clientela::app(state, config.request_timeout());
    if let Some(handle) = metrics {
        let scrape = clientela::http::metrics::routes(handle, db);
        if let Some(addr) = config.metrics_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("could not listen on {addr} for metrics"))?;
            println!("Metrics on http://{}/metrics", listener.local_addr()?);
            let scrape = scrape.clone();
            tokio::spawn(async move { axum::serve(listener, scrape).await });
        }
        if config.metrics {
            app = app.merge(scrape);
        }
    }
    let grace = config.shutdown_grace();
    let stop = async move {
        stop_signal().await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "stopping: open requests may finish; a second signal stops at once"
        );
        stopping.begin();
        tokio::spawn(async {
            stop_signal().await;
            tracing::warn!("second stop signal: exiting at once");
            std::process::exit(1);
        });
    };
    clientela::http::serve(listener, app, &config.config.limits, grace, stop).await?;
    // WebSockets were told to close (1001) when the stop began; give their
    // close frames a moment to leave.
    for _ in 0..20 {
        if sockets.total() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The sweeper saw the stop begin and stops (a batch in flight rolls back).
    if tokio::time::timeout(grace, sweeper).await.is_err() {
        tracing::warn!("the trash sweep was still running after the shutdown grace period");
    }
    let _ = tokio::time::timeout(grace, recovery).await;
    tracing::info!("stopped");
    Ok(())
}

async fn recount(args: RecountArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let db = db::connect_and_migrate(&args.config.database_url(), 2)
        .await
        .context("could not open the database")?;
    let tenants = match args.tenant {
        Some(tenant) => vec![tenant],
        None => service::recount::tenants(&db).await?,
    };
    for tenant in tenants {
        let progress = indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} {msg} {pos} customers ({per_sec})",
            )?,
        );
        progress.set_message(format!("recounting {tenant:?}:"));
        let report =
            service::recount::recount(&db, &tenant, args.batch, |done| progress.set_position(done))
                .await?;
        progress.finish_and_clear();
        eprintln!(
            "recounted tenant {tenant:?}: {} customers; fixed {} customers, {} conversations, {} phone/tag rows, {} counters; {} numbers held by another customer, in {:.1?}",
            report.customers,
            report.customers_fixed,
            report.conversations_fixed,
            report.index_rows_fixed,
            report.counters_fixed,
            report.phone_conflicts,
            started.elapsed()
        );
    }
    Ok(())
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    use clientela::seed::{default_anchor, Generator, Plan};
    let started = std::time::Instant::now();
    // One connection, so the bulk-load settings apply to every statement.
    let db = db::connect_and_migrate(&args.config.database_url(), 1)
        .await
        .context("could not open the database")?;
    service::seed::tune_for_bulk_load(&db).await?;
    anyhow::ensure!(
        service::seed::tenant_is_empty(&db, &args.tenant).await?,
        "tenant {:?} already has customers; seed an empty tenant (--tenant) or a fresh database",
        args.tenant
    );
    let plan = Plan {
        customers: args.customers,
        seed: args.seed,
        tenant: args.tenant.clone(),
        anchor: default_anchor(),
    };
    let mut generator = Generator::new(plan)?;
    service::seed::write_agents(&db, generator.agents()).await?;

    // Generation runs on its own thread, two batches ahead of the writer at
    // most, so memory stays flat whatever the number of customers.
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let (total, batch) = (args.customers, args.batch.max(1));
    std::thread::spawn(move || {
        let mut from = 0;
        while from < total {
            let to = (from + batch).min(total);
            if tx
                .blocking_send((to - from, generator.batch(from, to)))
                .is_err()
            {
                return;
            }
            from = to;
        }
    });
    let progress = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} customers ({per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let (mut conversations, mut messages) = (0usize, 0usize);
    while let Some((count, rows)) = rx.recv().await {
        conversations += rows.conversations.len();
        messages += rows.messages.len();
        service::seed::write_batch(&db, rows).await?;
        progress.inc(count);
    }
    progress.finish_and_clear();
    // Statistics for the planner over what was just loaded.
    db::analyze_all(&db).await?;
    eprintln!(
        "seeded tenant {:?}: {} customers, {conversations} conversations, {messages} messages in {:.1?}",
        args.tenant, args.customers, started.elapsed()
    );
    Ok(())
}

/// Resolves at SIGTERM (what service managers and orchestrators send) or
/// SIGINT (Ctrl-C).
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code)]
    fn freed_memory_is_given_back_at_once() {
        // SAFETY: reads an option; the test's threads do not set any.
        let before = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        // Its documented default (no other option around it has it): the
        // constant names the purge delay.
        assert_eq!(before, 1000, "mimalloc's default purge delay, in ms");
        super::purge_freed_memory_at_once();
        // SAFETY: as above.
        let after = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(after, 0);
    }
}
