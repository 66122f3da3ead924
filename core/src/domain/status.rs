//! A message's status, and the one rule of how it may change.
//!
//! The lifecycle (API.md): `queued` → `sending` → `sent` → `delivered` | `undelivered`; or
//! `failed`, `canceled`, `expired`. `scheduled` precedes `queued` for future sends. A status
//! only ever moves forward along [`Status::may_become`]; every UPDATE that changes a status in
//! `db::messages` takes its condition from [`Status::sql_may_become`], which is generated from
//! that rule, so a redelivered queue message or a late receipt can never undo or repeat a step.

use serde::{Deserialize, Serialize};

super::text_enum! {
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Status {
        Scheduled = "scheduled",
        Queued = "queued",
        Sending = "sending",
        Sent = "sent",
        Delivered = "delivered",
        Undelivered = "undelivered",
        Failed = "failed",
        Canceled = "canceled",
        Expired = "expired",
    }
}

impl Status {
    /// The statuses of a message still on its way: its cost may yet be charged (a hard-capped
    /// budget holds it; the migration `budget_holds` names the same three).
    pub const PENDING: [Status; 3] = [Status::Scheduled, Status::Queued, Status::Sending];

    /// The statuses that say a provider took the message.
    pub const TAKEN: [Status; 3] = [Status::Sent, Status::Delivered, Status::Undelivered];

    /// The one forward rule: whether a message in `self` may move to `next`. Nothing moves
    /// out of a final status, nothing moves back, and a status never "moves" to itself (a
    /// retry round stays `sending`; that is not a change of status).
    pub fn may_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Scheduled, Queued | Canceled)
                | (Queued, Sending | Canceled)
                // A receipt may overtake the worker's own answer: `sending` → `delivered`.
                | (Sending, Sent | Delivered | Undelivered | Failed | Expired)
                | (Sent, Delivered | Undelivered)
        )
    }

    /// No status follows this one.
    pub fn is_final(self) -> bool {
        Status::ALL.iter().all(|&next| !self.may_become(next))
    }

    /// Whether a provider took a message in this status.
    pub fn is_taken(self) -> bool {
        Status::TAKEN.contains(&self)
    }

    /// Every allowed move, `(from, to)`.
    pub fn moves() -> impl Iterator<Item = (Status, Status)> {
        Status::ALL.into_iter().flat_map(|from| {
            Status::ALL
                .into_iter()
                .filter(move |&to| from.may_become(to))
                .map(move |to| (from, to))
        })
    }

    /// The statuses a message may move to `to` from.
    pub fn sources(to: Status) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|from| from.may_become(to))
            .collect()
    }

    /// SQL that is true when the status in `from` may become the one in `to` (both SQL
    /// expressions of type text): [`Status::may_become`] written out per target,
    /// `(to = 'sent' AND from IN ('sending')) OR …`, for the conditions of the UPDATEs that
    /// change a status. Grouped by target so that Postgres can narrow the rows by `from`
    /// before joining (a list of row pairs was twice as slow to apply receipts with).
    pub fn sql_may_become(from: &str, to: &str) -> String {
        let arms: Vec<String> = Status::ALL
            .into_iter()
            .filter_map(|target| {
                let sources = Status::sources(target);
                (!sources.is_empty()).then(|| {
                    format!(
                        "({to} = '{}' AND {})",
                        target.as_str(),
                        Status::sql_in(from, &sources)
                    )
                })
            })
            .collect();
        format!("({})", arms.join(" OR "))
    }

    /// SQL that is true when the status in `expr` is one of `statuses`.
    pub fn sql_in(expr: &str, statuses: &[Status]) -> String {
        let names: Vec<String> = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({expr} IN ({}))", names.join(", "))
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Status, String> {
        Status::parse(s).ok_or_else(|| format!("unknown status {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Status::{self, *};

    /// Every pair of statuses, written out by hand: `true` where the move is allowed.
    #[test]
    fn every_pair_of_statuses() {
        // Rows: from; columns: to, in `Status::ALL` order:
        // scheduled queued sending sent delivered undelivered failed canceled expired
        let table: [(Status, [u8; 9]); 9] = [
            (Scheduled, [0, 1, 0, 0, 0, 0, 0, 1, 0]),
            (Queued, [0, 0, 1, 0, 0, 0, 0, 1, 0]),
            (Sending, [0, 0, 0, 1, 1, 1, 1, 0, 1]),
            (Sent, [0, 0, 0, 0, 1, 1, 0, 0, 0]),
            (Delivered, [0; 9]),
            (Undelivered, [0; 9]),
            (Failed, [0; 9]),
            (Canceled, [0; 9]),
            (Expired, [0; 9]),
        ];
        let mut checked = 0;
        for (from, row) in table {
            for (to, allowed) in Status::ALL.into_iter().zip(row) {
                assert_eq!(
                    from.may_become(to),
                    allowed == 1,
                    "{from} → {to} should be {}",
                    if allowed == 1 { "allowed" } else { "refused" }
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 81);
    }

    #[test]
    fn moves_only_go_forward() {
        // Along the lifecycle's order no move ever points back or stays put: there is no cycle.
        fn order(s: Status) -> usize {
            Status::ALL.iter().position(|&x| x == s).unwrap()
        }
        for (from, to) in Status::moves() {
            assert_ne!(from, to);
            assert!(order(from) < order(to), "{from} → {to} points back");
            assert!(
                !to.may_become(from),
                "{to} → {from} would undo {from} → {to}"
            );
        }
        for s in Status::ALL {
            assert!(!s.may_become(s), "{s} → {s}");
        }
    }

    #[test]
    fn finals_and_taken() {
        let finals: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [Delivered, Undelivered, Failed, Canceled, Expired]);
        for s in Status::ALL {
            assert_eq!(s.is_taken(), matches!(s, Sent | Delivered | Undelivered));
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(Status::parse("in_doubt"), None);
    }

    #[test]
    fn the_sql_lists_exactly_the_allowed_moves() {
        let sql = Status::sql_may_become("m.status", "r.status");
        assert!(sql.starts_with("((r.status = 'queued' AND (m.status IN ('scheduled'))) OR "));
        let mut pairs = 0;
        for to in Status::ALL {
            let sources = Status::sources(to);
            pairs += sources.len();
            let arm = format!("(r.status = '{to}' AND ");
            assert_eq!(sql.contains(&arm), !sources.is_empty(), "{to}");
            if !sources.is_empty() {
                assert!(sql.contains(&format!("{arm}{})", Status::sql_in("m.status", &sources))));
            }
        }
        assert_eq!(pairs, Status::moves().count());
        assert_eq!(Status::sources(Sent), [Sending]);
        assert_eq!(Status::sources(Delivered), [Sending, Sent]);
        assert_eq!(Status::sources(Scheduled), []);
    }
}
