//! The one form guard. Every form post passes it before anything else: it must come from our
//! own pages (the session cookie is SameSite=Lax, and the Origin, or without it the Referer,
//! must be ours); then, unless the form is public, it needs a session; then the role must be
//! one the form's [`Who`] (from `crate::routes::FORMS`) admits. A refusal is the answer the
//! browser gets: the cross-site page (403), the sign-in page (303), or the role page (403).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures::future::LocalBoxFuture;
use openclaw_core::accounts::Identity;
use openclaw_core::audit::Client;
use openclaw_core::members::Manager;

use super::see_other;
use crate::routes::Who;
use crate::session::{self, AppContext};

/// A form post that passed the guard of a public form: it came from our own pages.
pub struct Door {
    pub client: Client,
}

/// A form post by someone signed in (`Who::AnyUser`, `Who::Service`).
pub struct Person {
    pub identity: Identity,
    pub client: Client,
}

/// A form post by a member of a tenant whose role allows the form's action.
pub struct Member {
    pub tenant: uuid::Uuid,
    pub user_id: uuid::Uuid,
    manager: Manager,
}

impl Member {
    /// The member as the services take them (the acting party for the audit log).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }
}

/// A form post by platform staff whose role allows the form's action (`Who::Platform`).
pub struct StaffMember {
    staff: openclaw_core::staff::Staff,
}

impl StaffMember {
    /// The staff member as the services take them (the acting party for the audit log).
    pub fn staff(&self) -> &openclaw_core::staff::Staff {
        &self.staff
    }
}

/// Form posts must come from our own pages.
fn same_origin(ctx: &AppContext, req: &HttpRequest) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    match (header(header::ORIGIN), header(header::REFERER)) {
        (Some(origin), _) => origin == ctx.origin,
        (None, Some(referer)) => {
            referer == ctx.origin || referer.starts_with(&format!("{}/", ctx.origin))
        }
        (None, None) => false,
    }
}

fn cross_site() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html><title>Not allowed</title><p>This form was not sent from OpenClaw's own pages. <a href=\"/\">Start again</a>.</p>")
}

/// The answer to a role that may not post the form.
pub(crate) fn not_allowed() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html><title>Not allowed</title><p>Your role does not allow this. <a href=\"/dashboard\">Back</a>.</p>")
}

/// What passed the guard: who sent it, and the signed-in person unless the form is public.
struct Admitted {
    who: Who,
    client: Client,
    identity: Option<Identity>,
}

/// The guard itself: same origin, session, role, for the form's `Who`.
async fn admit(req: HttpRequest) -> Result<Admitted, HttpResponse> {
    let Some(ctx) = req.app_data::<web::Data<AppContext>>().cloned() else {
        tracing::error!("the admin app is mounted without its AppContext");
        return Err(HttpResponse::InternalServerError().finish());
    };
    let Some(who) = req.app_data::<Who>().copied() else {
        // Every form is registered from `routes::FORMS` with its `Who`.
        tracing::error!(path = req.path(), "a form without its Who");
        return Err(not_allowed());
    };
    if !same_origin(&ctx, &req) {
        return Err(cross_site());
    }
    let client = session::client_of(&req);
    if !who.needs_session() {
        return Ok(Admitted {
            who,
            client,
            identity: None,
        });
    }
    let cookies = session::SessionCookies::of(&req);
    drop(req);
    let Some((identity, _)) = session::current(&ctx, cookies).await else {
        return Err(see_other("/sign-in").finish());
    };
    if who.door_refuses(&identity) {
        return Err(not_allowed());
    }
    Ok(Admitted {
        who,
        client,
        identity: Some(identity),
    })
}

fn refused(res: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response("refused by the form guard", res).into()
}

impl FromRequest for Door {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let admitted = admit(req).await.map_err(refused)?;
            Ok(Door {
                client: admitted.client,
            })
        })
    }
}

impl FromRequest for Person {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let admitted = admit(req).await.map_err(refused)?;
            match admitted.identity {
                Some(identity) => Ok(Person {
                    identity,
                    client: admitted.client,
                }),
                // A public form's handler asking for a person: registered wrongly.
                None => Err(refused(not_allowed())),
            }
        })
    }
}

impl FromRequest for Member {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let admitted = admit(req).await.map_err(refused)?;
            // A member's form names the action the role needs.
            if !matches!(admitted.who, Who::Tenant(_) | Who::Member) {
                tracing::error!(who = ?admitted.who, "a member's form registered without an action");
                return Err(refused(not_allowed()));
            }
            let Some(identity) = admitted.identity else {
                return Err(refused(not_allowed()));
            };
            let Some(tenant) = identity.tenant_id else {
                return Err(refused(not_allowed()));
            };
            Ok(Member {
                tenant,
                user_id: identity.user_id,
                manager: Manager {
                    tenant,
                    user_id: identity.user_id,
                    role: identity.role,
                    actor: admitted.client.person(identity.user_id, false),
                },
            })
        })
    }
}

impl FromRequest for StaffMember {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let admitted = admit(req).await.map_err(refused)?;
            if !matches!(admitted.who, Who::Platform(_)) {
                tracing::error!(who = ?admitted.who, "a staff form registered without a platform action");
                return Err(refused(not_allowed()));
            }
            let Some(identity) = admitted.identity.filter(|i| i.tenant_id.is_none()) else {
                return Err(refused(not_allowed()));
            };
            Ok(StaffMember {
                staff: openclaw_core::staff::Staff {
                    role: identity.role,
                    actor: admitted.client.person(identity.user_id, true),
                },
            })
        })
    }
}
