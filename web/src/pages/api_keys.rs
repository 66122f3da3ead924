use leptos::prelude::*;
use leptos_meta::Title;
use openclaw_core::db::api_keys;
use openclaw_core::domain::ApiKeyId;
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::{Field, Layout};
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Tenant(Action::ReadApiKeys);

struct Keys {
    keys: Vec<api_keys::ApiKey>,
    can_manage: bool,
}

async fn keys() -> Option<anyhow::Result<Keys>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                Ok(Keys {
                    keys: api_keys::list(conn, tenant_id).await?,
                    can_manage: allowed(identity.role, Action::ManageApiKeys),
                })
            })
            .await
        }
        .await,
    )
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "never".into())
}

#[component]
pub fn ApiKeys() -> impl IntoView {
    let flash = super::take_flash("api-keys");
    // A key just made is carried in the flash, shown this once.
    let created = (flash.field.as_deref() == Some("created")).then(|| flash.message.clone());
    let error = flash.error_for("name");
    let mode_error = flash.error_for("mode");
    let test_mode = flash.value("mode") == "test";
    let general =
        (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
    view! {
        <Title text="API keys — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match keys().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your API keys").into_any(),
                    Some(Ok(k)) => view! {
                        <Layout signed_in=true>
                            {created.clone().map(|secret| view! {
                                <section class="card created" aria-labelledby="new-key">
                                    <h2 id="new-key">"Your new API key"</h2>
                                    <p>"Copy it now: it is shown this once, and only its hash is kept."</p>
                                    <div class="secret">
                                        <label for="secret" class="visually-hidden">"API key"</label>
                                        <input id="secret" type="text" readonly value=secret.clone() />
                                        <button type="button" class="copy" data-copy="secret">"Copy"</button>
                                    </div>
                                </section>
                            })}
                            <section class="card wide">
                                <h1>"API keys"</h1>
                                <p>"Your apps send with these: " <code>"Authorization: Bearer oc_live_…"</code>
                                   ". Test keys (" <code>"oc_test_…"</code> ") use only the sandbox and are never billed."</p>
                                {general.clone().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                                {if k.keys.is_empty() {
                                    view! { <p class="empty-note">"No keys yet. Create one below."</p> }.into_any()
                                } else {
                                    let can_manage = k.can_manage;
                                    view! {
                                        <table>
                                            <thead><tr>
                                                <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Mode"</th>
                                                <th scope="col">"Scopes"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th>
                                                {can_manage.then(|| view! { <th scope="col">"Actions"</th> })}
                                            </tr></thead>
                                            <tbody>
                                                {k.keys.into_iter().map(|key| {
                                                    let id = ApiKeyId::from(key.id).to_string();
                                                    let ends = key.revoked_at.map(|t| format!(" (retired at {})", t.format("%Y-%m-%d %H:%M")));
                                                    view! {
                                                        <tr>
                                                            <td>{key.name.clone()}{ends}</td>
                                                            <td><code>{key.prefix.clone()} "…"</code></td>
                                                            <td>{key.mode.as_str()}</td>
                                                            <td>{key.scopes.join(", ")}</td>
                                                            <td>{when(Some(key.created_at))}</td>
                                                            <td>{when(key.last_used_at)}</td>
                                                            {can_manage.then(|| view! {
                                                                <td class="actions">
                                                                    <form method="post" action=format!("/api-keys/{id}/rotate") class="inline">
                                                                        <button type="submit" class="secondary">"Rotate"</button>
                                                                    </form>
                                                                    <form method="post" action=format!("/api-keys/{id}/revoke") class="inline">
                                                                        <button type="submit" class="danger">"Revoke"</button>
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
                            </section>
                            {k.can_manage.then(|| view! {
                                <section class="card" aria-labelledby="create">
                                    <h2 id="create">"Create a key"</h2>
                                    <form class="form" method="post" action="/api-keys">
                                        <Field label="Name" name="name" value=flash.value("name") error=error.clone() />
                                        <label for="mode">"Mode"</label>
                                        <select id="mode" name="mode">
                                            <option value="live">"Live: real providers, billed"</option>
                                            <option value="test" selected=test_mode>"Test: sandbox only, never billed"</option>
                                        </select>
                                        {mode_error.clone().map(|e| view! { <p class="field-error">{e}</p> })}
                                        <button type="submit">"Create key"</button>
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
