//! Webhooks: add an endpoint, delete it, rotate its secret, make the callback secret, replay a
//! delivery (`openclaw_core::webhooks`, as the API's `/v1/webhooks…`). A new secret is shown
//! once, carried in the flash.

use actix_web::{HttpResponse, web};
use openclaw_core::domain::{DeliveryId, WebhookId};
use openclaw_core::webhooks::{self as service, NewWebhook, UrlPolicy, WebhookError};

use super::flash::Back;
use super::guard::Member;
use super::{Fields, field};
use crate::session::AppContext;

fn back(ctx: &AppContext) -> Back<'_> {
    Back::to(ctx, "/webhooks", "webhooks")
}

fn back_to_endpoint<'a>(ctx: &'a AppContext, id: &str) -> Back<'a> {
    Back::to(ctx, format!("/webhooks/{id}"), "webhook")
}

pub async fn create(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    let url = field(&form, "url");
    let events: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let new = NewWebhook {
        url: url.clone(),
        events: events.clone(),
    };
    let policy = UrlPolicy::from_settings(&ctx.settings);
    match service::create(
        &ctx.pool,
        &ctx.settings.master_key,
        policy,
        m.manager(),
        new,
    )
    .await
    {
        Ok(made) => back(&ctx).with(Some("created"), made.secret),
        Err(e) => {
            let mut keep = vec![("url", url)];
            keep.extend(events.into_iter().map(|e| ("events", e)));
            back(&ctx).keeping(keep).failed(e)
        }
    }
}

fn endpoint_id(id: &str) -> Result<uuid::Uuid, WebhookError> {
    WebhookId::parse(id)
        .map(WebhookId::uuid)
        .map_err(|_| WebhookError::NotFound("webhook endpoint"))
}

pub async fn delete(ctx: web::Data<AppContext>, m: Member, id: web::Path<String>) -> HttpResponse {
    match endpoint_id(&id) {
        Ok(uuid) => match service::delete(&ctx.pool, m.manager(), uuid).await {
            Ok(()) => back(&ctx).with(Some("deleted"), "The endpoint is deleted."),
            Err(e) => back(&ctx).failed(e),
        },
        Err(e) => back(&ctx).failed(e),
    }
}

pub async fn rotate(ctx: web::Data<AppContext>, m: Member, id: web::Path<String>) -> HttpResponse {
    let to = back_to_endpoint(&ctx, &id);
    match endpoint_id(&id) {
        Ok(uuid) => {
            match service::rotate_secret(&ctx.pool, &ctx.settings.master_key, m.manager(), uuid)
                .await
            {
                Ok(rotated) => to.with(Some("created"), rotated.secret),
                Err(e) => to.failed(e),
            }
        }
        Err(e) => back(&ctx).failed(e),
    }
}

pub async fn callback_secret(ctx: web::Data<AppContext>, m: Member) -> HttpResponse {
    match service::callback_secret(&ctx.pool, &ctx.settings.master_key, m.manager()).await {
        Ok(secret) => back(&ctx).with(Some("callback"), secret),
        Err(e) => back(&ctx).failed(e),
    }
}

pub async fn replay(
    ctx: web::Data<AppContext>,
    m: Member,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (id, delivery) = path.into_inner();
    let to = back_to_endpoint(&ctx, &id);
    let ids = endpoint_id(&id).and_then(|e| {
        DeliveryId::parse(&delivery)
            .map(|d| (e, d.uuid()))
            .map_err(|_| WebhookError::NotFound("webhook delivery"))
    });
    match ids {
        Ok((endpoint, delivery)) => {
            match service::replay(&ctx.pool, m.manager(), endpoint, delivery).await {
                Ok(_) => to.with(Some("replayed"), "The delivery is on its way again."),
                Err(e) => to.failed(e),
            }
        }
        Err(e) => to.failed(e),
    }
}
