//! Webhooks: the endpoints (add one — its secret shown once —, delete, rotate), the callback
//! secret, and per endpoint its deliveries with their attempts, each to replay.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use openclaw_core::db::webhooks::{self as store, Endpoint, ListedDelivery};
use openclaw_core::domain::{DeliveryId, DeliveryState, EventKind, WebhookId};
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::{Field, Layout};
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see these pages (`crate::routes::PAGES`).
pub const WHO: Who = Who::Tenant(Action::ReadWebhooks);

/// Deliveries shown on an endpoint's page.
const SHOWN: i64 = 50;

struct Endpoints {
    endpoints: Vec<Endpoint>,
    callback_secret_since: Option<chrono::DateTime<chrono::Utc>>,
    can_manage: bool,
}

async fn endpoints() -> Option<anyhow::Result<Endpoints>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                Ok(Endpoints {
                    endpoints: store::list_endpoints(conn, tenant_id).await?,
                    callback_secret_since: store::callback_secret_made(conn, tenant_id).await?,
                    can_manage: allowed(identity.role, Action::ManageWebhooks),
                })
            })
            .await
        }
        .await,
    )
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A secret just made, shown this once.
#[component]
fn NewSecret(title: &'static str, note: &'static str, secret: String) -> impl IntoView {
    view! {
        <section class="card created" aria-labelledby="new-secret">
            <h2 id="new-secret">{title}</h2>
            <p>{note}</p>
            <div class="secret">
                <label for="secret" class="visually-hidden">"Signing secret"</label>
                <input id="secret" type="text" readonly value=secret />
                <button type="button" class="copy" data-copy="secret">"Copy"</button>
            </div>
        </section>
    }
}

