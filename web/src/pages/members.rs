use leptos::prelude::*;
use leptos_meta::Title;
use openclaw_core::db::users;
use openclaw_core::domain::{MemberStatus, Role, UserId};
use openclaw_core::permissions::{Action, allowed};

use crate::components::layout::{Field, Layout};
use crate::routes::Who;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Tenant(Action::ReadMembers);

const ROLES: &[(&str, &str)] = &[
    ("viewer", "Viewer: reads messages and providers"),
    ("billing", "Billing: also reads spend"),
    ("developer", "Developer: sends, manages API keys"),
    ("admin", "Admin: manages providers, members, settings"),
    ("owner", "Owner: everything, including owners"),
];

struct Members {
    members: Vec<users::User>,
    me: uuid::Uuid,
    my_role: Role,
}

async fn members() -> Option<anyhow::Result<Members>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            let tenant = identity
                .tenant_id
                .filter(|_| WHO.admits(&identity))
                .ok_or_else(|| anyhow::Error::new(super::NotAllowed))?;
            Ok(Members {
                members: openclaw_core::members::list(&ctx.pool, tenant).await?,
                me: identity.user_id,
                my_role: identity.role,
            })
        }
        .await,
    )
}

fn role_select(id: String, current: &str, owner_may: bool) -> impl IntoView {
    let label = format!("Role for {id}");
    view! {
        <label for=id.clone() class="visually-hidden">{label}</label>
        <select id=id name="role">
            {ROLES
                .iter()
                .filter(|(r, _)| owner_may || *r != "owner")
                .map(|(r, _)| {
                    let r = *r;
                    view! { <option value=r selected=r == current>{r}</option> }
                })
                .collect_view()}
        </select>
    }
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let flash = super::take_flash("members");
    view! {
        <Title text="Members — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                let flash = flash.clone();
                match members().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "the members").into_any(),
                    Some(Ok(m)) => {
                        let can_manage = allowed(m.my_role, Action::ManageMembers);
                        let is_owner = m.my_role == Role::Owner;
                        let link = (flash.field.as_deref() == Some("invited")).then(|| flash.message.clone());
                        let saved = (flash.field.as_deref() == Some("saved")).then(|| flash.message.clone());
                        let general = (flash.field.is_none() && !flash.message.is_empty()).then(|| flash.message.clone());
                        let me = m.me;
                        let mailed = flash.value("mailed") == "yes";
                        view! {
                            <Layout signed_in=true>
                                {link.map(|link| view! {
                                    <section class="card created" aria-labelledby="invite-link">
                                        <h2 id="invite-link">"Invitation link"</h2>
                                        <p>{if mailed {
                                            "We mailed this link to the person you invited; you can also pass it on yourself. It works once, for 7 days, and is shown here this once."
                                        } else {
                                            "Send this link to the person you invited; it works once, for 7 days. It is shown this once."
                                        }}</p>
                                        <div class="secret">
                                            <label for="secret" class="visually-hidden">"Invitation link"</label>
                                            <input id="secret" type="text" readonly value=link />
                                            <button type="button" class="copy" data-copy="secret">"Copy"</button>
                                        </div>
                                    </section>
                                })}
                                <section class="card wide">
                                    <h1>"Members"</h1>
                                    {saved.map(|s| view! { <p class="notice" role="status">{s}</p> })}
                                    {general.map(|s| view! { <p class="form-error" role="alert">{s}</p> })}
                                    <table>
                                        <thead><tr>
                                            <th scope="col">"Email"</th><th scope="col">"Role"</th>
                                            <th scope="col">"Status"</th><th scope="col">"Since"</th>
                                            {can_manage.then(|| view! { <th scope="col">"Actions"</th> })}
                                        </tr></thead>
                                        <tbody>
                                            {m.members.into_iter().map(|u| {
                                                let id = UserId::from(u.id).to_string();
                                                // Only owners touch owners.
                                                let may_touch = can_manage && (is_owner || u.role != Role::Owner);
                                                let status = if u.status == MemberStatus::Invited {
                                                    format!("invited (until {})", u.invite_expires_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default())
                                                } else {
                                                    "active".to_string()
                                                };
                                                let you = (u.id == me).then_some(" (you)");
                                                view! {
                                                    <tr data-email=u.email.clone()>
                                                        <td class="long">{u.email.clone()}{you}</td>
                                                        <td>{u.role.as_str()}</td>
                                                        <td>{status}</td>
                                                        <td>{u.created_at.format("%Y-%m-%d").to_string()}</td>
                                                        {can_manage.then(|| if may_touch {
                                                            view! {
                                                                <td class="actions">
                                                                    <form method="post" action=format!("/members/{id}/role") class="inline">
                                                                        {role_select(format!("role-{id}"), u.role.as_str(), is_owner)}
                                                                        <button type="submit" class="secondary">"Change role"</button>
                                                                    </form>
                                                                    <form method="post" action=format!("/members/{id}/remove") class="inline">
                                                                        <button type="submit" class="danger">{if u.status == MemberStatus::Invited { "Withdraw" } else { "Remove" }}</button>
                                                                    </form>
                                                                </td>
                                                            }.into_any()
                                                        } else {
                                                            view! { <td>"—"</td> }.into_any()
                                                        })}
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                                {can_manage.then(|| view! {
                                    <section class="card" aria-labelledby="invite">
                                        <h2 id="invite">"Invite someone"</h2>
                                        <form class="form" method="post" action="/members">
                                            <Field label="Email" name="email" kind="email" value=flash.value("email") error=flash.error_for("email") />
                                            <label for="role">"Role"</label>
                                            <select id="role" name="role">
                                                {ROLES.iter().filter(|(r, _)| is_owner || *r != "owner").map(|(r, d)| {
                                                    let r = *r;
                                                    view! { <option value=r selected=r == "developer">{*d}</option> }
                                                }).collect_view()}
                                            </select>
                                            {flash.error_for("role").map(|e| view! { <p class="field-error">{e}</p> })}
                                            <button type="submit">"Invite"</button>
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
