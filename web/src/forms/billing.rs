//! Platform staff's billing forms, on the billing page (`openclaw_core::billing`, the services
//! `PUT /v1/admin/billing/settings`, `PUT /v1/admin/tenants/{id}/billing`,
//! `PUT /v1/admin/tenants/{id}/currency`, `POST /v1/admin/billing/periods/{period}/close` and
//! `PUT /v1/admin/exchange-rates` call too).

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use openclaw_core::billing::settings::{self, OverrideInput, SettingsInput};
use openclaw_core::billing::{invoices, rates};
use openclaw_core::changes::Change;
use openclaw_core::domain::{Period, TenantId};

use super::flash::{Back, Fault};
use super::guard::StaffMember;
use super::{Fields, field};
use crate::session::AppContext;

/// A day as typed (`<input type="date">` sends `YYYY-MM-DD`); empty: today. Err: not a day.
fn day(raw: &str) -> Result<Option<NaiveDate>, ()> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(drop)
}

/// What a form says of a day it could not read.
fn not_a_day() -> Fault {
    Fault::Mistake {
        field: Some("effective_from".into()),
        message: "Give the day as YYYY-MM-DD.".into(),
        keep: true,
    }
}

pub async fn save_settings(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    form: Fields,
) -> HttpResponse {
    let typed = [
        "platform_fee",
        "currency",
        "default_markup_percent",
        "grace_period_days",
        "effective_from",
    ]
    .map(|name| (name, field(&form, name)));
    let back = Back::to(&ctx, "/admin/billing#settings", "billing-settings")
        .keeping(typed.iter().map(|(k, v)| (*k, v.clone())));
    let Ok(effective_from) = day(&typed[4].1) else {
        return back.failed(not_a_day());
    };
    let input = SettingsInput {
        platform_fee_amount: typed[0].1.clone(),
        platform_fee_currency: typed[1].1.clone(),
        default_markup_percent: typed[2].1.clone(),
        // Not a number: 0, which the service refuses naming the field.
        grace_period_days: typed[3].1.trim().parse().unwrap_or(0),
        effective_from,
    };
    match settings::put(&ctx.pool, s.staff(), input).await {
        Ok(_) => {
            ctx.changed(Change::Billing).await;
            back.keeping(Vec::<(&str, String)>::new())
                .with(Some("saved"), "Billing settings saved.")
        }
        Err(e) => back.failed(e),
    }
}

pub async fn save_tenant_fee(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    form: Fields,
) -> HttpResponse {
    let (tenant, amount, markup, from) = (
        field(&form, "tenant"),
        field(&form, "platform_fee"),
        field(&form, "markup_percent"),
        field(&form, "effective_from"),
    );
    let back = Back::to(&ctx, "/admin/billing#tenant-fee", "tenant-fee").keeping([
        ("tenant", tenant.clone()),
        ("platform_fee", amount.clone()),
        ("markup_percent", markup.clone()),
        ("effective_from", from.clone()),
    ]);
    let Ok(tenant_id) = TenantId::parse(tenant.trim()) else {
        return back.failed(Fault::Mistake {
            field: Some("tenant".into()),
            message: "Choose a tenant.".into(),
            keep: true,
        });
    };
    let Ok(effective_from) = day(&from) else {
        return back.failed(not_a_day());
    };
    let typed = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let input = OverrideInput {
        amount: typed(&amount),
        markup_percent: typed(&markup),
        effective_from,
    };
    match settings::put_tenant(&ctx.pool, s.staff(), tenant_id.uuid(), input).await {
        Ok(_) => {
            ctx.changed(Change::Routes {
                tenant: tenant_id.uuid(),
            })
            .await;
            back.keeping(Vec::<(&str, String)>::new())
                .with(Some("saved"), "The tenant's terms are saved.")
        }
        Err(e) => back.failed(e),
    }
}

pub async fn save_tenant_currency(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    form: Fields,
) -> HttpResponse {
    let (tenant, currency) = (field(&form, "tenant"), field(&form, "currency"));
    let back = Back::to(&ctx, "/admin/billing#tenant-currency", "tenant-currency")
        .keeping([("tenant", tenant.clone()), ("currency", currency.clone())]);
    let Ok(tenant_id) = TenantId::parse(tenant.trim()) else {
        return back.failed(Fault::Mistake {
            field: Some("tenant".into()),
            message: "Choose a tenant.".into(),
            keep: true,
        });
    };
    match settings::set_currency(&ctx.pool, s.staff(), tenant_id.uuid(), &currency).await {
        Ok(billing) => {
            ctx.changed(Change::Routes {
                tenant: tenant_id.uuid(),
            })
            .await;
            back.keeping(Vec::<(&str, String)>::new()).with(
                Some("saved"),
                format!("The tenant is billed in {}.", billing.currency),
            )
        }
        Err(e) => back.failed(e),
    }
}

pub async fn close_period(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    form: Fields,
) -> HttpResponse {
    let typed = field(&form, "period");
    let back = Back::to(&ctx, "/admin/billing#close", "close-period");
    let Some(period) = Period::parse(typed.trim()) else {
        return back.keeping([("period", typed)]).failed(Fault::Mistake {
            field: Some("period".into()),
            message: "Give the month as YYYY-MM.".into(),
            keep: true,
        });
    };
    match invoices::request_close(&ctx.pool, s.staff(), period).await {
        Ok(row) => {
            let to = format!("/admin/billing?period={period}#invoices");
            let note = if row.opened_at.is_some() {
                format!("{period} is closed; its invoices are below.")
            } else {
                format!("{period} is being closed: its invoices appear below as they are made.")
            };
            Back::to(&ctx, to, "close-period").with(Some("saved"), note)
        }
        Err(e) => back.keeping([("period", typed)]).failed(e),
    }
}

pub async fn save_rates(ctx: web::Data<AppContext>, s: StaffMember, form: Fields) -> HttpResponse {
    let text = field(&form, "rates");
    let back =
        Back::to(&ctx, "/admin/billing#rates", "exchange-rates").keeping([("rates", text.clone())]);
    match rates::put_lines(&ctx.pool, s.staff(), &text).await {
        Ok(stored) => {
            ctx.changed(Change::Billing).await;
            let note = match stored.len() {
                0 => "No exchange rates now.".to_owned(),
                1 => "Exchange rates saved: 1 rate.".to_owned(),
                n => format!("Exchange rates saved: {n} rates."),
            };
            back.keeping(Vec::<(&str, String)>::new())
                .with(Some("saved"), note)
        }
        Err(e) => back.failed(e),
    }
}
