use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{Field, Layout};

#[component]
pub fn SignIn() -> impl IntoView {
    let flash = super::take_flash("sign-in");
    let general = flash
        .field
        .is_none()
        .then(|| flash.message.clone())
        .filter(|m| !m.is_empty());
    view! {
        <Title text="Sign in — OpenClaw" />
        <Layout>
            <section class="card" aria-labelledby="title">
                <h1 id="title">"Sign in to OpenClaw"</h1>
                {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                <form class="form" method="post" action="/sign-in">
                    <Field label="Email" name="email" kind="email" autocomplete="email"
                        value=flash.value("email") error=flash.error_for("email") />
                    <Field label="Password" name="password" kind="password"
                        autocomplete="current-password" error=flash.error_for("password") />
                    <button type="submit">"Sign in"</button>
                </form>
                <p>"New to OpenClaw? " <a href="/sign-up">"Create an account"</a></p>
            </section>
        </Layout>
    }
}
