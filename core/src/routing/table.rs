//! A tenant's route table: what its messages are priced and routed over. One loader and one
//! cache, used by the server (the estimate in the 202, `no_route`, the price of a send settled
//! by its receipt) and the worker (which provider to call, with what credentials and sender).

use std::collections::HashMap;
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::RouteProvider;
use crate::cache::{TTL, TtlCache};
use crate::changes::Change;
use crate::config::Settings;
use crate::crypto::Keyring;
use crate::db::providers::Owner;
use crate::db::{PgPool, providers, tenants};
use crate::providers::{Credentials, ProviderKind};

/// A provider ready to be called.
pub struct Gateway {
    pub kind: ProviderKind,
    pub base_url: Option<String>,
    pub credentials: Credentials,
    pub sender_ids: Vec<String>,
    /// Calls one worker process makes to it at once.
    pub max_concurrency: usize,
}

/// What a tenant's messages route over.
pub struct RouteTable {
    /// Every live provider (disabled ones too: routing skips them) with its prices: the
    /// tenant's own, then the platform's.
    pub providers: Vec<RouteProvider>,
    /// How to call each of them whose kind is known and whose credentials open (a provider
    /// missing here is never called).
    pub gateways: HashMap<Uuid, Gateway>,
    /// The tenant's default sender, when neither the message nor the provider names one.
    pub default_sender: Option<String>,
    /// The tenant's budget is a hard cap: every live message it sends holds its worst-case
    /// cost until sent ([`crate::budgets::admit`]). Kept with the routes, and forgotten with
    /// them when the budget changes.
    pub hard_cap: bool,
    /// The tenant's platform fee and whether it is past due on an invoice.
    pub billing: crate::billing::terms::Terms,
}

/// Reads a tenant's route table: its live providers and the platform's, with their prices (in
/// the tenant's currency, at the operator's exchange rates), their credentials opened, and its
/// default sender.
pub async fn load(
    conn: &mut AsyncPgConnection,
    master_key: &Keyring,
    tenant_id: Uuid,
) -> anyhow::Result<RouteTable> {
    let mut rows = providers::routing_table(conn, Owner::Tenant(tenant_id)).await?;
    rows.extend(providers::routing_table(conn, Owner::Platform).await?);
    let tenant = tenants::find(conn, tenant_id).await?;
    let default_sender = tenant.default_sender_ids.into_iter().next();
    let hard_cap = crate::db::budgets::is_hard_cap(conn, tenant_id).await?;
    let rates = crate::billing::rates::load(conn).await?;
    let billing = crate::billing::terms::load(conn, tenant_id, &tenant.currency, &rates).await?;
    let mut table = RouteTable {
        providers: Vec::with_capacity(rows.len()),
        gateways: HashMap::with_capacity(rows.len()),
        default_sender,
        hard_cap,
        billing,
    };
    for mut p in rows {
        // Prices in another currency than the tenant's, converted into it: routing, estimates,
        // holds and costs all read the converted price.
        p.route.prices = super::convert(p.route.prices, &tenant.currency, &rates);
        if let Some(platform) = &mut p.route.platform {
            platform.costs = super::convert(
                std::mem::take(&mut platform.costs),
                &tenant.currency,
                &rates,
            );
        }
        table.providers.push(p.route);
        let kind = p.row.kind;
        let credentials = Credentials::open(
            master_key,
            kind,
            &p.row.credentials_key_id,
            &p.row.credentials_enc,
        );
        match credentials {
            Ok(credentials) => {
                table.gateways.insert(
                    p.row.id,
                    Gateway {
                        kind,
                        base_url: p.row.base_url,
                        credentials,
                        sender_ids: p.row.sender_ids,
                        max_concurrency: usize::try_from(p.row.max_concurrency).unwrap_or(1).max(1),
                    },
                );
            }
            Err(e) => tracing::error!(
                provider_id = %p.row.id,
                error = format!("{e:#}"),
                "cannot read provider credentials (wrong OPENCLAW_MASTER_KEY?); never called"
            ),
        }
    }
    Ok(table)
}

/// Tenants' route tables, loaded on first use and kept until a change to the tenant's
/// providers, prices or settings is announced ([`crate::changes::Change::Routes`]).
pub struct RouteTables {
    pool: PgPool,
    settings: Arc<Settings>,
    tables: TtlCache<Uuid, RouteTable>,
}

impl RouteTables {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> RouteTables {
        RouteTables {
            pool,
            settings,
            tables: TtlCache::new(TTL),
        }
    }

    /// The tenant's table: a hash-map read when cached.
    pub async fn get(&self, tenant_id: Uuid) -> anyhow::Result<Arc<RouteTable>> {
        self.tables
            .get_or_load(&tenant_id, async || {
                let mut conn = self.pool.get().await?;
                load(&mut conn, &self.settings.master_key, tenant_id).await
            })
            .await
    }

    /// Forgets the tenant's table (its providers, prices or settings changed).
    pub fn evict(&self, tenant_id: &Uuid) {
        self.tables.evict(tenant_id);
    }

    pub fn clear(&self) {
        self.tables.clear();
    }

    /// Forgets what `change` touched: a tenant's table, or all of them.
    pub fn forget(&self, change: Change) {
        match change {
            Change::Routes { tenant } => self.evict(&tenant),
            Change::All | Change::Billing | Change::Platform => self.clear(),
            Change::ApiKeys => {}
        }
    }
}
