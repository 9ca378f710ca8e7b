//! `handoff-local`: run Human Handoff on this machine, mint tokens, run the test workflow.

use clap::{Parser, Subcommand, ValueEnum};
use handoff_local::auth::{self, SecretSource};
use handoff_local::{start, try_flow, LocalConfig, DEMO_WORKSPACE};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "handoff-local", version, about = "Human Handoff on one machine: HTTP API, timers, embedded store")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to serve the HTTP API on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Directory holding the database and the generated token secret.
    #[arg(long, default_value = ".handoff")]
    data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    in_memory: bool,
    /// Do not turn Human Handoff on for the demo workspace (ws_demo) at first start.
    #[arg(long)]
    no_demo: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "HANDOFF_LOG_FORMAT")]
    log_format: LogFormat,
    /// The issuer (`iss`) bearer tokens must carry; not checked when unset.
    #[arg(long, env = "HANDOFF_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Audiences a token's `aud` must name one of (comma-separated); not checked when unset.
    #[arg(long, env = "HANDOFF_JWT_AUDIENCE", value_delimiter = ',')]
    jwt_audience: Vec<String>,
    /// A JWKS (file or http(s) URL) whose RS256/ES256 keys sign accepted tokens, as an identity
    /// provider publishes it. Tokens the stack mints (HS256) are accepted either way.
    #[arg(long, env = "HANDOFF_JWKS")]
    jwks: Option<String>,
    /// Serve the web app's files from this directory instead of the copies compiled in (for
    /// working on the pages: a reload shows an edit).
    #[arg(long, env = "HANDOFF_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// A name requests may give as their Host besides 127.0.0.1, localhost, [::1] and the
    /// listening address (repeat for more); requests naming any other host are refused.
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// Offer the local sign-in (POST /local/sign-in) even with --jwks, where it is off by default.
    #[arg(long)]
    local_sign_in: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Agent,
    Ai,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the whole system (the default).
    Serve(ServeArgs),
    /// Print a bearer token for the local stack's secret.
    Token {
        #[arg(long)]
        workspace: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The user id (JWT `sub`).
        #[arg(long, default_value = "local-user")]
        sub: String,
        /// How long the token is valid.
        #[arg(long, default_value_t = 12 * 3600)]
        ttl_seconds: i64,
        /// Where the stack keeps its generated secret (used when HANDOFF_JWT_SECRET is unset).
        #[arg(long, default_value = ".handoff")]
        data_dir: PathBuf,
        /// The issuer the stack checks (the token carries it), if it checks one.
        #[arg(long, env = "HANDOFF_JWT_ISSUER")]
        jwt_issuer: Option<String>,
        /// The audiences the stack checks (the token carries the first), if it checks them.
        #[arg(long, env = "HANDOFF_JWT_AUDIENCE", value_delimiter = ',')]
        jwt_audience: Vec<String>,
    },
    /// Run the test workflow against a running stack (needs an admin token).
    Try {
        /// Base URL of the API, for example http://127.0.0.1:8787 or the API Gateway URL.
        #[arg(long, default_value = "http://127.0.0.1:8787")]
        url: String,
        #[arg(long, env = "HANDOFF_TOKEN")]
        token: String,
        /// Workspace to test; defaults to the token's workspace_id claim.
        #[arg(long)]
        workspace: Option<String>,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => b.json().flatten_event(true).init(),
        LogFormat::Text => b.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Cmd::Serve(args)) => serve(args).await,
        Some(Cmd::Token { workspace, role, sub, ttl_seconds, data_dir, jwt_issuer, jwt_audience }) => {
            let role = match role {
                RoleArg::Admin => "admin",
                RoleArg::Agent => "agent",
                RoleArg::Ai => "ai",
            };
            let secret = match auth::load_or_create_secret(Some(&data_dir)) {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let policy = token_policy(jwt_issuer, &jwt_audience, None);
            match auth::mint_for(&secret, &workspace, role, &sub, ttl_seconds, &policy) {
                Ok(t) => {
                    println!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot mint a token: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Cmd::Try { url, token, workspace }) => {
            let Some(workspace) = workspace.or_else(|| auth::peek_workspace(&token)) else {
                eprintln!("error: the token has no workspace_id claim; pass --workspace");
                return ExitCode::from(2);
            };
            println!("Running the test workflow against {url}, workspace {workspace}");
            let results = try_flow::run(&url, &token, &workspace, &mut std::io::stdout()).await;
            let failed = results.iter().filter(|r| !r.passed).count();
            if failed == 0 {
                println!("All {} steps passed.", results.len());
                ExitCode::SUCCESS
            } else {
                println!("{failed} of {} steps failed.", results.len());
                ExitCode::FAILURE
            }
        }
    }
}

/// The token checks of the command line's options.
fn token_policy(issuer: Option<String>, audiences: &[String], jwks: Option<&str>) -> auth::TokenPolicy {
    auth::TokenPolicy {
        issuer: issuer.filter(|s| !s.is_empty()),
        audiences: audiences.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
        jwks: jwks.filter(|s| !s.is_empty()).map(auth::JwksSource::parse),
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    init_logs(args.log_format);
    let data_dir = if args.in_memory { None } else { Some(args.data_dir.clone()) };
    let policy = token_policy(args.jwt_issuer.clone(), &args.jwt_audience, args.jwks.as_deref());
    // Nothing in a data directory another process serves is touched, not even its secret.
    let probe = match &data_dir {
        Some(dir) => {
            if let Err(e) = auth::create_private_dir(dir) {
                eprintln!("error: cannot create the data directory {}: {e}", dir.display());
                return ExitCode::from(2);
            }
            match handoff_local::lock::DataDirLock::acquire(dir) {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };
    let (secret, source) = match auth::load_or_create_secret(data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The stack takes the directory itself as it starts.
    drop(probe);
    let stack = match start(LocalConfig {
        listen: args.listen,
        data_dir: data_dir.clone(),
        jwt_secret: secret.clone(),
        tokens: policy.clone(),
        demo_workspace: (!args.no_demo).then(|| DEMO_WORKSPACE.to_string()),
        web: match &args.web_dir {
            Some(d) => handoff_local::web::WebFiles::Dir(d.clone()),
            None => handoff_local::web::WebFiles::Embedded,
        },
        clock: Default::default(),
        allowed_hosts: args.allowed_hosts.clone(),
        local_sign_in: args.local_sign_in,
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // A ready admin token only where nobody else can use it: the demo workspace on a loopback
    // address. The secret itself is never printed (whatever captures this output could sign
    // tokens for every workspace with it).
    let example = (!args.no_demo && args.listen.ip().is_loopback())
        .then(|| auth::mint_for(&secret, DEMO_WORKSPACE, "admin", "local-admin", 12 * 3600, &policy).ok())
        .flatten();
    println!("Human Handoff is running.");
    println!("  Web app: {}/ (sign in with a user id and a role)", stack.url());
    println!("  API:     {}/v1/workspaces/{{workspace_id}}/...", stack.url());
    match &data_dir {
        Some(d) => println!("  Data:    {} (SQLite; survives restarts)", d.display()),
        None => println!("  Data:    in memory (lost when this process stops)"),
    }
    match &source {
        SecretSource::Environment => println!("  Tokens:  signed with HANDOFF_JWT_SECRET (HS256)"),
        SecretSource::DataDir(path) => {
            println!("  Tokens:  signed with the secret in {} (set HANDOFF_JWT_SECRET to choose one)", path.display())
        }
        SecretSource::Generated(Some(path)) => {
            println!("  Tokens:  signed with a generated secret, kept in {} (owner only)", path.display())
        }
        SecretSource::Generated(None) => println!(
            "  Tokens:  signed with a secret generated for this run and kept nowhere (sign in on the web app, \
             or set HANDOFF_JWT_SECRET to mint tokens with the token command)"
        ),
    }
    let data_flag = if args.data_dir.as_path() == std::path::Path::new(".handoff") {
        String::new()
    } else {
        format!(" --data-dir {}", args.data_dir.display())
    };
    println!(
        "  Get a token:  cargo run --release -p handoff-local -- token --workspace {DEMO_WORKSPACE} --role admin --sub alice{data_flag}"
    );
    if !args.no_demo {
        println!("  Demo workspace: {DEMO_WORKSPACE} (Human Handoff on, routing to humans)");
    }
    if let Some(example) = &example {
        println!("  Admin token for {DEMO_WORKSPACE} (12 h): {example}");
    }
    println!("  Try it:       cargo run --release -p handoff-local -- try --url {} --token <admin token>", stack.url());
    println!("Press Ctrl-C to stop.");
    wait_for_stop_signal().await;
    println!("Stopping...");
    stack.stop().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM where there is one.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
