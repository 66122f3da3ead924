//! What platform staff read across tenants; every read is itself audited.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::audit::{self, Actor, action};
use crate::db::spend::{self, CurrencyTotal, Scope, TenantSpend};
use crate::db::{PgPool, tenants};
use crate::domain::{Period, Role};
use crate::permissions::{self, Action};

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("Only platform admins and billing staff can read the spend report.")]
    Forbidden,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for StaffError {
    fn from(e: diesel::result::Error) -> Self {
        StaffError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StaffError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StaffError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

/// A person of the platform's staff, as a service sees them.
pub struct Staff {
    pub role: Role,
    pub actor: Actor,
}

/// What a spend report covers and which page of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRequest {
    pub period: Period,
    pub tenant: Option<Uuid>,
    pub provider: Option<Uuid>,
    /// The last tenant of the previous page.
    pub after: Option<Uuid>,
    /// Tenants per page; None: every tenant (the CSV download).
    pub limit: Option<i64>,
}

/// A period's spend per tenant (a line per currency), the totals of the whole report (every
/// page), and whether more tenants follow this page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendReport {
    pub period: Period,
    pub lines: Vec<TenantSpend>,
    pub totals: Vec<CurrencyTotal>,
    pub more: bool,
    /// The period's invoices, by tenant (once the period is closed).
    pub invoices: std::collections::HashMap<Uuid, crate::db::billing::Invoice>,
}

/// What the staff page shows beside the report: the report's days, and for one tenant (the
/// drill-down) its spend by provider, country and message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub days: Vec<spend::DayTotal>,
    /// (provider name or id, country, message type) breakdowns of the one tenant asked for.
    pub tenant: Option<TenantDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDetail {
    pub by_provider: Vec<spend::SpendRow>,
    pub by_country: Vec<spend::SpendRow>,
    pub by_message_type: Vec<spend::SpendRow>,
    /// Provider names by id (deleted providers included).
    pub provider_names: std::collections::HashMap<Uuid, String>,
}

impl SpendReport {
    /// The report as RFC 4180 CSV: a header, a line per tenant and currency, a totals line per
    /// currency (`TOTAL` in the tenant column); amounts as decimal strings.
    pub fn to_csv(&self) -> anyhow::Result<Vec<u8>> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let period = self.period.to_string();
        w.write_record([
            "period",
            "tenant_id",
            "tenant_name",
            "currency",
            "messages",
            "segments",
            "spend",
            "own_provider_spend",
            "platform_revenue",
            "platform_cost",
            "platform_margin",
            "platform_fees",
            "invoice_total",
            "invoice_status",
        ])?;
        let amount = crate::domain::Money::format_amount;
        for l in &self.lines {
            // An invoice is in the tenant's billing currency: shown on that currency's line.
            let invoice = self
                .invoices
                .get(&l.tenant_id)
                .filter(|i| i.currency == l.currency);
            w.write_record([
                period.as_str(),
                &crate::domain::TenantId::from(l.tenant_id).to_string(),
                &spreadsheet_safe(&l.tenant_name),
                &l.currency,
                &l.messages.to_string(),
                &l.segments.to_string(),
                &amount(l.cost_micros),
                &amount(l.own_providers_micros()),
                &amount(l.platform_revenue_micros),
                &amount(l.platform_cost_micros),
                &amount(l.platform_margin_micros()),
                &amount(l.fee_micros),
                &invoice.map(|i| amount(i.total_micros)).unwrap_or_default(),
                invoice.map(|i| i.status.as_str()).unwrap_or_default(),
            ])?;
        }
        for t in &self.totals {
            let invoiced: i64 = self
                .invoices
                .values()
                .filter(|i| i.currency == t.currency)
                .map(|i| i.total_micros)
                .sum();
            w.write_record([
                period.as_str(),
                "TOTAL",
                "",
                &t.currency,
                &t.messages.to_string(),
                &t.segments.to_string(),
                &amount(t.cost_micros),
                &amount(t.own_providers_micros()),
                &amount(t.platform_revenue_micros),
                &amount(t.platform_cost_micros),
                &amount(t.platform_margin_micros()),
                &amount(t.fee_micros),
                &amount(invoiced),
                "",
            ])?;
        }
        Ok(w.into_inner()?)
    }
}

