//! The tenant's monthly budget, on the spend page (`openclaw_core::budgets`).

use actix_web::{HttpResponse, web};
use openclaw_core::budgets::{self as service, BudgetInput};
use openclaw_core::changes::Change;

use super::flash::Back;
use super::guard::Member;
use super::{Fields, field};
use crate::session::AppContext;

/// Alert thresholds as typed: whole percentages separated by commas (`50, 80, 100`). Something
/// that is not a percentage is reported by the service as 0, which it refuses naming the field.
fn thresholds(raw: &str) -> Vec<u32> {
    raw.split(',')
        .map(|t| t.trim().trim_end_matches('%').trim())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap_or(0))
        .collect()
}

pub async fn save(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    let (amount, currency, alerts) = (
        field(&form, "monthly_limit"),
        field(&form, "currency"),
        field(&form, "alert_thresholds"),
    );
    let input = BudgetInput {
        amount: amount.clone(),
        currency,
        alert_thresholds: thresholds(&alerts),
        hard_cap: field(&form, "hard_cap") == "on",
    };
    let back = Back::to(&ctx, "/spend", "budget");
    match service::put(&ctx.pool, m.manager(), input).await {
        Ok(_) => {
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            back.with(Some("saved"), "Budget saved.")
        }
        // Keep what was typed.
        Err(e) => back
            .keeping([("monthly_limit", amount), ("alert_thresholds", alerts)])
            .failed(e),
    }
}

pub async fn remove(ctx: web::Data<AppContext>, m: Member) -> HttpResponse {
    let back = Back::to(&ctx, "/spend", "budget");
    match service::remove(&ctx.pool, m.manager()).await {
        Ok(true) => {
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            back.with(Some("saved"), "Budget removed: no limit, no alerts.")
        }
        Ok(false) => back.with(Some("saved"), "There was no budget to remove."),
        Err(e) => back.failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::thresholds;

    #[test]
    fn thresholds_are_read_as_typed() {
        assert_eq!(thresholds("50, 80,100%"), [50, 80, 100]);
        assert_eq!(thresholds(""), Vec::<u32>::new());
        assert_eq!(thresholds("50, lots"), [50, 0]);
    }
}
