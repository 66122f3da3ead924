//! Signing up, in and out, and changing one's password (`openclaw_core::accounts`).

use actix_web::{HttpRequest, HttpResponse, web};
use openclaw_core::accounts::{self, AccountError};

use super::flash::{Back, Fault, INTERNAL};
use super::guard::{Door, Person};
use super::{Fields, field, see_other};
use crate::session::{self, AppContext};

/// A redirect to `to` that sets the session cookies of `tokens`.
fn signed_in_to(ctx: &AppContext, to: &str, tokens: &accounts::Tokens) -> HttpResponse {
    let mut res = see_other(to);
    for c in session::session_cookies(ctx, tokens) {
        res.cookie(c);
    }
    res.finish()
}

pub async fn sign_up(ctx: web::Data<AppContext>, door: Door, form: Fields) -> HttpResponse {
    let (tenant_name, email) = (field(&form, "tenant_name"), field(&form, "email"));
    match accounts::sign_up(
        &ctx.pool,
        &ctx.jwt,
        &tenant_name,
        &email,
        &field(&form, "password"),
        &door.client,
    )
    .await
    {
        Ok((_, _, tokens)) => signed_in_to(&ctx, "/dashboard", &tokens),
        // Keep what was typed except the password.
        Err(e) => Back::to(&ctx, "/sign-up", "sign-up")
            .keeping([("tenant_name", tenant_name), ("email", email)])
            .failed(e),
    }
}

pub async fn sign_in(ctx: web::Data<AppContext>, door: Door, form: Fields) -> HttpResponse {
    let email = field(&form, "email");
    match accounts::sign_in(
        &ctx.pool,
        &ctx.jwt,
        &email,
        &field(&form, "password"),
        &door.client,
    )
    .await
    {
        // Staff have no tenant dashboard: their console is the tenant list.
        Ok((user, tokens)) => signed_in_to(
            &ctx,
            if user.tenant_id.is_none() {
                "/admin/tenants"
            } else {
                "/dashboard"
            },
            &tokens,
        ),
        Err(e) => Back::to(&ctx, "/sign-in", "sign-in")
            .keeping([("email", email)])
            .failed(e),
    }
}

/// Signs out whoever is signed in (if anyone) and clears the session cookies.
pub async fn sign_out(ctx: web::Data<AppContext>, door: Door, req: HttpRequest) -> HttpResponse {
    if let Some((identity, _)) = session::current(&ctx, session::SessionCookies::of(&req)).await
        && let Err(e) = accounts::sign_out(&ctx.pool, &identity, &door.client).await
    {
        tracing::error!(error = %e, "signing out failed");
    }
    let mut res = see_other("/sign-in");
    for c in session::cleared_cookies(&ctx) {
        res.cookie(c);
    }
    res.finish()
}

/// Changes the signed-in person's password; every other session ends, this one continues.
pub async fn change_password(
    ctx: web::Data<AppContext>,
    person: Person,
    form: Fields,
) -> HttpResponse {
    let back = Back::to(&ctx, "/settings", "password");
    match accounts::change_password(
        &ctx.pool,
        &ctx.jwt,
        person.identity.user_id,
        &field(&form, "current_password"),
        &field(&form, "new_password"),
        &person.client,
    )
    .await
    {
        Ok(tokens) => {
            let mut res = see_other("/settings");
            for c in session::session_cookies(&ctx, &tokens) {
                res.cookie(c);
            }
            res.cookie(back.cookie(
                Some("saved"),
                "Password changed. Every other session has been signed out.",
            ))
            .finish()
        }
        // The new password's problems belong next to the new password field.
        Err(AccountError::Invalid {
            field: "password",
            message,
        }) => back.failed(AccountError::Invalid {
            field: "new_password",
            message,
        }),
        Err(AccountError::Internal(cause)) => back.failed(Fault::Internal {
            cause,
            sentence: INTERNAL,
            keep: false,
        }),
        Err(e) => back.failed(e),
    }
}
