//! The tenant's SMS gateway accounts and their price lists. Credentials are stored encrypted
//! (AES-256-GCM under the master key) beside a masked copy that reads may show.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{provider_prices, providers};
use crate::providers::ProviderKind;
use crate::routing::{Price, RouteProvider};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = providers)]
pub struct Provider {
    pub id: Uuid,
    pub tenant_id: Uuid,
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
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = providers)]
pub struct NewProvider {
    pub id: Uuid,
    pub tenant_id: Uuid,
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

pub async fn list(conn: &mut AsyncPgConnection, tenant_id: Uuid) -> QueryResult<Vec<Provider>> {
    providers::table
        .filter(providers::tenant_id.eq(tenant_id))
        .filter(providers::deleted_at.is_null())
        .order(providers::id)
        .select(Provider::as_select())
        .load(conn)
        .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Provider>> {
    providers::table
        .filter(providers::tenant_id.eq(tenant_id))
        .filter(providers::id.eq(id))
        .filter(providers::deleted_at.is_null())
        .select(Provider::as_select())
        .first(conn)
        .await
        .optional()
}

/// Finds a provider by id alone, for provider callbacks (which carry no tenant).
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
    tenant_id: Uuid,
    id: Uuid,
    mut changes: ProviderChanges,
) -> QueryResult<Option<Provider>> {
    changes.updated_at = Some(Utc::now());
    diesel::update(
        providers::table
            .filter(providers::tenant_id.eq(tenant_id))
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
pub async fn delete(conn: &mut AsyncPgConnection, tenant_id: Uuid, id: Uuid) -> QueryResult<bool> {
    let n = diesel::update(
        providers::table
            .filter(providers::tenant_id.eq(tenant_id))
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

/// Replaces the whole price list of a provider.
pub async fn replace_prices(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
    provider_id: Uuid,
    prices: &[Price],
) -> QueryResult<()> {
    let rows: Vec<_> = prices
        .iter()
        .map(|p| {
            (
                provider_prices::provider_id.eq(provider_id),
                provider_prices::tenant_id.eq(tenant_id),
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
                .filter(provider_prices::tenant_id.eq(tenant_id))
                .filter(provider_prices::provider_id.eq(provider_id)),
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
    tenant_id: Uuid,
    provider_id: Uuid,
) -> QueryResult<Vec<Price>> {
    let rows: Vec<PriceRow> = provider_prices::table
        .filter(provider_prices::tenant_id.eq(tenant_id))
        .filter(provider_prices::provider_id.eq(provider_id))
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

/// Every live (not deleted) provider of the tenant with its prices, for routing.
pub async fn routing_table(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
) -> QueryResult<Vec<RoutableProvider>> {
    let rows = list(conn, tenant_id).await?;
    let mut prices: Vec<PriceRow> = provider_prices::table
        .filter(provider_prices::tenant_id.eq(tenant_id))
        .select(PriceRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine: Vec<Price> = prices
                .extract_if(.., |p| p.provider_id == row.id)
                .map(Price::from)
                .collect();
            RoutableProvider {
                route: RouteProvider {
                    id: row.id,
                    name: row.name.clone(),
                    is_sandbox: row.kind == ProviderKind::Sandbox,
                    enabled: row.enabled,
                    prices: mine,
                },
                row,
            }
        })
        .collect())
}

/// Names of the tenant's providers by id, deleted ones included (for history views).
pub async fn names(
    conn: &mut AsyncPgConnection,
    tenant_id: Uuid,
) -> QueryResult<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = providers::table
        .filter(providers::tenant_id.eq(tenant_id))
        .select((providers::id, providers::name))
        .load(conn)
        .await?;
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
