//! `openclaw-server billing reconcile --period YYYY-MM`: the spend ledger against the daily
//! rollups (every key), the period's invoices against the ledger's billable entries (every
//! tenant), each invoice against its own lines, and — with a Stripe key — each Stripe invoice
//! against ours. Every difference is a line of the report.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::stripe::{self as stripe_api, Stripe};
use crate::db::PgPool;
use crate::db::billing as store;
use crate::db::ledger::{self, Sums};
use crate::domain::{InvoiceStatus, Money, Period, TenantId};

/// What reconciling a period found.
#[derive(Debug, Default)]
pub struct Reconciliation {
    /// The ledger's totals per currency.
    pub totals: Vec<(String, Sums)>,
    /// Whether the period was closed into invoices.
    pub closed: bool,
    pub invoices: usize,
    /// Invoices compared with Stripe's.
    pub stripe_checked: usize,
    /// One sentence per difference.
    pub mismatches: Vec<String>,
}

pub async fn run(
    pool: &PgPool,
    stripe: Option<&Stripe>,
    period: Period,
) -> anyhow::Result<Reconciliation> {
    let mut conn = pool.get().await?;
    let mut out = Reconciliation {
        totals: ledger::totals(&mut conn, period, None).await?,
        ..Default::default()
    };
    for m in ledger::reconcile(&mut conn, period, None).await? {
        out.mismatches
            .push(format!("ledger and rollup differ: {m}"));
    }
    out.closed = store::find_period(&mut conn, period)
        .await?
        .is_some_and(|p| p.opened_at.is_some());
    if !out.closed {
        return Ok(out);
    }
    // What the ledger bills each tenant, in its billing currency and in any other.
    let mut billed: BTreeMap<Uuid, (i64, String)> = BTreeMap::new();
    for b in store::billable(&mut conn, period, None).await? {
        let tenant = TenantId::from(b.tenant_id);
        if b.currency != b.billing_currency {
            out.mismatches.push(format!(
                "tenant {tenant}: {} billable in {}, not its billing currency {}; no invoice holds it",
                Money::new(b.amount_micros, b.currency.clone()),
                b.currency,
                b.billing_currency
            ));
            continue;
        }
        billed
            .entry(b.tenant_id)
            .or_insert((0, b.currency.clone()))
            .0 += b.amount_micros;
    }
    let invoices = store::period_invoices(&mut conn, period, None, None, i64::MAX).await?;
    out.invoices = invoices.len();
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let all_lines = store::lines_of(&mut conn, &ids).await?;
    for invoice in &invoices {
        let tenant = TenantId::from(invoice.tenant_id);
        let lines: Vec<_> = all_lines
            .iter()
            .filter(|l| l.invoice_id == invoice.id)
            .collect();
        let of_lines: i64 = lines.iter().map(|l| l.amount_micros).sum();
        let money = |m| Money::new(m, invoice.currency.clone());
        if of_lines != invoice.total_micros {
            out.mismatches.push(format!(
                "tenant {tenant}: invoice total {} but its lines sum to {}",
                money(invoice.total_micros),
                money(of_lines)
            ));
        }
        for l in &lines {
            if l.quantity.checked_mul(l.unit_micros) != Some(l.amount_micros) {
                out.mismatches.push(format!(
                    "tenant {tenant}: invoice line {} is {} × {} but says {}",
                    l.line,
                    l.quantity,
                    money(l.unit_micros),
                    money(l.amount_micros)
                ));
            }
        }
        match billed.remove(&invoice.tenant_id) {
            Some((micros, _)) if micros == invoice.total_micros => {}
            Some((micros, _)) => out.mismatches.push(format!(
                "tenant {tenant}: the ledger bills {} but the invoice totals {}",
                money(micros),
                money(invoice.total_micros)
            )),
            None => out.mismatches.push(format!(
                "tenant {tenant}: an invoice of {} but nothing billable in the ledger",
                money(invoice.total_micros)
            )),
        }
        let minor: i64 = lines
            .iter()
            .map(|l| stripe_api::micros_to_minor(l.amount_micros, &invoice.currency))
            .sum();
        if let Some(total) = invoice.stripe_total_minor
            && total != minor
        {
            out.mismatches.push(format!(
                "tenant {tenant}: Stripe's invoice totals {total} minor units, its lines {minor}"
            ));
        }
        if let (Some(stripe), Some(id)) = (stripe, &invoice.stripe_invoice_id) {
            let theirs = stripe.retrieve_invoice(id).await?;
            out.stripe_checked += 1;
            if theirs.total_minor != minor {
                out.mismatches.push(format!(
                    "tenant {tenant}: Stripe invoice {id} totals {} minor units, its lines {minor}",
                    theirs.total_minor
                ));
            }
            let ours = invoice.status;
            let same = matches!(
                (ours, theirs.status),
                (InvoiceStatus::Draft, stripe_api::InvoiceStatus::Draft)
                    | (InvoiceStatus::Open, stripe_api::InvoiceStatus::Open)
                    | (InvoiceStatus::Paid, stripe_api::InvoiceStatus::Paid)
                    | (InvoiceStatus::Void, stripe_api::InvoiceStatus::Void)
                    | (
                        InvoiceStatus::Uncollectible,
                        stripe_api::InvoiceStatus::Uncollectible
                    )
            );
            if !same {
                out.mismatches.push(format!(
                    "tenant {tenant}: invoice is {ours} here but {} at Stripe ({id})",
                    theirs.status.as_str()
                ));
            }
        }
    }
    for (tenant, (micros, currency)) in billed {
        out.mismatches.push(format!(
            "tenant {}: the ledger bills {} but there is no invoice",
            TenantId::from(tenant),
            Money::new(micros, currency)
        ));
    }
    Ok(out)
}
