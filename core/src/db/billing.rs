//! Billing storage (see the migration `billing`): the operator's settings by the day they take
//! effect, tenants' fee overrides, billing periods, invoices with their lines and close step,
//! Stripe customers and the Stripe events applied.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{
    billing_periods, billing_settings, invoice_lines, invoices, stripe_customers, stripe_events,
    tenant_fee_overrides,
};
use crate::domain::{CloseStep, InvoiceLineKind, InvoiceStatus, LedgerKind, Period};

/// One version of the operator's billing settings.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = billing_settings)]
pub struct SettingsVersion {
    pub effective_from: NaiveDate,
    /// Per segment, in micro-units of `currency`.
    pub platform_fee_micros: i64,
    pub currency: String,
    /// The default markup on platform providers, in hundredths of a percent.
    pub markup_bps: i32,
    /// Days an invoice may stay unpaid after it is finalized.
    pub grace_days: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

/// Every version, oldest first.
pub async fn settings_versions(conn: &mut AsyncPgConnection) -> QueryResult<Vec<SettingsVersion>> {
    billing_settings::table
        .order(billing_settings::effective_from.asc())
        .select(SettingsVersion::as_select())
        .load(conn)
        .await
}

/// Stores the version taking effect on `v.effective_from`, replacing one for that same day
/// (the service only allows today or later, so nothing already charged changes).
pub async fn put_settings(
    conn: &mut AsyncPgConnection,
    v: &SettingsVersion,
) -> QueryResult<SettingsVersion> {
    let values = (
        billing_settings::effective_from.eq(v.effective_from),
        billing_settings::platform_fee_micros.eq(v.platform_fee_micros),
        billing_settings::currency.eq(&v.currency),
        billing_settings::markup_bps.eq(v.markup_bps),
        billing_settings::grace_days.eq(v.grace_days),
        billing_settings::created_at.eq(diesel::dsl::now),
        billing_settings::created_by.eq(v.created_by),
    );
    diesel::insert_into(billing_settings::table)
        .values(values)
        .on_conflict(billing_settings::effective_from)
        .do_update()
        .set(values)
        .returning(SettingsVersion::as_returning())
        .get_result(conn)
        .await
}

/// A tenant's own terms from a day on: its platform fee (None: the platform's fee again) and
/// its markup on platform providers' cost (None: the default markup in force).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = tenant_fee_overrides)]
pub struct FeeOverride {
    pub tenant_id: Uuid,
    pub effective_from: NaiveDate,
    pub platform_fee_micros: Option<i64>,
    pub markup_bps: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

/// The tenant's overrides, oldest first.
pub async fn fee_overrides(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Vec<FeeOverride>> {
    tenant_fee_overrides::table
        .filter(tenant_fee_overrides::tenant_id.eq(tenant))
        .order(tenant_fee_overrides::effective_from.asc())
        .select(FeeOverride::as_select())
        .load(conn)
        .await
}

/// Every tenant's overrides with the tenant's name and billing currency, by name then day.
pub async fn all_overrides(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(String, String, FeeOverride)>> {
    use super::schema::tenants;
    tenant_fee_overrides::table
        .inner_join(tenants::table)
        .order((
            tenants::name.asc(),
            tenants::id.asc(),
            tenant_fee_overrides::effective_from.asc(),
        ))
        .select((tenants::name, tenants::currency, FeeOverride::as_select()))
        .load(conn)
        .await
}

/// Stores an override, replacing one of the same tenant and day.
pub async fn put_override(
    conn: &mut AsyncPgConnection,
    o: &FeeOverride,
) -> QueryResult<FeeOverride> {
    let values = (
        tenant_fee_overrides::tenant_id.eq(o.tenant_id),
        tenant_fee_overrides::effective_from.eq(o.effective_from),
        tenant_fee_overrides::platform_fee_micros.eq(o.platform_fee_micros),
        tenant_fee_overrides::markup_bps.eq(o.markup_bps),
        tenant_fee_overrides::created_at.eq(diesel::dsl::now),
        tenant_fee_overrides::created_by.eq(o.created_by),
    );
    diesel::insert_into(tenant_fee_overrides::table)
        .values(values)
        .on_conflict((
            tenant_fee_overrides::tenant_id,
            tenant_fee_overrides::effective_from,
        ))
        .do_update()
        .set(values)
        .returning(FeeOverride::as_returning())
        .get_result(conn)
        .await
}

/// Billing currencies of tenants other than `currency` (distinct, sorted).
pub async fn other_currencies(
    conn: &mut AsyncPgConnection,
    currency: &str,
) -> QueryResult<Vec<String>> {
    use super::schema::tenants;
    tenants::table
        .filter(tenants::currency.ne(currency))
        .select(tenants::currency)
        .distinct()
        .order(tenants::currency.asc())
        .load(conn)
        .await
}

/// SQL: the `billing_settings` row `s` is the version in force today or one scheduled after it.
const FEE_IN_FORCE_OR_LATER: &str = "s.effective_from >= COALESCE(
         (SELECT max(effective_from) FROM billing_settings
          WHERE effective_from <= (now() AT TIME ZONE 'UTC')::date),
         '-infinity'::date)";

/// What stands in the way of changing a tenant's billing currency, its row locked until the
/// transaction ends (so no message of it is stored meanwhile: storing one takes a key-share
/// lock on the row).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CurrencyInUse {
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// It has sent live messages (each is priced in its currency).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub messages: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub invoices: bool,
    /// Its budget's currency, if it has one.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub budget: Option<String>,
    /// The currencies its prices, its platform providers' and the operator's fee (in force or
    /// scheduled) are given in, distinct and sorted.
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    pub priced_in: Vec<String>,
}

/// [`CurrencyInUse`] of `tenant`, locking its row; None: no such tenant.
pub async fn lock_currency(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Option<CurrencyInUse>> {
    diesel::sql_query(format!(
        "WITH t AS (SELECT id, currency FROM tenants WHERE id = $1 FOR UPDATE)
         SELECT t.currency,
             EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = t.id AND m.mode = $2)
                 AS messages,
             EXISTS (SELECT 1 FROM invoices i WHERE i.tenant_id = t.id) AS invoices,
             (SELECT b.currency FROM budgets b WHERE b.tenant_id = t.id) AS budget,
             ARRAY(
                 SELECT pp.currency FROM provider_prices pp
                 JOIN providers p ON p.id = pp.provider_id AND p.deleted_at IS NULL
                 WHERE pp.tenant_id = t.id OR pp.tenant_id IS NULL
                 UNION
                 SELECT s.currency FROM billing_settings s
                 WHERE s.platform_fee_micros > 0 AND {FEE_IN_FORCE_OR_LATER}
                 ORDER BY 1) AS priced_in
         FROM t"
    ))
    .bind::<diesel::sql_types::Uuid, _>(tenant)
    .bind::<Text, _>(crate::domain::KeyMode::Live.as_str())
    .get_result(conn)
    .await
    .optional()
}

/// Sets a tenant's billing currency.
pub async fn set_currency(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    currency: &str,
) -> QueryResult<usize> {
    use super::schema::tenants;
    diesel::update(tenants::table.find(tenant))
        .set(tenants::currency.eq(currency))
        .execute(conn)
        .await
}

/// Whether the operator's fee (in force or scheduled, and not zero) is in `from` while some
/// tenants are billed in `to`: then the fee needs the rate from `from` into `to`.
pub async fn fee_needs_rate(
    conn: &mut AsyncPgConnection,
    from: &str,
    to: &str,
) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct B {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        needed: bool,
    }
    let b: B = diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM tenants WHERE currency = $2)
             AND EXISTS (
                 SELECT 1 FROM billing_settings s
                 WHERE s.currency = $1 AND s.platform_fee_micros > 0
                   AND {FEE_IN_FORCE_OR_LATER}) AS needed"
    ))
    .bind::<Text, _>(from)
    .bind::<Text, _>(to)
    .get_result(conn)
    .await?;
    Ok(b.needed)
}

