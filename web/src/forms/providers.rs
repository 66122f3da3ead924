//! Providers: add, change, upload prices, remove (`openclaw_core::providers::service`), a
//! tenant member's on the tenant's own providers and a platform admin's on the platform's
//! (`/admin/providers/…`): one handler each, for whoever acts.

use actix_web::{HttpResponse, web};
use openclaw_core::domain::ProviderId;
use openclaw_core::prices::PriceError;
use openclaw_core::providers::service::{
    self as service, Acting, DEFAULT_MAX_CONCURRENCY, DEFAULT_RECEIPT_TIMEOUT_SECONDS, PriceInput,
    ProviderError, ProviderInput, ProviderPatch, number_from_text,
};
use openclaw_core::providers::{PriceList, ProviderKind};

use super::flash::{Back, Fault};
use super::guard::{Member, StaffMember};
use super::{Fields, field, see_other, split_senders};
use crate::pages::providers::Side;
use crate::session::AppContext;

/// Where the acting party's providers are listed (a provider's page is under it).
fn base(who: Acting<'_>) -> &'static str {
    Side::of(who.owner()).base()
}

/// Back to the form with the service's answer; a provider that is not there (deleted in
/// another tab) sends the browser to the list it was on.
fn failed(back: &Back<'_>, who: Acting<'_>, e: ProviderError) -> HttpResponse {
    match e {
        ProviderError::NotFound => see_other(base(who)).finish(),
        e => back.failed(e),
    }
}

/// The credentials object built from a kind's form fields, or every kind's (empty ones left
/// out).
fn credentials_json(form: &[(String, String)], kind: Option<ProviderKind>) -> serde_json::Value {
    let kinds = match kind {
        Some(kind) => vec![kind],
        None => ProviderKind::ALL.to_vec(),
    };
    let mut map = serde_json::Map::new();
    for kind in kinds {
        for (name, _, _) in crate::pages::providers::credential_fields(kind) {
            let value = field(form, name);
            if !value.trim().is_empty() {
                map.insert((*name).to_owned(), serde_json::Value::String(value));
            }
        }
    }
    serde_json::Value::Object(map)
}

/// The numbers on the add and the settings forms, as typed (empty: none).
struct Limits {
    max_rate_per_sec: Option<i32>,
    max_concurrency: Option<i32>,
    receipt_timeout_seconds: Option<i32>,
}

fn limits(form: &[(String, String)]) -> Result<Limits, ProviderError> {
    let number = |name| number_from_text(name, &field(form, name));
    Ok(Limits {
        max_rate_per_sec: number("max_rate_per_sec")?,
        max_concurrency: number("max_concurrency")?,
        receipt_timeout_seconds: number("receipt_timeout_seconds")?,
    })
}

fn provider_id(raw: &str) -> Option<uuid::Uuid> {
    ProviderId::parse(raw).ok().map(|p| p.uuid())
}

pub async fn create(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    create_as(&ctx, Acting::Member(m.manager()), form).await
}

pub async fn create_platform(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    form: Fields,
) -> HttpResponse {
    create_as(&ctx, Acting::Staff(s.staff()), form).await
}

async fn create_as(ctx: &AppContext, who: Acting<'_>, form: Fields) -> HttpResponse {
    let base = base(who);
    let typed_kind = field(&form, "kind");
    let kind = ProviderKind::parse(typed_kind.trim());
    let back_to = match kind {
        Some(kind) => format!("{base}/new?kind={}", kind.as_str()),
        None => format!("{base}/new"),
    };
    let keep = [
        "name",
        "base_url",
        "sender_ids",
        "max_rate_per_sec",
        "max_concurrency",
        "receipt_timeout_seconds",
        "account_sid",
        "api_key",
    ]
    .map(|name| (name, field(&form, name)));
    let back = Back::to(ctx, back_to, "provider-new").keeping(keep);
    let limits = match limits(&form) {
        Ok(limits) => limits,
        Err(e) => return back.failed(e),
    };
    let input = ProviderInput {
        name: field(&form, "name"),
        kind: typed_kind.clone(),
        // An unknown kind has no credential fields; the service names `kind`.
        credentials: kind
            .map(|kind| credentials_json(&form, Some(kind)))
            .unwrap_or_default(),
        base_url: Some(field(&form, "base_url")).filter(|u| !u.trim().is_empty()),
        sender_ids: split_senders(&field(&form, "sender_ids")),
        max_rate_per_sec: limits.max_rate_per_sec,
        max_concurrency: limits.max_concurrency,
        receipt_timeout_seconds: limits.receipt_timeout_seconds,
        enabled: true,
    };
    match service::create(&ctx.pool, &ctx.settings.master_key, who, input).await {
        Ok(row) => {
            ctx.changed(who.change()).await;
            let id = ProviderId::from(row.id);
            Back::to(ctx, format!("{base}/{id}"), "provider").with(
                Some("saved"),
                "Added. Give it prices below: it carries no messages until it has some.",
            )
        }
        Err(e) => failed(&back, who, e),
    }
}

/// The provider's settings form: every field is posted as shown, so the service's comparison
/// with the stored provider decides what changed. Empty credential fields keep the stored
/// credentials; an empty base URL is the provider's public API, an empty rate no limit, an
/// empty concurrency or receipt timeout the default.
pub async fn update(
    ctx: web::Data<AppContext>,
    m: Member,
    id: web::Path<String>,
    form: Fields,
) -> HttpResponse {
    update_as(&ctx, Acting::Member(m.manager()), &id, form).await
}

pub async fn update_platform(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    id: web::Path<String>,
    form: Fields,
) -> HttpResponse {
    update_as(&ctx, Acting::Staff(s.staff()), &id, form).await
}

async fn update_as(ctx: &AppContext, who: Acting<'_>, raw_id: &str, form: Fields) -> HttpResponse {
    let back = Back::to(ctx, format!("{}/{raw_id}", base(who)), "provider");
    let Some(id) = provider_id(raw_id) else {
        return see_other(base(who)).finish();
    };
    let limits = match limits(&form) {
        Ok(limits) => limits,
        Err(e) => return back.failed(e),
    };
    // The page shows the stored kind's credential fields; the service checks what was typed
    // against that kind.
    let typed = credentials_json(&form, None);
    let patch = ProviderPatch {
        name: Some(field(&form, "name")),
        credentials: typed
            .as_object()
            .is_some_and(|o| !o.is_empty())
            .then_some(typed),
        // The sandbox's form has no base URL.
        base_url: form
            .iter()
            .any(|(k, _)| k == "base_url")
            .then(|| Some(field(&form, "base_url")).filter(|u| !u.trim().is_empty())),
        sender_ids: Some(split_senders(&field(&form, "sender_ids"))),
        max_rate_per_sec: Some(limits.max_rate_per_sec),
        max_concurrency: Some(limits.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY)),
        receipt_timeout_seconds: Some(
            limits
                .receipt_timeout_seconds
                .unwrap_or(DEFAULT_RECEIPT_TIMEOUT_SECONDS),
        ),
        enabled: Some(field(&form, "enabled") == "on"),
    };
    match service::update(&ctx.pool, &ctx.settings.master_key, who, id, patch).await {
        Ok(_) => {
            ctx.changed(who.change()).await;
            back.with(Some("saved"), "Saved.")
        }
        Err(e) => failed(&back, who, e),
    }
}

