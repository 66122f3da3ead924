//! Platform staff's billing page: the billing settings in force and scheduled (and the form
//! that changes them, for platform admins), the exchange rates, tenants' own fee and markup
//! and their billing currency, closing a month, and a month's invoices with where each one's
//! close stands (`openclaw_core::billing`, the services the `/v1/admin/billing/…`,
//! `/v1/admin/tenants/{id}/…` and `/v1/admin/invoices` routes call too).

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use openclaw_core::billing::invoices::{self, WithLines};
use openclaw_core::billing::rates::{self, ExchangeRate};
use openclaw_core::billing::settings::{self, Settings, TenantTerms, Version};
use openclaw_core::db::billing::BillingPeriod;
use openclaw_core::db::tenants::{self, Summary};
use openclaw_core::domain::{CloseStep, Money, Period, TenantId};
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::Flash;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Platform(Action::ReadBilling);

struct BillingPage {
    settings: Settings,
    periods: Vec<BillingPeriod>,
    invoices: Vec<WithLines>,
    tenants: Vec<Summary>,
    rates: Vec<ExchangeRate>,
    terms: Vec<TenantTerms>,
    can_manage: bool,
    can_close: bool,
}

async fn load(period: Period) -> Option<anyhow::Result<BillingPage>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            if !WHO.admits(&identity) {
                return Err(anyhow::Error::new(super::NotAllowed));
            }
            let staff = super::staff_of(&identity);
            let settings = settings::get(&ctx.pool, &staff).await?;
            let periods = invoices::periods(&ctx.pool, &staff).await?;
            let invoices =
                invoices::period_invoices(&ctx.pool, &staff, period, None, None, 1_000).await?;
            let rates = rates::list(&ctx.pool, &staff).await?;
            let terms = settings::list_tenant_terms(&ctx.pool, &staff).await?;
            let mut conn = ctx.pool.get().await?;
            let tenants = tenants::summaries(&mut conn, None, 1_000).await?;
            Ok(BillingPage {
                settings,
                periods,
                invoices,
                tenants,
                rates,
                terms,
                can_manage: allowed(identity.role, Action::ManageBilling),
                can_close: allowed(identity.role, Action::CloseBillingPeriod),
            })
        }
        .await,
    )
}

/// Typed value kept by a failed form, else `default`.
fn kept(flash: &Flash, name: &str, default: String) -> String {
    let v = flash.value(name);
    if v.is_empty() { default } else { v }
}

