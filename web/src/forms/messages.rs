//! A test message from the browser (`openclaw_core::test_send`): with a live provider priced
//! for the destination it goes out like any API send; otherwise it goes to the sandbox in test
//! mode (never billed), and a tenant without a sandbox provider gets one.

use actix_web::{HttpResponse, web};
use openclaw_core::changes::Change;
use openclaw_core::domain::MessageId;
use openclaw_core::members::Manager;
use openclaw_core::test_send::{self, TestSendError};

use super::flash::Back;
use super::guard::Person;
use super::{Fields, field, see_other};
use crate::session::AppContext;

/// Anyone signed in gets through the door (`Who::Service`): the service refuses a role that
/// may not send, and the form says why.
pub async fn send_test(ctx: web::Data<AppContext>, person: Person, form: Fields) -> HttpResponse {
    let (to, body) = (field(&form, "to"), field(&form, "body"));
    let back = Back::to(&ctx, "/messages/new", "send-test")
        .keeping([("to", to.clone()), ("body", body.clone())]);
    let identity = &person.identity;
    // Staff have no tenant to send for.
    let Some(tenant) = identity.tenant_id else {
        return back.failed(TestSendError::Forbidden);
    };
    let manager = Manager {
        tenant,
        user_id: identity.user_id,
        role: identity.role,
        actor: person.client.person(identity.user_id, false),
    };
    let sent = test_send::send(
        &ctx.pool,
        &ctx.settings.master_key,
        &ctx.ingest,
        &manager,
        &to,
        &body,
    )
    .await;
    match sent {
        Ok(sent) => {
            if sent.provisioned_sandbox {
                ctx.changed(Change::Routes { tenant }).await;
            }
            see_other(&format!("/messages/{}", MessageId::from(sent.message_id))).finish()
        }
        Err(e) => back.failed(e),
    }
}
