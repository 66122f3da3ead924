use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use openclaw_core::db::providers;
use openclaw_core::domain::{Money, ProviderId};
use openclaw_core::permissions::{Action, allowed};
use openclaw_core::providers::service::DEFAULT_MAX_CONCURRENCY;
use openclaw_core::providers::{PriceList, ProviderKind};
use openclaw_core::routing::Price;

use crate::components::layout::{Field, Layout};
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
/// The list and a provider's page (to anyone else a provider is not there).
pub const WHO: Who = Who::Tenant(Action::ReadProviders);
/// The form to add one, for anyone signed in (posting it needs `ManageProviders`).
pub const NEW_WHO: Who = Who::AnyUser;

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
        ],
        ProviderKind::Sandbox => &[],
    }
}

struct List {
    rows: Vec<(providers::Provider, usize)>,
    can_manage: bool,
}

async fn list() -> Option<anyhow::Result<List>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                let table =
                    providers::routing_table(conn, providers::Owner::Tenant(tenant_id)).await?;
                Ok(List {
                    rows: table
                        .into_iter()
                        .map(|p| (p.row, p.route.prices.len()))
                        .collect(),
                    can_manage: allowed(identity.role, Action::ManageProviders),
                })
            })
            .await
        }
        .await,
    )
}

#[component]
pub fn Providers() -> impl IntoView {
    view! {
        <Title text="Providers — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match list().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your providers").into_any(),
                    Some(Ok(l)) => view! {
                        <Layout signed_in=true>
                            <section class="card wide">
                                <div class="title-row">
                                    <h1>"Providers"</h1>
                                    {l.can_manage.then(|| view! {
                                        <p class="add">"Add: "
                                            {ProviderKind::ALL.iter().map(|k| view! {
                                                <a class="button" href=format!("/providers/new?kind={}", k.as_str())>{kind_label(*k)}</a> " "
                                            }).collect_view()}
                                        </p>
                                    })}
                                </div>
                                <p>"Every message goes to the cheapest enabled provider priced for its destination, and to the next one when it refuses."</p>
                                {if l.rows.is_empty() {
                                    view! { <p class="empty-note">"No providers yet. Add your Twilio or Vonage account, or the built-in sandbox to try things out."</p> }.into_any()
                                } else {
                                    view! {
                                        <table>
                                            <thead><tr>
                                                <th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Credentials"</th>
                                                <th scope="col" class="num">"Prices"</th><th scope="col">"State"</th>
                                            </tr></thead>
                                            <tbody>
                                                {l.rows.into_iter().map(|(p, prices)| view! {
                                                    <tr>
                                                        <td><a href=format!("/providers/{}", ProviderId::from(p.id))>{p.name.clone()}</a></td>
                                                        <td>{p.kind.as_str()}</td>
                                                        <td>{mask_text(&p.credentials_mask)}</td>
                                                        <td class="num">{prices}</td>
                                                        <td>{if p.enabled { "enabled" } else { "disabled" }}</td>
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

/// `max_rate_per_sec` and `max_concurrency`, on the add and the settings forms. Plain text
/// inputs, so a mistake gets the service's sentence (the same as the API's), not the
/// browser's.
#[component]
fn LimitFields(
    rate: String,
    concurrency: String,
    rate_error: Option<String>,
    concurrency_error: Option<String>,
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
    }
}

#[component]
pub fn NewProvider() -> impl IntoView {
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
                if super::signed_in().await.is_none() {
                    return ().into_any();
                }
                let (flash, general) = (flash.clone(), general.clone());
                let Some(kind) = kind else {
                    return view! {
                        <Layout signed_in=true>
                            <section class="card" aria-labelledby="title">
                                <p><a href="/providers">"← Providers"</a></p>
                                <h1 id="title">"Add a provider"</h1>
                                {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                <p class="add">"Which kind? "
                                    {ProviderKind::ALL.iter().map(|k| view! {
                                        <a class="button" href=format!("/providers/new?kind={}", k.as_str())>{kind_label(*k)}</a> " "
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
                            <p><a href="/providers">"← Providers"</a></p>
                            <h1 id="title">{title}</h1>
                            {(kind == ProviderKind::Sandbox).then(|| view! {
                                <p>"A gateway simulated inside OpenClaw: nothing reaches a phone. "
                                   "+15005550001 is refused, +15005550002 goes undelivered, +15005550003 times out."</p>
                            })}
                            {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                            <form class="form" method="post" action="/providers">
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
                                    rate_error=flash.error_for("max_rate_per_sec")
                                    concurrency_error=flash.error_for("max_concurrency") />
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
    prices: Vec<Price>,
    can_manage: bool,
    health: Option<openclaw_core::db::messages::ProviderStats>,
}

async fn detail(id: Option<ProviderId>) -> Option<anyhow::Result<Option<Detail>>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let (Some(id), Some(tenant_id)) = (id, identity.tenant_id) else {
                return Ok(None);
            };
            if !WHO.admits(&identity) {
                return Ok(None);
            }
            ctx.scoped(tenant_id, async |conn| {
                let Some(provider) =
                    providers::find(conn, providers::Owner::Tenant(tenant_id), id.uuid()).await?
                else {
                    return Ok(None);
                };
                let prices = providers::prices(
                    conn,
                    providers::Owner::Tenant(tenant_id),
                    provider.id,
                    PriceList::Cost,
                )
                .await?;
                let since = chrono::Utc::now() - chrono::Duration::hours(24);
                let health = openclaw_core::db::messages::provider_stats(conn, tenant_id, since)
                    .await?
                    .into_iter()
                    .find(|s| s.provider_id == provider.id);
                Ok(Some(Detail {
                    health,
                    provider,
                    prices,
                    can_manage: allowed(identity.role, Action::ManageProviders),
                }))
            })
            .await
        }
        .await,
    )
}

#[component]
pub fn ProviderDetail() -> impl IntoView {
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
                match detail(id).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "this provider").into_any(),
                    Some(Ok(None)) => {
                        super::not_found_status();
                        view! {
                            <Layout signed_in=true>
                                <section class="card"><h1>"No such provider"</h1><p><a href="/providers">"Back to the providers"</a></p></section>
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
                                    <p><a href="/providers">"← Providers"</a></p>
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
                                        <dt>"State"</dt><dd>{if p.enabled { "enabled" } else { "disabled: no messages go here" }}</dd>
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
                                    </dl>
                                </section>
                                <section class="card wide" aria-labelledby="prices">
                                    <h2 id="prices">"Prices per segment"</h2>
                                    {if d.prices.is_empty() {
                                        view! { <p class="empty-note">"No prices yet: this provider carries no messages until it has some."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table>
                                                <thead><tr><th scope="col">"Country"</th><th scope="col">"Message type"</th><th scope="col" class="num">"Price"</th></tr></thead>
                                                <tbody>
                                                    {d.prices.into_iter().map(|pr| view! {
                                                        <tr>
                                                            <td>{if pr.country == "*" { "any".to_owned() } else { pr.country }}</td>
                                                            <td>{if pr.message_type == "*" { "any".to_owned() } else { pr.message_type }}</td>
                                                            <td class="num">{Money::format_amount(pr.price_micros)} " " {pr.currency}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                    {d.can_manage.then(|| view! {
                                        <form class="form" method="post" action=format!("/providers/{id}/prices") enctype="multipart/form-data">
                                            <label for="file">"Replace the price list: upload a CSV file with the header country,message_type,price,currency"</label>
                                            <input id="file" name="file" type="file" accept=".csv,text/csv" />
                                            <label for="csv">"…or paste it here"</label>
                                            <textarea id="csv" name="csv" rows="6"
                                                aria-invalid=if flash.error_for("csv").is_some() { "true" } else { "false" }>
                                                {let v = flash.value("csv"); if v.is_empty() { "country,message_type,price,currency\n*,,0.0050,USD\n".to_owned() } else { v }}
                                            </textarea>
                                            {flash.error_for("csv").map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                                            <button type="submit">"Upload prices"</button>
                                        </form>
                                    })}
                                </section>
                                {d.can_manage.then(|| view! {
                                    <section class="card" aria-labelledby="edit">
                                        <h2 id="edit">"Settings"</h2>
                                        <form class="form" method="post" action=format!("/providers/{id}")>
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
                                                rate_error=flash.error_for("max_rate_per_sec")
                                                concurrency_error=flash.error_for("max_concurrency") />
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
                                        <form method="post" action=format!("/providers/{id}/delete")>
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
