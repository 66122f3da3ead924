use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{Field, Layout};
use crate::routes::Who;

/// Who may see this page (`crate::routes::PAGES`).
/// The form, for anyone signed in; the service decides who may send (`Who::Service`).
pub const WHO: Who = Who::AnyUser;

#[component]
pub fn SendTest() -> impl IntoView {
    let flash = super::take_flash("send-test");
    let general = flash
        .field
        .is_none()
        .then(|| flash.message.clone())
        .filter(|m| !m.is_empty());
    view! {
        <Title text="Send a test message — OpenClaw" />
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                if super::signed_in().await.is_none() {
                    return ().into_any();
                }
                let (general, flash) = (general.clone(), flash.clone());
                view! {
                    <Layout signed_in=true>
                        <section class="card" aria-labelledby="title">
                            <h1 id="title">"Send a test message"</h1>
                            <p>"It goes out through your cheapest provider priced for the destination. "
                               "Without one, it goes to the built-in sandbox in test mode: nothing is sent to a phone and nothing is billed."</p>
                            {general.map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                            <form class="form" method="post" action="/messages/test">
                                <Field label="To (with country code)" name="to" kind="tel" autocomplete="tel"
                                    value=flash.value("to") error=flash.error_for("to") />
                                <label for="body">"Message"</label>
                                <textarea id="body" name="body" rows="4" required
                                    aria-invalid=if flash.error_for("body").is_some() { "true" } else { "false" }>
                                    {flash.value("body")}
                                </textarea>
                                {flash.error_for("body").map(|e| view! { <p class="field-error">{e}</p> })}
                                <button type="submit">"Send"</button>
                            </form>
                        </section>
                    </Layout>
                }.into_any()
            })}
        </Suspense>
    }
}
