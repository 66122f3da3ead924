//! A tenant's webhooks: endpoints (created with a secret shown once, listed, deleted, their
//! secret rotated), the callback secret that signs events sent to messages' own
//! `callback_url`, and replays of deliveries. The one implementation behind `/v1/webhooks…` and
//! the admin app's webhooks page. Each change asks the permission matrix (`ManageWebhooks`),
//! validates its input naming the field at fault, and writes with its audit record in one
//! transaction scoped to the tenant. Nothing is cached: the trigger that writes events reads
//! the endpoints in the transaction of the status change.
//!
//! Delivering — signing, the address check, the retry schedule — is [`deliver`].

pub mod deliver;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, action};
use crate::crypto::Keyring;
use crate::db::webhooks::{self as store, Endpoint, ListedDelivery, SealedSecret};
use crate::db::{self, PgPool};
use crate::domain::{DeliveryId, EventKind, WebhookId};
use crate::members::Manager;
use crate::permissions::{self, Action};

/// Most endpoints a tenant may have.
pub const MAX_ENDPOINTS: usize = 16;
/// Longest URL accepted.
pub const MAX_URL: usize = 2048;
/// How long a replaced secret keeps signing alongside the new one.
pub const OVERLAP: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Absent, or another tenant's.
    #[error("No such {0}.")]
    NotFound(&'static str),
    #[error("Your role cannot manage webhooks; ask an owner, admin or developer.")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for WebhookError {
    fn from(e: diesel::result::Error) -> Self {
        WebhookError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for WebhookError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        WebhookError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> WebhookError {
    WebhookError::Invalid {
        field,
        message: message.into(),
    }
}

/// What the operator allows webhook URLs to be (`OPENCLAW_ALLOW_HTTP_WEBHOOKS`,
/// `OPENCLAW_ALLOW_PRIVATE_WEBHOOKS`); both off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

impl UrlPolicy {
    pub fn from_settings(s: &crate::config::Settings) -> UrlPolicy {
        UrlPolicy {
            allow_http: s.webhook_allow_http,
            allow_private: s.webhook_allow_private,
        }
    }
}

/// A webhook URL as saved: `https` (or `http` where the operator allows it), with a host, no
/// user name or password, no fragment, at most [`MAX_URL`] characters; a host that is an IP
/// address must be a public one (unless private ones are allowed). Names are resolved and
/// checked again at every delivery ([`deliver::Client`]).
pub fn check_url(raw: &str, policy: UrlPolicy) -> Result<url::Url, WebhookError> {
    let field = "url";
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(invalid(field, "Give the URL events are to be posted to."));
    }
    if raw.chars().count() > MAX_URL {
        return Err(invalid(field, "The URL must be at most 2048 characters."));
    }
    let url =
        url::Url::parse(raw).map_err(|e| invalid(field, format!("`{raw}` is not a URL: {e}.")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(invalid(
                field,
                "The URL must start with https:// (this server does not post events over plain http).",
            ));
        }
        _ => return Err(invalid(field, "The URL must start with https://.")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(field, "The URL must name a host."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "The URL must not hold a user name or password; events are signed instead.",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid(field, "The URL must not have a #fragment."));
    }
    if let Some(ip) = deliver::literal_ip(&url)
        && !policy.allow_private
        && !deliver::is_public(ip)
    {
        return Err(invalid(
            field,
            format!("{ip} is not a public address; events are only posted to public ones."),
        ));
    }
    Ok(url)
}

/// The events an endpoint listens for: at least one, each one of [`EventKind::ALL`]; sorted,
/// without repeats.
pub fn check_events(events: &[String]) -> Result<Vec<EventKind>, WebhookError> {
    if events.is_empty() {
        return Err(invalid("events", "Choose at least one event."));
    }
    let mut kinds = Vec::with_capacity(events.len());
    for e in events {
        let kind = EventKind::parse(e.trim()).ok_or_else(|| {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            invalid(
                "events",
                format!(
                    "`{}` is not an event; use {}.",
                    e.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            )
        })?;
        kinds.push(kind);
    }
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    Ok(kinds)
}

/// A human length of time, for messages (`3 days`, `2 hours`, `90 seconds`).
pub fn describe(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 86_400 && s.is_multiple_of(86_400) {
        (s / 86_400, "day")
    } else if s >= 3_600 && s.is_multiple_of(3_600) {
        (s / 3_600, "hour")
    } else if s >= 60 && s.is_multiple_of(60) {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn may_manage(manager: &Manager) -> Result<(), WebhookError> {
    if permissions::allowed(manager.role, Action::ManageWebhooks) {
        Ok(())
    } else {
        Err(WebhookError::Forbidden)
    }
}

/// A fresh signing secret: `whsec_` and 32 base62 characters.
fn mint(keys: &Keyring) -> (String, SealedSecret) {
    let secret = format!("whsec_{}", crate::crypto::random_token(32));
    let key = keys.current();
    let sealed = SealedSecret {
        key_id: key.key_id().to_owned(),
        enc: key.encrypt(secret.as_bytes()),
    };
    (secret, sealed)
}

/// An endpoint as asked for.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
}

/// An endpoint with its signing secret, shown this once.
pub struct WithSecret {
    pub endpoint: Endpoint,
    pub secret: String,
}

fn target(id: Uuid) -> Option<String> {
    Some(WebhookId::from(id).to_string())
}

/// A change by `manager`: the permission matrix asked, then `f` in a transaction scoped to
/// the tenant, given a way to record its audit event in that same transaction.
async fn change<R>(
    pool: &PgPool,
    manager: &Manager,
    f: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection, Audit<'_>) -> Result<R, WebhookError>,
) -> Result<R, WebhookError> {
    may_manage(manager)?;
    let mut conn = pool.get().await?;
    db::scoped(&mut conn, manager.tenant, async |c| {
        f(c, Audit(manager)).await
    })
    .await
}

/// Records a change's audit event, by the manager, in the tenant.
struct Audit<'a>(&'a Manager);

impl Audit<'_> {
    async fn record(
        &self,
        c: &mut diesel_async::AsyncPgConnection,
        what: &str,
        target: Option<String>,
        details: serde_json::Value,
    ) -> Result<(), WebhookError> {
        audit::record(c, &self.0.actor, Some(self.0.tenant), what, target, details).await?;
        Ok(())
    }
}

/// Adds an endpoint; the answer holds its secret, this once.
pub async fn create(
    pool: &PgPool,
    keys: &Keyring,
    policy: UrlPolicy,
    manager: &Manager,
    new: NewWebhook,
) -> Result<WithSecret, WebhookError> {
    may_manage(manager)?;
    let url = check_url(&new.url, policy)?;
    let events = check_events(&new.events)?;
    let (secret, sealed) = mint(keys);
    let tenant = manager.tenant;
    change(pool, manager, async |c, audit| {
        // Two creations at once count one after the other, so the limit holds.
        store::lock_endpoints(c, tenant).await?;
        if store::list_endpoints(c, tenant).await?.len() >= MAX_ENDPOINTS {
            return Err(invalid(
                "url",
                format!(
                    "A tenant may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first."
                ),
            ));
        }
        let endpoint = store::create_endpoint(c, tenant, url.as_str(), &events, &sealed).await?;
        let details = json!({"url": endpoint.url, "events": events});
        audit
            .record(c, action::WEBHOOK_CREATED, target(endpoint.id), details)
            .await?;
        Ok(WithSecret { endpoint, secret })
    })
    .await
}

/// Deletes an endpoint, and with it the deliveries it has not had yet.
pub async fn delete(pool: &PgPool, manager: &Manager, id: Uuid) -> Result<(), WebhookError> {
    change(pool, manager, async |c, audit| {
        let gone = store::delete_endpoint(c, manager.tenant, id)
            .await?
            .ok_or(WebhookError::NotFound("webhook endpoint"))?;
        let details = json!({"url": gone.url});
        audit
            .record(c, action::WEBHOOK_DELETED, target(id), details)
            .await
    })
    .await
}

/// Gives an endpoint a new secret (in the answer, this once); the old one keeps signing
/// alongside it for [`OVERLAP`], so receivers can switch without missing an event.
pub async fn rotate_secret(
    pool: &PgPool,
    keys: &Keyring,
    manager: &Manager,
    id: Uuid,
) -> Result<WithSecret, WebhookError> {
    let (secret, sealed) = mint(keys);
    let until = Utc::now() + OVERLAP;
    change(pool, manager, async |c, audit| {
        let endpoint = store::rotate_endpoint_secret(c, manager.tenant, id, &sealed, until)
            .await?
            .ok_or(WebhookError::NotFound("webhook endpoint"))?;
        let details = json!({"old_secret_signs_until": until});
        audit
            .record(c, action::WEBHOOK_SECRET_ROTATED, target(id), details)
            .await?;
        Ok(WithSecret { endpoint, secret })
    })
    .await
}

/// Makes the tenant's callback secret, or replaces it (the old one keeps signing for
/// [`OVERLAP`]); the answer holds it, this once.
pub async fn callback_secret(
    pool: &PgPool,
    keys: &Keyring,
    manager: &Manager,
) -> Result<String, WebhookError> {
    let (secret, sealed) = mint(keys);
    let until = Utc::now() + OVERLAP;
    change(pool, manager, async |c, audit| {
        let replaced = store::put_callback_secret(c, manager.tenant, &sealed, until).await?;
        let details = json!({"replaced": replaced});
        audit
            .record(c, action::WEBHOOK_CALLBACK_SECRET_MADE, None, details)
            .await?;
        Ok(secret)
    })
    .await
}

/// Sends one of an endpoint's deliveries again, at once.
pub async fn replay(
    pool: &PgPool,
    manager: &Manager,
    endpoint: Uuid,
    delivery: Uuid,
) -> Result<ListedDelivery, WebhookError> {
    change(pool, manager, async |c, audit| {
        let replayed = store::replay(c, manager.tenant, endpoint, delivery)
            .await?
            .ok_or(WebhookError::NotFound("webhook delivery"))?;
        let details = json!({"endpoint": WebhookId::from(endpoint).to_string()});
        let target = Some(DeliveryId::from(delivery).to_string());
        audit
            .record(c, action::WEBHOOK_DELIVERY_REPLAYED, target, details)
            .await?;
        Ok(replayed)
    })
    .await
}

/// Mails the owners and admins of endpoint `id`'s tenant that it was disabled (the job
/// `webhook_disabled_mail`). Without SMTP settings there is nothing to do: the webhooks page
/// and the API say it is disabled, and why.
pub async fn mail_disabled(
    conn: &mut diesel_async::AsyncPgConnection,
    setup: &crate::alerts::MailSetup<'_>,
    give_up_after: Duration,
    id: Uuid,
) -> anyhow::Result<()> {
    use crate::db::schema::{users, webhook_endpoints};
    use crate::domain::{MemberStatus, Role};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let Some((tenant_id, url)): Option<(Uuid, String)> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .select((webhook_endpoints::tenant_id, webhook_endpoints::url))
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(());
    };
    let Some(mailer) = setup.mailer else {
        tracing::info!(webhook = %WebhookId::from(id), "disabled webhook not mailed: OPENCLAW_SMTP_URL is not set");
        return Ok(());
    };
    let to: Vec<String> = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::role.eq_any([Role::Owner, Role::Admin]))
        .filter(users::status.eq(MemberStatus::Active))
        .order(users::id.asc())
        .select(users::email)
        .load(conn)
        .await?;
    if to.is_empty() {
        return Ok(());
    }
    // The last attempt's error (a delivery failed for the endpoint being disabled made none).
    #[derive(QueryableByName)]
    struct LastError {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        error: Option<String>,
    }
    let last_error: Option<String> = diesel::sql_query(
        "SELECT log -> -1 ->> 'error' AS error FROM webhook_deliveries
         WHERE endpoint_id = $1 AND jsonb_array_length(log) > 0
         ORDER BY id DESC LIMIT 1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .get_result::<LastError>(conn)
    .await
    .optional()?
    .and_then(|e| e.error);
    let tenant = crate::db::tenants::find(conn, tenant_id).await?;
    let link = format!("{}/webhooks", setup.public_url.trim_end_matches('/'));
    mailer
        .send_webhook_disabled(&crate::mail::WebhookDisabledMail {
            to: &to,
            tenant_name: &tenant.name,
            url: &url,
            failing_for: describe(give_up_after),
            last_error: last_error.as_deref().unwrap_or("(none recorded)"),
            link: &link,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };

    fn field_of(e: WebhookError) -> &'static str {
        match e {
            WebhookError::Invalid { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn urls_are_https_public_and_plain() {
        assert!(check_url("https://hooks.example.com/openclaw?x=1", STRICT).is_ok());
        for bad in [
            "",
            "hooks.example.com",
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(
                field_of(check_url(bad, STRICT).unwrap_err()),
                "url",
                "{bad}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL));
        assert!(check_url(&long, STRICT).is_err());
        let open = UrlPolicy {
            allow_http: true,
            allow_private: true,
        };
        assert!(check_url("http://127.0.0.1:9000/hook", open).is_ok());
    }

    #[test]
    fn events_are_known_sorted_and_unique() {
        let got = check_events(&[
            "message.status".into(),
            "budget.alert".into(),
            "message.status".into(),
        ])
        .unwrap();
        assert_eq!(got, vec![EventKind::BudgetAlert, EventKind::MessageStatus]);
        assert_eq!(field_of(check_events(&[]).unwrap_err()), "events");
        assert_eq!(
            field_of(check_events(&["message.sent".into()]).unwrap_err()),
            "events"
        );
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(describe(Duration::from_secs(3 * 86_400)), "3 days");
        assert_eq!(describe(Duration::from_secs(3_600)), "1 hour");
        assert_eq!(describe(Duration::from_secs(90)), "90 seconds");
        assert_eq!(describe(Duration::from_secs(120)), "2 minutes");
    }
}
