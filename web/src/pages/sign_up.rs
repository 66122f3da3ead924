use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{Field, Layout};

#[component]
pub fn SignUp() -> impl IntoView {
    let flash = super::take_flash("sign-up");
    let general = flash
        .field
        .is_none()
        .then(|| flash.message.clone())
        .filter(|m| !m.is_empty());
    view! {
        <Title text="Create an account — OpenClaw" />
        <Layout>
            <section class="card" aria-labelledby="title">
                <h1 id="title">"Create your OpenClaw account"</h1>
                <p>"One account for your company; invite your team later."</p>
                {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                <form class="form" method="post" action="/sign-up">
                    <Field label="Company name" name="tenant_name" autocomplete="organization"
                        value=flash.value("tenant_name") error=flash.error_for("tenant_name") />
                    <Field label="Email" name="email" kind="email" autocomplete="email"
                        value=flash.value("email") error=flash.error_for("email") />
                    <Field label="Password (at least 12 characters)" name="password" kind="password"
                        autocomplete="new-password" error=flash.error_for("password") />
                    <button type="submit">"Create account"</button>
                </form>
                <p>"Already have an account? " <a href="/sign-in">"Sign in"</a></p>
            </section>
        </Layout>
    }
}