#[component]
fn Notes(flash: Flash) -> impl IntoView {
    let saved = (flash.field.as_deref() == Some("saved")).then(|| flash.message.clone());
    let general =
        (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
    view! {
        {saved.map(|m| view! { <p class="notice" role="status">{m}</p> })}
        {general.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
    }
}

fn terms_row(t: &TenantTerms) -> impl IntoView + use<> {
    view! {
        <tr>
            <td>{format!("{} ({})", t.tenant_name, TenantId::from(t.tenant_id))}</td>
            <td>{t.effective_from.to_string()}</td>
            <td>{t.platform_fee.as_ref().map_or_else(|| "the platform's".to_owned(), Money::to_string)}</td>
            <td>{t.markup.map_or_else(|| "the default".to_owned(), |m| format!("{m} %"))}</td>
        </tr>
    }
}

fn version_row(v: &Version) -> impl IntoView + use<> {
    view! {
        <tr>
            <td>{v.effective_from.to_string()}</td>
            <td>{v.platform_fee.to_string()}</td>
            <td>{format!("{} %", v.default_markup)}</td>
            <td>{format!("{} days", v.grace_period_days)}</td>
        </tr>
    }
}

fn step_name(step: CloseStep) -> &'static str {
    match step {
        CloseStep::Customer => "making the Stripe customer",
        CloseStep::Items => "adding the invoice items",
        CloseStep::Invoice => "creating the invoice",
        CloseStep::Finalize => "finalizing",
        CloseStep::Done => "done",
    }
}

#[component]
pub fn AdminBilling() -> impl IntoView {
    let settings_flash = super::take_flash("billing-settings");
    let fee_flash = super::take_flash("tenant-fee");
    let currency_flash = super::take_flash("tenant-currency");
    let close_flash = super::take_flash("close-period");
    let rates_flash = super::take_flash("exchange-rates");
    let query = use_query_map().get_untracked();
    let last_month = {
        let this = Period::of(Utc::now().date_naive());
        Period::of(this.first_day() - chrono::Days::new(1))
    };
    let asked = query.get("period").unwrap_or_default();
    let (period, period_error) = match asked.as_str() {
        "" => (last_month, None),
        s => match Period::parse(s) {
            Some(p) => (p, None),
            None => (
                last_month,
                Some(format!(
                    "“{s}” is not a month like 2026-11; showing last month."
                )),
            ),
        },
    };
    view! {
        <Title text="Billing — OpenClaw staff" />
        <Suspense fallback=|| ()>
            {Suspend::new({
                let (settings_flash, fee_flash, close_flash, rates_flash) = (settings_flash.clone(), fee_flash.clone(), close_flash.clone(), rates_flash.clone());
                let currency_flash = currency_flash.clone();
                let period_error = period_error.clone();
                async move {
                match load(period).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "billing").into_any(),
                    Some(Ok(page)) => {
                        let current = page.settings.current.clone();
                        let fee_default = current.as_ref().map(|v| Money::format_amount(v.platform_fee.micros)).unwrap_or_else(|| "0".into());
                        let currency_default = current.as_ref().map(|v| v.platform_fee.currency.clone()).unwrap_or_else(|| "USD".into());
                        let markup_default = current.as_ref().map(|v| v.default_markup.to_string()).unwrap_or_else(|| "0".into());
                        let grace_default = page.settings.grace_days().to_string();
                        let sf = settings_flash.clone();
                        let ff = fee_flash.clone();
                        let cf = close_flash.clone();
                        let rf = rates_flash.clone();
                        let tc = currency_flash.clone();
                        let currency_tenant = tc.value("tenant");
                        let rates_text = kept(&rf, "rates", rates::to_lines(&page.rates));
                        let names: std::collections::HashMap<uuid::Uuid, String> =
                            page.tenants.iter().map(|t| (t.id, t.name.clone())).collect();
                        let chosen_tenant = ff.value("tenant");
                        let total: i64 = page.invoices.iter().map(|w| w.invoice.total_micros).sum();
                        let total_currency = page.invoices.first().map(|w| w.invoice.currency.clone()).unwrap_or_else(|| currency_default.clone());
                        view! {
                            <Layout signed_in=true>
                                <section class="card wide" id="invoices" aria-labelledby="invoices-title">
                                    <h1 id="title">"Billing"</h1>
                                    <h2 id="invoices-title">{format!("Invoices — {period}")}</h2>
                                    {period_error.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                    <form class="inline-form" method="get" action="/admin/billing">
                                        <label for="period">"Month"</label>
                                        <input id="period" name="period" type="month" value=period.to_string() />
                                        <button type="submit">"Show"</button>
                                    </form>
                                    {if page.invoices.is_empty() {
                                        view! { <p class="empty-note">"No invoices for this month."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="report">
                                                <thead><tr>
                                                    <th scope="col">"Tenant"</th><th scope="col">"Total"</th><th scope="col">"Status"</th>
                                                    <th scope="col">"Number"</th><th scope="col">"Close"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {page.invoices.iter().map(|w| {
                                                        let i = &w.invoice;
                                                        let name = names.get(&i.tenant_id).cloned().unwrap_or_else(|| TenantId::from(i.tenant_id).to_string());
                                                        let close = match &i.last_error {
                                                            Some(e) if i.step != CloseStep::Done => format!("{} (last try failed: {e})", step_name(i.step)),
                                                            _ => step_name(i.step).to_owned(),
                                                        };
                                                        view! {
                                                            <tr>
                                                                <td>{name}</td>
                                                                <td>{Money::new(i.total_micros, i.currency.clone()).to_string()}</td>
                                                                <td>{i.status.as_str()}</td>
                                                                <td>{match (&i.number, &i.hosted_invoice_url) {
                                                                    (Some(n), Some(url)) => view! { <a href=url.clone()>{n.clone()}</a> }.into_any(),
                                                                    (Some(n), None) => n.clone().into_any(),
                                                                    _ => "—".into_any(),
                                                                }}</td>
                                                                <td>{close}</td>
                                                            </tr>
                                                        }
                                                    }).collect_view()}
                                                </tbody>
                                                <tfoot><tr><th scope="row">"Total"</th><td>{Money::new(total, total_currency).to_string()}</td><td></td><td></td><td></td></tr></tfoot>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                                <section class="card wide" id="close" aria-labelledby="close-title">
                                    <h2 id="close-title">"Close a month"</h2>
                                    <Notes flash=cf.clone() />
                                    <p class="hint">"Closing freezes the month's ledger into an invoice per tenant and creates each in Stripe. A month can be closed once it is over."</p>
                                    <form class="inline-form" method="post" action="/admin/billing/close">
                                        <fieldset disabled=!page.can_close>
                                            <label for="close-period">"Month"</label>
                                            <input id="close-period" name="period" type="text" inputmode="numeric" placeholder="YYYY-MM" pattern="[0-9]{4}-[0-9]{2}" required value=kept(&cf, "period", last_month.to_string()) />
                                            <button type="submit">"Close the month"</button>
                                        </fieldset>
                                    </form>
                                    {cf.error_for("period").map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                    {(!page.periods.is_empty()).then(|| view! {
                                        <table>
                                            <thead><tr><th scope="col">"Month"</th><th scope="col">"Status"</th><th scope="col">"Invoices"</th></tr></thead>
                                            <tbody>
                                                {page.periods.iter().map(|p| {
                                                    let month = Period::of(p.period);
                                                    view! {
                                                        <tr>
                                                            <td><a href=format!("/admin/billing?period={month}")>{month.to_string()}</a></td>
                                                            <td>{if p.opened_at.is_some() { "closed" } else { "closing" }}</td>
                                                            <td>{p.invoices.map(|n| n.to_string()).unwrap_or_else(|| "—".into())}</td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    })}
                                </section>
                                <section class="card wide" id="settings" aria-labelledby="settings-title">
                                    <h2 id="settings-title">"Settings"</h2>
                                    <Notes flash=sf.clone() />
                                    {match &current {
                                        Some(_) => view! { <p>"In force today and scheduled, each from its day (UTC); what was charged before a change stays as it was."</p> }.into_any(),
                                        None => view! { <p>"Not set yet: no platform fee, no markup, a grace period of 14 days."</p> }.into_any(),
                                    }}
                                    {(current.is_some() || !page.settings.scheduled.is_empty()).then(|| view! {
                                        <table>
                                            <thead><tr><th scope="col">"From"</th><th scope="col">"Platform fee per segment"</th><th scope="col">"Default markup"</th><th scope="col">"Grace period"</th></tr></thead>
                                            <tbody>
                                                {current.as_ref().map(version_row)}
                                                {page.settings.scheduled.iter().map(version_row).collect_view()}
                                            </tbody>
                                        </table>
                                    })}
                                    <form class="form" method="post" action="/admin/billing/settings">
                                        <fieldset disabled=!page.can_manage>
                                            <label for="platform_fee">"Platform fee per segment"</label>
                                            <input id="platform_fee" name="platform_fee" type="text" inputmode="decimal" required value=kept(&sf, "platform_fee", fee_default) />
                                            {sf.error_for("platform_fee").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="currency">"Currency"</label>
                                            <input id="currency" name="currency" type="text" required maxlength="3" value=kept(&sf, "currency", currency_default.clone()) />
                                            <label for="default_markup_percent">"Default markup on platform providers (%)"</label>
                                            <input id="default_markup_percent" name="default_markup_percent" type="text" inputmode="decimal" value=kept(&sf, "default_markup_percent", markup_default) />
                                            {sf.error_for("default_markup_percent").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="grace_period_days">"Grace period (days an invoice may stay unpaid)"</label>
                                            <input id="grace_period_days" name="grace_period_days" type="number" min="1" max="365" value=kept(&sf, "grace_period_days", grace_default) />
                                            {sf.error_for("grace_period_days").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="effective_from">"Effective from (empty: today)"</label>
                                            <input id="effective_from" name="effective_from" type="date" value=sf.value("effective_from") />
                                            {sf.error_for("effective_from").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <button type="submit">"Save settings"</button>
                                        </fieldset>
                                    </form>
                                    {(!page.can_manage).then(|| view! { <p class="hint">"Only platform admins can change the billing settings."</p> })}
                                </section>
                                <section class="card wide" id="rates" aria-labelledby="rates-title">
                                    <h2 id="rates-title">"Exchange rates"</h2>
                                    <Notes flash=rf.clone() />
                                    <p class="hint">"A price given in another currency than its tenant's converts at the rate from that currency into the tenant's, for what is sent from now on; what was charged keeps its rate. A rate that tenants' prices are in cannot be removed."</p>
                                    {if page.rates.is_empty() {
                                        view! { <p class="empty-note">"No exchange rates: every price must be in its tenant's currency."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table>
                                                <thead><tr><th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Rate"</th><th scope="col">"Changed"</th></tr></thead>
                                                <tbody>
                                                    {page.rates.iter().map(|r| view! {
                                                        <tr>
                                                            <td>{r.from.clone()}</td>
                                                            <td>{r.to.clone()}</td>
                                                            <td>{r.rate.to_string()}</td>
                                                            <td>{r.updated_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                    <form class="form" method="post" action="/admin/billing/rates">
                                        <fieldset disabled=!page.can_manage>
                                            <label for="rates-text">"Rates, one per line: from,to,rate (1 from = rate to)"</label>
                                            <textarea id="rates-text" name="rates" rows="6" placeholder="EUR,USD,1.0845">{rates_text}</textarea>
                                            {rf.error_for("rates").map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                            <button type="submit">"Save exchange rates"</button>
                                        </fieldset>
                                    </form>
                                </section>
                                <section class="card wide" id="tenant-fee" aria-labelledby="tenant-fee-title">
                                    <h2 id="tenant-fee-title">"A tenant's own terms"</h2>
                                    <Notes flash=ff.clone() />
                                    <p class="hint">"A contract price from a day on: the tenant's own fee per segment and its own markup on platform providers' cost. Leave either empty to return the tenant to the platform's."</p>
                                    {if page.terms.is_empty() {
                                        view! { <p class="empty-note">"No tenant has terms of its own."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="report" id="tenant-terms">
                                                <thead><tr>
                                                    <th scope="col">"Tenant"</th><th scope="col">"From"</th>
                                                    <th scope="col">"Fee per segment"</th><th scope="col">"Markup"</th>
                                                </tr></thead>
                                                <tbody>{page.terms.iter().map(terms_row).collect_view()}</tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                    <form class="form" method="post" action="/admin/billing/tenant-fee">
                                        <fieldset disabled=!page.can_manage>
                                            <label for="tenant">"Tenant"</label>
                                            <select id="tenant" name="tenant">
                                                {page.tenants.iter().map(|t| {
                                                    let id = TenantId::from(t.id).to_string();
                                                    let selected = id == chosen_tenant;
                                                    view! { <option value=id.clone() selected=selected>{format!("{} ({id})", t.name)}</option> }
                                                }).collect_view()}
                                            </select>
                                            {ff.error_for("tenant").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="tenant_platform_fee">"Fee per segment, in the tenant's currency (empty: the platform's)"</label>
                                            <input id="tenant_platform_fee" name="platform_fee" type="text" inputmode="decimal" value=ff.value("platform_fee") />
                                            {ff.error_for("platform_fee").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="tenant_markup_percent">"Markup on platform providers' cost, % (empty: the default)"</label>
                                            <input id="tenant_markup_percent" name="markup_percent" type="text" inputmode="decimal" value=ff.value("markup_percent") />
                                            {ff.error_for("markup_percent").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="tenant_effective_from">"Effective from (empty: today)"</label>
                                            <input id="tenant_effective_from" name="effective_from" type="date" value=ff.value("effective_from") />
                                            {ff.error_for("effective_from").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <button type="submit">"Save the tenant's terms"</button>
                                        </fieldset>
                                    </form>
                                </section>
                                <section class="card wide" id="tenant-currency" aria-labelledby="tenant-currency-title">
                                    <h2 id="tenant-currency-title">"A tenant's currency"</h2>
                                    <Notes flash=tc.clone() />
                                    <p class="hint">"The currency a tenant is billed in, set before it sends its first live message: its prices, platform providers' and the platform fee convert into it at the exchange rates above."</p>
                                    <form class="form" method="post" action="/admin/billing/tenant-currency">
                                        <fieldset disabled=!page.can_manage>
                                            <label for="currency_tenant">"Tenant"</label>
                                            <select id="currency_tenant" name="tenant">
                                                {page.tenants.iter().map(|t| {
                                                    let id = TenantId::from(t.id).to_string();
                                                    let selected = id == currency_tenant;
                                                    view! { <option value=id.clone() selected=selected>{format!("{} ({id}), billed in {}", t.name, t.currency)}</option> }
                                                }).collect_view()}
                                            </select>
                                            {tc.error_for("tenant").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <label for="tenant_currency">"Currency (ISO 4217, such as EUR)"</label>
                                            <input id="tenant_currency" name="currency" type="text" maxlength="3" value=tc.value("currency") />
                                            {tc.error_for("currency").map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                            <button type="submit">"Set the tenant's currency"</button>
                                        </fieldset>
                                    </form>
                                </section>
                            </Layout>
                        }.into_any()
                    }
                }
            }})}
        </Suspense>
    }
}
