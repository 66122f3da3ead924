use chrono::{Datelike, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use openclaw_core::budgets::Alert;
use openclaw_core::db::{alerts, api_keys, messages, providers, spend, tenants, users};
use openclaw_core::domain::{Money, Period, Status};
use openclaw_core::permissions::{Action, allowed};

use crate::components::alert::{AlertBanner, PastDueBanner};
use crate::components::chart::{Day, VolumeChart};
use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
/// (Staff are sent to their console, the tenant list.)
pub const WHO: Who = Who::Member;

/// How one provider did over the last 30 days.
struct ProviderLine {
    name: String,
    attempts: i64,
    success: String,
    p50_ms: i32,
    p95_ms: i32,
}

/// What the dashboard shows, read in one go.
struct Overview {
    tenant: String,
    email: String,
    today: Vec<(Status, i64)>,
    month: Vec<(Status, i64)>,
    spend_month: Money,
    providers: usize,
    keys: usize,
    days: Vec<Day>,
    provider_lines: Vec<ProviderLine>,
    /// This month's newest budget alert, for the roles that see the budget.
    alert: Option<Alert>,
    /// The unpaid invoice that has the tenant's sends refused, if one has.
    overdue: Option<openclaw_core::billing::terms::Overdue>,
}

async fn overview() -> Option<anyhow::Result<Overview>> {
    let (ctx, identity) = super::signed_in().await?;
    if identity.role.is_platform() {
        if let Some((_, res)) = super::request() {
            super::redirect(&res, "/admin/tenants");
        }
        return None;
    }
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            let overdue = super::overdue_of(&ctx, tenant_id).await?;
            ctx.scoped(tenant_id, async |conn| {
                let tenant = tenants::find(conn, tenant_id).await?;
                let user = users::find(conn, identity.user_id).await?;
                let now = Utc::now();
                let midnight = now
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc();
                let first = now.date_naive().with_day(1).unwrap_or(now.date_naive());
                let month_start = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                let today = messages::status_counts(conn, tenant_id, midnight).await?;
                let month = messages::status_counts(conn, tenant_id, month_start).await?;
                let spent: i64 = spend::report(
                    conn,
                    tenant_id,
                    first,
                    now.date_naive(),
                    spend::GroupBy::Day,
                )
                .await?
                .iter()
                .filter(|r| r.currency == tenant.currency)
                .map(|r| r.cost_micros + r.fee_micros)
                .sum();
                // The last 30 UTC days, today included, with empty days filled in.
                let start = now.date_naive() - chrono::Duration::days(29);
                let since = start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                let counts = messages::daily_counts(conn, tenant_id, since).await?;
                let spend_days = spend::report(
                    conn,
                    tenant_id,
                    start,
                    now.date_naive(),
                    spend::GroupBy::Day,
                )
                .await?;
                let days = (0..30)
                    .map(|i| {
                        let date = start + chrono::Duration::days(i);
                        let key = date.to_string();
                        Day {
                            date,
                            messages: counts
                                .iter()
                                .find(|(d, _)| *d == date)
                                .map(|(_, n)| *n)
                                .unwrap_or(0),
                            spend_micros: spend_days
                                .iter()
                                .filter(|r| r.key == key && r.currency == tenant.currency)
                                .map(|r| r.cost_micros + r.fee_micros)
                                .sum(),
                        }
                    })
                    .collect();
                let names = providers::names(conn, providers::Owner::Tenant(tenant_id)).await?;
                let provider_lines = messages::provider_stats(conn, tenant_id, since)
                    .await?
                    .into_iter()
                    .map(|s| ProviderLine {
                        name: names
                            .get(&s.provider_id)
                            .cloned()
                            .unwrap_or_else(|| "(removed)".into()),
                        attempts: s.attempts,
                        success: format!(
                            "{:.1} %",
                            100.0 * s.accepted as f64 / s.attempts.max(1) as f64
                        ),
                        p50_ms: s.p50_ms,
                        p95_ms: s.p95_ms,
                    })
                    .collect();
                let alert = if allowed(identity.role, Action::ManageBudget) {
                    alerts::latest(conn, tenant_id, Period::of(now.date_naive())).await?
                } else {
                    None
                };
                Ok(Overview {
                    alert,
                    overdue,
                    days,
                    provider_lines,
                    spend_month: Money::new(spent, tenant.currency.clone()),
                    tenant: tenant.name,
                    email: user.email,
                    today,
                    month,
                    providers: providers::list(conn, providers::Owner::Tenant(tenant_id))
                        .await?
                        .len(),
                    keys: api_keys::list(conn, tenant_id).await?.len(),
                })
            })
            .await
        }
        .await,
    )
}

