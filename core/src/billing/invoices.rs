//! Closing a billing period into invoices, and each invoice through Stripe.
//!
//! 1. A staff member closes a period ([`request_close`]): a `billing_periods` row and a
//!    `billing_close` job, in one transaction; the API answers 202.
//! 2. The job ([`open_period`]) waits until the period is over and every transaction begun
//!    before its end has finished (so no entry dated in it is still to become visible), then,
//!    in one transaction, freezes the period's billable ledger entries into a draft invoice
//!    per tenant — a line per kind and unit price — each with its own `invoice_close` job.
//!    Entries written later carry a later day, so they fall in the next period: a frozen
//!    invoice never changes.
//! 3. Each invoice's job ([`close`]) walks its stored steps — the tenant's Stripe customer
//!    (once per tenant), an invoice item per line, the invoice (taking the pending items), its
//!    finalization — committing each step only after its Stripe call, which carries an
//!    idempotency key derived from (tenant, period, step). A close interrupted anywhere (a
//!    killed worker, Stripe answering 500) resumes at the step it was in, and the repeated call
//!    is answered from Stripe's idempotency record: no item or invoice is made twice. One
//!    tenant's failing close holds back no other's.
//!
//! Without a Stripe secret key the invoices are issued in Postgres only (open, with no due
//! date, so they make nobody past due). Stripe's events ([`apply_event`]) then move an
//! invoice on: finalized, paid, payment failed, voided — each event once, and never back.

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::settings::{BillingError, grace_days, require};
use super::stripe::{self as stripe_api, EventKind, NewInvoiceItem, Stripe, StripeEvent};
use crate::audit::{self, action};
use crate::changes::{self, Change};
use crate::db::billing::{self as store, BillingPeriod, Finalized, Invoice, InvoiceLine};
use crate::db::{PgPool, jobs, tenants};
use crate::domain::{
    CloseStep, InvoiceLineKind, InvoiceStatus, JobKind, LedgerKind, Money, Period, TenantId,
};
use crate::members::Manager;
use crate::permissions::{self, Action};
use crate::staff::Staff;

/// Asks for `period` to be closed (platform admins and billing staff): recorded and queued,
/// audited; a second request for the same period changes nothing and returns the first. The
/// period must be over.
pub async fn request_close(
    pool: &PgPool,
    staff: &Staff,
    period: Period,
) -> Result<BillingPeriod, BillingError> {
    require(staff, Action::CloseBillingPeriod)?;
    let today = Utc::now().date_naive();
    if period.next().first_day() > today {
        return Err(BillingError::Conflict {
            code: "period_not_over",
            field: "period",
            message: format!(
                "{period} is not over yet: it can be closed from {} (UTC).",
                period.next().first_day()
            ),
        });
    }
    let mut conn = pool.get().await?;
    conn.transaction(async |c| {
        let (row, made) = store::request_close(c, period, staff.actor.id).await?;
        if made {
            jobs::enqueue(c, JobKind::BillingClose, row.id).await?;
            audit::record(
                c,
                &staff.actor,
                None,
                action::BILLING_PERIOD_CLOSED,
                Some(period.to_string()),
                serde_json::json!({"period": period.to_string()}),
            )
            .await?;
        }
        Ok(row)
    })
    .await
}

/// The periods closed or being closed, newest first (platform admins and billing staff).
pub async fn periods(pool: &PgPool, staff: &Staff) -> Result<Vec<BillingPeriod>, BillingError> {
    require(staff, Action::ReadBilling)?;
    let mut conn = pool.get().await?;
    Ok(store::periods(&mut conn).await?)
}

/// An invoice and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithLines {
    pub invoice: Invoice,
    pub lines: Vec<InvoiceLine>,
}

async fn with_lines(
    c: &mut AsyncPgConnection,
    invoices: Vec<Invoice>,
) -> diesel::QueryResult<Vec<WithLines>> {
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let mut lines = store::lines_of(c, &ids).await?;
    Ok(invoices
        .into_iter()
        .map(|invoice| {
            let (mine, rest) = lines.drain(..).partition(|l| l.invoice_id == invoice.id);
            lines = rest;
            WithLines {
                invoice,
                lines: mine,
            }
        })
        .collect())
}

