//! Changes every process must see at once: an API key revoked or rotated, a tenant's providers
//! or prices edited. A change is announced in the transaction that makes it ([`announce`]: a
//! Postgres `NOTIFY`, delivered when that transaction commits and never if it rolls back), and
//! every server and worker process listens ([`listen`]) and forgets what it had cached.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The Postgres notification channel.
pub const CHANNEL: &str = "openclaw_changes";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// An API key was created, revoked or rotated.
    ApiKeys,
    /// A tenant's providers or prices changed (what its messages route over).
    Routes { tenant: Uuid },
    /// Anything may have changed (the listener was away): forget everything.
    All,
}

impl Change {
    fn payload(self) -> String {
        match self {
            Change::ApiKeys => "keys".into(),
            Change::Routes { tenant } => format!("routes:{tenant}"),
            Change::All => "all".into(),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        match payload.split_once(':') {
            None if payload == "keys" => Some(Change::ApiKeys),
            None if payload == "all" => Some(Change::All),
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
/// away were missed. Reconnects with backoff; never returns an error.
pub async fn listen(database_url: String, on_change: impl Fn(Change), stop: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    while !stop.is_cancelled() {
        let connected = async {
            let mut conn = AsyncPgConnection::establish(&database_url).await?;
            diesel::sql_query(format!("LISTEN {CHANNEL}"))
                .execute(&mut conn)
                .await?;
            anyhow::Ok(conn)
        }
        .await;
        let mut conn = match connected {
            Ok(conn) => conn,
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
        let mut notifications = std::pin::pin!(conn.notifications_stream());
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = notifications.next() => next,
            };
            match next {
                Some(Ok(n)) if n.channel == CHANNEL => match Change::parse(&n.payload) {
                    Some(change) => on_change(change),
                    None => tracing::warn!(payload = n.payload, "unknown change announced"),
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "listening for changes failed; reconnecting");
                    break;
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_their_payload() {
        let tenant = Uuid::now_v7();
        for change in [Change::ApiKeys, Change::Routes { tenant }, Change::All] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("routes:nope"), None);
        assert_eq!(Change::parse("other"), None);
    }
}
