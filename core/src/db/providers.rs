//! SMS gateway accounts and their price lists: a tenant's own, and the platform's (the
//! operator's, `tenant_id` NULL, offered to every tenant). Credentials are stored encrypted
//! (AES-256-GCM under the master key) beside a masked copy that reads may show.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{provider_prices, providers};
use crate::providers::{PriceList, ProviderKind};
use crate::routing::{Price, RouteProvider};

/// Whose provider accounts: a tenant's own, or the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Tenant(Uuid),
    Platform,
}

impl Owner {
    /// The tenant, or None for the platform (as `tenant_id` stores it).
    pub fn tenant(self) -> Option<Uuid> {
        match self {
            Owner::Tenant(t) => Some(t),
            Owner::Platform => None,
        }
    }
}

type ProviderFilter =
    Box<dyn BoxableExpression<providers::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>;
type PriceFilter = Box<
    dyn BoxableExpression<provider_prices::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>,
>;

/// `owner`'s providers (`tenant_id = $1`, which the tenant index serves, or `tenant_id IS NULL`).
fn owned_by(owner: Owner) -> ProviderFilter {
    match owner {
        Owner::Tenant(t) => Box::new(providers::tenant_id.assume_not_null().eq(t)),
        Owner::Platform => Box::new(providers::tenant_id.is_null()),
    }
}

fn prices_of(owner: Owner) -> PriceFilter {
    match owner {
        Owner::Tenant(t) => Box::new(provider_prices::tenant_id.assume_not_null().eq(t)),
        Owner::Platform => Box::new(provider_prices::tenant_id.is_null()),
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = providers)]
pub struct Provider {
    pub id: Uuid,
    /// None: a platform provider.
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub kind: ProviderKind,
    pub credentials_enc: Vec<u8>,
    pub credentials_key_id: String,
    pub credentials_mask: serde_json::Value,
    pub base_url: Option<String>,
    pub sender_ids: Vec<String>,
    pub max_rate_per_sec: Option<i32>,
    /// Calls one worker process makes to this provider at once.
    pub max_concurrency: i32,
    /// How long its receipts may take before a message still `sent` is marked
    /// `receipt_overdue`.
    pub receipt_timeout_seconds: i32,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = providers)]
pub struct NewProvider {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub kind: ProviderKind,
    pub credentials_enc: Vec<u8>,
    pub credentials_key_id: String,
    pub credentials_mask: serde_json::Value,
    pub base_url: Option<String>,
    pub sender_ids: Vec<String>,
    pub max_rate_per_sec: Option<i32>,
    /// None: the database's default.
    pub max_concurrency: Option<i32>,
    /// None: the database's default.
    pub receipt_timeout_seconds: Option<i32>,
    pub enabled: bool,
}

/// A partial update; `None` leaves a field as it is. `Some(None)` clears a nullable field.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = providers)]
pub struct ProviderChanges {
    pub name: Option<String>,
    pub credentials_enc: Option<Vec<u8>>,
    pub credentials_key_id: Option<String>,
    pub credentials_mask: Option<serde_json::Value>,
    pub base_url: Option<Option<String>>,
    pub sender_ids: Option<Vec<String>>,
    pub max_rate_per_sec: Option<Option<i32>>,
    pub max_concurrency: Option<i32>,
    pub receipt_timeout_seconds: Option<i32>,
    pub enabled: Option<bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewProvider) -> QueryResult<Provider> {
    diesel::insert_into(providers::table)
        .values(new)
        .returning(Provider::as_returning())
        .get_result(conn)
        .await
}

pub async fn list(conn: &mut AsyncPgConnection, owner: Owner) -> QueryResult<Vec<Provider>> {
    providers::table
        .filter(owned_by(owner))
        .filter(providers::deleted_at.is_null())
        .order(providers::id)
        .select(Provider::as_select())
        .load(conn)
        .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    owner: Owner,
    id: Uuid,
) -> QueryResult<Option<Provider>> {
    providers::table
        .filter(owned_by(owner))
        .filter(providers::id.eq(id))
        .filter(providers::deleted_at.is_null())
        .select(Provider::as_select())
        .first(conn)
        .await
        .optional()
}

