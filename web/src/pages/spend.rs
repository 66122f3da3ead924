//! The tenant's spend: this month against the budget, by day, provider and country, and the
//! budget form (`openclaw_core::budgets`, the service `PUT /v1/budget` calls too).

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use openclaw_core::billing::terms::Overdue;
use openclaw_core::budgets::{self, Alert, Standing};
use openclaw_core::db::billing::{self as invoices, Invoice};
use openclaw_core::db::{alerts, providers, spend, tenants};
use openclaw_core::domain::{Money, Period};
use openclaw_core::permissions::{Action, allowed};

use crate::components::alert::{AlertBanner, PastDueBanner, sentence};
use crate::components::chart::{Day, VolumeChart};
use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Tenant(Action::ReadSpend);

/// One line of a breakdown: what, messages, segments, spend.
struct Line {
    key: String,
    messages: i64,
    segments: i64,
    spend: Money,
}

struct SpendPage {
    standing: Standing,
    currency: String,
    can_set_budget: bool,
    days: Vec<Day>,
    by_provider: Vec<Line>,
    by_country: Vec<Line>,
    /// The newest alerts, this month's and earlier ones.
    alerts: Vec<Alert>,
    /// The newest invoices (for the roles that may read them).
    invoices: Option<Vec<Invoice>>,
    overdue: Option<Overdue>,
}

/// Invoices listed on the page (the API pages through them all).
const INVOICES_SHOWN: i64 = 12;

/// Alerts listed on the page (the API pages through them all).
const ALERTS_SHOWN: i64 = 12;

fn lines(rows: Vec<spend::SpendRow>, name: impl Fn(&str) -> String) -> Vec<Line> {
    rows.into_iter()
        .map(|r| Line {
            key: name(&r.key),
            messages: r.messages,
            segments: r.segments,
            spend: Money::new(r.cost_micros + r.fee_micros, r.currency),
        })
        .collect()
}

async fn load() -> Option<anyhow::Result<SpendPage>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            let overdue = super::overdue_of(&ctx, tenant_id).await?;
            ctx.scoped(tenant_id, async |conn| {
                let currency = tenants::find(conn, tenant_id).await?.currency;
                let standing = budgets::standing_of(conn, tenant_id)
                    .await
                    .map_err(anyhow::Error::new)?;
                let period = standing.period;
                let today = Utc::now().date_naive();
                let (first, last) = (period.first_day(), today.min(period.last_day()));
                let report =
                    async |conn: &mut _, by| spend::report(conn, tenant_id, first, last, by).await;
                let by_day = report(conn, spend::GroupBy::Day).await?;
                let days = first
                    .iter_days()
                    .take_while(|d| *d <= last)
                    .map(|date| {
                        let key = date.to_string();
                        let of_day = by_day
                            .iter()
                            .filter(|r| r.key == key && r.currency == currency);
                        Day {
                            date,
                            messages: of_day.clone().map(|r| r.messages).sum(),
                            spend_micros: of_day.map(|r| r.cost_micros + r.fee_micros).sum(),
                        }
                    })
                    .collect();
                let names = providers::names(conn, providers::Owner::Tenant(tenant_id)).await?;
                let by_provider = lines(report(conn, spend::GroupBy::Provider).await?, |key| {
                    uuid::Uuid::parse_str(key)
                        .ok()
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_else(|| "(removed)".into())
                });
                let by_country = lines(report(conn, spend::GroupBy::Country).await?, str::to_owned);
                let alerts = alerts::list(conn, tenant_id, None, ALERTS_SHOWN).await?;
                let invoices = if allowed(identity.role, Action::ReadInvoices) {
                    Some(invoices::tenant_invoices(conn, tenant_id, None, INVOICES_SHOWN).await?)
                } else {
                    None
                };
                Ok(SpendPage {
                    invoices,
                    overdue,
                    standing,
                    currency,
                    can_set_budget: allowed(identity.role, Action::ManageBudget),
                    days,
                    by_provider,
                    by_country,
                    alerts,
                })
            })
            .await
        }
        .await,
    )
}

