//! The tenant's settings: name, default sender ids and the message types exempted from
//! opt-outs (`openclaw_core::settings`).

use actix_web::{HttpResponse, web};
use openclaw_core::changes::Change;
use openclaw_core::settings::{self as service, SettingsChange};

use super::flash::Back;
use super::guard::Member;
use super::{Fields, field, split_senders};
use crate::session::AppContext;

pub async fn save(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    let (name, senders) = (field(&form, "name"), field(&form, "default_sender_ids"));
    // Checkboxes: those left unticked are not posted, so the form always names them all.
    let exempt: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "opt_out_exempt_types")
        .map(|(_, v)| v.clone())
        .collect();
    let change = SettingsChange {
        name: Some(name.clone()),
        default_sender_ids: Some(split_senders(&senders)),
        opt_out_exempt_types: Some(exempt.clone()),
    };
    let back = Back::to(&ctx, "/settings", "settings");
    match service::update(&ctx.pool, m.manager(), change).await {
        Ok(_) => {
            // The default sender is part of the tenant's route table.
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            back.with(Some("saved"), "Saved.")
        }
        // Keep what was typed.
        Err(e) => {
            let mut keep = vec![("name", name), ("default_sender_ids", senders)];
            keep.extend(exempt.into_iter().map(|t| ("opt_out_exempt_types", t)));
            back.keeping(keep).failed(e)
        }
    }
}