/// A tenant-chosen text as a CSV cell a spreadsheet will not run: one starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's advice on CSV injection).
fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The report's days and, for one tenant, its breakdowns (platform admins and billing staff;
/// read beside [`spend_report`], which records the read).
pub async fn spend_detail(
    pool: &PgPool,
    staff: &Staff,
    period: Period,
    tenant: Option<Uuid>,
) -> Result<Detail, StaffError> {
    if !permissions::allowed(staff.role, Action::ReadSpendReport) {
        return Err(StaffError::Forbidden);
    }
    let (from, to) = (period.first_day(), period.last_day());
    let scope = Scope {
        from,
        to,
        tenant,
        provider: None,
    };
    let mut conn = pool.get().await?;
    let days = spend::by_day(&mut conn, scope).await?;
    let tenant = match tenant {
        None => None,
        Some(t) => Some(TenantDetail {
            by_provider: spend::report(&mut conn, t, from, to, spend::GroupBy::Provider).await?,
            by_country: spend::report(&mut conn, t, from, to, spend::GroupBy::Country).await?,
            by_message_type: spend::report(&mut conn, t, from, to, spend::GroupBy::MessageType)
                .await?,
            provider_names: crate::db::providers::names(
                &mut conn,
                crate::db::providers::Owner::Tenant(t),
            )
            .await?,
        }),
    };
    Ok(Detail { days, tenant })
}

/// The spend report (platform admins and billing staff), from the ledger's daily rollup;
/// recorded in the platform audit log.
pub async fn spend_report(
    pool: &PgPool,
    staff: &Staff,
    req: ReportRequest,
) -> Result<SpendReport, StaffError> {
    if !permissions::allowed(staff.role, Action::ReadSpendReport) {
        return Err(StaffError::Forbidden);
    }
    let scope = Scope {
        from: req.period.first_day(),
        to: req.period.last_day(),
        tenant: req.tenant,
        provider: req.provider,
    };
    let mut conn = pool.get().await?;
    let fetch = req.limit.map_or(i64::MAX, |l| l.saturating_add(1));
    let mut lines = spend::by_tenant(&mut conn, scope, req.after, fetch).await?;
    let mut more = false;
    if let Some(limit) = req.limit {
        let mut seen = 0;
        let mut last = None;
        let keep = lines
            .iter()
            .take_while(|l| {
                if last != Some(l.tenant_id) {
                    last = Some(l.tenant_id);
                    seen += 1;
                }
                seen <= limit
            })
            .count();
        more = keep < lines.len();
        lines.truncate(keep);
    }
    let totals = spend::totals(&mut conn, scope).await?;
    let invoices =
        crate::db::billing::period_invoices(&mut conn, req.period, req.tenant, None, i64::MAX)
            .await?
            .into_iter()
            .map(|i| (i.tenant_id, i))
            .collect();
    audit::record(
        &mut conn,
        &staff.actor,
        None,
        action::STAFF_READ_SPEND_REPORT,
        None,
        serde_json::json!({
            "period": req.period.to_string(),
            "tenant": req.tenant.map(|t| crate::domain::TenantId::from(t).to_string()),
            "provider": req.provider.map(|p| crate::domain::ProviderId::from(p).to_string()),
        }),
    )
    .await?;
    Ok(SpendReport {
        period: req.period,
        lines,
        totals,
        more,
        invoices,
    })
}

/// Up to `limit` tenants after `after`, oldest first, recorded in the platform audit log.
pub async fn list_tenants(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    after: Option<Uuid>,
    limit: i64,
) -> diesel::QueryResult<Vec<tenants::Summary>> {
    let rows = tenants::summaries(conn, after, limit).await?;
    audit::record(
        conn,
        actor,
        None,
        action::STAFF_LISTED_TENANTS,
        None,
        serde_json::json!({"count": rows.len()}),
    )
    .await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_not_left_for_spreadsheets() {
        assert_eq!(spreadsheet_safe("Acme"), "Acme");
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("-1"), "'-1");
    }
}