/// A period's invoices, a page of tenants after `after` (platform admins and billing staff).
pub async fn period_invoices(
    pool: &PgPool,
    staff: &Staff,
    period: Period,
    tenant: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<WithLines>, BillingError> {
    require(staff, Action::ReadBilling)?;
    let mut conn = pool.get().await?;
    let invoices = store::period_invoices(&mut conn, period, tenant, after, limit).await?;
    Ok(with_lines(&mut conn, invoices).await?)
}

/// The tenant's invoices, newest first (owners, admins and billing members).
pub async fn tenant_invoices(
    pool: &PgPool,
    manager: &Manager,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<WithLines>, BillingError> {
    if !permissions::allowed(manager.role, Action::ReadInvoices) {
        return Err(BillingError::Forbidden(
            "Your role cannot see invoices; ask an owner, admin or billing member.",
        ));
    }
    let tenant = manager.tenant;
    let mut conn = pool.get().await?;
    crate::db::scoped(&mut conn, tenant, async |c| {
        let invoices = store::tenant_invoices(c, tenant, before, limit).await?;
        Ok(with_lines(c, invoices).await?)
    })
    .await
}

/// The line's description: what it bills, in which month, how many at what price.
fn describe(kind: LedgerKind, period: Period, quantity: i64, unit: &Money) -> String {
    let what = match kind {
        LedgerKind::PlatformFee => "OpenClaw platform fee",
        LedgerKind::Message => "SMS through OpenClaw's providers",
    };
    format!("{what}, {period}: {quantity} segments at {unit}")
}

/// The `billing_close` job: opens the period's invoices (see the module's step 2). Runs in the
/// job's transaction; an error leaves everything as it was, to be tried again.
pub async fn open_period(c: &mut AsyncPgConnection, id: Uuid) -> anyhow::Result<()> {
    let Some(row) = store::lock_period(c, id).await? else {
        return Ok(());
    };
    if row.opened_at.is_some() {
        return Ok(());
    }
    let period = Period::of(row.period);
    let end = period
        .next()
        .first_day()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| anyhow::anyhow!("period {period} has no end"))?;
    if Utc::now() < end {
        anyhow::bail!("{period} is not over yet");
    }
    let open = store::transactions_begun_before(c, end).await?;
    if open > 0 {
        anyhow::bail!(
            "waiting for {open} transactions begun before the end of {period} to finish \
             (they may still write entries dated in it)"
        );
    }
    let billable = store::billable(c, period, None).await?;
    let mut opened = 0;
    for of_tenant in billable.chunk_by(|a, b| a.tenant_id == b.tenant_id) {
        let first = &of_tenant[0];
        let (mine, foreign): (Vec<_>, Vec<_>) = of_tenant
            .iter()
            .partition(|b| b.currency == b.billing_currency);
        for f in foreign {
            tracing::error!(
                tenant = %TenantId::from(f.tenant_id),
                currency = %f.currency,
                amount = %Money::new(f.amount_micros, f.currency.clone()),
                "billable entries in another currency than the tenant's are left out of its \
                 invoice; `billing reconcile` lists them"
            );
        }
        let lines: Vec<InvoiceLine> = mine
            .iter()
            .enumerate()
            .map(|(i, b)| InvoiceLine {
                invoice_id: Uuid::nil(),
                line: i as i32 + 1,
                kind: match b.kind {
                    LedgerKind::PlatformFee => InvoiceLineKind::PlatformFee,
                    LedgerKind::Message => InvoiceLineKind::PlatformMessages,
                },
                description: describe(
                    b.kind,
                    period,
                    b.quantity,
                    &Money::new(b.unit_micros, b.currency.clone()),
                ),
                quantity: b.quantity,
                unit_micros: b.unit_micros,
                amount_micros: b.amount_micros,
                stripe_item_id: None,
            })
            .collect();
        if lines.iter().all(|l| l.amount_micros == 0) {
            continue;
        }
        if let Some(invoice) =
            store::open_invoice(c, first.tenant_id, period, &first.billing_currency, &lines).await?
        {
            jobs::enqueue(c, JobKind::InvoiceClose, invoice).await?;
            opened += 1;
        }
    }
    store::mark_opened(c, id, opened).await?;
    tracing::info!(period = %period, invoices = opened, "billing period opened");
    Ok(())
}

/// The idempotency key of one Stripe call of a tenant's close.
fn key(tenant: Uuid, period: Period, step: &str) -> String {
    format!("openclaw:{}:{period}:{step}", TenantId::from(tenant))
}

/// The `invoice_close` job: takes the invoice's close from the step it is in to the end (see
/// the module's step 3), committing each step on its own. Err: the step it stopped at failed
/// (recorded on the invoice) and the job runs again later.
pub async fn close(pool: &PgPool, stripe: Option<&Stripe>, id: Uuid) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    let result = close_steps(&mut conn, stripe, id).await;
    if let Err(e) = &result {
        store::close_failed(&mut conn, id, &format!("{e:#}")).await?;
    }
    result
}

