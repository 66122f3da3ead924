use leptos::prelude::*;

/// The frame of every page: header with the product name and navigation, then the page.
/// Signed-in pages get the app's navigation and a sign-out button (a form post: it works
/// without JavaScript).
#[component]
pub fn Layout(#[prop(optional)] signed_in: bool, children: Children) -> impl IntoView {
    let nav = if signed_in {
        view! {
            <nav aria-label="Main">
                <a href="/dashboard">"Dashboard"</a>
                <a href="/messages">"Messages"</a>
                <a href="/messages/new">"Send a test message"</a>
                <a href="/providers">"Providers"</a>
                <a href="/api-keys">"API keys"</a>
                <a href="/settings">"Settings"</a>
                <a href="/openapi.json">"API reference"</a>
                <form method="post" action="/sign-out" class="inline">
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            </nav>
        }
        .into_any()
    } else {
        view! {
            <nav aria-label="Main">
                <a href="/sign-in">"Sign in"</a>
                <a href="/sign-up">"Create an account"</a>
                <a href="/openapi.json">"API reference"</a>
            </nav>
        }
        .into_any()
    };
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="top">
            <a class="brand" href="/">"OpenClaw"</a>
            {nav}
        </header>
        <main id="main">{children()}</main>
        <footer class="foot">"OpenClaw — one API for every SMS provider."</footer>
    }
}

/// A labelled input with its error, if any, right below it.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] value: String,
    #[prop(optional_no_strip)] error: Option<String>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let invalid = error.is_some();
    view! {
        <label for=name>{label}</label>
        <input
            id=name
            name=name
            type=kind
            autocomplete=autocomplete
            value=value
            required
            aria-invalid=if invalid { "true" } else { "false" }
            aria-describedby=invalid.then(|| error_id.clone())
        />
        {error.map(|e| view! { <p class="field-error" id=error_id>{e}</p> })}
    }
}
