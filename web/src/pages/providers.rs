use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use openclaw_core::accounts::Identity;
use openclaw_core::db::providers::{self, Owner};
use openclaw_core::domain::{Money, ProviderId};
use openclaw_core::permissions::{Action, allowed};
use openclaw_core::providers::service::{
    self, DEFAULT_MAX_CONCURRENCY, DEFAULT_RECEIPT_TIMEOUT_SECONDS, ProviderError,
};
use openclaw_core::providers::{PriceList, ProviderKind};
use openclaw_core::routing::Price;

use crate::components::layout::{Field, Layout};
use crate::routes::Who;
use crate::session::{Flash, Scoped};

/// Who may see this page (`crate::routes::PAGES`).
/// The list and a provider's page (to anyone else a provider is not there).
pub const WHO: Who = Who::Tenant(Action::ReadProviders);
/// The form to add one, for anyone signed in (posting it needs `ManageProviders`).
pub const NEW_WHO: Who = Who::AnyUser;
/// The platform's providers, their list and pages: platform admins and billing staff.
pub const PLATFORM_WHO: Who = Who::Platform(Action::ReadPlatformProviders);
/// The form to add one of the platform's: platform admins.
pub const PLATFORM_NEW_WHO: Who = Who::Platform(Action::ManagePlatformProviders);

/// Whose providers a page shows: the signed-in member's tenant's, or the platform's (the
/// operator's own gateway accounts, `/admin/providers`). The same pages and forms serve
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Tenant,
    Platform,
}

impl Side {
    pub fn of(owner: Owner) -> Side {
        match owner {
            Owner::Tenant(_) => Side::Tenant,
            Owner::Platform => Side::Platform,
        }
    }

    /// Where the side's list is; a provider's page is under it.
    pub fn base(self) -> &'static str {
        match self {
            Side::Tenant => "/providers",
            Side::Platform => "/admin/providers",
        }
    }

    fn who(self) -> Who {
        match self {
            Side::Tenant => WHO,
            Side::Platform => PLATFORM_WHO,
        }
    }

    fn manage(self) -> Action {
        match self {
            Side::Tenant => Action::ManageProviders,
            Side::Platform => Action::ManagePlatformProviders,
        }
    }

    /// Whose providers `identity` sees on this side, if it may see them.
    fn owner(self, identity: &Identity) -> Option<Owner> {
        if !self.who().admits(identity) {
            return None;
        }
        match self {
            Side::Tenant => identity.tenant_id.map(Owner::Tenant),
            Side::Platform => Some(Owner::Platform),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Side::Tenant => "Providers",
            Side::Platform => "Platform providers",
        }
    }
}

fn mask_text(mask: &serde_json::Value) -> String {
    mask.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "none needed".into())
}

/// The credential fields of a kind: (form field, label, input type).
pub(crate) fn credential_fields(
    kind: ProviderKind,
) -> &'static [(&'static str, &'static str, &'static str)] {
    match kind {
        ProviderKind::Twilio => &[
            ("account_sid", "Account SID", "text"),
            ("auth_token", "Auth token", "password"),
        ],
        ProviderKind::Vonage => &[
            ("api_key", "API key", "text"),
            ("api_secret", "API secret", "password"),
            (
                "signature_secret",
                "Signature secret (if the account signs its webhooks)",
                "password",
            ),
            (
                "signature_method",
                "Signature method: md5hash (default), md5, sha1, sha256 or sha512",
                "text",
            ),
        ],
        ProviderKind::Sandbox => &[],
    }
}

struct List {
    rows: Vec<service::Priced>,
    can_manage: bool,
}

async fn list(side: Side) -> Option<anyhow::Result<List>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let owner = side
                .owner(&identity)
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            Ok(List {
                rows: service::list_priced(&ctx.pool, owner).await?,
                can_manage: allowed(identity.role, side.manage()),
            })
        }
        .await,
    )
}

#[component]
pub fn Providers() -> impl IntoView {
    view! { <ProviderList side=Side::Tenant /> }
}

