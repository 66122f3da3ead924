use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::Layout;

#[component]
pub fn NotFound() -> impl IntoView {
    if let Some(res) = use_context::<leptos_actix::ResponseOptions>() {
        res.set_status(actix_web::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found — OpenClaw" />
        <Layout>
            <section class="card">
                <h1>"This page does not exist"</h1>
                <p><a href="/">"Go to the start page"</a></p>
            </section>
        </Layout>
    }
}