#[component]
fn Breakdown(title: &'static str, what: &'static str, lines: Vec<Line>) -> impl IntoView {
    view! {
        <section class="card" aria-label=title>
            <h2>{title}</h2>
            {if lines.is_empty() {
                view! { <p class="hint">"Nothing spent yet this month."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <thead><tr><th scope="col">{what}</th><th scope="col">"Messages"</th><th scope="col">"Segments"</th><th scope="col">"Spend"</th></tr></thead>
                        <tbody>
                            {lines.into_iter().map(|l| view! {
                                <tr><td>{l.key}</td><td>{l.messages}</td><td>{l.segments}</td><td>{l.spend.to_string()}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Alerts(alerts: Vec<Alert>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="alerts-title">
            <h2 id="alerts-title">"Budget alerts"</h2>
            {if alerts.is_empty() {
                view! { <p class="hint">"No alert has been raised. Each threshold of the budget raises one a month, mailed to owners and billing members."</p> }.into_any()
            } else {
                view! {
                    <ul class="alerts">
                        {alerts.into_iter().map(|a| view! {
                            <li><time datetime=a.created_at.to_rfc3339()>{a.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>" — "{sentence(&a)}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Invoices(invoices: Vec<Invoice>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="invoices-title">
            <h2 id="invoices-title">"Invoices"</h2>
            {if invoices.is_empty() {
                view! { <p class="hint">"No invoices yet. Each month, once it is over, OpenClaw invoices its platform fees."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <thead><tr><th scope="col">"Month"</th><th scope="col">"Total"</th><th scope="col">"Status"</th><th scope="col">"Invoice"</th></tr></thead>
                        <tbody>
                            {invoices.into_iter().map(|i| view! {
                                <tr>
                                    <td>{Period::of(i.period).to_string()}</td>
                                    <td>{Money::new(i.total_micros, i.currency.clone()).to_string()}</td>
                                    <td>{i.status.as_str()}</td>
                                    <td>{match i.hosted_invoice_url {
                                        Some(url) => view! { <a href=url>{i.number.unwrap_or_else(|| "View".into())}</a> }.into_any(),
                                        None => i.number.unwrap_or_else(|| "—".into()).into_any(),
                                    }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn Spend() -> impl IntoView {
    let flash = super::take_flash("budget");
    view! {
        <Title text="Spend — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new({
                let flash = flash.clone();
                async move {
                match load().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your spend").into_any(),
                    Some(Ok(page)) => {
                        let saved = (flash.field.as_deref() == Some("saved")).then(|| flash.message.clone());
                        let general = (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
                        let period: Period = page.standing.period;
                        let spent = page.standing.spent.clone();
                        let remaining = page.standing.remaining();
                        let budget = page.standing.budget.clone();
                        let limit_text = budget.as_ref().map(|b| Money::format_amount(b.monthly_limit_micros)).unwrap_or_default();
                        let limit = if flash.value("monthly_limit").is_empty() { limit_text } else { flash.value("monthly_limit") };
                        let thresholds_text = budget.as_ref()
                            .map(|b| b.alert_thresholds.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "))
                            .unwrap_or_else(|| "50, 80, 100".into());
                        let thresholds = if flash.value("alert_thresholds").is_empty() { thresholds_text } else { flash.value("alert_thresholds") };
                        let hard_cap = budget.as_ref().is_some_and(|b| b.hard_cap);
                        let summary = match (&budget, &remaining) {
                            (Some(b), Some(left)) => {
                                let limit = Money::new(b.monthly_limit_micros, b.currency.clone());
                                let pct = if b.monthly_limit_micros > 0 {
                                    (spent.micros.saturating_mul(100) / b.monthly_limit_micros).min(100)
                                } else {
                                    100
                                };
                                view! {
                                    <p>"Spent " <strong>{spent.to_string()}</strong> " of " <strong>{limit.to_string()}</strong>
                                        " this month; " {left.to_string()} " left."
                                        {b.hard_cap.then_some(" Sends that do not fit are refused.")}</p>
                                    <meter min="0" max="100" low="80" high="99" optimum="0" value=pct.to_string()
                                        aria-label="Share of the budget spent">{format!("{pct} %")}</meter>
                                }.into_any()
                            }
                            _ => view! {
                                <p>"Spent " <strong>{spent.to_string()}</strong> " this month. No budget is set."</p>
                            }.into_any(),
                        };
                        let banner = page.alerts.first().filter(|a| Period::of(a.period) == period).cloned();
                        view! {
                            <Layout signed_in=true>
                                <PastDueBanner overdue=page.overdue.clone() />
                                <AlertBanner alert=banner />
                                <section class="card" aria-labelledby="title">
                                    <h1 id="title">{format!("Spend — {period}")}</h1>
                                    {summary}
                                    <VolumeChart days=page.days currency=page.currency.clone() />
                                </section>
                                <section class="card" aria-labelledby="budget-title">
                                    <h2 id="budget-title">"Monthly budget"</h2>
                                    {saved.map(|m| view! { <p class="notice" role="status">{m}</p> })}
                                    {general.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                    <form class="form" method="post" action="/spend/budget">
                                        <fieldset disabled=!page.can_set_budget>
                                            <label for="monthly_limit">{format!("Limit per calendar month (UTC), in {}", page.currency)}</label>
                                            <input id="monthly_limit" name="monthly_limit" type="text" inputmode="decimal" required value=limit />
                                            {flash.error_for("monthly_limit").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <input type="hidden" name="currency" value=page.currency.clone() />
                                            <label for="alert_thresholds">"Alert at these percentages of the limit (comma-separated)"</label>
                                            <input id="alert_thresholds" name="alert_thresholds" type="text" value=thresholds />
                                            {flash.error_for("alert_thresholds").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label><input type="checkbox" name="hard_cap" checked=hard_cap />" Hard cap: refuse sends that do not fit"</label>
                                            <button type="submit">"Save budget"</button>
                                        </fieldset>
                                    </form>
                                    {(page.can_set_budget && budget.is_some()).then(|| view! {
                                        <form method="post" action="/spend/budget/remove">
                                            <button type="submit" class="secondary">"Remove the budget"</button>
                                        </form>
                                    })}
                                    {(!page.can_set_budget).then(|| view! { <p class="hint">"Only owners, admins and billing members can change the budget."</p> })}
                                </section>
                                <Alerts alerts=page.alerts />
                                {page.invoices.map(|invoices| view! { <Invoices invoices=invoices /> })}
                                <Breakdown title="By provider" what="Provider" lines=page.by_provider />
                                <Breakdown title="By country" what="Country" lines=page.by_country />
                            </Layout>
                        }.into_any()
                    }
                }
            }})}
        </Suspense>
    }
}
