//! Budget alerts: raised by the worker's sweep when a tenant's spend this month reaches one of
//! its budget's thresholds — one alert per threshold per period, however many workers sweep —
//! each with a job that mails it to the tenant's owners and billing members. Tenants read them
//! through [`crate::budgets::alerts`] (`GET /v1/alerts`, the admin app's spend page and banner).
//!
//! The sweep first reads, for every tenant at once, which thresholds are due (a read cannot be
//! failed by one tenant's row); then each tenant's alerts are raised in a transaction of their
//! own, so one that cannot be written does not hold back another's.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::users;
use crate::db::{PgPool, alerts, tenants};
use crate::domain::{EventKind, MemberStatus, Money, Period, Role};
use crate::mail::{AlertMail, Mailer};

/// A budget alert: the month's spend reached a threshold of the limit. As `GET /v1/alerts`
/// lists it and a `budget.alert` event carries it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AlertView {
    pub id: crate::domain::AlertId,
    /// The percentage of the monthly limit reached.
    #[schema(example = 80)]
    pub threshold: i32,
    /// The month, `YYYY-MM`.
    #[schema(example = "2026-12")]
    pub period: String,
    /// The limit when the alert was raised.
    pub monthly_limit: Money,
    /// Spent in the month when the alert was raised.
    pub spent: Money,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<alerts::Alert> for AlertView {
    fn from(a: alerts::Alert) -> Self {
        AlertView {
            id: crate::domain::AlertId::from(a.id),
            threshold: a.threshold,
            period: Period::of(a.period).to_string(),
            monthly_limit: Money::new(a.monthly_limit_micros, a.currency.clone()),
            spent: Money::new(a.spent_micros, a.currency),
            created_at: a.created_at,
        }
    }
}

/// Raises every alert due this month, each with its mail job and its `budget.alert` event for
/// the tenant's webhook endpoints listening, in one transaction per tenant; returns how many
/// were raised.
pub async fn sweep(pool: &PgPool) -> anyhow::Result<usize> {
    let period = Period::of(Utc::now().date_naive());
    let mut conn = pool.get().await?;
    let due = alerts::due(&mut conn, period).await?;
    let mut raised = 0;
    for of_tenant in due.chunk_by(|a, b| a.tenant_id == b.tenant_id) {
        let tenant = of_tenant[0].tenant_id;
        let result = conn
            .transaction(async |c| {
                let new = alerts::raise(c, period, of_tenant).await?;
                for a in &new {
                    let data = serde_json::to_value(AlertView::from(a.clone()))
                        .expect("an alert always serializes");
                    crate::db::webhooks::emit(c, tenant, EventKind::BudgetAlert, Some(a.id), &data)
                        .await?;
                }
                diesel::QueryResult::Ok(new)
            })
            .await;
        match result {
            Ok(new) => {
                for a in &new {
                    tracing::info!(
                        tenant = %crate::domain::TenantId::from(a.tenant_id),
                        threshold = a.threshold,
                        period = %period,
                        "budget alert raised"
                    );
                }
                raised += new.len();
            }
            Err(e) => tracing::error!(
                tenant = %crate::domain::TenantId::from(tenant),
                error = %e,
                "could not raise this tenant's budget alerts; the next sweep tries again"
            ),
        }
    }
    Ok(raised)
}

/// What an alert's mail job needs besides the database: where to send from and the admin app.
pub struct MailSetup<'a> {
    pub mailer: Option<&'a Mailer>,
    pub public_url: &'a str,
}

/// Mails alert `id` to its tenant's active owners and billing members (the job
/// `budget_alert_mail`). Without SMTP settings, or with nobody to tell, there is nothing to
/// do: the alert is still listed and shown. An alert that is gone (its tenant deleted) is done.
pub async fn mail(
    conn: &mut diesel_async::AsyncPgConnection,
    setup: &MailSetup<'_>,
    id: Uuid,
) -> anyhow::Result<()> {
    let Some(alert) = alerts::find(conn, id).await? else {
        return Ok(());
    };
    let Some(mailer) = setup.mailer else {
        tracing::info!(
            alert = %crate::domain::AlertId::from(id),
            "budget alert not mailed: OPENCLAW_SMTP_URL is not set"
        );
        return Ok(());
    };
    let to: Vec<String> = users::table
        .filter(users::tenant_id.eq(alert.tenant_id))
        .filter(users::role.eq_any([Role::Owner, Role::Billing]))
        .filter(users::status.eq(MemberStatus::Active))
        .order(users::id.asc())
        .select(users::email)
        .load(conn)
        .await?;
    if to.is_empty() {
        return Ok(());
    }
    let tenant = tenants::find(conn, alert.tenant_id).await?;
    let link = format!("{}/spend", setup.public_url.trim_end_matches('/'));
    mailer
        .send_budget_alert(&AlertMail {
            to: &to,
            tenant_name: &tenant.name,
            threshold: alert.threshold,
            month: alert.period.format("%B %Y").to_string(),
            spent: &Money::new(alert.spent_micros, alert.currency.clone()),
            limit: &Money::new(alert.monthly_limit_micros, alert.currency.clone()),
            link: &link,
        })
        .await
}
