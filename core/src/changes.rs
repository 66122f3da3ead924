//! Changes every process must see at once: an API key revoked or rotated, a tenant's providers
//! or prices edited. A change is announced in the transaction that makes it ([`announce`]: a
//! Postgres `NOTIFY`, delivered when that transaction commits and never if it rolls back), and
//! every server and worker process listens ([`listen`]) and forgets what it had cached.
//!
//! A notification is heard a moment after the commit, so the answer to a write could still
//! reach its caller before another process has heard. A writer that must not answer before
//! then waits at a barrier ([`Barriers::everyone_heard`]): it sends a `sync` notification after
//! its commit and waits until every process listening at that moment has acknowledged it.
//! Each listener hears notifications in commit order and acknowledges only after forgetting
//! what the earlier ones touched, so an acknowledgement means the change was heard.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use diesel::sql_types::{Array, Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The Postgres notification channel.
pub const CHANNEL: &str = "openclaw_changes";
/// Where listeners acknowledge a barrier (payload: its id; the sender's backend pid says who).
const ACK_CHANNEL: &str = "openclaw_changes_heard";
/// The `application_name` of listening connections, so a barrier can tell who must answer.
const LISTENER_NAME: &str = "openclaw_listener";
/// How long a barrier waits for a listener that does not answer (a frozen process).
pub const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// An API key was revoked or rotated (a new key invalidates nothing: no cache has seen it).
    ApiKeys,
    /// A tenant's providers or prices changed (what its messages route over).
    Routes { tenant: Uuid },
    /// The platform's billing settings changed: every tenant's fee (kept with its routes).
    Billing,
    /// The platform's providers or their prices changed: every tenant routes over them.
    Platform,
    /// Anything may have changed (the listener was away): forget everything.
    All,
}

impl Change {
    fn payload(self) -> String {
        match self {
            Change::ApiKeys => "keys".into(),
            Change::Routes { tenant } => format!("routes:{tenant}"),
            Change::Billing => "billing".into(),
            Change::Platform => "platform".into(),
            Change::All => "all".into(),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        match payload.split_once(':') {
            None if payload == "keys" => Some(Change::ApiKeys),
            None if payload == "all" => Some(Change::All),
            None if payload == "billing" => Some(Change::Billing),
            None if payload == "platform" => Some(Change::Platform),
            Some(("routes", tenant)) => tenant.parse().ok().map(|tenant| Change::Routes { tenant }),
            _ => None,
        }
    }
}

/// Announces `change` to every process, when the caller's transaction commits.
pub async fn announce(conn: &mut AsyncPgConnection, change: Change) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(change.payload())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Listens until `stop`, calling `on_change` for each change announced. Whenever the listening
/// connection is (re)made it first calls `on_change(Change::All)`: changes made while it was
/// away were missed. Reconnects with backoff; never returns an error. Acknowledges barriers
/// (see [`Barriers`]) once `on_change` has seen everything committed before them.
pub async fn listen(database_url: String, on_change: impl Fn(Change), stop: CancellationToken) {
    run(database_url, on_change, None, stop).await
}

/// The barriers this process waits at, and whether it is listening (its own acknowledgements
/// reach it through its listener: [`Barriers::listen`]).
#[derive(Default)]
pub struct Barriers {
    /// The backend pid of this process's listening connection; 0 while not connected.
    listener_pid: AtomicI32,
    waiting: Mutex<HashMap<Uuid, Waiting>>,
}

struct Waiting {
    /// The listeners that must answer (known once the barrier is sent).
    expected: Option<HashSet<i32>>,
    answered: HashSet<i32>,
    done: Option<oneshot::Sender<()>>,
}

impl Waiting {
    fn settle(&mut self) {
        if let Some(expected) = &self.expected
            && expected.is_subset(&self.answered)
            && let Some(done) = self.done.take()
        {
            let _ = done.send(());
        }
    }
}

impl Barriers {
    /// [`listen`], also hearing the acknowledgements of this process's barriers.
    pub async fn listen(
        self: std::sync::Arc<Self>,
        database_url: String,
        on_change: impl Fn(Change),
        stop: CancellationToken,
    ) {
        run(database_url, on_change, Some(&self), stop).await;
        self.listener_pid.store(0, Ordering::Release);
    }

