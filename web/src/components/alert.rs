use leptos::prelude::*;
use openclaw_core::billing::terms::Overdue;
use openclaw_core::budgets::Alert;
use openclaw_core::domain::{Money, Period};

/// What an alert says, in one sentence.
pub fn sentence(a: &Alert) -> String {
    format!(
        "{}% of the {} budget is spent: {} of {}.",
        a.threshold,
        Period::of(a.period),
        Money::new(a.spent_micros, a.currency.clone()),
        Money::new(a.monthly_limit_micros, a.currency.clone()),
    )
}

/// The newest budget alert of this month, as a banner at the top of a page (for the roles
/// that may see the budget); nothing when there is none.
#[component]
pub fn AlertBanner(alert: Option<Alert>) -> impl IntoView {
    alert.map(|a| {
        let over = a.threshold >= 100;
        view! {
            <p class=if over { "banner over" } else { "banner" } role="alert">
                <strong>"Budget alert: "</strong>
                {sentence(&a)}
                " " <a href="/spend">"See spend and the budget"</a>
            </p>
        }
    })
}

/// The tenant is past due on an invoice: its sends are refused until it is paid. Says so at
/// the top of a page, with the link to pay it; nothing when it is not.
#[component]
pub fn PastDueBanner(overdue: Option<Overdue>) -> impl IntoView {
    overdue.map(|o| {
        view! {
            <p class="banner over" role="alert">
                <strong>"Payment required: "</strong>
                {format!("Your invoice for {} ({}) is past due, so messages are refused (402 payment_required). ", o.period, o.total)}
                {match o.hosted_invoice_url {
                    Some(url) => view! { <a href=url>"Pay the invoice"</a> }.into_any(),
                    None => view! { <a href="/spend">"See your invoices"</a> }.into_any(),
                }}
            </p>
        }
    })
}
