use super::{corrupt, ts, unavailable, EmbeddedDb};
use crate::domain::TimerMessage;
use crate::ports::{Clock, StoreError, TimerError, Timers};
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
/// Due times are read on `clock`, so a test that drives the clock fires timers without waiting.
#[derive(Clone)]
pub struct EmbeddedTimers {
    db: EmbeddedDb,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl EmbeddedTimers {
    pub fn new(db: EmbeddedDb, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock, wake: Arc::new(Notify::new()) }
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
            // Wait for the next due time on the clock (at most a minute of real time, then look
            // again), or for a retry after an error.
            let wait = match self.next().await {
                Ok(Some(t)) => {
                    if t.due_at <= self.clock.now() {
                        match fire(t.clone()).await {
                            Ok(()) => {
                                if let Err(e) = self.remove(&t.timer_id).await {
                                    warn!(timer_id = %t.timer_id, error = %e, "fired timer not removed");
                                    Wait::Real(Duration::from_secs(1))
                                } else {
                                    continue;
                                }
                            }
                            Err(e) => {
                                warn!(timer_id = %t.timer_id, error = %e, "timer callback failed; retrying later");
                                let retry =
                                    self.clock.now() + chrono::Duration::from_std(RETRY_AFTER).unwrap_or_default();
                                match self.postpone(&t.timer_id, retry).await {
                                    Ok(()) => continue,
                                    Err(_) => Wait::Real(Duration::from_secs(1)),
                                }
                            }
                        }
                    } else {
                        Wait::Until(t.due_at)
                    }
                }
                Ok(None) => Wait::Real(Duration::from_secs(60)),
                Err(e) => {
                    warn!(error = %e, "could not read timers; retrying in 1 s");
                    Wait::Real(Duration::from_secs(1))
                }
            };
            let due = async {
                match wait {
                    Wait::Until(at) => {
                        let _ = tokio::time::timeout(Duration::from_secs(60), self.clock.sleep_until(at)).await;
                    }
                    Wait::Real(d) => tokio::time::sleep(d).await,
                }
            };
            tokio::select! {
                _ = due => {}
                _ = self.wake.notified() => {}
                r = shutdown.changed() => if r.is_err() { return; },
            }
        }
    }
}

/// What the timer loop waits for next.
enum Wait {
    /// The clock reaching a timer's due time.
    Until(chrono::DateTime<Utc>),
    /// Real time, before looking again.
    Real(Duration),
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