    /// Waits until every process listening now has heard every change committed before this
    /// call (at most [`BARRIER_TIMEOUT`]). False if some did not answer in time, or this
    /// process is not listening (it would not hear the answers); never an error for that.
    pub async fn everyone_heard(&self, conn: &mut AsyncPgConnection) -> diesel::QueryResult<bool> {
        if AtomicI32::load(&self.listener_pid, Ordering::Acquire) == 0 {
            tracing::warn!("not listening for changes: other processes may not have heard yet");
            return Ok(false);
        }
        let id = Uuid::now_v7();
        let (done, answered) = oneshot::channel();
        self.lock().insert(
            id,
            Waiting {
                expected: None,
                answered: HashSet::new(),
                done: Some(done),
            },
        );
        let result = async {
            // The listeners are read before the barrier commits (at the statement's end): each
            // was listening before it, so each will hear it.
            #[derive(diesel::QueryableByName)]
            struct Listeners {
                #[diesel(sql_type = Array<Integer>)]
                pids: Vec<i32>,
            }
            let listeners: Listeners = diesel::sql_query(
                "SELECT ARRAY(SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = $3) AS pids \
                 FROM (SELECT pg_notify($1, $2)) AS sent",
            )
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(format!("sync:{id}"))
            .bind::<Text, _>(LISTENER_NAME)
            .get_result(conn)
            .await?;
            if let Some(waiting) = self.lock().get_mut(&id) {
                waiting.expected = Some(listeners.pids.into_iter().collect());
                waiting.settle();
            }
            Ok(tokio::time::timeout(BARRIER_TIMEOUT, answered)
                .await
                .is_ok())
        }
        .await;
        let waiting = self.lock().remove(&id);
        if let (Ok(false), Some(w)) = (&result, waiting) {
            let silent: Vec<i32> = w
                .expected
                .unwrap_or_default()
                .difference(&w.answered)
                .copied()
                .collect();
            tracing::warn!(
                ?silent,
                "listeners (by backend pid) did not acknowledge a change in time"
            );
        }
        result
    }

    fn answered(&self, id: Uuid, pid: i32) {
        if let Some(waiting) = self.lock().get_mut(&id) {
            waiting.answered.insert(pid);
            waiting.settle();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Connects, listens (and names the connection a listener), and says its backend pid.
async fn connect(database_url: &str, barriers: bool) -> anyhow::Result<(AsyncPgConnection, i32)> {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    if barriers {
        diesel::sql_query(format!("LISTEN {ACK_CHANNEL}"))
            .execute(&mut conn)
            .await?;
    }
    // Named only once listening: whoever counts it as a listener can count on its answer.
    let Pid { pid } = diesel::sql_query(
        "SELECT pg_backend_pid() AS pid FROM (SELECT set_config('application_name', $1, false)) AS named",
    )
    .bind::<Text, _>(LISTENER_NAME)
    .get_result(&mut conn)
    .await?;
    Ok((conn, pid))
}

async fn run(
    database_url: String,
    on_change: impl Fn(Change),
    barriers: Option<&Barriers>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !stop.is_cancelled() {
        let (mut conn, pid) = match connect(&database_url, barriers.is_some()).await {
            Ok(connected) => connected,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot listen for changes; retrying"
                );
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        on_change(Change::All);
        if let Some(b) = barriers {
            b.listener_pid.store(pid, Ordering::Release);
        }
        loop {
            let next = {
                let mut notifications = std::pin::pin!(conn.notifications_stream());
                tokio::select! {
                    _ = stop.cancelled() => return,
                    next = notifications.next() => next,
                }
            };
            let n = match next {
                Some(Ok(n)) => n,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "listening for changes failed; reconnecting");
                    break;
                }
                None => break,
            };
            if n.channel == ACK_CHANNEL {
                if let (Some(b), Ok(id)) = (barriers, n.payload.parse()) {
                    b.answered(id, n.process_id);
                }
            } else if n.channel == CHANNEL {
                if let Some(id) = n.payload.strip_prefix("sync:") {
                    // Everything committed before the barrier has been heard (and forgotten).
                    let acked = diesel::sql_query("SELECT pg_notify($1, $2)")
                        .bind::<Text, _>(ACK_CHANNEL)
                        .bind::<Text, _>(id)
                        .execute(&mut conn)
                        .await;
                    if let Err(e) = acked {
                        tracing::warn!(error = %e, "acknowledging a change failed; reconnecting");
                        break;
                    }
                } else {
                    match Change::parse(&n.payload) {
                        Some(change) => on_change(change),
                        None => tracing::warn!(payload = n.payload, "unknown change announced"),
                    }
                }
            }
        }
        if let Some(b) = barriers {
            b.listener_pid.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_their_payload() {
        let tenant = Uuid::now_v7();
        for change in [
            Change::ApiKeys,
            Change::Routes { tenant },
            Change::Billing,
            Change::All,
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("routes:nope"), None);
        assert_eq!(Change::parse("other"), None);
    }
}