async fn close_steps(
    c: &mut AsyncPgConnection,
    stripe: Option<&Stripe>,
    id: Uuid,
) -> anyhow::Result<()> {
    loop {
        let Some(invoice) = store::find_invoice(c, id).await? else {
            return Ok(());
        };
        let tenant = invoice.tenant_id;
        let period = Period::of(invoice.period);
        let step = invoice.step;
        let Some(stripe) = stripe else {
            if step != CloseStep::Done {
                // No Stripe: issued here, with nothing to collect it, so never past due.
                c.transaction(async |t| {
                    store::finalize(t, id, &Finalized::default()).await?;
                    changes::announce(t, Change::Routes { tenant }).await
                })
                .await?;
                tracing::info!(
                    tenant = %TenantId::from(tenant),
                    period = %period,
                    "invoice issued in Postgres only (OPENCLAW_STRIPE_SECRET_KEY is not set)"
                );
            }
            return Ok(());
        };
        match step {
            CloseStep::Done => return Ok(()),
            CloseStep::Customer => {
                if store::stripe_customer(c, tenant).await?.is_none() {
                    let t = tenants::find(c, tenant).await?;
                    let email = owner_email(c, tenant).await?;
                    let tenant_id = TenantId::from(tenant).to_string();
                    let customer = stripe
                        .create_customer(
                            &format!("openclaw:{tenant_id}:customer"),
                            &t.name,
                            email.as_deref(),
                            &[("openclaw_tenant", &tenant_id)],
                        )
                        .await?;
                    store::set_stripe_customer(c, tenant, &customer).await?;
                }
                store::advance(c, id, step, step.next()).await?;
            }
            CloseStep::Items => {
                let customer = customer_of(c, tenant).await?;
                let tenant_id = TenantId::from(tenant).to_string();
                let period_name = period.to_string();
                for line in store::lines(c, id).await? {
                    if line.stripe_item_id.is_some() {
                        continue;
                    }
                    let line_no = line.line.to_string();
                    let item = stripe
                        .create_invoice_item(
                            &key(tenant, period, &format!("item:{}", line.line)),
                            &NewInvoiceItem {
                                customer: &customer,
                                currency: &invoice.currency,
                                amount_minor: stripe_api::micros_to_minor(
                                    line.amount_micros,
                                    &invoice.currency,
                                ),
                                description: &line.description,
                                metadata: &[
                                    ("openclaw_tenant", &tenant_id),
                                    ("openclaw_period", &period_name),
                                    ("openclaw_line", &line_no),
                                ],
                            },
                        )
                        .await?;
                    store::set_line_item(c, id, line.line, &item).await?;
                }
                store::advance(c, id, step, step.next()).await?;
            }
            CloseStep::Invoice => {
                let customer = customer_of(c, tenant).await?;
                let tenant_id = TenantId::from(tenant).to_string();
                let period_name = period.to_string();
                let days = grace_days(c).await?.max(1) as u32;
                let made = stripe
                    .create_invoice(
                        &key(tenant, period, "invoice"),
                        &customer,
                        &invoice.currency,
                        days,
                        &format!("OpenClaw, {period}"),
                        &[
                            ("openclaw_tenant", &tenant_id),
                            ("openclaw_period", &period_name),
                        ],
                    )
                    .await?;
                let expected: i64 = store::lines(c, id)
                    .await?
                    .iter()
                    .map(|l| stripe_api::micros_to_minor(l.amount_micros, &invoice.currency))
                    .sum();
                if made.total_minor != expected {
                    tracing::error!(
                        tenant = %TenantId::from(tenant),
                        period = %period,
                        stripe_invoice = %made.id,
                        stripe_total = made.total_minor,
                        expected,
                        "Stripe's invoice total differs from its lines; `billing reconcile` \
                         lists it"
                    );
                }
                c.transaction(async |t| {
                    store::set_stripe_invoice(t, id, &made.id, made.total_minor).await?;
                    store::advance(t, id, step, step.next()).await
                })
                .await?;
            }
            CloseStep::Finalize => {
                let stripe_id = invoice
                    .stripe_invoice_id
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("the invoice has no Stripe invoice yet"))?;
                let done = stripe
                    .finalize_invoice(&key(tenant, period, "finalize"), &stripe_id)
                    .await?;
                let days = grace_days(c).await?.max(1);
                let past_due_at: DateTime<Utc> = Utc::now() + Duration::days(i64::from(days));
                c.transaction(async |t| {
                    store::finalize(
                        t,
                        id,
                        &Finalized {
                            number: done.number.clone(),
                            hosted_invoice_url: done.hosted_invoice_url.clone(),
                            past_due_at: Some(past_due_at),
                            total_minor: Some(done.total_minor),
                        },
                    )
                    .await?;
                    changes::announce(t, Change::Routes { tenant }).await
                })
                .await?;
                tracing::info!(
                    tenant = %TenantId::from(tenant),
                    period = %period,
                    stripe_invoice = %stripe_id,
                    "invoice finalized"
                );
            }
        }
    }
}

