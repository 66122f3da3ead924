//! API keys: create, revoke, rotate (`openclaw_core::api_keys`). The page shows a new secret
//! once, carried in the flash.

use actix_web::{HttpResponse, web};
use openclaw_core::api_keys::{self as service, KeyError, NewKey};
use openclaw_core::changes::Change;
use openclaw_core::domain::ApiKeyId;

use super::flash::Back;
use super::guard::Member;
use super::{Fields, field};
use crate::session::AppContext;

fn back(ctx: &AppContext) -> Back<'_> {
    Back::to(ctx, "/api-keys", "api-keys")
}

pub async fn create(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    let (name, mode) = (field(&form, "name"), field(&form, "mode"));
    let new = NewKey {
        name: name.clone(),
        // The page's select always sends one; a post without it gets the default, as the
        // API does.
        mode: Some(mode.clone()).filter(|m| !m.is_empty()),
        scopes: None,
        expires_at: None,
    };
    match service::create(&ctx.pool, m.manager(), new).await {
        Ok(minted) => {
            ctx.changed(Change::ApiKeys).await;
            back(&ctx).with(Some("created"), minted.secret)
        }
        Err(e) => back(&ctx)
            .keeping([("name", name), ("mode", mode)])
            .failed(e),
    }
}

/// Revokes (`rotate == false`) or rotates a key, from the API keys page. A rotation from here
/// has no grace period: the old key is refused at once.
async fn change(ctx: web::Data<AppContext>, m: Member, id: &str, rotate: bool) -> HttpResponse {
    let Ok(id) = ApiKeyId::parse(id) else {
        return back(&ctx).failed(KeyError::NotFound);
    };
    let outcome = if rotate {
        service::rotate(&ctx.pool, m.manager(), id.uuid(), None)
            .await
            .map(|minted| Some(minted.secret))
    } else {
        service::revoke(&ctx.pool, m.manager(), id.uuid())
            .await
            .map(|_| None)
    };
    match outcome {
        Ok(new_secret) => {
            ctx.changed(Change::ApiKeys).await;
            match new_secret {
                Some(secret) => back(&ctx).with(Some("created"), secret),
                None => back(&ctx).with(None, String::new()),
            }
        }
        Err(e) => back(&ctx).failed(e),
    }
}

pub async fn revoke(ctx: web::Data<AppContext>, m: Member, id: web::Path<String>) -> HttpResponse {
    change(ctx, m, &id, false).await
}

pub async fn rotate(ctx: web::Data<AppContext>, m: Member, id: web::Path<String>) -> HttpResponse {
    change(ctx, m, &id, true).await
}
