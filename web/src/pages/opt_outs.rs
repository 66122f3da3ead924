//! Opt-outs (add one, remove one, import a CSV list, download the list) and the inbound
//! messages received on the tenant's providers — the STOP replies that put numbers on the list
//! among them. The changes are forms onto `openclaw_core::opt_outs` (`crate::forms::opt_outs`),
//! as the API's `/v1/opt-outs…`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use openclaw_core::db::opt_outs::{self as store, Inbound, InboundFilter, OptOut};
use openclaw_core::db::{providers, tenants};
use openclaw_core::domain::{Keyword, MessageType, OptOutSource, PhoneNumber};
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::{Field, Layout};
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see these pages and download the list (`crate::routes::PAGES`).
pub const WHO: Who = Who::Tenant(Action::ReadMessages);

/// Rows shown on one page.
const PAGE: i64 = 50;

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn source_text(s: OptOutSource) -> &'static str {
    match s {
        OptOutSource::Inbound => "Replied with an opt-out keyword",
        OptOutSource::Manual => "Added by hand",
        OptOutSource::Import => "Imported",
    }
}

/// The cursor a page's `before` parameter carries: the last row's id.
fn before_of(query: &leptos_router::params::ParamsMap) -> Option<uuid::Uuid> {
    query.get("before").and_then(|b| b.parse().ok())
}

/// One page of rows and the cursor to the next (older) one, if there is one.
fn paged<T>(mut rows: Vec<T>, id: impl Fn(&T) -> uuid::Uuid) -> (Vec<T>, Option<uuid::Uuid>) {
    if rows.len() as i64 > PAGE {
        rows.truncate(PAGE as usize);
        let older = rows.last().map(id);
        (rows, older)
    } else {
        (rows, None)
    }
}

struct List {
    rows: Vec<OptOut>,
    /// The message types the tenant's settings send to these numbers all the same.
    exempt: Vec<MessageType>,
    older: Option<uuid::Uuid>,
    can_manage: bool,
}

async fn list(before: Option<uuid::Uuid>) -> Option<anyhow::Result<List>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                let (rows, older) =
                    paged(store::list(conn, tenant_id, before, PAGE + 1).await?, |o| {
                        o.id
                    });
                Ok(List {
                    rows,
                    exempt: tenants::find(conn, tenant_id).await?.opt_out_exempt_types,
                    older,
                    can_manage: allowed(identity.role, Action::ManageOptOuts),
                })
            })
            .await
        }
        .await,
    )
}