async fn customer_of(c: &mut AsyncPgConnection, tenant: Uuid) -> anyhow::Result<String> {
    store::stripe_customer(c, tenant)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the tenant has no Stripe customer yet"))
}

/// Where Stripe mails the tenant's invoices: its first active owner.
async fn owner_email(
    c: &mut AsyncPgConnection,
    tenant: Uuid,
) -> diesel::QueryResult<Option<String>> {
    use crate::db::schema::users;
    use crate::domain::{MemberStatus, Role};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    users::table
        .filter(users::tenant_id.eq(tenant))
        .filter(users::role.eq(Role::Owner))
        .filter(users::status.eq(MemberStatus::Active))
        .order(users::id.asc())
        .select(users::email)
        .first(c)
        .await
        .optional()
}

/// What became of a Stripe event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It moved one of our invoices (or confirmed where it stands).
    Applied,
    /// Its id was applied before.
    Repeated,
    /// Not about an invoice of ours, or of a type we do not act on.
    Ignored,
}

/// Applies a verified Stripe event to the stored invoice, once per event id. An invoice's
/// status only moves forward; the tenant's cached terms are forgotten when it changes.
pub async fn apply_event(pool: &PgPool, event: &StripeEvent) -> anyhow::Result<Applied> {
    let (status, payment_failed) = match &event.kind {
        EventKind::InvoiceFinalized => (InvoiceStatus::Open, false),
        EventKind::InvoicePaid => (InvoiceStatus::Paid, false),
        EventKind::InvoicePaymentFailed => (InvoiceStatus::Open, true),
        EventKind::InvoiceVoided => (InvoiceStatus::Void, false),
        EventKind::Other(_) => return Ok(Applied::Ignored),
    };
    let Some(stripe_invoice) = &event.invoice else {
        return Ok(Applied::Ignored);
    };
    let kind = match &event.kind {
        EventKind::Other(name) => name.clone(),
        EventKind::InvoiceFinalized => "invoice.finalized".into(),
        EventKind::InvoicePaid => "invoice.paid".into(),
        EventKind::InvoicePaymentFailed => "invoice.payment_failed".into(),
        EventKind::InvoiceVoided => "invoice.voided".into(),
    };
    let mut conn = pool.get().await?;
    conn.transaction(async |c| {
        let Some(invoice) = store::find_by_stripe_id(c, &stripe_invoice.id).await? else {
            return Ok(Applied::Ignored);
        };
        if !store::record_event(c, &event.id, &kind, Some(invoice.id)).await? {
            return Ok(Applied::Repeated);
        }
        store::apply_status(
            c,
            invoice.id,
            status,
            payment_failed,
            stripe_invoice.hosted_invoice_url.as_deref(),
            stripe_invoice.number.as_deref(),
        )
        .await?;
        changes::announce(
            c,
            Change::Routes {
                tenant: invoice.tenant_id,
            },
        )
        .await?;
        Ok(Applied::Applied)
    })
    .await
}
