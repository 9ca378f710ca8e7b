//! The whole Human Handoff system on one machine: the HTTP API, the timers and the outbound
//! event stream, over the embedded SQLite store. It runs the same handler code as the Lambda
//! functions.

pub mod auth;
pub mod hosts;
pub mod http;
pub mod lock;
pub mod try_flow;
pub mod web;

use handoff::adapters::embedded::{EmbeddedDb, EmbeddedStore, EmbeddedTimers, LogPublisher};
use handoff::app::App;
use handoff::domain::TimerKind;
use handoff::ports::{Clock, DrivenClock, StoreError, SystemClock, UuidIds};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

/// How often effects left pending (by a crash or an outage) are sent again.
pub const REDISPATCH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub listen: SocketAddr,
    /// Where the database lives; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// The HS256 secret bearer tokens are verified with.
    pub jwt_secret: String,
    /// Issuer, audiences and JWKS of the token checks (default: the local secret only).
    pub tokens: auth::TokenPolicy,
    /// A workspace to give Human Handoff turned on (routing to humans) if it never saved
    /// settings, so a first `try` passes.
    pub demo_workspace: Option<String>,
    /// Where the web app's files come from (compiled in unless a directory is given).
    pub web: web::WebFiles,
    /// The clock every timer, waiting policy and sweep reads (the real one unless a test drives
    /// its own).
    pub clock: LocalClock,
    /// Names besides 127.0.0.1, localhost, [::1] and the listening address that requests may
    /// give as their `Host` (`--allowed-host`); any other is refused (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Offer the local sign-in even when tokens come from an identity provider (`--jwks`).
    pub local_sign_in: bool,
}

/// The clock of a local stack.
#[derive(Debug, Clone, Default)]
pub enum LocalClock {
    #[default]
    System,
    /// A clock that moves only when the test moves it.
    Driven(DrivenClock),
}

impl LocalClock {
    fn port(&self) -> Arc<dyn Clock> {
        match self {
            LocalClock::System => Arc::new(SystemClock),
            LocalClock::Driven(c) => Arc::new(c.clone()),
        }
    }
}

/// The workspace the local stack turns Human Handoff on for at first start.
pub const DEMO_WORKSPACE: &str = "ws_demo";

/// Turns Human Handoff on for `ws` if the workspace never saved settings.
async fn seed_demo(app: &App, ws: &str) -> Result<(), StartError> {
    use handoff::domain::{SettingsDoc, UserId, WorkspaceId};
    let ws = WorkspaceId::parse(ws).map_err(|e| StoreError::Corrupt(format!("demo workspace id: {e}")))?;
    if app.store.get_settings(&ws).await?.is_some() {
        return Ok(());
    }
    let defaults = SettingsDoc::defaults(ws.clone());
    let mut settings = defaults.settings.clone();
    settings.enabled = true;
    let doc = defaults.saved(settings, UserId::parse("handoff-local").expect("valid id"), app.clock.now());
    match app.store.put_settings(&doc, 0).await {
        Ok(()) | Err(StoreError::VersionConflict) => {
            info!(workspace_id = %ws, "demo workspace: Human Handoff turned on");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error(transparent)]
    Locked(#[from] lock::LockError),
    #[error("token checks: {0}")]
    Tokens(String),
}

/// A running local stack.
pub struct RunningStack {
    pub addr: SocketAddr,
    pub app: App,
    pub publisher: LogPublisher,
    pub timers: EmbeddedTimers,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// This process's hold on the data directory, released when the stack is dropped.
    _lock: Option<lock::DataDirLock>,
}

impl RunningStack {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving, stops the timers, and waits for everything to finish.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Fires a due timer through the function that owns its kind.
async fn fire(app: &App, timer: handoff::domain::TimerMessage) -> Result<(), String> {
    let r = match timer.kind {
        TimerKind::Stall => stall_notifier::handle(app, &timer).await.map_err(|e| e.to_string()),
        TimerKind::Ring => voice_timeout::handle(app, &timer).await.map_err(|e| e.to_string()),
    };
    r.map(|_| ())
}

/// Opens the store, starts the timers, the redispatcher and the HTTP server.
pub async fn start(config: LocalConfig) -> Result<RunningStack, StartError> {
    let verifier = auth::Verifier::new(&config.jwt_secret, &config.tokens).await.map_err(StartError::Tokens)?;
    let (db, dir_lock) = match &config.data_dir {
        Some(dir) => {
            auth::create_private_dir(dir).map_err(|e| StartError::DataDir(dir.clone(), e))?;
            let held = lock::DataDirLock::acquire(dir)?;
            let path = dir.join("handoff.sqlite3");
            let db = EmbeddedDb::open(&path)?;
            // The database holds every conversation: its owner's only.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| StartError::DataDir(dir.clone(), e))?;
            }
            (db, Some(held))
        }
        None => (EmbeddedDb::in_memory()?, None),
    };
    let store = EmbeddedStore::new(db.clone());
    let publisher = LogPublisher::new(db.clone());
    let clock = config.clock.port();
    let timers = EmbeddedTimers::new(db.clone(), clock.clone());
    let app =
        App::new(Arc::new(store), Arc::new(publisher.clone()), Arc::new(timers.clone()), clock, Arc::new(UuidIds));
    if let Some(ws) = &config.demo_workspace {
        seed_demo(&app, ws).await?;
    }
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|e| StartError::Listen(config.listen, e))?;
    let addr = listener.local_addr().map_err(|e| StartError::Listen(config.listen, e))?;
    let (shutdown, rx) = watch::channel(false);
    let mut tasks = Vec::new();

    // Effects recorded before a crash and never confirmed are sent first.
    match app.redispatch_pending(app.clock.now(), 1000).await {
        Ok(r) if r.dispatched > 0 => info!(dispatched = r.dispatched, "sent effects left pending by the previous run"),
        Ok(_) => {}
        Err(e) => error!(error = %e, "could not read pending effects"),
    }

    {
        let (timers, app, rx) = (timers.clone(), app.clone(), rx.clone());
        tasks.push(tokio::spawn(async move {
            timers.run(rx, |t| fire(&app, t)).await;
        }));
    }
    {
        let (app, mut rx) = (app.clone(), rx.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                // Every REDISPATCH_EVERY of real time, or sooner when a driven clock moves that far.
                let next = app.clock.now() + chrono::Duration::from_std(REDISPATCH_EVERY).unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(REDISPATCH_EVERY) => {}
                    _ = app.clock.sleep_until(next) => {}
                    r = rx.changed() => if r.is_err() || *rx.borrow() { return },
                }
                if let Err(e) = app.redispatch_older_than(REDISPATCH_EVERY, 100).await {
                    error!(error = %e, "redispatch failed");
                }
            }
        }));
    }
    {
        let state = http::HttpState {
            app: app.clone(),
            publisher: publisher.clone(),
            verifier: Arc::new(verifier),
            secret: config.jwt_secret.as_str().into(),
            tokens: config.tokens.clone(),
            web: config.web.clone(),
            // Only on a loopback address (it trusts whoever reaches it), and with an identity
            // provider only when asked for.
            sign_in: config.listen.ip().is_loopback() && (config.tokens.jwks.is_none() || config.local_sign_in),
            hosts: Arc::new(hosts::AllowedHosts::new(config.listen, &config.allowed_hosts).on_port(addr.port())),
        };
        let router = http::router(state);
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            });
            if let Err(e) = serve.await {
                error!(error = %e, "HTTP server failed");
            }
        }));
    }
    info!(%addr, "local stack started");
    Ok(RunningStack { addr, app, publisher, timers, shutdown, tasks, _lock: dir_lock })
}
