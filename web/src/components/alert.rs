use leptos::prelude::*;
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
