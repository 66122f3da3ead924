use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::layout::{Field, Layout};

/// Where an invitation link lands: choose a password and you are in.
#[component]
pub fn AcceptInvite() -> impl IntoView {
    let flash = super::take_flash("accept-invite");
    let token = use_query_map()
        .get_untracked()
        .get("token")
        .unwrap_or_default();
    let general = flash
        .field
        .is_none()
        .then(|| flash.message.clone())
        .filter(|m| !m.is_empty());
    view! {
        <Title text="Join your team — OpenClaw" />
        <Layout>
            <section class="card" aria-labelledby="title">
                <h1 id="title">"Join your team on OpenClaw"</h1>
                <p>"You were invited to a team. Choose a password (at least 12 characters) to accept."</p>
                {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                <form class="form" method="post" action="/accept-invite">
                    <input type="hidden" name="token" value=token />
                    <Field label="Password" name="password" kind="password"
                        autocomplete="new-password" error=flash.error_for("password") />
                    <button type="submit">"Accept and sign in"</button>
                </form>
            </section>
        </Layout>
    }
}
