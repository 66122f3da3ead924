//! Opt-outs: add a number, remove one, import a CSV list (`openclaw_core::opt_outs`, as the
//! API's `POST /v1/opt-outs` and `DELETE /v1/opt-outs/{number}`).

use actix_web::{HttpResponse, web};
use openclaw_core::opt_outs::{self as service, OptOutError};

use super::flash::{Back, Fault};
use super::guard::Member;
use super::{Fields, field};
use crate::session::AppContext;

/// Pasted text longer than this is not carried back to the form (the flash is a cookie).
const KEEP_PASTED: usize = 1_500;

fn back(ctx: &AppContext) -> Back<'_> {
    Back::to(ctx, "/opt-outs", "opt-outs")
}

pub async fn add(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    let number = field(&form, "number");
    match service::add(&ctx.pool, m.manager(), &number).await {
        Ok(added) if added.created => back(&ctx).with(
            Some("added"),
            format!("{} is opted out.", added.opt_out.number),
        ),
        Ok(added) => back(&ctx).with(
            Some("added"),
            format!("{} had opted out already.", added.opt_out.number),
        ),
        Err(e) => back(&ctx).keeping([("number", number)]).failed(e),
    }
}

pub async fn remove(
    ctx: web::Data<AppContext>,
    m: Member,
    number: web::Path<String>,
) -> HttpResponse {
    match service::remove(&ctx.pool, m.manager(), &number).await {
        Ok(()) => back(&ctx).with(
            Some("removed"),
            "The number is opted back in: it gets your messages again.",
        ),
        Err(e) => back(&ctx).failed(e),
    }
}

pub async fn import(
    ctx: web::Data<AppContext>,
    m: Member,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    let text = match super::read_csv_upload(form, "", "The list").await {
        Ok(text) => text,
        Err(message) => {
            return back(&ctx).failed(Fault::Mistake {
                field: Some("csv".into()),
                message,
                keep: false,
            });
        }
    };
    match service::import(&ctx.pool, m.manager(), &text).await {
        Ok(imported) => back(&ctx).with(
            Some("imported"),
            format!(
                "Imported: {} added, {} on the list already.",
                imported.added, imported.unchanged
            ),
        ),
        Err(e) => {
            let keep = if text.len() <= KEEP_PASTED {
                vec![("csv", text)]
            } else {
                Vec::new()
            };
            let to = back(&ctx).keeping(keep);
            match e {
                // The form has one box for the whole list; the service names the line.
                OptOutError::Invalid { message, .. } => to.failed(Fault::Mistake {
                    field: Some("csv".into()),
                    message,
                    keep: true,
                }),
                e => to.failed(e),
            }
        }
    }
}