/// A period a staff member asked to close.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = billing_periods)]
pub struct BillingPeriod {
    pub id: Uuid,
    pub period: NaiveDate,
    pub requested_at: DateTime<Utc>,
    pub requested_by: Option<Uuid>,
    pub opened_at: Option<DateTime<Utc>>,
    pub invoices: Option<i32>,
}

/// Records the request to close `period` (a second request keeps the first); returns the row
/// and whether this call made it.
pub async fn request_close(
    conn: &mut AsyncPgConnection,
    period: Period,
    by: Option<Uuid>,
) -> QueryResult<(BillingPeriod, bool)> {
    let made: Option<BillingPeriod> = diesel::insert_into(billing_periods::table)
        .values((
            billing_periods::id.eq(Uuid::now_v7()),
            billing_periods::period.eq(period.first_day()),
            billing_periods::requested_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .returning(BillingPeriod::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match made {
        Some(row) => Ok((row, true)),
        None => Ok((
            find_period(conn, period).await?.ok_or(diesel::NotFound)?,
            false,
        )),
    }
}

pub async fn find_period(
    conn: &mut AsyncPgConnection,
    period: Period,
) -> QueryResult<Option<BillingPeriod>> {
    billing_periods::table
        .filter(billing_periods::period.eq(period.first_day()))
        .select(BillingPeriod::as_select())
        .first(conn)
        .await
        .optional()
}

/// The period row, locked for the caller's transaction.
pub async fn lock_period(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<BillingPeriod>> {
    billing_periods::table
        .filter(billing_periods::id.eq(id))
        .select(BillingPeriod::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Every period closed or being closed, newest first.
pub async fn periods(conn: &mut AsyncPgConnection) -> QueryResult<Vec<BillingPeriod>> {
    billing_periods::table
        .order(billing_periods::period.desc())
        .select(BillingPeriod::as_select())
        .load(conn)
        .await
}

pub async fn mark_opened(conn: &mut AsyncPgConnection, id: Uuid, invoices: i32) -> QueryResult<()> {
    diesel::update(billing_periods::table.filter(billing_periods::id.eq(id)))
        .set((
            billing_periods::opened_at.eq(diesel::dsl::now),
            billing_periods::invoices.eq(invoices),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Whether a transaction that began before `moment` is still open in this database: its
/// writes (ledger entries dated before `moment`) may not be visible yet.
pub async fn transactions_begun_before(
    conn: &mut AsyncPgConnection,
    moment: DateTime<Utc>,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: Count = diesel::sql_query(
        "SELECT count(*)::int8 AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND xact_start < $1",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(moment)
    .get_result(conn)
    .await?;
    Ok(row.n)
}

/// What a period billed one tenant at one unit price of one kind, from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Billable {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub tenant_id: Uuid,
    #[diesel(sql_type = Text)]
    pub tenant_name: String,
    /// The tenant's billing currency.
    #[diesel(sql_type = Text)]
    pub billing_currency: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub kind: LedgerKind,
    #[diesel(sql_type = BigInt)]
    pub unit_micros: i64,
    #[diesel(sql_type = BigInt)]
    pub quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub amount_micros: i64,
}

/// What `period` bills, per tenant (optionally one), currency, kind and unit price: the
/// ledger's entries OpenClaw bills — platform fees, and the messages sent through platform
/// providers (at their sell price; the tenant's own providers bill it themselves).
pub async fn billable(
    conn: &mut AsyncPgConnection,
    period: Period,
    tenant: Option<Uuid>,
) -> QueryResult<Vec<Billable>> {
    diesel::sql_query(
        "SELECT l.tenant_id, t.name AS tenant_name, t.currency AS billing_currency, l.currency,
                l.kind, l.amount_micros / l.segments AS unit_micros,
                sum(l.segments)::int8 AS quantity, sum(l.amount_micros)::int8 AS amount_micros
         FROM ledger_entries l JOIN tenants t ON t.id = l.tenant_id
         JOIN providers p ON p.id = l.provider_id
         WHERE l.day BETWEEN $1 AND $2 AND l.segments > 0
           AND (l.kind = $3 OR (l.kind = $4 AND p.tenant_id IS NULL))
           AND ($5::uuid IS NULL OR l.tenant_id = $5)
         GROUP BY 1, 2, 3, 4, 5, 6
         ORDER BY 1, 4, 5, 6",
    )
    .bind::<Date, _>(period.first_day())
    .bind::<Date, _>(period.last_day())
    .bind::<Text, _>(LedgerKind::PlatformFee)
    .bind::<Text, _>(LedgerKind::Message)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(tenant)
    .load(conn)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = invoices)]
pub struct Invoice {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub period: NaiveDate,
    pub currency: String,
    pub total_micros: i64,
    pub status: InvoiceStatus,
    pub step: CloseStep,
    pub stripe_invoice_id: Option<String>,
    pub stripe_total_minor: Option<i64>,
    pub number: Option<String>,
    pub hosted_invoice_url: Option<String>,
    pub past_due_at: Option<DateTime<Utc>>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub payment_failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_lines)]
pub struct InvoiceLine {
    pub invoice_id: Uuid,
    pub line: i32,
    pub kind: InvoiceLineKind,
    pub description: String,
    pub quantity: i64,
    pub unit_micros: i64,
    pub amount_micros: i64,
    pub stripe_item_id: Option<String>,
}

/// Opens a draft invoice with its lines (nothing when the tenant has one for the period);
/// returns its id when made.
pub async fn open_invoice(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    period: Period,
    currency: &str,
    lines: &[InvoiceLine],
) -> QueryResult<Option<Uuid>> {
    let id = Uuid::now_v7();
    let total: i64 = lines.iter().map(|l| l.amount_micros).sum();
    let made = diesel::insert_into(invoices::table)
        .values((
            invoices::id.eq(id),
            invoices::tenant_id.eq(tenant),
            invoices::period.eq(period.first_day()),
            invoices::currency.eq(currency),
            invoices::total_micros.eq(total),
            invoices::status.eq(InvoiceStatus::Draft),
            invoices::step.eq(CloseStep::Customer),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if made == 0 {
        return Ok(None);
    }
    let rows: Vec<InvoiceLine> = lines
        .iter()
        .map(|l| InvoiceLine {
            invoice_id: id,
            ..l.clone()
        })
        .collect();
    diesel::insert_into(invoice_lines::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(Some(id))
}

pub async fn find_invoice(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Invoice>> {
    invoices::table
        .filter(invoices::id.eq(id))
        .select(Invoice::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_stripe_id(
    conn: &mut AsyncPgConnection,
    stripe_id: &str,
) -> QueryResult<Option<Invoice>> {
    invoices::table
        .filter(invoices::stripe_invoice_id.eq(stripe_id))
        .select(Invoice::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn lines(conn: &mut AsyncPgConnection, invoice: Uuid) -> QueryResult<Vec<InvoiceLine>> {
    invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(invoice))
        .order(invoice_lines::line.asc())
        .select(InvoiceLine::as_select())
        .load(conn)
        .await
}

/// The lines of many invoices, by invoice and line.
pub async fn lines_of(
    conn: &mut AsyncPgConnection,
    invoices: &[Uuid],
) -> QueryResult<Vec<InvoiceLine>> {
    invoice_lines::table
        .filter(invoice_lines::invoice_id.eq_any(invoices))
        .order((invoice_lines::invoice_id.asc(), invoice_lines::line.asc()))
        .select(InvoiceLine::as_select())
        .load(conn)
        .await
}

/// A tenant's invoices, newest period first, up to `limit` before the invoice `before`.
pub async fn tenant_invoices(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Invoice>> {
    let mut q = invoices::table
        .filter(invoices::tenant_id.eq(tenant))
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(invoices::id.lt(b));
    }
    q.order(invoices::id.desc())
        .limit(limit)
        .select(Invoice::as_select())
        .load(conn)
        .await
}

/// Every invoice of a period (optionally one tenant's), in tenant order after `after`.
pub async fn period_invoices(
    conn: &mut AsyncPgConnection,
    period: Period,
    tenant: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Invoice>> {
    let mut q = invoices::table
        .filter(invoices::period.eq(period.first_day()))
        .into_boxed();
    if let Some(t) = tenant {
        q = q.filter(invoices::tenant_id.eq(t));
    }
    if let Some(a) = after {
        q = q.filter(invoices::tenant_id.gt(a));
    }
    q.order(invoices::tenant_id.asc())
        .limit(limit)
        .select(Invoice::as_select())
        .load(conn)
        .await
}

/// The tenant's invoice that makes it past due soonest: open, with the earliest moment.
pub async fn first_overdue(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Option<Invoice>> {
    invoices::table
        .filter(invoices::tenant_id.eq(tenant))
        .filter(invoices::status.eq(InvoiceStatus::Open))
        .filter(invoices::past_due_at.is_not_null())
        .order(invoices::past_due_at.asc())
        .select(Invoice::as_select())
        .first(conn)
        .await
        .optional()
}

/// The tenant's Stripe customer, if made.
pub async fn stripe_customer(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
) -> QueryResult<Option<String>> {
    stripe_customers::table
        .filter(stripe_customers::tenant_id.eq(tenant))
        .select(stripe_customers::customer_id)
        .first(conn)
        .await
        .optional()
}

pub async fn set_stripe_customer(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    customer: &str,
) -> QueryResult<()> {
    diesel::insert_into(stripe_customers::table)
        .values((
            stripe_customers::tenant_id.eq(tenant),
            stripe_customers::customer_id.eq(customer),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// Moves the invoice's close from `from` to `to` (only if it is still at `from`).
pub async fn advance(
    conn: &mut AsyncPgConnection,
    invoice: Uuid,
    from: CloseStep,
    to: CloseStep,
) -> QueryResult<bool> {
    diesel::update(
        invoices::table
            .filter(invoices::id.eq(invoice))
            .filter(invoices::step.eq(from)),
    )
    .set((
        invoices::step.eq(to),
        invoices::last_error.eq(None::<String>),
        invoices::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
    .map(|n| n == 1)
}

pub async fn set_line_item(
    conn: &mut AsyncPgConnection,
    invoice: Uuid,
    line: i32,
    item: &str,
) -> QueryResult<()> {
    diesel::update(
        invoice_lines::table
            .filter(invoice_lines::invoice_id.eq(invoice))
            .filter(invoice_lines::line.eq(line)),
    )
    .set(invoice_lines::stripe_item_id.eq(item))
    .execute(conn)
    .await
    .map(drop)
}

/// Records the Stripe invoice made for `invoice` and what Stripe says it totals.
pub async fn set_stripe_invoice(
    conn: &mut AsyncPgConnection,
    invoice: Uuid,
    stripe_id: &str,
    total_minor: i64,
) -> QueryResult<()> {
    diesel::update(invoices::table.filter(invoices::id.eq(invoice)))
        .set((
            invoices::stripe_invoice_id.eq(stripe_id),
            invoices::stripe_total_minor.eq(total_minor),
            invoices::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// What finalizing an invoice records.
#[derive(Debug, Clone, Default)]
pub struct Finalized {
    pub number: Option<String>,
    pub hosted_invoice_url: Option<String>,
    pub past_due_at: Option<DateTime<Utc>>,
    pub total_minor: Option<i64>,
}

/// The invoice is finalized (open), its close done. A status Stripe's events moved on already
/// (paid, void) stays.
pub async fn finalize(
    conn: &mut AsyncPgConnection,
    invoice: Uuid,
    f: &Finalized,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE invoices SET step = 'done', last_error = NULL, updated_at = now(),
             status = CASE WHEN status = 'draft' THEN 'open' ELSE status END,
             finalized_at = COALESCE(finalized_at, now()),
             number = COALESCE(number, $2), hosted_invoice_url = COALESCE(hosted_invoice_url, $3),
             past_due_at = COALESCE(past_due_at, $4),
             stripe_total_minor = COALESCE($5, stripe_total_minor)
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(invoice)
    .bind::<diesel::sql_types::Nullable<Text>, _>(f.number.as_deref())
    .bind::<diesel::sql_types::Nullable<Text>, _>(f.hosted_invoice_url.as_deref())
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>, _>(f.past_due_at)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(f.total_minor)
    .execute(conn)
    .await
    .map(drop)
}

/// Keeps why the close's last step failed (it will be tried again).
pub async fn close_failed(
    conn: &mut AsyncPgConnection,
    invoice: Uuid,
    error: &str,
) -> QueryResult<()> {
    diesel::update(invoices::table.filter(invoices::id.eq(invoice)))
        .set((
            invoices::last_error.eq(error),
            invoices::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Records a Stripe event by its id; false when it was recorded (applied) before.
pub async fn record_event(
    conn: &mut AsyncPgConnection,
    id: &str,
    kind: &str,
    invoice: Option<Uuid>,
) -> QueryResult<bool> {
    diesel::insert_into(stripe_events::table)
        .values((
            stripe_events::id.eq(id),
            stripe_events::type_.eq(kind),
            stripe_events::invoice_id.eq(invoice),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

/// Applies what a Stripe event says of an invoice's status: it only moves forward (draft →
/// open → paid | void | uncollectible; an open invoice may also become uncollectible and then
/// paid or void), so events arriving out of order or twice change nothing more.
pub async fn apply_status(
    conn: &mut AsyncPgConnection,
    invoice: Uuid,
    status: InvoiceStatus,
    payment_failed: bool,
    hosted_invoice_url: Option<&str>,
    number: Option<&str>,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE invoices SET updated_at = now(),
             status = CASE
                 WHEN $2 = status THEN status
                 WHEN status = 'draft' THEN $2
                 WHEN status = 'open' AND $2 IN ('paid', 'void', 'uncollectible') THEN $2
                 WHEN status = 'uncollectible' AND $2 IN ('paid', 'void') THEN $2
                 ELSE status END,
             paid_at = CASE WHEN $2 = 'paid' AND status <> 'void' THEN COALESCE(paid_at, now())
                       ELSE paid_at END,
             finalized_at = CASE WHEN $2 <> 'draft' THEN COALESCE(finalized_at, now())
                            ELSE finalized_at END,
             payment_failed_at = CASE WHEN $3 THEN now() ELSE payment_failed_at END,
             hosted_invoice_url = COALESCE(hosted_invoice_url, $4),
             number = COALESCE(number, $5)
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(invoice)
    .bind::<Text, _>(status)
    .bind::<diesel::sql_types::Bool, _>(payment_failed)
    .bind::<diesel::sql_types::Nullable<Text>, _>(hosted_invoice_url)
    .bind::<diesel::sql_types::Nullable<Text>, _>(number)
    .execute(conn)
    .await
    .map(drop)
}

/// One of the operator's exchange rates (see the migration `exchange_rates`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = super::schema::exchange_rates)]
pub struct ExchangeRateRow {
    pub from_currency: String,
    pub to_currency: String,
    pub rate_e9: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
}

/// Every rate, by pair.
pub async fn exchange_rates(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ExchangeRateRow>> {
    use super::schema::exchange_rates as r;
    r::table
        .order((r::from_currency.asc(), r::to_currency.asc()))
        .select(ExchangeRateRow::as_select())
        .load(conn)
        .await
}

/// Replaces the rates with `rows` (pairs whose rate is unchanged keep when and by whom it was
/// set); returns them as stored.
pub async fn replace_exchange_rates(
    conn: &mut AsyncPgConnection,
    rows: &[(String, String, i64)],
    by: Option<Uuid>,
) -> QueryResult<Vec<ExchangeRateRow>> {
    let from: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let to: Vec<&String> = rows.iter().map(|r| &r.1).collect();
    diesel::sql_query(
        "DELETE FROM exchange_rates
         WHERE (from_currency, to_currency) NOT IN (SELECT * FROM unnest($1::text[], $2::text[]))",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(&from)
    .bind::<diesel::sql_types::Array<Text>, _>(&to)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO exchange_rates AS r (from_currency, to_currency, rate_e9, updated_by)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::uuid[])
         ON CONFLICT (from_currency, to_currency) DO UPDATE
             SET rate_e9 = excluded.rate_e9, updated_at = now(), updated_by = excluded.updated_by
             WHERE r.rate_e9 <> excluded.rate_e9",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(&from)
    .bind::<diesel::sql_types::Array<Text>, _>(&to)
    .bind::<diesel::sql_types::Array<BigInt>, _>(rows.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind::<diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Uuid>>, _>(
        rows.iter().map(|_| by).collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    exchange_rates(conn).await
}

/// How many live price rows are in `from` for tenants billed in `to` (what needs that rate).
pub async fn prices_in(conn: &mut AsyncPgConnection, from: &str, to: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query(
        "SELECT count(*)::int8 AS n FROM provider_prices pp
         JOIN providers p ON p.id = pp.provider_id AND p.deleted_at IS NULL
         WHERE pp.currency = $1
           AND EXISTS (SELECT 1 FROM tenants t WHERE t.currency = $2
                       -- A platform provider's prices convert into every tenant's currency.
                       AND (pp.tenant_id IS NULL OR t.id = pp.tenant_id))",
    )
    .bind::<Text, _>(from)
    .bind::<Text, _>(to)
    .get_result(conn)
    .await?;
    Ok(n.n)
}
