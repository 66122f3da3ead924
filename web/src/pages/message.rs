use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use openclaw_core::db::webhooks::{self, MessageDelivery};
use openclaw_core::db::{messages, providers};
use openclaw_core::domain::{DeliveryState, MessageId, Money, WebhookId};

use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
/// (To anyone else a message is not there.)
pub const WHO: Who = Who::Member;

struct Detail {
    message: messages::Message,
    attempts: Vec<(String, messages::Attempt)>,
    provider: Option<String>,
    deliveries: Vec<MessageDelivery>,
}

/// A line of a message's timeline: one of its events, or what became of a webhook delivery of
/// one of its `message.status` events (each attempt, and a delivery still waiting).
struct Line {
    at: DateTime<Utc>,
    /// What happened, in a word or two (an event's status, `webhook`).
    what: String,
    detail: String,
    /// The endpoint whose deliveries page tells more.
    endpoint: Option<WebhookId>,
}

fn timeline(events: Vec<messages::Event>, deliveries: Vec<MessageDelivery>) -> Vec<Line> {
    let mut lines: Vec<Line> = events
        .into_iter()
        .map(|e| Line {
            detail: match e.status.as_str() {
                messages::RECEIPT_OVERDUE => {
                    "No receipt from the provider within its receipt timeout; the message stays sent, and a late receipt still moves it on.".to_owned()
                }
                messages::OUTCOME_UNKNOWN => {
                    "Whether the provider took it is unknown; it waits for the provider's receipt.".to_owned()
                }
                _ => String::new(),
            },
            what: e.status.replace('_', " "),
            at: e.at,
            endpoint: None,
        })
        .collect();
    for d in deliveries {
        let about = format!("message.status ({}) to {}", d.status, d.url);
        let endpoint = d.delivery.endpoint_id.map(WebhookId::from);
        let log: Vec<serde_json::Value> =
            serde_json::from_value(d.delivery.log.clone()).unwrap_or_default();
        for a in &log {
            let Some(at) = a["at"]
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            else {
                continue;
            };
            lines.push(Line {
                at: at.with_timezone(&Utc),
                what: "webhook".into(),
                detail: format!("{about}: {}", super::webhooks::attempt_outcome(a)),
                endpoint,
            });
        }
        let waiting = match d.delivery.state {
            DeliveryState::Pending if log.is_empty() => Some("waiting for its first attempt"),
            DeliveryState::Pending => Some("waiting to be tried again"),
            DeliveryState::Failed => Some("failed: no more attempts"),
            _ => None,
        };
        if let Some(waiting) = waiting {
            lines.push(Line {
                at: d.delivery.finished_at.unwrap_or(d.delivery.due_at),
                what: "webhook".into(),
                detail: format!("{about}: {waiting}"),
                endpoint,
            });
        }
    }
    lines.sort_by_key(|l| l.at);
    lines
}

async fn detail(id: Option<MessageId>) -> Option<anyhow::Result<Option<Detail>>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let (Some(id), Some(tenant_id)) =
                (id, identity.tenant_id.filter(|_| WHO.admits(&identity)))
            else {
                return Ok(None);
            };
            ctx.scoped(tenant_id, async |conn| {
                let Some(message) = messages::find(conn, tenant_id, id.uuid()).await? else {
                    return Ok(None);
                };
                let names = providers::names(conn, providers::Owner::Tenant(tenant_id)).await?;
                let name =
                    |p: &uuid::Uuid| names.get(p).cloned().unwrap_or_else(|| "(removed)".into());
                let attempts = messages::attempts(conn, tenant_id, message.id)
                    .await?
                    .into_iter()
                    .map(|a| (name(&a.provider_id), a))
                    .collect();
                let deliveries = webhooks::message_deliveries(conn, tenant_id, message.id).await?;
                Ok(Some(Detail {
                    provider: message.provider_id.as_ref().map(name),
                    deliveries,
                    attempts,
                    message,
                }))
            })
            .await
        }
        .await,
    )
}