#[component]
pub fn PlatformProviders() -> impl IntoView {
    view! { <ProviderList side=Side::Platform /> }
}

#[component]
fn ProviderList(side: Side) -> impl IntoView {
    let base = side.base();
    let platform = side == Side::Platform;
    view! {
        <Title text=format!("{} — OpenClaw", side.title()) />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match list(side).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, if platform { "the platform's providers" } else { "your providers" }).into_any(),
                    Some(Ok(l)) => view! {
                        <Layout signed_in=true>
                            <section class="card wide">
                                <div class="title-row">
                                    <h1>{side.title()}</h1>
                                    {l.can_manage.then(|| view! {
                                        <p class="add">"Add: "
                                            {ProviderKind::ALL.iter().map(|k| view! {
                                                <a class="button" href=format!("{base}/new?kind={}", k.as_str())>{kind_label(*k)}</a> " "
                                            }).collect_view()}
                                        </p>
                                    })}
                                </div>
                                {if platform {
                                    view! { <p>"OpenClaw's own gateway accounts. Every tenant's routing sees the enabled ones at their sell price (where the sell list has no price, at cost plus the default markup), and OpenClaw bills the tenant that price."</p> }.into_any()
                                } else {
                                    view! { <p>"Every message goes to the cheapest enabled provider priced for its destination, and to the next one when it refuses."</p> }.into_any()
                                }}
                                {if l.rows.is_empty() {
                                    let note = if platform {
                                        "No platform providers yet: tenants send only through their own."
                                    } else {
                                        "No providers yet. Add your Twilio or Vonage account, or the built-in sandbox to try things out."
                                    };
                                    view! { <p class="empty-note">{note}</p> }.into_any()
                                } else {
                                    view! {
                                        <table>
                                            <thead><tr>
                                                <th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Credentials"</th>
                                                <th scope="col" class="num">{if platform { "Cost prices" } else { "Prices" }}</th>
                                                {platform.then(|| view! { <th scope="col" class="num">"Sell prices"</th> })}
                                                <th scope="col">"State"</th>
                                            </tr></thead>
                                            <tbody>
                                                {l.rows.into_iter().map(|p| view! {
                                                    <tr>
                                                        <td><a href=format!("{base}/{}", ProviderId::from(p.provider.id))>{p.provider.name.clone()}</a></td>
                                                        <td>{p.provider.kind.as_str()}</td>
                                                        <td>{mask_text(&p.provider.credentials_mask)}</td>
                                                        <td class="num">{p.cost.len()}</td>
                                                        {platform.then(|| view! { <td class="num">{p.sell.len()}</td> })}
                                                        <td>{if p.provider.enabled { "enabled" } else { "disabled" }}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </section>
                        </Layout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A number of seconds in the largest unit that divides it: "1 day", "6 hours", "90 seconds".
fn in_words(seconds: i32) -> String {
    let (n, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| seconds % size == 0)
        .map_or((seconds, "second"), |(size, unit)| (seconds / size, unit));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `max_rate_per_sec`, `max_concurrency` and `receipt_timeout_seconds`, on the add and the
/// settings forms. Plain text inputs, so a mistake gets the service's sentence (the same as the
/// API's), not the browser's.
#[component]
fn LimitFields(
    rate: String,
    concurrency: String,
    receipt_timeout: String,
    rate_error: Option<String>,
    concurrency_error: Option<String>,
    receipt_timeout_error: Option<String>,
) -> impl IntoView {
    let invalid = |e: &Option<String>| if e.is_some() { "true" } else { "false" };
    view! {
        <label for="max_rate_per_sec">"Messages per second at most (optional, 1–100000)"</label>
        <input id="max_rate_per_sec" name="max_rate_per_sec" type="text" inputmode="numeric" value=rate
            aria-invalid=invalid(&rate_error) />
        {rate_error.map(|e| view! { <p class="field-error">{e}</p> })}
        <label for="max_concurrency">{format!("Calls at once per worker process (1–1000; empty: {DEFAULT_MAX_CONCURRENCY})")}</label>
        <input id="max_concurrency" name="max_concurrency" type="text" inputmode="numeric" value=concurrency
            aria-invalid=invalid(&concurrency_error) />
        {concurrency_error.map(|e| view! { <p class="field-error">{e}</p> })}
        <label for="receipt_timeout_seconds">{format!("Seconds its receipts may take (1–604800; empty: {DEFAULT_RECEIPT_TIMEOUT_SECONDS})")}</label>
        <input id="receipt_timeout_seconds" name="receipt_timeout_seconds" type="text" inputmode="numeric" value=receipt_timeout
            aria-invalid=invalid(&receipt_timeout_error) aria-describedby="receipt-timeout-hint" />
        {receipt_timeout_error.map(|e| view! { <p class="field-error">{e}</p> })}
        <p class="hint" id="receipt-timeout-hint">"A message still sent, with no receipt, this long after the provider took it is marked receipt overdue."</p>
    }
}

#[component]
pub fn NewProvider() -> impl IntoView {
    view! { <AddProvider side=Side::Tenant /> }
}

#[component]
pub fn NewPlatformProvider() -> impl IntoView {
    view! { <AddProvider side=Side::Platform /> }
}

#[component]
fn AddProvider(side: Side) -> impl IntoView {
    let base = side.base();
    // No kind, or one we do not know: choose one (a form posted with an unknown kind comes
    // back here with the error).
    let kind = use_query_map()
        .get_untracked()
        .get("kind")
        .and_then(|k| ProviderKind::parse(&k));
    let flash = super::take_flash("provider-new");
    let general = flash
        .field
        .as_deref()
        .is_none_or(|f| f == "kind")
        .then(|| flash.message.clone())
        .filter(|m| !m.is_empty());
    view! {
        <Title text="Add a provider — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let Some((_, identity)) = super::signed_in().await else {
                    return ().into_any();
                };
                if side == Side::Platform && !PLATFORM_NEW_WHO.admits(&identity) {
                    return super::failed(anyhow::Error::new(super::NotAllowed), "adding the platform's providers").into_any();
                }
                let (flash, general) = (flash.clone(), general.clone());
                let Some(kind) = kind else {
                    return view! {
                        <Layout signed_in=true>
                            <section class="card" aria-labelledby="title">
                                <p><a href=base>{format!("← {}", side.title())}</a></p>
                                <h1 id="title">"Add a provider"</h1>
                                {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                <p class="add">"Which kind? "
                                    {ProviderKind::ALL.iter().map(|k| view! {
                                        <a class="button" href=format!("{base}/new?kind={}", k.as_str())>{kind_label(*k)}</a> " "
                                    }).collect_view()}
                                </p>
                            </section>
                        </Layout>
                    }.into_any();
                };
                let title = match kind {
                    ProviderKind::Twilio => "Add a Twilio account",
                    ProviderKind::Vonage => "Add a Vonage account",
                    ProviderKind::Sandbox => "Add the sandbox",
                };
                view! {
                    <Layout signed_in=true>
                        <section class="card" aria-labelledby="title">
                            <p><a href=base>{format!("← {}", side.title())}</a></p>
                            <h1 id="title">{title}</h1>
                            {(kind == ProviderKind::Sandbox).then(|| view! {
                                <p>"A gateway simulated inside OpenClaw: nothing reaches a phone. "
                                   "+15005550001 is refused, +15005550002 goes undelivered, +15005550003 times out."</p>
                            })}
                            {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                            <form class="form" method="post" action=base>
                                <input type="hidden" name="kind" value=kind.as_str() />
                                <Field label="Name" name="name" value=flash.value("name") error=flash.error_for("name") />
                                {credential_fields(kind).iter().map(|(name, label, input)| view! {
                                    <Field label=*label name=*name kind=*input
                                        value=if *input == "password" { String::new() } else { flash.value(name) }
                                        error=flash.error_for(name) />
                                }).collect_view()}
                                {(kind != ProviderKind::Sandbox).then(|| view! {
                                    <label for="base_url">"Base URL (optional: a regional endpoint)"</label>
                                    <input id="base_url" name="base_url" type="url" value=flash.value("base_url") />
                                    {flash.error_for("base_url").map(|e| view! { <p class="field-error">{e}</p> })}
                                })}
                                <label for="sender_ids">"Sender ids (optional, comma-separated)"</label>
                                <input id="sender_ids" name="sender_ids" type="text" value=flash.value("sender_ids") />
                                {flash.error_for("sender_ids").map(|e| view! { <p class="field-error">{e}</p> })}
                                <LimitFields
                                    rate=flash.value("max_rate_per_sec")
                                    concurrency=flash.value("max_concurrency")
                                    receipt_timeout=flash.value("receipt_timeout_seconds")
                                    rate_error=flash.error_for("max_rate_per_sec")
                                    concurrency_error=flash.error_for("max_concurrency")
                                    receipt_timeout_error=flash.error_for("receipt_timeout_seconds") />
                                <button type="submit">"Add provider"</button>
                            </form>
                        </section>
                    </Layout>
                }.into_any()
            })}
        </Suspense>
    }
}

fn kind_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Twilio => "Twilio",
        ProviderKind::Vonage => "Vonage",
        ProviderKind::Sandbox => "Sandbox",
    }
}

struct Detail {
    provider: providers::Provider,
    /// What the gateway charges (a tenant's provider has only this list).
    cost: Vec<Price>,
    /// What tenants are billed (the platform's providers).
    sell: Vec<Price>,
    can_manage: bool,
    /// The tenant's calls through it in the last 24 hours (per tenant, so not for the
    /// platform's).
    health: Option<openclaw_core::db::messages::ProviderStats>,
}

async fn detail(side: Side, id: Option<ProviderId>) -> Option<anyhow::Result<Option<Detail>>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let (Some(id), Some(owner)) = (id, side.owner(&identity)) else {
                return Ok(None);
            };
            let provider = match service::find(&ctx.pool, owner, id.uuid()).await {
                Ok(p) => p,
                Err(ProviderError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let cost = service::prices(&ctx.pool, owner, provider.id, PriceList::Cost).await?;
            let (sell, health) = match owner {
                Owner::Platform => (
                    service::prices(&ctx.pool, owner, provider.id, PriceList::Sell).await?,
                    None,
                ),
                Owner::Tenant(tenant_id) => {
                    let since = chrono::Utc::now() - chrono::Duration::hours(24);
                    let health = ctx
                        .scoped(tenant_id, async |conn| {
                            Ok(
                                openclaw_core::db::messages::provider_stats(conn, tenant_id, since)
                                    .await?
                                    .into_iter()
                                    .find(|s| s.provider_id == provider.id),
                            )
                        })
                        .await?;
                    (Vec::new(), health)
                }
            };
            Ok(Some(Detail {
                health,
                provider,
                cost,
                sell,
                can_manage: allowed(identity.role, side.manage()),
            }))
        }
        .await,
    )
}

/// One price list: its table and, for someone who may change it, the upload form. The
/// form's fields are `csv` and `file`, or with a `prefix` (`sell_csv`, `sell_file`), so two
/// lists on one page keep their own boxes and their own mistakes.
#[component]
fn PriceSection(
    heading: &'static str,
    anchor: &'static str,
    about: &'static str,
    prices: Vec<Price>,
    action: String,
    prefix: &'static str,
    can_manage: bool,
    flash: Flash,
) -> impl IntoView {
    let csv = format!("{prefix}csv");
    let file = format!("{prefix}file");
    let error = flash.error_for(&csv);
    let typed = flash.value(&csv);
    view! {
        <section class="card wide" aria-labelledby=anchor>
            <h2 id=anchor>{heading}</h2>
            <p>{about}</p>
            {if prices.is_empty() {
                view! { <p class="empty-note">"No prices in this list yet."</p> }.into_any()
            } else {
                view! {
                    <table>
                        <thead><tr><th scope="col">"Country"</th><th scope="col">"Message type"</th><th scope="col" class="num">"Price"</th></tr></thead>
                        <tbody>
                            {prices.into_iter().map(|pr| view! {
                                <tr>
                                    <td>{if pr.country == "*" { "any".to_owned() } else { pr.country }}</td>
                                    <td>{if pr.message_type == "*" { "any".to_owned() } else { pr.message_type }}</td>
                                    <td class="num">{format!("{} {}", Money::format_amount(pr.price_micros), pr.currency)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {can_manage.then(|| view! {
                <form class="form" method="post" action=action enctype="multipart/form-data">
                    <label for=file.clone()>"Replace this list: upload a CSV file with the header country,message_type,price,currency"</label>
                    <input id=file.clone() name=file.clone() type="file" accept=".csv,text/csv" />
                    <label for=csv.clone()>"…or paste it here"</label>
                    <textarea id=csv.clone() name=csv.clone() rows="6"
                        aria-invalid=if error.is_some() { "true" } else { "false" }>
                        {if typed.is_empty() { "country,message_type,price,currency\n*,,0.0050,USD\n".to_owned() } else { typed }}
                    </textarea>
                    {error.map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                    <button type="submit">"Upload prices"</button>
                </form>
            })}
        </section>
    }
}

#[component]
pub fn ProviderDetail() -> impl IntoView {
    view! { <ProviderPage side=Side::Tenant /> }
}

#[component]
pub fn PlatformProviderDetail() -> impl IntoView {
    view! { <ProviderPage side=Side::Platform /> }
}

#[component]
fn ProviderPage(side: Side) -> impl IntoView {
    let base = side.base();
    let id = use_params_map()
        .get_untracked()
        .get("id")
        .and_then(|id| ProviderId::parse(&id).ok());
    let flash = super::take_flash("provider");
    view! {
        <Title text="Provider — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let flash = flash.clone();
                match detail(side, id).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "this provider").into_any(),
                    Some(Ok(None)) => {
                        super::not_found_status();
                        view! {
                            <Layout signed_in=true>
                                <section class="card"><h1>"No such provider"</h1><p><a href=base>"Back to the providers"</a></p></section>
                            </Layout>
                        }.into_any()
                    }
                    Some(Ok(Some(d))) => {
                        let p = d.provider;
                        let id = ProviderId::from(p.id).to_string();
                        let kind = p.kind;
                        let notice = (flash.field.as_deref() == Some("saved")).then(|| flash.message.clone());
                        let general = (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
                        view! {
                            <Layout signed_in=true>
                                <section class="card">
                                    <p><a href=base>{format!("← {}", side.title())}</a></p>
                                    <h1>{p.name.clone()}</h1>
                                    {notice.map(|m| view! { <p class="notice" role="status">{m}</p> })}
                                    {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                    <dl class="facts">
                                        <dt>"Kind"</dt><dd>{p.kind.as_str()}</dd>
                                        <dt>"Credentials"</dt><dd>{mask_text(&p.credentials_mask)}</dd>
                                        <dt>"Base URL"</dt><dd>{match (kind, p.base_url.clone()) {
                                            (ProviderKind::Sandbox, _) => "none: simulated inside OpenClaw".to_owned(),
                                            (_, Some(url)) => url,
                                            (_, None) => "the provider's public API".to_owned(),
                                        }}</dd>
                                        <dt>"Sender ids"</dt><dd>{if p.sender_ids.is_empty() { "none".to_owned() } else { p.sender_ids.join(", ") }}</dd>
                                        <dt>"Rate limit"</dt><dd>{match p.max_rate_per_sec { Some(r) => format!("{r} messages per second"), None => "none".to_owned() }}</dd>
                                        <dt>"Concurrency"</dt><dd>{format!("{} calls at once per worker process", p.max_concurrency)}</dd>
                                        <dt>"Receipts"</dt><dd>{format!("overdue {} after the send", in_words(p.receipt_timeout_seconds))}</dd>
                                        <dt>"State"</dt><dd>{if p.enabled { "enabled" } else { "disabled: no messages go here" }}</dd>
                                        {(side == Side::Tenant).then(|| view! {
                                            <dt>"Health, last 24 h"</dt>
                                            <dd>{match &d.health {
                                                None => "no calls yet".to_owned(),
                                                Some(h) => format!(
                                                    "{} calls, {:.1} % accepted, latency p50 {} ms, p95 {} ms",
                                                    h.attempts,
                                                    100.0 * h.accepted as f64 / h.attempts.max(1) as f64,
                                                    h.p50_ms,
                                                    h.p95_ms
                                                ),
                                            }}</dd>
                                        })}
                                    </dl>
                                </section>
                                {match side {
                                    Side::Tenant => view! {
                                        <PriceSection heading="Prices per segment" anchor="prices"
                                            about="What the gateway charges you: least-cost routing, spend and budgets use these. This provider carries no messages until it has some."
                                            prices=d.cost action=format!("{base}/{id}/prices") prefix=""
                                            can_manage=d.can_manage flash=flash.clone() />
                                    }.into_any(),
                                    Side::Platform => view! {
                                        <PriceSection heading="Cost prices per segment" anchor="cost-prices"
                                            about="What the gateway charges OpenClaw: the staff report's platform cost and margin use these. This provider carries no messages until it has some."
                                            prices=d.cost action=format!("{base}/{id}/cost-prices") prefix=""
                                            can_manage=d.can_manage flash=flash.clone() />
                                        <PriceSection heading="Sell prices per segment" anchor="sell-prices"
                                            about="What tenants are billed and what their routing compares. A destination with no sell price is sold at cost plus the default markup in force."
                                            prices=d.sell action=format!("{base}/{id}/sell-prices") prefix="sell_"
                                            can_manage=d.can_manage flash=flash.clone() />
                                    }.into_any(),
                                }}
                                {d.can_manage.then(|| view! {
                                    <section class="card" aria-labelledby="edit">
                                        <h2 id="edit">"Settings"</h2>
                                        <form class="form" method="post" action=format!("{base}/{id}")>
                                            <Field label="Name" name="name" value=p.name.clone() error=flash.error_for("name") />
                                            {(kind != ProviderKind::Sandbox).then(|| view! {
                                                <label for="base_url">"Base URL (empty: the provider's public API)"</label>
                                                <input id="base_url" name="base_url" type="url" value=p.base_url.clone().unwrap_or_default() />
                                                {flash.error_for("base_url").map(|e| view! { <p class="field-error">{e}</p> })}
                                            })}
                                            <label for="sender_ids">"Sender ids (comma-separated)"</label>
                                            <input id="sender_ids" name="sender_ids" type="text" value=p.sender_ids.join(", ") />
                                            {flash.error_for("sender_ids").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <LimitFields
                                                rate=p.max_rate_per_sec.map(|r| r.to_string()).unwrap_or_default()
                                                concurrency=p.max_concurrency.to_string()
                                                receipt_timeout=p.receipt_timeout_seconds.to_string()
                                                rate_error=flash.error_for("max_rate_per_sec")
                                                concurrency_error=flash.error_for("max_concurrency")
                                                receipt_timeout_error=flash.error_for("receipt_timeout_seconds") />
                                            <label class="check"><input type="checkbox" name="enabled" value="on" checked=p.enabled /> " Enabled"</label>
                                            {credential_fields(kind).iter().map(|(name, label, input)| view! {
                                                <label for=*name>{format!("New {} (leave empty to keep)", label.to_lowercase())}</label>
                                                <input id=*name name=*name type=*input value="" />
                                                {flash.error_for(name).map(|e| view! { <p class="field-error">{e}</p> })}
                                            }).collect_view()}
                                            <button type="submit">"Save"</button>
                                        </form>
                                    </section>
                                    <section class="card">
                                        <h2>"Remove"</h2>
                                        <p>"Past messages keep their record of this provider."</p>
                                        <form method="post" action=format!("{base}/{id}/delete")>
                                            <button type="submit" class="danger">"Delete this provider"</button>
                                        </form>
                                    </section>
                                })}
                            </Layout>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
