use leptos::prelude::*;
use leptos_meta::Title;
use openclaw_core::db::tenants;
use openclaw_core::domain::TenantId;
use openclaw_core::permissions::Action;

use crate::components::layout::Layout;
use crate::routes::Who;

/// Who may see this page (`crate::routes::PAGES`).
pub const WHO: Who = Who::Platform(Action::ListTenants);

async fn tenants_list() -> Option<anyhow::Result<Vec<tenants::Summary>>> {
    let (ctx, identity) = super::signed_in().await?;
    Some(
        async move {
            if !WHO.admits(&identity) {
                return Err(anyhow::Error::new(super::NotAllowed));
            }
            let staff = super::staff_of(&identity);
            let mut conn = ctx.pool.get().await?;
            Ok(openclaw_core::staff::list_tenants(&mut conn, &staff.actor, None, 500).await?)
        }
        .await,
    )
}

/// The staff console: every tenant, read-only.
#[component]
pub fn AdminTenants() -> impl IntoView {
    view! {
        <Title text="Tenants — OpenClaw staff" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match tenants_list().await {
                    None => ().into_any(),
                    Some(Err(e)) => super::failed(e, "the tenants").into_any(),
                    Some(Ok(rows)) => view! {
                        <Layout signed_in=true>
                            <section class="card wide">
                                <h1>"Tenants"</h1>
                                <p>"Every company on this OpenClaw. Staff read this list; they see no tenant's messages, keys or credentials."</p>
                                {if rows.is_empty() {
                                    view! { <p class="empty-note">"No tenants yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table>
                                            <thead><tr>
                                                <th scope="col">"Name"</th><th scope="col">"Id"</th><th scope="col">"Currency"</th>
                                                <th scope="col">"Members"</th><th scope="col">"Sent this month"</th><th scope="col">"Since"</th>
                                            </tr></thead>
                                            <tbody>
                                                {rows.into_iter().map(|t| view! {
                                                    <tr>
                                                        <td>{t.name.clone()}</td>
                                                        <td><code>{TenantId::from(t.id).to_string()}</code></td>
                                                        <td>{t.currency.clone()}</td>
                                                        <td>{t.members}</td>
                                                        <td>{t.messages_this_month}</td>
                                                        <td>{t.created_at.format("%Y-%m-%d").to_string()}</td>
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