#[component]
pub fn Webhooks() -> impl IntoView {
    let flash = super::take_flash("webhooks");
    let created = (flash.field.as_deref() == Some("created")).then(|| flash.message.clone());
    let callback = (flash.field.as_deref() == Some("callback")).then(|| flash.message.clone());
    let deleted = (flash.field.as_deref() == Some("deleted")).then(|| flash.message.clone());
    let url_error = flash.error_for("url");
    let events_error = flash.error_for("events");
    let general =
        (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
    let kept_events: Vec<String> = flash.values("events");
    view! {
        <Title text="Webhooks — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match endpoints().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your webhooks").into_any(),
                    Some(Ok(w)) => view! {
                        <Layout signed_in=true>
                            {created.clone().map(|secret| view! {
                                <NewSecret title="Your endpoint's signing secret"
                                    note="Copy it now: it is shown this once. Every event posted to the endpoint carries OpenClaw-Signature: t=…,v1=… made with it."
                                    secret=secret />
                            })}
                            {callback.clone().map(|secret| view! {
                                <NewSecret title="Your callback secret"
                                    note="Copy it now: it is shown this once. It signs the events posted to your messages' own callback_url."
                                    secret=secret />
                            })}
                            <section class="card wide">
                                <h1>"Webhooks"</h1>
                                <p>"OpenClaw posts what happens — a message's new status, a budget alert — to these URLs, signed with each endpoint's secret, and retries for up to 3 days when they do not answer 2xx."</p>
                                {general.clone().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                {deleted.clone().map(|m| view! { <p class="note" role="status">{m}</p> })}
                                {if w.endpoints.is_empty() {
                                    view! { <p class="empty-note">"No endpoints yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table>
                                            <thead><tr>
                                                <th scope="col">"URL"</th><th scope="col">"Events"</th>
                                                <th scope="col">"State"</th><th scope="col">"Created"</th>
                                            </tr></thead>
                                            <tbody>
                                                {w.endpoints.into_iter().map(|e| {
                                                    let id = WebhookId::from(e.id).to_string();
                                                    let events = e.events.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
                                                    let state = match (e.enabled, e.failing_since) {
                                                        (false, _) => format!("Disabled: {}", e.disabled_reason.clone().unwrap_or_default()),
                                                        (true, Some(t)) => format!("Failing since {}", when(t)),
                                                        (true, None) => "Answering".to_owned(),
                                                    };
                                                    view! {
                                                        <tr>
                                                            <td><a href=format!("/webhooks/{id}")>{e.url.clone()}</a></td>
                                                            <td>{events}</td>
                                                            <td>{state}</td>
                                                            <td>{when(e.created_at)}</td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </section>
                            {w.can_manage.then(|| view! {
                                <section class="card" aria-labelledby="add">
                                    <h2 id="add">"Add an endpoint"</h2>
                                    <form class="form" method="post" action="/webhooks">
                                        <Field label="URL (https://…)" name="url" value=flash.value("url") error=url_error.clone() />
                                        <fieldset>
                                            <legend>"Events"</legend>
                                            {EventKind::ALL.into_iter().map(|k| {
                                                let checked = kept_events.is_empty() && k == EventKind::MessageStatus
                                                    || kept_events.iter().any(|e| e == k.as_str());
                                                let id = format!("event-{}", k.as_str().replace('.', "-"));
                                                let label_for = id.clone();
                                                view! {
                                                    <label for=label_for class="check">
                                                        <input type="checkbox" id=id name="events" value=k.as_str() checked=checked />
                                                        " " {k.as_str()}
                                                    </label>
                                                }
                                            }).collect_view()}
                                        </fieldset>
                                        {events_error.clone().map(|e| view! { <p class="field-error">{e}</p> })}
                                        <button type="submit">"Add endpoint"</button>
                                    </form>
                                </section>
                            })}
                            <section class="card" aria-labelledby="callback-secret">
                                <h2 id="callback-secret">"Callback secret"</h2>
                                <p>{match w.callback_secret_since {
                                    Some(t) => format!("Events posted to a message's own callback_url are signed with the callback secret made {}.", when(t)),
                                    None => "There is no callback secret yet: events posted to a message's own callback_url go unsigned.".to_owned(),
                                }}</p>
                                {w.can_manage.then(|| view! {
                                    <form method="post" action="/webhooks/callback-secret" class="inline">
                                        <button type="submit" class="secondary">
                                            {if w.callback_secret_since.is_some() { "Replace the callback secret" } else { "Make a callback secret" }}
                                        </button>
                                    </form>
                                })}
                            </section>
                        </Layout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

struct Detail {
    endpoint: Endpoint,
    deliveries: Vec<ListedDelivery>,
    can_manage: bool,
}

async fn detail(id: Option<WebhookId>) -> Option<anyhow::Result<Option<Detail>>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            // To a role that may not see it, the endpoint is not there.
            let (Some(id), Some(tenant_id)) =
                (id, identity.tenant_id.filter(|_| WHO.admits(&identity)))
            else {
                return Ok(None);
            };
            ctx.scoped(tenant_id, async |conn| {
                let Some(endpoint) = store::find_endpoint(conn, tenant_id, id.uuid()).await? else {
                    return Ok(None);
                };
                Ok(Some(Detail {
                    deliveries: store::deliveries(conn, tenant_id, endpoint.id, None, SHOWN)
                        .await?,
                    endpoint,
                    can_manage: allowed(identity.role, Action::ManageWebhooks),
                }))
            })
            .await
        }
        .await,
    )
}

/// One attempt of a delivery's log, as a line.
fn attempt_line(a: &serde_json::Value) -> String {
    let at = a["at"].as_str().unwrap_or_default().replace('T', " ");
    let at = at.split('.').next().unwrap_or_default().to_owned();
    format!("{at}: {}", attempt_outcome(a))
}

/// What one attempt of a delivery's log got: "answered 200 in 12 ms", "no answer — …".
pub(crate) fn attempt_outcome(a: &serde_json::Value) -> String {
    let answer = match a["status"].as_i64() {
        Some(s) => format!("answered {s}"),
        None => "no answer".to_owned(),
    };
    let latency = a["latency_ms"]
        .as_i64()
        .map(|ms| format!(" in {ms} ms"))
        .unwrap_or_default();
    let error = a["error"]
        .as_str()
        .map(|e| format!(" — {e}"))
        .unwrap_or_default();
    format!("{answer}{latency}{error}")
}

#[component]
pub fn WebhookDetail() -> impl IntoView {
    let id = use_params_map()
        .get_untracked()
        .get("id")
        .and_then(|id| WebhookId::parse(&id).ok());
    let flash = super::take_flash("webhook");
    let created = (flash.field.as_deref() == Some("created")).then(|| flash.message.clone());
    let replayed = (flash.field.as_deref() == Some("replayed")).then(|| flash.message.clone());
    let general =
        (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
    view! {
        <Title text="Webhook endpoint — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match detail(id).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "this endpoint").into_any(),
                    Some(Ok(None)) => {
                        super::not_found_status();
                        view! {
                            <Layout signed_in=true>
                                <section class="card">
                                    <h1>"No such endpoint"</h1>
                                    <p><a href="/webhooks">"Back to the webhooks"</a></p>
                                </section>
                            </Layout>
                        }.into_any()
                    }
                    Some(Ok(Some(d))) => {
                        let id = WebhookId::from(d.endpoint.id).to_string();
                        let can_manage = d.can_manage;
                        view! {
                            <Layout signed_in=true>
                                {created.clone().map(|secret| view! {
                                    <NewSecret title="The endpoint's new signing secret"
                                        note="Copy it now: it is shown this once. The old secret keeps signing alongside it for 24 hours."
                                        secret=secret />
                                })}
                                <section class="card wide">
                                    <h1>"Webhook endpoint"</h1>
                                    <p><code>{d.endpoint.url.clone()}</code></p>
                                    <p>"Events: " {d.endpoint.events.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")}</p>
                                    {(!d.endpoint.enabled).then(|| view! {
                                        <p class="form-error" role="alert">"Disabled: " {d.endpoint.disabled_reason.clone().unwrap_or_default()}</p>
                                    })}
                                    {general.clone().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                    {replayed.clone().map(|m| view! { <p class="note" role="status">{m}</p> })}
                                    {can_manage.then(|| view! {
                                        <div class="actions">
                                            <form method="post" action=format!("/webhooks/{id}/rotate") class="inline">
                                                <button type="submit" class="secondary">"Rotate the secret"</button>
                                            </form>
                                            <form method="post" action=format!("/webhooks/{id}/delete") class="inline">
                                                <button type="submit" class="danger">"Delete the endpoint"</button>
                                            </form>
                                        </div>
                                    })}
                                </section>
                                <section class="card wide" aria-labelledby="deliveries">
                                    <h2 id="deliveries">"Deliveries"</h2>
                                    {if d.deliveries.is_empty() {
                                        view! { <p class="empty-note">"Nothing delivered yet."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table>
                                                <thead><tr>
                                                    <th scope="col">"Event"</th><th scope="col">"State"</th>
                                                    <th scope="col">"Attempts"</th><th scope="col">"Created"</th>
                                                    {can_manage.then(|| view! { <th scope="col">"Actions"</th> })}
                                                </tr></thead>
                                                <tbody>
                                                    {d.deliveries.into_iter().map(|l| {
                                                        let delivery = DeliveryId::from(l.delivery.id).to_string();
                                                        let log: Vec<serde_json::Value> = serde_json::from_value(l.delivery.log.clone()).unwrap_or_default();
                                                        let state = match l.delivery.state {
                                                            DeliveryState::Pending if l.delivery.attempts > 0 => format!("retrying at {}", when(l.delivery.due_at)),
                                                            s => s.as_str().to_owned(),
                                                        };
                                                        let state = match (&l.delivery.last_error, l.delivery.state) {
                                                            (Some(e), DeliveryState::Failed) => format!("{state}: {e}"),
                                                            _ => state,
                                                        };
                                                        view! {
                                                            <tr>
                                                                <td>{l.kind.as_str()}</td>
                                                                <td>{state}</td>
                                                                <td>
                                                                    {l.delivery.attempts}
                                                                    {(!log.is_empty()).then(|| view! {
                                                                        <ul class="attempts">
                                                                            {log.iter().map(|a| view! { <li>{attempt_line(a)}</li> }).collect_view()}
                                                                        </ul>
                                                                    })}
                                                                </td>
                                                                <td>{when(l.delivery.created_at)}</td>
                                                                {can_manage.then(|| view! {
                                                                    <td class="actions">
                                                                        <form method="post" action=format!("/webhooks/{id}/deliveries/{delivery}/replay") class="inline">
                                                                            <button type="submit" class="secondary">"Replay"</button>
                                                                        </form>
                                                                    </td>
                                                                })}
                                                            </tr>
                                                        }
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                    <p><a href="/webhooks">"Back to the webhooks"</a></p>
                                </section>
                            </Layout>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