/// The price form's fields: an uploaded CSV file, or CSV pasted into the text box (`file` and
/// `csv`, after the list's `prefix`).
pub async fn upload_prices(
    ctx: web::Data<AppContext>,
    m: Member,
    id: web::Path<String>,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    upload_as(
        &ctx,
        Acting::Member(m.manager()),
        &id,
        PriceList::Cost,
        form,
    )
    .await
}

pub async fn upload_platform_cost_prices(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    id: web::Path<String>,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    upload_as(&ctx, Acting::Staff(s.staff()), &id, PriceList::Cost, form).await
}

pub async fn upload_platform_sell_prices(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    id: web::Path<String>,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    upload_as(&ctx, Acting::Staff(s.staff()), &id, PriceList::Sell, form).await
}

/// Replaces one of a provider's price lists. Every mistake in the list is shown next to that
/// list's box (`csv`, or `sell_csv` for the sell list), whatever part of a row the service
/// names, and the browser is sent back to that list's section (below the fold).
async fn upload_as(
    ctx: &AppContext,
    who: Acting<'_>,
    raw_id: &str,
    list: PriceList,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    let back = Back::to(ctx, format!("{}/{raw_id}", base(who)), "provider");
    let Some(id) = provider_id(raw_id) else {
        return see_other(base(who)).finish();
    };
    let (prefix, anchor) = match (list, Side::of(who.owner())) {
        (PriceList::Cost, Side::Tenant) => ("", "prices"),
        (PriceList::Cost, Side::Platform) => ("", "cost-prices"),
        (PriceList::Sell, _) => ("sell_", "sell-prices"),
    };
    let box_name = format!("{prefix}csv");
    let at_list = Back::to(ctx, format!("{}/{raw_id}#{anchor}", base(who)), "provider");
    let csv = match super::read_csv_upload(form, prefix, "The price list").await {
        Ok(csv) => csv,
        Err(message) => return at_list.with(Some(&box_name), message),
    };
    match service::replace_prices(&ctx.pool, who, id, list, PriceInput::Csv(csv.as_bytes())).await {
        Ok(prices) => {
            ctx.changed(who.change()).await;
            back.with(Some("saved"), format!("Saved {} prices.", prices.len()))
        }
        Err(
            ProviderError::Prices(PriceError { message, .. })
            | ProviderError::Invalid { message, .. },
        ) => at_list
            .keeping([(box_name.clone(), csv)])
            .failed(Fault::Mistake {
                field: Some(box_name),
                message,
                keep: true,
            }),
        Err(e) => failed(&back, who, e),
    }
}

pub async fn delete(ctx: web::Data<AppContext>, m: Member, id: web::Path<String>) -> HttpResponse {
    delete_as(&ctx, Acting::Member(m.manager()), &id).await
}

pub async fn delete_platform(
    ctx: web::Data<AppContext>,
    s: StaffMember,
    id: web::Path<String>,
) -> HttpResponse {
    delete_as(&ctx, Acting::Staff(s.staff()), &id).await
}

async fn delete_as(ctx: &AppContext, who: Acting<'_>, raw_id: &str) -> HttpResponse {
    let list = base(who);
    let Some(id) = provider_id(raw_id) else {
        return see_other(list).finish();
    };
    match service::delete(&ctx.pool, who, id).await {
        // Gone already (another tab, another person): the list shows what is left.
        Ok(()) | Err(ProviderError::NotFound) => {
            ctx.changed(who.change()).await;
            see_other(list).finish()
        }
        Err(e) => Back::to(ctx, list, "provider").failed(e),
    }
}
