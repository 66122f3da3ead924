//! A tenant's opt-outs: numbers that get nothing more from it. The one implementation behind
//! `/v1/opt-outs…`, the admin app's opt-outs page and inbound keyword replies
//! ([`crate::inbound`]). A change asks the permission matrix (`ManageOptOuts`), validates
//! naming the field at fault, and writes with its audit record and its `opt_out.changed`
//! events in one transaction scoped to the tenant. Nothing is cached: the group commit reads
//! the list in the statement that stores the messages, so a number on it gets 422
//! `recipient_opted_out` from the moment the change commits.

use std::collections::HashSet;

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, action};
use crate::db::opt_outs::{self as store, OptOut};
use crate::db::{self, PgPool};
use crate::domain::{EventKind, OptOutSource, PhoneNumber};
use crate::members::Manager;
use crate::permissions::{self, Action};

/// Most numbers one CSV import may hold.
pub const MAX_IMPORT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum OptOutError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("This number has not opted out.")]
    NotFound,
    #[error("Your role cannot change opt-outs; ask an owner, admin or developer.")]
    Forbidden,
    #[error("Your role cannot read opt-outs.")]
    ForbiddenToRead,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for OptOutError {
    fn from(e: diesel::result::Error) -> Self {
        OptOutError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for OptOutError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        OptOutError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

/// A number as a person gives it, normalised to E.164 (`field` names where it came from).
pub fn parse_number(raw: &str, field: &'static str) -> Result<String, OptOutError> {
    PhoneNumber::parse(raw)
        .map(|p| p.e164().to_owned())
        .map_err(|e| OptOutError::Invalid {
            field,
            message: e.to_string(),
        })
}

/// A number in a URL path, where `+` is awkward: it may be left out (`4915112345678`).
fn parse_path_number(raw: &str) -> Result<String, OptOutError> {
    parse_number(&crate::inbound::with_plus(raw), "number")
}

/// The public `data` of an `opt_out.changed` event.
pub fn event_data(number: &str, opted_out: bool, source: OptOutSource) -> serde_json::Value {
    json!({"number": number, "opted_out": opted_out, "source": source, "at": Utc::now()})
}

/// Adds opted-out numbers in the caller's transaction (scoped to `tenant`), with an
/// `opt_out.changed` event for each that was not on the list yet; returns those.
pub async fn add_in(
    c: &mut AsyncPgConnection,
    tenant: Uuid,
    numbers: &[String],
    source: OptOutSource,
) -> diesel::QueryResult<Vec<OptOut>> {
    let added = store::add(c, tenant, numbers, source).await?;
    let events: Vec<_> = added
        .iter()
        .map(|o| (None, event_data(&o.number, true, source)))
        .collect();
    crate::db::webhooks::emit_many(c, tenant, EventKind::OptOutChanged, &events).await?;
    Ok(added)
}

/// Takes a number off the list in the caller's transaction, with its `opt_out.changed`
/// event (`source`: who asked); None when it was not on it.
pub async fn remove_in(
    c: &mut AsyncPgConnection,
    tenant: Uuid,
    number: &str,
    source: OptOutSource,
) -> diesel::QueryResult<Option<OptOut>> {
    let gone = store::remove(c, tenant, number).await?;
    if gone.is_some() {
        let data = event_data(number, false, source);
        crate::db::webhooks::emit(c, tenant, EventKind::OptOutChanged, None, &data).await?;
    }
    Ok(gone)
}

fn may(manager: &Manager, what: Action) -> Result<(), OptOutError> {
    match (permissions::allowed(manager.role, what), what) {
        (true, _) => Ok(()),
        (false, Action::ManageOptOuts) => Err(OptOutError::Forbidden),
        (false, _) => Err(OptOutError::ForbiddenToRead),
    }
}

/// A page of the tenant's opt-outs, newest first.
pub async fn list(
    pool: &PgPool,
    manager: &Manager,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<OptOut>, OptOutError> {
    may(manager, Action::ReadMessages)?;
    let mut conn = pool.get().await?;
    let tenant = manager.tenant;
    db::scoped(&mut conn, tenant, async |c| {
        Ok(store::list(c, tenant, before, limit).await?)
    })
    .await
}

/// What an addition came to: the opt-out, and whether it is new (false: it was there).
#[derive(Debug)]
pub struct Added {
    pub opt_out: OptOut,
    pub created: bool,
}

/// Opts a number out. Adding one that is there already changes nothing and says so.
pub async fn add(pool: &PgPool, manager: &Manager, number: &str) -> Result<Added, OptOutError> {
    may(manager, Action::ManageOptOuts)?;
    let number = parse_number(number, "number")?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let added = add_in(
            c,
            tenant,
            std::slice::from_ref(&number),
            OptOutSource::Manual,
        )
        .await?;
        let Some(opt_out) = added.into_iter().next() else {
            let opt_out = store::find(c, tenant, &number)
                .await?
                .ok_or_else(|| anyhow::anyhow!("an opt-out neither added nor found"))?;
            return Ok(Added {
                opt_out,
                created: false,
            });
        };
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::OPT_OUT_ADDED,
            Some(number.clone()),
            json!({"number": number}),
        )
        .await?;
        Ok(Added {
            opt_out,
            created: true,
        })
    })
    .await
}

