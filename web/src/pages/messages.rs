use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use openclaw_core::db::messages::{self, ListFilter, Status};
use openclaw_core::db::providers;
use openclaw_core::domain::{MessageId, Money, PhoneNumber};
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Member;

const PAGE: i64 = 25;

struct Row {
    id: String,
    created: String,
    to: String,
    status: Status,
    segments: i32,
    cost: String,
    provider: String,
}

struct Listing {
    rows: Vec<Row>,
    older: Option<String>,
    can_send: bool,
    filter_error: Option<String>,
}

/// Reads the filters from the query string; a bad value is reported, not fatal.
fn filter_from(query: &leptos_router::params::ParamsMap) -> (ListFilter, Option<String>) {
    let mut filter = ListFilter::default();
    let mut error = None;
    if let Some(s) = query.get("status").filter(|s| !s.is_empty()) {
        if let Some(status) = Status::parse(&s) {
            filter.status = Some(status);
        } else {
            error = Some(format!("“{s}” is not a status."));
        }
    }
    if let Some(to) = query.get("to").filter(|s| !s.trim().is_empty()) {
        match PhoneNumber::parse(&to) {
            Ok(p) => filter.recipient = Some(p.e164().to_owned()),
            Err(e) => error = Some(e.to_string()),
        }
    }
    if let Some(day) = query.get("since").filter(|s| !s.is_empty()) {
        match chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            Ok(d) => filter.since = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            Err(_) => error = Some(format!("“{day}” is not a date (YYYY-MM-DD).")),
        }
    }
    if let Some(before) = query.get("before").and_then(|b| MessageId::parse(&b).ok()) {
        filter.before = Some(before.uuid());
    }
    (filter, error)
}

async fn listing(
    filter: ListFilter,
    filter_error: Option<String>,
) -> Option<anyhow::Result<Listing>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                let mut found = messages::list(conn, tenant_id, &filter, PAGE + 1).await?;
                let names = providers::names(conn, providers::Owner::Tenant(tenant_id)).await?;
                let older = if found.len() as i64 > PAGE {
                    found.truncate(PAGE as usize);
                    found.last().map(|m| MessageId::from(m.id).to_string())
                } else {
                    None
                };
                let rows = found
                    .into_iter()
                    .map(|m| Row {
                        id: MessageId::from(m.id).to_string(),
                        created: m.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        to: m.recipient,
                        status: m.status,
                        segments: m.segments,
                        cost: m
                            .cost_micros
                            .map(|c| format!("{} {}", Money::format_amount(c), m.currency))
                            .unwrap_or_else(|| "—".into()),
                        provider: m
                            .provider_id
                            .and_then(|p| names.get(&p).cloned())
                            .unwrap_or_else(|| "—".into()),
                    })
                    .collect();
                Ok(Listing {
                    rows,
                    older,
                    can_send: allowed(identity.role, Action::SendMessages),
                    filter_error,
                })
            })
            .await
        }
        .await,
    )
}

#[component]
pub fn Messages() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let (filter, filter_error) = filter_from(&query);
    let current = |name: &str| query.get(name).unwrap_or_default();
    let (status_now, to_now, since_now) = (current("status"), current("to"), current("since"));
    let keep = format!(
        "status={}&to={}&since={}",
        status_now,
        to_now.replace('+', "%2B").replace(' ', "+"),
        since_now
    );
    view! {
        <Title text="Messages — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match listing(filter, filter_error).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your messages").into_any(),
                    Some(Ok(l)) => view! {
                        <Layout signed_in=true>
                            <section class="card wide">
                                <div class="title-row">
                                    <h1>"Messages"</h1>
                                    {l.can_send.then(|| view! { <a class="button" href="/messages/new">"Send a test message"</a> })}
                                </div>
                                <form class="filters" method="get" action="/messages">
                                    <label for="status">"Status"</label>
                                    <select id="status" name="status">
                                        <option value="" selected=status_now.is_empty()>"Any"</option>
                                        {Status::ALL.iter().map(|s| view! {
                                            <option value=s.as_str() selected=status_now == s.as_str()>{s.as_str()}</option>
                                        }).collect_view()}
                                    </select>
                                    <label for="to">"Recipient"</label>
                                    <input id="to" name="to" type="text" value=to_now.clone() placeholder="+49 151 …" />
                                    <label for="since">"Since"</label>
                                    <input id="since" name="since" type="date" value=since_now.clone() />
                                    <button type="submit">"Filter"</button>
                                </form>
                                {l.filter_error.map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                                {if l.rows.is_empty() {
                                    view! { <p class="empty-note">"No messages match."</p> }.into_any()
                                } else {
                                    view! {
                                        <table>
                                            <caption class="visually-hidden">"Messages, newest first"</caption>
                                            <thead><tr>
                                                <th scope="col">"Created (UTC)"</th>
                                                <th scope="col">"To"</th>
                                                <th scope="col">"Status"</th>
                                                <th scope="col" class="num">"Segments"</th>
                                                <th scope="col" class="num">"Cost"</th>
                                                <th scope="col">"Provider"</th>
                                            </tr></thead>
                                            <tbody>
                                                {l.rows.into_iter().map(|r| view! {
                                                    <tr>
                                                        <td><a href=format!("/messages/{}", r.id)>{r.created}</a></td>
                                                        <td>{r.to}</td>
                                                        <td><span class=format!("status status-{}", r.status)>{r.status.as_str()}</span></td>
                                                        <td class="num">{r.segments}</td>
                                                        <td class="num">{r.cost}</td>
                                                        <td>{r.provider}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                {l.older.map(|before| view! {
                                    <p class="pager"><a href=format!("/messages?{keep}&before={before}")>"Older messages →"</a></p>
                                })}
                            </section>
                        </Layout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
