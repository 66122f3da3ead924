//! The staff spend report: every tenant's spend in a month (`openclaw_core::staff`, the service
//! `GET /v1/admin/spend-report` calls too), sortable, a chart of the month's days, one tenant's
//! drill-down by provider, country and message type, and the CSV download
//! ([`download`], the same CSV as the API's).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use openclaw_core::db::spend::{SpendRow, TenantSpend};
use openclaw_core::domain::{Money, Period, TenantId};
use openclaw_core::permissions::Action;
use openclaw_core::staff::{self, Detail, ReportRequest, SpendReport, Staff};

use crate::components::chart::{Day, VolumeChart};
use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::{self, AppContext};

/// Who may see this page and download its CSV (`crate::routes::PAGES`).
pub const WHO: Who = Who::Platform(Action::ReadSpendReport);

/// How the table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Spend,
    Messages,
    Name,
}

impl Sort {
    const ALL: [(Sort, &'static str, &'static str); 3] = [
        (Sort::Spend, "spend", "Spend"),
        (Sort::Messages, "messages", "Messages"),
        (Sort::Name, "name", "Name"),
    ];

    fn parse(s: &str) -> Sort {
        Sort::ALL
            .into_iter()
            .find(|(_, name, _)| *name == s)
            .map_or(Sort::Spend, |(sort, _, _)| sort)
    }

    fn apply(self, lines: &mut [TenantSpend]) {
        match self {
            Sort::Spend => lines.sort_by(|a, b| {
                (&a.currency, b.cost_micros, a.tenant_id).cmp(&(
                    &b.currency,
                    a.cost_micros,
                    b.tenant_id,
                ))
            }),
            Sort::Messages => lines.sort_by(|a, b| {
                b.messages
                    .cmp(&a.messages)
                    .then(a.tenant_id.cmp(&b.tenant_id))
            }),
            Sort::Name => lines.sort_by(|a, b| {
                a.tenant_name
                    .to_lowercase()
                    .cmp(&b.tenant_name.to_lowercase())
                    .then(a.tenant_id.cmp(&b.tenant_id))
            }),
        }
    }
}

struct ReportPage {
    report: SpendReport,
    detail: Detail,
    /// The tenant drilled into, with its name.
    tenant: Option<(uuid::Uuid, String)>,
}

async fn load(period: Period, tenant: Option<uuid::Uuid>) -> Option<anyhow::Result<ReportPage>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            if !WHO.admits(&identity) {
                return Err(anyhow::Error::new(super::NotAllowed));
            }
            let staff = super::staff_of(&identity);
            let report = staff::spend_report(
                &ctx.pool,
                &staff,
                ReportRequest {
                    period,
                    tenant: None,
                    provider: None,
                    after: None,
                    limit: None,
                },
            )
            .await?;
            let tenant = tenant.and_then(|t| {
                report
                    .lines
                    .iter()
                    .find(|l| l.tenant_id == t)
                    .map(|l| (t, l.tenant_name.clone()))
            });
            let detail =
                staff::spend_detail(&ctx.pool, &staff, period, tenant.as_ref().map(|t| t.0))
                    .await?;
            Ok(ReportPage {
                report,
                detail,
                tenant,
            })
        }
        .await,
    )
}

/// The report's days in its main currency (the one with the most spend), empty days included.
fn chart_days(period: Period, detail: &Detail, currency: &str) -> Vec<Day> {
    let today = Utc::now().date_naive();
    let last = period.last_day().min(today.max(period.first_day()));
    period
        .first_day()
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            let of_day = detail
                .days
                .iter()
                .filter(|d| d.day == date && d.currency == currency);
            Day {
                date,
                messages: of_day.clone().map(|d| d.messages).sum(),
                spend_micros: of_day.map(|d| d.cost_micros).sum(),
            }
        })
        .collect()
}