/// Finds a provider by id alone, for provider callbacks (which carry no tenant), a platform
/// one too.
pub async fn find_any_tenant(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<Provider>> {
    providers::table
        .filter(providers::id.eq(id))
        .select(Provider::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    owner: Owner,
    id: Uuid,
    mut changes: ProviderChanges,
) -> QueryResult<Option<Provider>> {
    changes.updated_at = Some(Utc::now());
    diesel::update(
        providers::table
            .filter(owned_by(owner))
            .filter(providers::id.eq(id))
            .filter(providers::deleted_at.is_null()),
    )
    .set(&changes)
    .returning(Provider::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Soft delete: past messages and attempts keep pointing at the row.
pub async fn delete(conn: &mut AsyncPgConnection, owner: Owner, id: Uuid) -> QueryResult<bool> {
    let n = diesel::update(
        providers::table
            .filter(owned_by(owner))
            .filter(providers::id.eq(id))
            .filter(providers::deleted_at.is_null()),
    )
    .set((
        providers::deleted_at.eq(Utc::now()),
        providers::enabled.eq(false),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = provider_prices)]
pub struct PriceRow {
    pub provider_id: Uuid,
    pub list: PriceList,
    pub country: String,
    pub message_type: String,
    pub price_micros: i64,
    pub currency: String,
}

impl From<PriceRow> for Price {
    fn from(r: PriceRow) -> Price {
        Price {
            country: r.country,
            message_type: r.message_type,
            price_micros: r.price_micros,
            currency: r.currency,
            fx: None,
        }
    }
}

/// Replaces one whole price list of a provider.
pub async fn replace_prices(
    conn: &mut AsyncPgConnection,
    owner: Owner,
    provider_id: Uuid,
    list: PriceList,
    prices: &[Price],
) -> QueryResult<()> {
    let rows: Vec<_> = prices
        .iter()
        .map(|p| {
            (
                provider_prices::provider_id.eq(provider_id),
                provider_prices::tenant_id.eq(owner.tenant()),
                provider_prices::list.eq(list),
                provider_prices::country.eq(&p.country),
                provider_prices::message_type.eq(&p.message_type),
                provider_prices::price_micros.eq(p.price_micros),
                provider_prices::currency.eq(&p.currency),
            )
        })
        .collect();
    conn.transaction(async move |c| {
        diesel::delete(
            provider_prices::table
                .filter(prices_of(owner))
                .filter(provider_prices::provider_id.eq(provider_id))
                .filter(provider_prices::list.eq(list)),
        )
        .execute(c)
        .await?;
        if !rows.is_empty() {
            diesel::insert_into(provider_prices::table)
                .values(rows)
                .execute(c)
                .await?;
        }
        Ok(())
    })
    .await
}

pub async fn prices(
    conn: &mut AsyncPgConnection,
    owner: Owner,
    provider_id: Uuid,
    list: PriceList,
) -> QueryResult<Vec<Price>> {
    let rows: Vec<PriceRow> = provider_prices::table
        .filter(prices_of(owner))
        .filter(provider_prices::provider_id.eq(provider_id))
        .filter(provider_prices::list.eq(list))
        .order((provider_prices::country, provider_prices::message_type))
        .select(PriceRow::as_select())
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(Price::from).collect())
}

/// A provider with what routing and sending need, for one tenant.
#[derive(Debug, Clone)]
pub struct RoutableProvider {
    pub route: RouteProvider,
    pub row: Provider,
}

/// Every live (not deleted) provider of `owner` with its prices, for routing: a tenant's with
/// its one list as `prices`; the platform's with the sell list as `prices` and the cost list
/// as `costs`.
pub async fn routing_table(
    conn: &mut AsyncPgConnection,
    owner: Owner,
) -> QueryResult<Vec<RoutableProvider>> {
    let rows = list(conn, owner).await?;
    let mut prices: Vec<PriceRow> = provider_prices::table
        .filter(prices_of(owner))
        .select(PriceRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut mine: Vec<PriceRow> =
                prices.extract_if(.., |p| p.provider_id == row.id).collect();
            let platform = owner == Owner::Platform;
            let costs: Vec<Price> = if platform {
                mine.extract_if(.., |p| p.list == PriceList::Cost)
                    .map(Price::from)
                    .collect()
            } else {
                Vec::new()
            };
            let prices: Vec<Price> = mine.into_iter().map(Price::from).collect();
            RoutableProvider {
                route: RouteProvider {
                    id: row.id,
                    name: row.name.clone(),
                    is_sandbox: row.kind == ProviderKind::Sandbox,
                    enabled: row.enabled,
                    prices,
                    platform: platform.then_some(crate::routing::PlatformPrices { costs }),
                },
                row,
            }
        })
        .collect())
}

/// Names of `owner`'s providers by id, deleted ones included (for history views); a tenant's
/// with the platform's, which its messages may have gone through.
pub async fn names(
    conn: &mut AsyncPgConnection,
    owner: Owner,
) -> QueryResult<std::collections::HashMap<Uuid, String>> {
    let mut rows: Vec<(Uuid, String)> = providers::table
        .filter(owned_by(owner))
        .select((providers::id, providers::name))
        .load(conn)
        .await?;
    if let Owner::Tenant(_) = owner {
        #[derive(QueryableByName)]
        struct Named {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        // Through a definer's function: row-level security hides the platform's rows.
        let platform: Vec<Named> =
            diesel::sql_query("SELECT id, name FROM platform_provider_names()")
                .load(conn)
                .await?;
        rows.extend(platform.into_iter().map(|n| (n.id, n.name)));
    }
    Ok(rows.into_iter().collect())
}

/// Credentials sealed under a key other than `current_key_id`, every tenant's, deleted ones
/// too (id, key id, ciphertext), at most `limit`.
pub async fn sealed_under_other_keys(
    conn: &mut AsyncPgConnection,
    current_key_id: &str,
    limit: i64,
) -> QueryResult<Vec<(Uuid, String, Vec<u8>)>> {
    providers::table
        .filter(providers::credentials_key_id.ne(current_key_id))
        .select((
            providers::id,
            providers::credentials_key_id,
            providers::credentials_enc,
        ))
        .order(providers::id)
        .limit(limit)
        .load(conn)
        .await
}

/// Replaces credentials sealed under `old_key_id` with a re-encryption; false if someone
/// changed them in the meantime (their new ciphertext is under the current key already).
pub async fn reseal(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    old_key_id: &str,
    ciphertext: &[u8],
    key_id: &str,
) -> QueryResult<bool> {
    diesel::update(
        providers::table
            .filter(providers::id.eq(id))
            .filter(providers::credentials_key_id.eq(old_key_id)),
    )
    .set((
        providers::credentials_enc.eq(ciphertext),
        providers::credentials_key_id.eq(key_id),
    ))
    .execute(conn)
    .await
    .map(|n| n == 1)
}