#[component]
pub fn OptOuts() -> impl IntoView {
    let before = before_of(&use_query_map().get_untracked());
    let flash = super::take_flash("opt-outs");
    let note = matches!(
        flash.field.as_deref(),
        Some("added" | "removed" | "imported")
    )
    .then(|| flash.message.clone());
    let number_error = flash.error_for("number");
    let csv_error = flash.error_for("csv");
    let general =
        (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
    let typed_csv = flash.value("csv");
    view! {
        <Title text="Opt-outs — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match list(before).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your opt-outs").into_any(),
                    Some(Ok(l)) => view! {
                        <Layout signed_in=true>
                            <section class="card wide">
                                <div class="title-row">
                                    <h1>"Opt-outs"</h1>
                                    <a class="button" href="/opt-outs.csv" download="openclaw-opt-outs.csv">"Download as CSV"</a>
                                </div>
                                <p>"Numbers on this list get nothing more from you: a message to one is refused with "
                                    <code>"recipient_opted_out"</code>
                                    ", costs nothing and reaches no provider. People join it by replying STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) and leave it by replying START, YES or UNSTOP; see "
                                    <a href="/inbound">"inbound messages"</a> "."</p>
                                {(!l.exempt.is_empty()).then(|| {
                                    let types = l.exempt.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" and ");
                                    view! {
                                        <p class="note">"Your " <a href="/settings">"settings"</a>
                                            {format!(" send {types} messages to these numbers all the same.")}</p>
                                    }
                                })}
                                {note.clone().map(|m| view! { <p class="note" role="status">{m}</p> })}
                                {general.clone().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                {if l.rows.is_empty() {
                                    view! { <p class="empty-note">"Nobody has opted out."</p> }.into_any()
                                } else {
                                    let can_manage = l.can_manage;
                                    view! {
                                        <table>
                                            <caption class="visually-hidden">"Opted-out numbers, newest first"</caption>
                                            <thead><tr>
                                                <th scope="col">"Number"</th>
                                                <th scope="col">"How"</th>
                                                <th scope="col">"Since (UTC)"</th>
                                                {can_manage.then(|| view! { <th scope="col"><span class="visually-hidden">"Opt back in"</span></th> })}
                                            </tr></thead>
                                            <tbody>
                                                {l.rows.into_iter().map(|o| {
                                                    let action = format!("/opt-outs/{}/remove", o.number.trim_start_matches('+'));
                                                    let label = format!("Remove {} from the list", o.number);
                                                    view! {
                                                        <tr>
                                                            <td>{o.number.clone()}</td>
                                                            <td>{source_text(o.source)}</td>
                                                            <td>{when(o.created_at)}</td>
                                                            {can_manage.then(|| view! {
                                                                <td>
                                                                    <form method="post" action=action class="inline">
                                                                        <button type="submit" class="link" aria-label=label>"Remove"</button>
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
                                {l.older.map(|before| view! {
                                    <p class="pager"><a href=format!("/opt-outs?before={before}")>"Older opt-outs →"</a></p>
                                })}
                            </section>
                            {l.can_manage.then(|| view! {
                                <section class="card" aria-labelledby="add">
                                    <h2 id="add">"Add a number"</h2>
                                    <form class="form" method="post" action="/opt-outs">
                                        <Field label="Number, with its country code" name="number" kind="tel"
                                            value=flash.value("number") error=number_error.clone() />
                                        <button type="submit">"Opt this number out"</button>
                                    </form>
                                </section>
                                <section class="card" aria-labelledby="import">
                                    <h2 id="import">"Import a list"</h2>
                                    <form class="form" method="post" action="/opt-outs/import" enctype="multipart/form-data">
                                        <label for="file">"Upload a CSV file: a number column (a downloaded list imports as it is), or one number per line"</label>
                                        <input id="file" name="file" type="file" accept=".csv,text/csv,text/plain" />
                                        <label for="csv">"…or paste the numbers here"</label>
                                        <textarea id="csv" name="csv" rows="6"
                                            aria-invalid=if csv_error.is_some() { "true" } else { "false" }
                                            aria-describedby=csv_error.is_some().then_some("csv-error")>
                                            {typed_csv.clone()}
                                        </textarea>
                                        {csv_error.clone().map(|e| view! { <p class="field-error" id="csv-error" role="alert">{e}</p> })}
                                        <button type="submit">"Import"</button>
                                    </form>
                                </section>
                            })}
                        </Layout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Reads the inbound filters from the query string; a bad value is reported, not fatal.
fn inbound_filter(query: &leptos_router::params::ParamsMap) -> (InboundFilter, Option<String>) {
    let mut filter = InboundFilter::default();
    let mut error = None;
    let mut number = |name: &str| match query.get(name).filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(raw) => match PhoneNumber::parse(&raw) {
            Ok(p) => Some(p.e164().to_owned()),
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        },
    };
    filter.to = number("to");
    filter.from = number("from");
    if let Some(day) = query.get("since").filter(|s| !s.is_empty()) {
        match chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            Ok(d) => filter.since = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            Err(_) => error = Some(format!("“{day}” is not a date (YYYY-MM-DD).")),
        }
    }
    (filter, error)
}

fn keyword_text(k: Option<Keyword>) -> &'static str {
    match k {
        Some(Keyword::OptOut) => "Opted out",
        Some(Keyword::OptIn) => "Opted back in",
        Some(Keyword::Help) => "Asked for help",
        None => "—",
    }
}

struct Received {
    rows: Vec<(Inbound, String)>,
    older: Option<uuid::Uuid>,
}

async fn received(
    filter: InboundFilter,
    before: Option<uuid::Uuid>,
) -> Option<anyhow::Result<Received>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                let found = store::list_inbound(conn, tenant_id, &filter, before, PAGE + 1).await?;
                let names = providers::names(conn, providers::Owner::Tenant(tenant_id)).await?;
                let (rows, older) = paged(found, |m| m.id);
                let rows = rows
                    .into_iter()
                    .map(|m| {
                        let provider = names
                            .get(&m.provider_id)
                            .cloned()
                            .unwrap_or_else(|| "—".into());
                        (m, provider)
                    })
                    .collect();
                Ok(Received { rows, older })
            })
            .await
        }
        .await,
    )
}

#[component]
pub fn InboundMessages() -> impl IntoView {
    let query = use_query_map().get_untracked();
    let (filter, filter_error) = inbound_filter(&query);
    let before = before_of(&query);
    let current = |name: &str| query.get(name).unwrap_or_default();
    let (to_now, from_now, since_now) = (current("to"), current("from"), current("since"));
    let escape = |s: &str| s.replace('+', "%2B").replace(' ', "+");
    let keep = format!(
        "to={}&from={}&since={}",
        escape(&to_now),
        escape(&from_now),
        since_now
    );
    view! {
        <Title text="Inbound messages — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match received(filter, before).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your inbound messages").into_any(),
                    Some(Ok(r)) => view! {
                        <Layout signed_in=true>
                            <section class="card wide">
                                <h1>"Inbound messages"</h1>
                                <p>"Replies people sent to your numbers, as your providers passed them on. A reply that is only STOP (or another opt-out keyword) puts its sender on your "
                                    <a href="/opt-outs">"opt-outs"</a> "; START takes them off."</p>
                                <form class="filters" method="get" action="/inbound">
                                    <label for="from">"From"</label>
                                    <input id="from" name="from" type="text" value=from_now.clone() placeholder="+49 151 …" />
                                    <label for="to">"To (your number)"</label>
                                    <input id="to" name="to" type="text" value=to_now.clone() placeholder="+1 415 …" />
                                    <label for="since">"Since"</label>
                                    <input id="since" name="since" type="date" value=since_now.clone() />
                                    <button type="submit">"Filter"</button>
                                </form>
                                {filter_error.clone().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                                {if r.rows.is_empty() {
                                    view! { <p class="empty-note">"No inbound messages match."</p> }.into_any()
                                } else {
                                    view! {
                                        <table>
                                            <caption class="visually-hidden">"Inbound messages, newest first"</caption>
                                            <thead><tr>
                                                <th scope="col">"Received (UTC)"</th>
                                                <th scope="col">"From"</th>
                                                <th scope="col">"To"</th>
                                                <th scope="col">"Message"</th>
                                                <th scope="col">"Keyword"</th>
                                                <th scope="col">"Provider"</th>
                                            </tr></thead>
                                            <tbody>
                                                {r.rows.into_iter().map(|(m, provider)| view! {
                                                    <tr>
                                                        <td>{when(m.received_at)}</td>
                                                        <td>{m.sender}</td>
                                                        <td>{m.recipient}</td>
                                                        <td>{m.body}</td>
                                                        <td>{keyword_text(m.keyword)}</td>
                                                        <td>{provider}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                {r.older.map(|before| view! {
                                    <p class="pager"><a href=format!("/inbound?{keep}&before={before}")>"Older messages →"</a></p>
                                })}
                            </section>
                        </Layout>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `GET /opt-outs.csv`: the whole list, as `GET /v1/opt-outs` with `Accept: text/csv` gives it.
pub async fn download(
    ctx: actix_web::web::Data<crate::session::AppContext>,
    req: actix_web::HttpRequest,
) -> actix_web::HttpResponse {
    use actix_web::HttpResponse;
    let client = crate::session::client_of(&req);
    let cookies = crate::session::SessionCookies::of(&req);
    drop(req);
    let Some((identity, _)) = crate::session::current(&ctx, cookies).await else {
        return HttpResponse::SeeOther()
            .insert_header(("Location", "/sign-in"))
            .finish();
    };
    let Some(tenant) = identity.tenant_id.filter(|_| WHO.admits(&identity)) else {
        return crate::forms::guard::not_allowed();
    };
    let manager = openclaw_core::members::Manager {
        tenant,
        user_id: identity.user_id,
        role: identity.role,
        actor: client.person(identity.user_id, false),
    };
    match openclaw_core::opt_outs::export(&ctx.pool, &manager).await {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"openclaw-opt-outs.csv\"",
            ))
            .body(body),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "the opt-out CSV failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The list could not be made; try again.")
        }
    }
}