fn total(counts: &[(Status, i64)]) -> i64 {
    counts.iter().map(|(_, n)| n).sum()
}

fn delivery_rate(counts: &[(Status, i64)]) -> String {
    let get = |s: Status| {
        counts
            .iter()
            .find(|(k, _)| *k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let delivered = get(Status::Delivered);
    let finished =
        delivered + get(Status::Undelivered) + get(Status::Failed) + get(Status::Expired);
    if finished == 0 {
        "—".into()
    } else {
        format!("{:.1} %", 100.0 * delivered as f64 / finished as f64)
    }
}

#[component]
fn Counts(title: &'static str, counts: Vec<(Status, i64)>) -> impl IntoView {
    let sum = total(&counts);
    let rate = delivery_rate(&counts);
    view! {
        <section class="card">
            <h2>{title}</h2>
            <p class="big">{sum} <span class="unit">" messages"</span></p>
            <p>"Delivery rate: " <strong>{rate}</strong></p>
            {(!counts.is_empty()).then(|| view! {
                <table>
                    <caption class="visually-hidden">{title}" by status"</caption>
                    <thead><tr><th scope="col">"Status"</th><th scope="col" class="num">"Messages"</th></tr></thead>
                    <tbody>
                        {counts.into_iter().map(|(status, n)| view! {
                            <tr><td>{status.as_str()}</td><td class="num">{n}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <Title text="Dashboard — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match overview().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your dashboard").into_any(),
                    Some(Ok(o)) => {
                        let empty = total(&o.month) == 0;
                        let currency = o.spend_month.currency.clone();
                        let next_step = if o.providers == 0 {
                            "Add an SMS provider — or the built-in sandbox — with its prices: POST /v1/providers, then PUT /v1/providers/{id}/prices."
                        } else if o.keys == 0 {
                            "Create an API key for your app: POST /v1/api-keys."
                        } else {
                            "Send your first message: POST /v1/messages with your API key."
                        };
                        view! {
                            <Layout signed_in=true>
                                <PastDueBanner overdue=o.overdue />
                                <AlertBanner alert=o.alert />
                                <section class="card">
                                    <h1>{o.tenant.clone()}</h1>
                                    <p>"Signed in as " <strong>{o.email}</strong></p>
                                    <p>"Spent this month: " <strong class="spend">{Money::format_amount(o.spend_month.micros)} " " {o.spend_month.currency}</strong></p>
                                </section>
                                {empty.then(|| view! {
                                    <section class="card empty">
                                        <h2>"No messages yet"</h2>
                                        <p>{next_step}</p>
                                        <p>"The " <a href="/openapi.json">"API reference"</a> " describes every call."</p>
                                    </section>
                                })}
                                <div class="grid">
                                    <Counts title="Today" counts=o.today />
                                    <Counts title="This month" counts=o.month />
                                </div>
                                <section class="card wide">
                                    <h2>"Last 30 days"</h2>
                                    <VolumeChart days=o.days currency=currency />
                                </section>
                                <section class="card wide">
                                    <h2>"Providers, last 30 days"</h2>
                                    {if o.provider_lines.is_empty() {
                                        view! { <p class="empty-note">"No provider has been tried yet."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table>
                                                <thead><tr>
                                                    <th scope="col">"Provider"</th><th scope="col" class="num">"Attempts"</th>
                                                    <th scope="col" class="num">"Accepted"</th><th scope="col" class="num">"p50 latency"</th>
                                                    <th scope="col" class="num">"p95 latency"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {o.provider_lines.into_iter().map(|p| view! {
                                                        <tr>
                                                            <td>{p.name}</td><td class="num">{p.attempts}</td><td class="num">{p.success}</td>
                                                            <td class="num">{p.p50_ms} " ms"</td><td class="num">{p.p95_ms} " ms"</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                            </Layout>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
