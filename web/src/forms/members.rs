//! Members: invite, change a role, remove, and accepting an invitation
//! (`openclaw_core::members`).

use actix_web::{HttpResponse, web};
use openclaw_core::domain::UserId;
use openclaw_core::members::{self as service, Mail, MemberError};

use super::flash::Back;
use super::guard::{Door, Member};
use super::{Fields, field, see_other};
use crate::session::{self, AppContext};

fn back(ctx: &AppContext) -> Back<'_> {
    Back::to(ctx, "/members", "members")
}

/// Invites someone; the page then shows the invitation link, this once.
pub async fn invite(ctx: web::Data<AppContext>, m: Member, form: Fields) -> HttpResponse {
    let email = field(&form, "email");
    let mail = Mail::of(&ctx.mailer, &ctx.settings.public_url);
    match service::invite(&ctx.pool, m.manager(), &email, &field(&form, "role"), mail).await {
        Ok(inv) => back(&ctx)
            .keeping([(
                "mailed",
                if ctx.mailer.is_some() { "yes" } else { "" }.to_owned(),
            )])
            .with(
                Some("invited"),
                format!("{}/accept-invite?token={}", ctx.origin, inv.token),
            ),
        // Keep the address typed so it need not be typed again.
        Err(e) => back(&ctx).keeping([("email", email)]).failed(e),
    }
}

pub async fn change_role(
    ctx: web::Data<AppContext>,
    m: Member,
    id: web::Path<String>,
    form: Fields,
) -> HttpResponse {
    let Ok(id) = UserId::parse(&id) else {
        return back(&ctx).failed(MemberError::NotFound);
    };
    match service::change_role(&ctx.pool, m.manager(), id.uuid(), &field(&form, "role")).await {
        Ok(changed) if changed.id == m.user_id => see_other("/sign-in").finish(),
        Ok(changed) => back(&ctx).with(
            Some("saved"),
            format!("{} is now {}.", changed.email, changed.role),
        ),
        Err(e) => back(&ctx).failed(e),
    }
}

pub async fn remove(ctx: web::Data<AppContext>, m: Member, id: web::Path<String>) -> HttpResponse {
    let Ok(id) = UserId::parse(&id) else {
        return back(&ctx).failed(MemberError::NotFound);
    };
    match service::remove(&ctx.pool, m.manager(), id.uuid()).await {
        Ok(()) if id.uuid() == m.user_id => see_other("/sign-in").finish(),
        Ok(()) => back(&ctx).with(Some("saved"), "Removed."),
        Err(e) => back(&ctx).failed(e),
    }
}

/// Accepts an invitation from the link: sets the password and signs the new member in.
pub async fn accept_invite(ctx: web::Data<AppContext>, door: Door, form: Fields) -> HttpResponse {
    let token = field(&form, "token");
    let back_to = format!("/accept-invite?token={}", url_escape(&token));
    match service::accept_invite(
        &ctx.pool,
        &ctx.jwt,
        &token,
        &field(&form, "password"),
        &door.client,
    )
    .await
    {
        Ok((_, tokens)) => {
            let mut res = see_other("/dashboard");
            for c in session::session_cookies(&ctx, &tokens) {
                res.cookie(c);
            }
            res.finish()
        }
        Err(e) => Back::to(&ctx, back_to, "accept-invite").failed(e),
    }
}

/// Tokens are URL-safe already; anything else is dropped rather than trusted into a URL.
fn url_escape(token: &str) -> String {
    token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect()
}
