//! The audit log: who did what, when and from where. Handlers record an event next to the
//! change it describes (in the same transaction where there is one). Details never carry a
//! secret: keys appear by prefix, credentials not at all.

use diesel::sql_types::{Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

/// Who acted, and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// The user (person or staff) or API key.
    pub id: Option<Uuid>,
    /// Email of a person, prefix of a key; looked up from `id` when None.
    pub label: Option<String>,
    pub kind: ActorKind,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Staff,
    ApiKey,
    #[default]
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Staff => "staff",
            ActorKind::ApiKey => "api_key",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

/// Where a request came from: the client address and its user agent (trimmed).
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> Client {
        Client {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(200).collect()),
        }
    }

    pub fn person(&self, id: Uuid, staff: bool) -> Actor {
        Actor {
            id: Some(id),
            label: None,
            kind: if staff {
                ActorKind::Staff
            } else {
                ActorKind::User
            },
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    pub fn anonymous(&self, label: &str) -> Actor {
        Actor {
            id: None,
            label: Some(label.to_owned()),
            kind: ActorKind::Anonymous,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The client's address: the TCP peer, unless the peer is one of our `trusted` reverse
/// proxies, in which case the right-most address in `X-Forwarded-For` that is not itself a
/// trusted proxy (addresses further left were written by the client and prove nothing).
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut hops = Vec::new();
    for hop in header.split(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => hops.push(ip),
            // A malformed chain is not evidence of anything: fall back to the proxy.
            Err(_) => return Some(peer),
        }
    }
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(<[std::net::IpAddr]>::first(&hops))
        .copied()
        .or(Some(peer))
}

/// The actions recorded, by name.
pub mod action {
    pub const SIGNED_UP: &str = "auth.signed_up";
    pub const SIGNED_IN: &str = "auth.signed_in";
    pub const SIGN_IN_FAILED: &str = "auth.sign_in_failed";
    pub const SIGNED_OUT: &str = "auth.signed_out";
    pub const PASSWORD_CHANGED: &str = "auth.password_changed";
    pub const MEMBER_INVITED: &str = "member.invited";
    pub const MEMBER_JOINED: &str = "member.joined";
    pub const MEMBER_ROLE_CHANGED: &str = "member.role_changed";
    pub const MEMBER_REMOVED: &str = "member.removed";
    pub const API_KEY_CREATED: &str = "api_key.created";
    pub const API_KEY_ROTATED: &str = "api_key.rotated";
    pub const API_KEY_REVOKED: &str = "api_key.revoked";
    pub const PROVIDER_CREATED: &str = "provider.created";
    pub const PROVIDER_UPDATED: &str = "provider.updated";
    pub const PROVIDER_DELETED: &str = "provider.deleted";
    pub const PRICES_CHANGED: &str = "provider.prices_changed";
    pub const SETTINGS_CHANGED: &str = "tenant.settings_changed";
    pub const BUDGET_CHANGED: &str = "budget.changed";
    pub const BUDGET_REMOVED: &str = "budget.removed";
    pub const WEBHOOK_CREATED: &str = "webhook.created";
    pub const WEBHOOK_DELETED: &str = "webhook.deleted";
    pub const WEBHOOK_SECRET_ROTATED: &str = "webhook.secret_rotated";
    pub const WEBHOOK_CALLBACK_SECRET_MADE: &str = "webhook.callback_secret_made";
    pub const WEBHOOK_DELIVERY_REPLAYED: &str = "webhook.delivery_replayed";
    pub const OPT_OUT_ADDED: &str = "opt_out.added";
    pub const OPT_OUT_REMOVED: &str = "opt_out.removed";
    pub const OPT_OUTS_IMPORTED: &str = "opt_out.imported";
    pub const STAFF_CREATED: &str = "staff.created";
    pub const STAFF_LISTED_TENANTS: &str = "staff.listed_tenants";
    pub const STAFF_READ_SPEND_REPORT: &str = "staff.read_spend_report";
    pub const BILLING_SETTINGS_CHANGED: &str = "billing.settings_changed";
    pub const TENANT_FEE_CHANGED: &str = "billing.tenant_fee_changed";
    pub const TENANT_CURRENCY_CHANGED: &str = "billing.tenant_currency_changed";
    pub const BILLING_PERIOD_CLOSED: &str = "billing.period_close_requested";
    pub const EXCHANGE_RATES_CHANGED: &str = "billing.exchange_rates_changed";
}

/// Appends one event. `tenant` is None for platform-level events.
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    tenant: Option<Uuid>,
    action: &str,
    target: Option<String>,
    details: Value,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO audit_log \
           (id, tenant_id, actor_id, actor, actor_kind, action, target, details, ip, user_agent) \
         VALUES ($1, $2, $3, \
           COALESCE($4, (SELECT email FROM users WHERE id = $3), 'unknown'), \
           $5, $6, $7, $8, $9, $10)",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Nullable<SqlUuid>, _>(tenant)
    .bind::<Nullable<SqlUuid>, _>(actor.id)
    .bind::<Nullable<Text>, _>(actor.label.as_deref())
    .bind::<Text, _>(actor.kind.as_str())
    .bind::<Text, _>(action)
    .bind::<Nullable<Text>, _>(target)
    .bind::<Jsonb, _>(details)
    .bind::<Nullable<Text>, _>(actor.ip.as_deref())
    .bind::<Nullable<Text>, _>(actor.user_agent.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        let trusted = [proxy, ip("10.0.0.3")];
        // Direct clients cannot claim another address.
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), Some("198.51.100.1"), &trusted),
            Some(ip("203.0.113.9"))
        );
        // Behind the proxy: the right-most untrusted hop, not what the client prepended.
        assert_eq!(
            client_ip(
                Some(proxy),
                Some("1.2.3.4, 198.51.100.7, 10.0.0.3"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
        assert_eq!(
            client_ip(Some(proxy), Some("not an address"), &trusted),
            Some(proxy)
        );
        assert_eq!(
            client_ip(Some(proxy), Some("10.0.0.3"), &trusted),
            Some(ip("10.0.0.3"))
        );
        assert_eq!(client_ip(None, Some("1.2.3.4"), &trusted), None);
    }
}