#[component]
fn Breakdown(
    title: &'static str,
    rows: Vec<SpendRow>,
    names: HashMap<String, String>,
) -> impl IntoView {
    view! {
        <h3>{title}</h3>
        <table>
            <thead><tr><th scope="col">"Key"</th><th scope="col">"Messages"</th><th scope="col">"Segments"</th><th scope="col">"Spend"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let key = names.get(&r.key).cloned().unwrap_or(r.key);
                    view! {
                        <tr><td>{key}</td><td>{r.messages}</td><td>{r.segments}</td><td>{Money::new(r.cost_micros, r.currency).to_string()}</td></tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The staff spend report.
#[component]
pub fn AdminSpend() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let this_month = Period::of(Utc::now().date_naive());
    let asked = query.get("period").unwrap_or_default();
    let (period, period_error) = match asked.as_str() {
        "" => (this_month, None),
        s => match Period::parse(s) {
            Some(p) => (p, None),
            None => (
                this_month,
                Some(format!(
                    "“{s}” is not a month like 2026-12; showing this month."
                )),
            ),
        },
    };
    let sort = Sort::parse(&query.get("sort").unwrap_or_default());
    let tenant = query
        .get("tenant")
        .and_then(|t| TenantId::parse(&t).ok())
        .map(|t| t.uuid());
    view! {
        <Title text="Spend report — OpenClaw staff" />
        <Suspense fallback=|| ()>
            {Suspend::new({
                let period_error = period_error.clone();
                async move {
                match load(period, tenant).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "the spend report").into_any(),
                    Some(Ok(page)) => {
                        let currency = page
                            .report
                            .totals
                            .iter()
                            .max_by_key(|t| t.cost_micros)
                            .map_or_else(|| "USD".to_owned(), |t| t.currency.clone());
                        let days = chart_days(period, &page.detail, &currency);
                        let mut lines = page.report.lines.clone();
                        sort.apply(&mut lines);
                        let link = move |sort: &str, tenant: Option<uuid::Uuid>| {
                            let mut href = format!("/admin/spend?period={period}&sort={sort}");
                            if let Some(t) = tenant {
                                href.push_str(&format!("&tenant={}", TenantId::from(t)));
                            }
                            href
                        };
                        let sort_name = Sort::ALL.into_iter().find(|(s, _, _)| *s == sort).map_or("spend", |(_, n, _)| n);
                        let drill = page.tenant.clone().zip(page.detail.tenant.clone());
                        view! {
                            <Layout signed_in=true>
                                <section class="card wide" aria-labelledby="title">
                                    <h1 id="title">{format!("Spend report — {period}")}</h1>
                                    {period_error.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                    <form class="inline-form" method="get" action="/admin/spend">
                                        <label for="period">"Month"</label>
                                        <input id="period" name="period" type="month" value=period.to_string() />
                                        <input type="hidden" name="sort" value=sort_name />
                                        <button type="submit">"Show"</button>
                                    </form>
                                    <p>
                                        <a href=format!("/admin/spend-report.csv?period={period}") download="">"Download CSV"</a>
                                        " — every tenant, with a totals row per currency."
                                    </p>
                                    <VolumeChart days=days currency=currency.clone() />
                                </section>
                                <section class="card wide" aria-labelledby="tenants-title">
                                    <h2 id="tenants-title">"By tenant"</h2>
                                    {if lines.is_empty() {
                                        view! { <p class="empty-note">"No tenant spent anything this month."</p> }.into_any()
                                    } else {
                                        view! {
                                            <p class="hint">"Sort by: "
                                                {Sort::ALL.into_iter().map(|(s, name, label)| {
                                                    if s == sort {
                                                        view! { <strong aria-current="true">{label}</strong>" " }.into_any()
                                                    } else {
                                                        view! { <a href=link(name, None)>{label}</a>" " }.into_any()
                                                    }
                                                }).collect_view()}
                                            </p>
                                            <table class="report">
                                                <thead><tr>
                                                    <th scope="col">"Tenant"</th><th scope="col">"Messages"</th>
                                                    <th scope="col">"Segments"</th><th scope="col">"Spend"</th>
                                                    <th scope="col">"Platform fees"</th><th scope="col">"Invoice"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {lines.into_iter().map(|l| {
                                                        let invoice = page.report.invoices.get(&l.tenant_id)
                                                            .filter(|i| i.currency == l.currency)
                                                            .map(|i| format!("{} ({})", Money::new(i.total_micros, i.currency.clone()), i.status))
                                                            .unwrap_or_else(|| "—".into());
                                                        view! {
                                                            <tr>
                                                                <td><a href=link(sort_name, Some(l.tenant_id))>{l.tenant_name.clone()}</a></td>
                                                                <td>{l.messages}</td><td>{l.segments}</td>
                                                                <td>{Money::new(l.cost_micros, l.currency.clone()).to_string()}</td>
                                                                <td>{Money::new(l.fee_micros, l.currency.clone()).to_string()}</td>
                                                                <td>{invoice}</td>
                                                            </tr>
                                                        }
                                                    }).collect_view()}
                                                </tbody>
                                                <tfoot>
                                                    {page.report.totals.iter().map(|t| view! {
                                                        <tr>
                                                            <th scope="row">{format!("Total ({})", t.currency)}</th>
                                                            <td>{t.messages}</td><td>{t.segments}</td>
                                                            <td>{Money::new(t.cost_micros, t.currency.clone()).to_string()}</td>
                                                            <td>{Money::new(t.fee_micros, t.currency.clone()).to_string()}</td>
                                                            <td></td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tfoot>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                                {drill.map(|((id, name), detail)| {
                                    let names: HashMap<String, String> = detail
                                        .provider_names
                                        .iter()
                                        .map(|(id, n)| (id.to_string(), n.clone()))
                                        .collect();
                                    view! {
                                        <section class="card wide" aria-labelledby="tenant-title">
                                            <h2 id="tenant-title">{format!("{name} — {period}")}</h2>
                                            <p><code>{TenantId::from(id).to_string()}</code></p>
                                            <Breakdown title="By provider" rows=detail.by_provider names=names />
                                            <Breakdown title="By country" rows=detail.by_country names=HashMap::new() />
                                            <Breakdown title="By message type" rows=detail.by_message_type names=HashMap::new() />
                                        </section>
                                    }
                                })}
                            </Layout>
                        }.into_any()
                    }
                }
            }})}
        </Suspense>
    }
}

/// `GET /admin/spend-report.csv?period=YYYY-MM`: the month's report as CSV, for the signed-in
/// staff member whose role may read it (the same CSV as `GET /v1/admin/spend-report`).
pub async fn download(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let client = session::client_of(&req);
    let cookies = session::SessionCookies::of(&req);
    drop(req);
    let Some((identity, _)) = session::current(&ctx, cookies).await else {
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/sign-in"))
            .finish();
    };
    if !WHO.admits(&identity) {
        return crate::forms::guard::not_allowed();
    }
    let Some(period) = query.get("period").and_then(|p| Period::parse(p)) else {
        return HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("Give the month as period=YYYY-MM.");
    };
    let staff = Staff {
        role: identity.role,
        actor: client.person(identity.user_id, true),
    };
    let request = ReportRequest {
        period,
        tenant: None,
        provider: None,
        after: None,
        limit: None,
    };
    let csv = match staff::spend_report(&ctx.pool, &staff, request).await {
        Ok(report) => report.to_csv(),
        Err(e) => Err(anyhow::Error::new(e)),
    };
    match csv {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"openclaw-spend-{period}.csv\""),
            ))
            .body(body),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "the spend report CSV failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The report could not be made; try again.")
        }
    }
}