/// Opts a number back in (given as [`parse_path_number`] reads it).
pub async fn remove(pool: &PgPool, manager: &Manager, number: &str) -> Result<(), OptOutError> {
    may(manager, Action::ManageOptOuts)?;
    let number = parse_path_number(number)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        remove_in(c, tenant, &number, OptOutSource::Manual)
            .await?
            .ok_or(OptOutError::NotFound)?;
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::OPT_OUT_REMOVED,
            Some(number.clone()),
            json!({"number": number}),
        )
        .await?;
        Ok(())
    })
    .await
}

/// What an import came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Numbers put on the list.
    pub added: usize,
    /// Numbers that were on it already (or repeated in the file).
    pub unchanged: usize,
}

/// Reads a CSV list of numbers: a header with a `number` column (other columns are ignored:
/// an export imports as it is), or one number per line without a header. Every number is
/// checked first; the first line at fault is named and nothing is added.
pub fn read_csv(text: &str) -> Result<Vec<String>, OptOutError> {
    let invalid = |message: String| OptOutError::Invalid {
        field: "number",
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut column = 0;
    let mut numbers = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let record = record.map_err(|e| invalid(format!("Line {line} is not CSV: {e}.")))?;
        if i == 0
            && let Some(at) = record.iter().position(|h| h.eq_ignore_ascii_case("number"))
        {
            column = at;
            continue;
        }
        let Some(raw) = record.get(column).filter(|r| !r.is_empty()) else {
            if record.iter().all(str::is_empty) {
                continue;
            }
            return Err(invalid(format!("Line {line} has no number.")));
        };
        let number = PhoneNumber::parse(raw)
            .map_err(|e| invalid(format!("Line {line}: {e}.")))?
            .e164()
            .to_owned();
        numbers.push(number);
        if numbers.len() > MAX_IMPORT {
            return Err(invalid(format!(
                "A list may hold at most {MAX_IMPORT} numbers; split it."
            )));
        }
    }
    if numbers.is_empty() {
        return Err(invalid("The list holds no numbers.".into()));
    }
    Ok(numbers)
}

/// Opts out every number of a CSV list ([`read_csv`]) in one transaction.
pub async fn import(
    pool: &PgPool,
    manager: &Manager,
    csv_text: &str,
) -> Result<Imported, OptOutError> {
    may(manager, Action::ManageOptOuts)?;
    let numbers = read_csv(csv_text)?;
    let mut seen = HashSet::with_capacity(numbers.len());
    let distinct: Vec<String> = numbers
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .cloned()
        .collect();
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, tenant, async |c| {
        let added = add_in(c, tenant, &distinct, OptOutSource::Import).await?;
        let imported = Imported {
            added: added.len(),
            unchanged: numbers.len() - added.len(),
        };
        audit::record(
            c,
            &manager.actor,
            Some(tenant),
            action::OPT_OUTS_IMPORTED,
            None,
            json!({"added": imported.added, "unchanged": imported.unchanged}),
        )
        .await?;
        Ok(imported)
    })
    .await
}

/// The whole list as CSV, `number,source,created_at`, oldest first.
pub async fn export(pool: &PgPool, manager: &Manager) -> Result<String, OptOutError> {
    may(manager, Action::ReadMessages)?;
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    let all = db::scoped(&mut conn, tenant, async |c| {
        Ok::<_, OptOutError>(store::all(c, tenant).await?)
    })
    .await?;
    Ok(to_csv(&all))
}

fn to_csv(all: &[OptOut]) -> String {
    let mut out = String::from("number,source,created_at\n");
    for o in all {
        // Numbers are `+` and digits and sources are words: nothing needs quoting.
        out.push_str(&format!(
            "{},{},{}\n",
            o.number,
            o.source,
            o.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_message(r: Result<Vec<String>, OptOutError>) -> String {
        match r {
            Err(OptOutError::Invalid { field, message }) => {
                assert_eq!(field, "number");
                message
            }
            other => panic!("expected a mistake, got {other:?}"),
        }
    }

    #[test]
    fn a_list_is_read_with_or_without_its_header() {
        let with = read_csv("source,Number\nmanual,+49 151 12345678\n\nimport,+14155552671\n");
        assert_eq!(with.unwrap(), ["+4915112345678", "+14155552671"]);
        let bare = read_csv("+4915112345678\r\n0014155552671\n");
        assert_eq!(bare.unwrap(), ["+4915112345678", "+14155552671"]);
        let exported = to_csv(&[OptOut {
            id: Uuid::now_v7(),
            number: "+4915112345678".into(),
            source: OptOutSource::Inbound,
            created_at: Utc::now(),
        }]);
        assert_eq!(read_csv(&exported).unwrap(), ["+4915112345678"]);
        let m = field_message(read_csv("number\n+4915112345678\n12345\n"));
        assert!(m.starts_with("Line 3:"), "{m}");
        assert!(field_message(read_csv("number\n")).contains("no numbers"));
        assert!(field_message(read_csv("number,x\n,y\n")).contains("Line 2 has no number"));
    }
}
