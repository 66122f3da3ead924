use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use openclaw_core::db::audit;
use openclaw_core::domain::AuditEventId;
use openclaw_core::permissions::Action;

use crate::components::layout::Layout;
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Tenant(Action::ReadAuditLog);

const PAGE: i64 = 50;

async fn entries(before: Option<uuid::Uuid>) -> Option<anyhow::Result<Vec<audit::Entry>>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant, async |c| {
                Ok(audit::list(c, Some(tenant), before, PAGE + 1).await?)
            })
            .await
        }
        .await,
    )
}

/// A short, human line for what changed (never a secret: the log holds none).
fn summary(details: &serde_json::Value) -> String {
    let Some(map) = details.as_object() else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[component]
pub fn AuditLog() -> impl IntoView {
    let before = use_query_map()
        .get_untracked()
        .get("before")
        .and_then(|b| AuditEventId::parse(&b).ok())
        .map(AuditEventId::uuid);
    view! {
        <Title text="Audit log — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match entries(before).await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "the audit log").into_any(),
                    Some(Ok(mut rows)) => {
                        let more = rows.len() as i64 > PAGE;
                        rows.truncate(PAGE as usize);
                        let next = more.then(|| rows.last().map(|r| AuditEventId::from_uuid(r.id).to_string())).flatten();
                        view! {
                            <Layout signed_in=true>
                                <section class="card wide">
                                    <h1>"Audit log"</h1>
                                    <p>"Who did what in your account, when and from where; newest first."</p>
                                    <table>
                                        <thead><tr>
                                            <th scope="col">"When (UTC)"</th><th scope="col">"Who"</th>
                                            <th scope="col">"What"</th><th scope="col">"Details"</th><th scope="col">"From"</th>
                                        </tr></thead>
                                        <tbody>
                                            {rows.into_iter().map(|e| view! {
                                                <tr>
                                                    <td>{e.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                                    <td class="long">{e.actor.clone()}</td>
                                                    <td><code>{e.action.clone()}</code>{e.target.clone().map(|t| view! { <br /><small>{t}</small> })}</td>
                                                    <td class="long">{summary(&e.details)}</td>
                                                    <td>{e.ip.clone().unwrap_or_default()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    {next.map(|n| view! { <p><a href=format!("/audit-log?before={n}")>"Older entries →"</a></p> })}
                                </section>
                            </Layout>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