fn money(micros: i64, currency: &str) -> String {
    format!("{} {currency}", Money::format_amount(micros))
}

#[component]
pub fn MessageDetail() -> impl IntoView {
    let id = use_params_map()
        .get_untracked()
        .get("id")
        .and_then(|id| MessageId::parse(&id).ok());
    view! {
        <Title text="Message — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match detail(id).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "this message").into_any(),
                    Some(Ok(None)) => {
                        super::not_found_status();
                        view! {
                            <Layout signed_in=true>
                                <section class="card">
                                    <h1>"No such message"</h1>
                                    <p><a href="/messages">"Back to the messages"</a></p>
                                </section>
                            </Layout>
                        }.into_any()
                    }
                    Some(Ok(Some(d))) => {
                        let m = d.message;
                        let lines = timeline(m.events(), d.deliveries);
                        view! {
                            <Layout signed_in=true>
                                <section class="card">
                                    <p><a href="/messages">"← Messages"</a></p>
                                    <h1>"Message to " {m.recipient.clone()}</h1>
                                    <dl class="facts">
                                        <dt>"Status"</dt><dd><span class=format!("status status-{}", m.status)>{m.status.as_str()}</span></dd>
                                        <dt>"Id"</dt><dd><code>{MessageId::from(m.id).to_string()}</code></dd>
                                        <dt>"Body"</dt><dd class="body">{m.body.clone()}</dd>
                                        <dt>"From"</dt><dd>{m.sender.clone().unwrap_or_else(|| "(provider default)".into())}</dd>
                                        <dt>"Country"</dt><dd>{m.country.clone()}</dd>
                                        <dt>"Type"</dt><dd>{m.message_type.clone()} " · " {m.mode.as_str()} " mode"</dd>
                                        <dt>"Encoding"</dt><dd>{m.encoding.as_str()} ", " {m.segments} " segment(s)"</dd>
                                        <dt>"Estimated cost"</dt><dd>{money(m.estimated_cost_micros, &m.currency)}</dd>
                                        <dt>"Cost"</dt><dd>{m.cost_micros.map(|c| money(c, &m.currency)).unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Sent through"</dt><dd>{d.provider.unwrap_or_else(|| "—".into())}</dd>
                                        {m.error_message.clone().map(|e| view! { <dt>"Error"</dt><dd class="field-error">{e}</dd> })}
                                    </dl>
                                </section>
                                <section class="card">
                                    <h2>"Attempts"</h2>
                                    {if d.attempts.is_empty() {
                                        view! { <p class="empty-note">"No provider has been tried yet."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table>
                                                <thead><tr>
                                                    <th scope="col">"Started (UTC)"</th><th scope="col">"Provider"</th>
                                                    <th scope="col">"Outcome"</th><th scope="col">"Provider code"</th>
                                                    <th scope="col" class="num">"Latency"</th>
                                                </tr></thead>
                                                <tbody>
                                                    {d.attempts.into_iter().map(|(name, a)| view! {
                                                        <tr>
                                                            <td>{a.started_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()}</td>
                                                            <td>{name}</td>
                                                            <td>{a.outcome.as_str()}</td>
                                                            <td>{a.provider_code.unwrap_or_else(|| "—".into())}</td>
                                                            <td class="num">{a.latency_ms} " ms"</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                                <section class="card">
                                    <h2 id="timeline">"Timeline"</h2>
                                    <p class="hint">"Its status events, and the webhook deliveries of each (to your endpoints and the message's callback URL)."</p>
                                    <ol class="timeline">
                                        {lines.into_iter().map(|l| view! {
                                            <li>
                                                <strong>{l.what}</strong> " — " {l.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()}
                                                {(!l.detail.is_empty()).then(|| view! { <br /><span class="detail">{l.detail}</span> })}
                                                {l.endpoint.map(|e| view! { " " <a href=format!("/webhooks/{e}")>"(the endpoint's deliveries)"</a> })}
                                            </li>
                                        }).collect_view()}
                                    </ol>
                                </section>
                            </Layout>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
