use leptos::prelude::*;
use leptos_meta::Title;
use openclaw_core::db::tenants;
use openclaw_core::domain::MessageType;
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::{Field, Layout};
use crate::routes::Who;
use crate::session::Scoped;

/// Who may see this page (`crate::routes::PAGES`).
/// (Roles that may not change the settings see them read-only.)
pub const WHO: Who = Who::Member;

async fn tenant() -> Option<anyhow::Result<(tenants::Tenant, bool)>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant_id = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            ctx.scoped(tenant_id, async |conn| {
                Ok((
                    tenants::find(conn, tenant_id).await?,
                    allowed(identity.role, Action::ManageSettings),
                ))
            })
            .await
        }
        .await,
    )
}

#[component]
pub fn Settings() -> impl IntoView {
    let flash = super::take_flash("settings");
    let password_flash = super::take_flash("password");
    view! {
        <Title text="Settings — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let flash = flash.clone();
                match tenant().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "your settings").into_any(),
                    Some(Ok((t, can_edit))) => {
                        let saved = (flash.field.as_deref() == Some("saved")).then(|| flash.message.clone());
                        let name = if flash.value("name").is_empty() { t.name.clone() } else { flash.value("name") };
                        // After a mistake the boxes show what was posted; else what is stored.
                        let mistaken = !flash.message.is_empty() && saved.is_none();
                        let exempt: Vec<String> = if mistaken {
                            flash.values("opt_out_exempt_types")
                        } else {
                            t.opt_out_exempt_types.iter().map(|m| m.as_str().to_owned()).collect()
                        };
                        let senders = if flash.value("default_sender_ids").is_empty() {
                            t.default_sender_ids.join(", ")
                        } else {
                            flash.value("default_sender_ids")
                        };
                        view! {
                            <Layout signed_in=true>
                                <section class="card" aria-labelledby="title">
                                    <h1 id="title">"Settings"</h1>
                                    {saved.map(|m| view! { <p class="notice" role="status">{m}</p> })}
                                    <form class="form" method="post" action="/settings">
                                        <fieldset disabled=!can_edit>
                                            <Field label="Company name" name="name" value=name error=flash.error_for("name") />
                                            <label for="default_sender_ids">"Default sender ids (comma-separated: phone numbers or 1–11 letters and digits)"</label>
                                            <input id="default_sender_ids" name="default_sender_ids" type="text" value=senders />
                                            {flash.error_for("default_sender_ids").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <p class="hint">"Used when neither the message nor its provider names a sender."</p>
                                            <fieldset aria-describedby="exempt-hint">
                                                <legend>"Send to opted-out numbers all the same"</legend>
                                                {[MessageType::Transactional, MessageType::Otp].into_iter().map(|m| {
                                                    let id = format!("exempt-{m}");
                                                    let label_for = id.clone();
                                                    let checked = exempt.iter().any(|e| e == m.as_str());
                                                    view! {
                                                        <label for=label_for class="check">
                                                            <input type="checkbox" id=id name="opt_out_exempt_types" value=m.as_str() checked=checked />
                                                            " " {m.as_str()} " messages"
                                                        </label>
                                                    }
                                                }).collect_view()}
                                                {flash.error_for("opt_out_exempt_types").map(|e| view! { <p class="field-error">{e}</p> })}
                                            </fieldset>
                                            <p class="hint" id="exempt-hint">"Off by default: a message to a number that replied STOP is refused. Tick a type only for messages the person still needs, such as the one-time codes they ask for; marketing always respects opt-outs."</p>
                                            <button type="submit">"Save"</button>
                                        </fieldset>
                                    </form>
                                    {(!can_edit).then(|| view! { <p class="hint">"Only owners and admins can change these."</p> })}
                                    <p>"Billing currency: " <strong>{t.currency}</strong></p>
                                </section>
                                <PasswordForm flash=password_flash.clone() />
                            </Layout>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// Changing your own password (every role).
#[component]
fn PasswordForm(flash: crate::session::Flash) -> impl IntoView {
    let saved = (flash.field.as_deref() == Some("saved")).then(|| flash.message.clone());
    let general =
        (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
    view! {
        <section class="card" aria-labelledby="password-title">
            <h2 id="password-title">"Your password"</h2>
            {saved.map(|m| view! { <p class="notice" role="status">{m}</p> })}
            {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            <form class="form" method="post" action="/settings/password">
                <Field label="Current password" name="current_password" kind="password"
                    autocomplete="current-password" error=flash.error_for("current_password") />
                <Field label="New password (at least 12 characters)" name="new_password" kind="password"
                    autocomplete="new-password" error=flash.error_for("new_password") />
                <button type="submit">"Change password"</button>
            </form>
        </section>
    }
}
