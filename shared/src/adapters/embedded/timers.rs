use super::{corrupt, ts, unavailable, EmbeddedDb};
use crate::domain::TimerMessage;
use crate::ports::{StoreError, TimerError, Timers};
use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::warn;

/// How long a timer whose callback failed waits before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Timers kept in the embedded database and fired in-process by [`EmbeddedTimers::run`].
/// Pending timers survive restarts; those that fell due while the process was down fire as soon
/// as it runs again.
#[derive(Clone)]
pub struct EmbeddedTimers {
    db: EmbeddedDb,
    wake: Arc<Notify>,
}

impl EmbeddedTimers {
    pub fn new(db: EmbeddedDb) -> Self {
        Self { db, wake: Arc::new(Notify::new()) }
    }

    /// The earliest pending timer.
    pub async fn next(&self) -> Result<Option<TimerMessage>, StoreError> {
        self.db
            .with(|c| {
                let t: Option<String> = c
                    .query_row("SELECT timer FROM timers ORDER BY due_at, timer_id LIMIT 1", [], |r| r.get(0))
                    .optional()
                    .map_err(unavailable)?;
                t.map(|t| serde_json::from_str(&t).map_err(corrupt)).transpose()
            })
            .await
    }

    /// How many timers are pending.
    pub async fn pending(&self) -> Result<usize, StoreError> {
        self.db
            .with(|c| c.query_row("SELECT COUNT(*) FROM timers", [], |r| r.get::<_, i64>(0)).map_err(unavailable))
            .await
            .map(|n| n as usize)
    }

    async fn remove(&self, timer_id: &str) -> Result<(), StoreError> {
        let id = timer_id.to_owned();
        self.db
            .with(move |c| c.execute("DELETE FROM timers WHERE timer_id = ?1", [id]).map(|_| ()).map_err(unavailable))
            .await
    }

    /// Moves a timer whose callback failed to `at`, so it is retried then without holding up the
    /// timers due before it.
    async fn postpone(&self, timer_id: &str, at: chrono::DateTime<Utc>) -> Result<(), StoreError> {
        let (id, due) = (timer_id.to_owned(), ts(&at));
        self.db
            .with(move |c| {
                c.execute("UPDATE timers SET due_at = ?1 WHERE timer_id = ?2", params![due, id])
                    .map(|_| ())
                    .map_err(unavailable)
            })
            .await
    }

    /// Fires due timers until `shutdown` turns true. `fire` gets each timer at its due time (or
    /// at once if it is overdue); a timer is removed only after `fire` succeeded, and retried
    /// [`RETRY_AFTER`] later otherwise (the others keep firing meanwhile).
    pub async fn run<F, Fut>(&self, mut shutdown: watch::Receiver<bool>, fire: F)
    where
        F: Fn(TimerMessage) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let wait = match self.next().await {
                Ok(Some(t)) => {
                    let until = (t.due_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    if until.is_zero() {
                        match fire(t.clone()).await {
                            Ok(()) => {
                                if let Err(e) = self.remove(&t.timer_id).await {
                                    warn!(timer_id = %t.timer_id, error = %e, "fired timer not removed");
                                    Duration::from_secs(1)
                                } else {
                                    continue;
                                }
                            }
                            Err(e) => {
                                warn!(timer_id = %t.timer_id, error = %e, "timer callback failed; retrying later");
                                let retry = Utc::now() + chrono::Duration::from_std(RETRY_AFTER).unwrap_or_default();
                                match self.postpone(&t.timer_id, retry).await {
                                    Ok(()) => continue,
                                    Err(_) => Duration::from_secs(1),
                                }
                            }
                        }
                    } else {
                        until.min(Duration::from_secs(60))
                    }
                }
                Ok(None) => Duration::from_secs(60),
                Err(e) => {
                    warn!(error = %e, "could not read timers; retrying in 1 s");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                r = shutdown.changed() => if r.is_err() { return; },
            }
        }
    }
}

#[async_trait]
impl Timers for EmbeddedTimers {
    async fn set(&self, timer: &TimerMessage) -> Result<(), TimerError> {
        let err = |reason: String| TimerError { timer_id: timer.timer_id.clone(), reason };
        let json = serde_json::to_string(timer).map_err(|e| err(e.to_string()))?;
        let (id, due) = (timer.timer_id.clone(), ts(&timer.due_at));
        self.db
            .with(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO timers (timer_id, due_at, timer) VALUES (?1, ?2, ?3)",
                    params![id, due, json],
                )
                .map(|_| ())
                .map_err(unavailable)
            })
            .await
            .map_err(|e| err(e.to_string()))?;
        self.wake.notify_one();
        Ok(())
    }
}
