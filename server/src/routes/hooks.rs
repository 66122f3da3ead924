//! Delivery receipts from providers, in each provider's own wire format.
//!
//! The worker gives each provider a callback URL carrying our message id
//! ([`openclaw_core::hooks::status_callback_url`]). Twilio's callbacks are checked against
//! `X-Twilio-Signature`; Vonage's against their `sig` parameter when the account signs its
//! webhooks (a signature secret in the provider's credentials). A callback that should be
//! signed and is not, or is badly, is answered 401 and changes nothing.

use actix_web::{HttpRequest, HttpResponse, post, web};
use openclaw_core::db::messages::{self, ReceiptApplied, ReceiptUpdate, Settlement};
use openclaw_core::domain::{MessageId, ProviderId};
use openclaw_core::providers::{Credentials, ProviderKind, twilio, vonage};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppContext;

pub fn config(cfg: &mut ServiceConfig) {
    cfg.service(provider_status).service(provider_inbound);
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
}

/// A JSON object flattened to string pairs (Vonage posts DLRs as JSON).
fn json_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The provider a callback's path names (recorded in the trace), as the cache holds it; None
/// inside when there is no such provider.
async fn named_provider(
    state: &AppContext,
    id: &str,
) -> ApiResult<(
    uuid::Uuid,
    std::sync::Arc<Option<openclaw_core::hooks::HookProvider>>,
)> {
    let uuid = ProviderId::parse(id)
        .map_err(|_| ApiError::not_found("provider"))?
        .uuid();
    openclaw_core::trace::record_provider(uuid);
    Ok((uuid, state.hook_provider(uuid).await?))
}

/// A callback's parameters: its JSON object or form body, refused when any holds a NUL
/// (nothing we understand does, and Postgres could not look it up).
fn callback_params(
    req: &HttpRequest,
    body: &[u8],
    code: &'static str,
) -> ApiResult<Vec<(String, String)>> {
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let params = if is_json {
        json_pairs(body)
    } else {
        form_pairs(body)
    };
    if params
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::bad_request(
            code,
            "This is not a callback we understand.",
        ));
    }
    Ok(params)
}

/// Checks a callback's signature as its provider makes it: Twilio's `X-Twilio-Signature` over
/// the URL and the parameters; Vonage's `sig` when the account signs its webhooks (the query's
/// parameters count too, but for ours, `message_id`, which are added to `params`).
fn check_signature(
    state: &AppContext,
    req: &HttpRequest,
    provider: &openclaw_core::hooks::HookProvider,
    params: &mut Vec<(String, String)>,
) -> ApiResult<()> {
    match provider.kind {
        ProviderKind::Twilio => {
            let Credentials::Twilio { auth_token, .. } = &provider.credentials else {
                return Err(anyhow::anyhow!("twilio provider without twilio credentials").into());
            };
            let url = format!("{}{}", state.settings.public_url, req.uri());
            let signature = req
                .headers()
                .get("X-Twilio-Signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            use secrecy::ExposeSecret;
            if !twilio::verify_signature(auth_token.expose_secret(), &url, params, signature) {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "invalid_signature",
                    "The X-Twilio-Signature does not match.",
                ));
            }
        }
        ProviderKind::Vonage => {
            params.extend(
                form_pairs(req.query_string().as_bytes())
                    .into_iter()
                    .filter(|(k, _)| k != "message_id"),
            );
            if let Credentials::Vonage {
                signature: Some(signing),
                ..
            } = &provider.credentials
                && !vonage::verify_signature(params, signing, chrono::Utc::now().timestamp())
            {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "invalid_signature",
                    "This Vonage account signs its webhooks, and this callback's `sig` is missing, \
                     wrong or more than five minutes old.",
                ));
            }
        }
        ProviderKind::Sandbox => {}
    }
    Ok(())
}

/// A provider's delivery receipt (Twilio StatusCallback form, Vonage DLR JSON or form).
#[utoipa::path(
    tag = "hooks",
    params(
        ("provider_id" = String, Path, description = "`prv_…`"),
        ("message_id" = Option<String>, Query, description = "`msg_…`, as put in the callback URL"),
    ),
    responses(
        (status = 204, description = "Recorded (or not ours: acknowledged so the provider stops retrying)"),
        (status = 400, description = "`invalid_receipt`", body = ErrorBody),
        (status = 401, description = "`invalid_signature`: Twilio's `X-Twilio-Signature`, or the `sig` of a Vonage account that signs its webhooks, is missing or wrong", body = ErrorBody),
        (status = 404, description = "`not_found`: no such provider", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
    ),
)]
#[post("/hooks/providers/{provider_id}/status")]
pub async fn provider_status(
    state: web::Data<AppContext>,
    req: HttpRequest,
    provider_id: web::Path<String>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = super::read_body(&mut payload, 64 * 1024).await?;
    let (provider_uuid, found) = named_provider(&state, &provider_id).await?;
    let provider = found
        .as_ref()
        .as_ref()
        .ok_or_else(|| ApiError::not_found("provider"))?;
    if let Some(tenant) = provider.tenant_id {
        openclaw_core::trace::record_tenant(tenant);
    }
    let kind = provider.kind;
    let mut params = callback_params(&req, &body, "invalid_receipt")?;
    check_signature(&state, &req, provider, &mut params)?;
    let receipt = match kind {
        ProviderKind::Twilio => twilio::parse_status_callback(&params),
        ProviderKind::Vonage => vonage::parse_dlr(&params),
        ProviderKind::Sandbox => None,
    };
    let Some(receipt) = receipt else {
        return Err(ApiError::bad_request(
            "invalid_receipt",
            "This is not a delivery receipt we understand.",
        ));
    };

    // Our message id: in the callback URL we gave (Twilio), or echoed as the client reference
    // (Vonage's `client-ref`); else the provider's own id, recorded once its answer came.
    let query: Vec<(String, String)> = form_pairs(req.query_string().as_bytes());
    let ours = query
        .iter()
        .find(|(k, _)| k == "message_id")
        .map(|(_, v)| v.as_str())
        .or(receipt.client_ref.as_deref())
        .and_then(|v| MessageId::parse(v).ok())
        .map(MessageId::uuid);
    let target = match (ours, provider.tenant_id) {
        (Some(id), Some(tenant)) => Some((id, tenant)),
        // A platform provider carries every tenant's messages: the message says whose it is.
        (Some(id), None) => {
            let mut conn = state.pool.get().await?;
            messages::tenant_of(&mut conn, id, provider_uuid)
                .await?
                .map(|tenant| (id, tenant))
        }
        (None, _) => {
            let mut conn = state.pool.get().await?;
            messages::find_by_provider_message_id(
                &mut conn,
                provider_uuid,
                &receipt.provider_message_id,
            )
            .await?
        }
    };
    let Some((message_id, tenant_id)) = target else {
        // Unknown to us: acknowledge so the provider stops retrying.
        tracing::info!(
            provider_id = %ProviderId::from(provider_uuid),
            provider_message_id = %receipt.provider_message_id,
            "a receipt for a message we do not know was acknowledged and changed nothing"
        );
        return Ok(HttpResponse::NoContent().finish());
    };
    openclaw_core::trace::record_message(message_id);
    if provider.tenant_id.is_some_and(|t| t != tenant_id) {
        return Err(ApiError::not_found("message"));
    }
    let new_status = receipt.status.status();
    let applied = state
        .receipts
        .apply(ReceiptUpdate {
            tenant_id,
            message_id,
            status: new_status,
            provider_code: receipt.provider_code.clone(),
            error: receipt.error,
            from: Some((provider_uuid, receipt.provider_message_id.clone())),
        })
        .await?;
    match &applied {
        // Debug only: with Twilio every message's `sent` callback usually comes after the
        // worker recorded `sent`.
        ReceiptApplied::Unchanged => tracing::debug!(
            status = new_status.as_str(),
            "a receipt changed nothing (repeated, late, or for a message this tenant does not have)"
        ),
        _ => tracing::debug!(status = new_status.as_str(), "receipt applied"),
    }
    if let ReceiptApplied::InDoubt(message) = applied {
        let mut conn = state.pool.get().await?;
        // The send's outcome was unknown; this provider's receipt says it took the message.
        let settlement = Settlement {
            provider_id: provider_uuid,
            provider_message_id: receipt.provider_message_id.clone(),
            cost: {
                let routes = state.routes.get(tenant_id).await?;
                let markup = routes.billing.markup(chrono::Utc::now());
                message.cost_through(&routes.providers, provider_uuid, markup)
            },
        };
        let settled = messages::settle_in_doubt(
            &mut conn,
            tenant_id,
            message_id,
            new_status,
            receipt.provider_code.as_deref(),
            &settlement,
        )
        .await?;
        if settled {
            tracing::info!(message_id = %MessageId::from(message_id), provider_id = %ProviderId::from(provider_uuid), "a receipt settled a send whose outcome was unknown");
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A message someone sent to a number of the tenant's (Twilio's incoming-message webhook
/// form, Vonage's inbound SMS, JSON or form), signed as the provider's receipts are. It is
/// stored once however often the provider resends it; STOP and the like opt the sender out,
/// START and the like back in. Twilio is answered with an empty TwiML `<Response/>` (nothing
/// is sent back, HELP included).
#[utoipa::path(
    tag = "hooks",
    params(("provider_id" = String, Path, description = "`prv_…`")),
    responses(
        (status = 200, description = "Stored (Twilio: an empty TwiML response)", body = String, content_type = "text/xml", example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>")),
        (status = 204, description = "Stored, or resent and stored before, or for a platform provider (acknowledged and logged; its numbers are not any one tenant's)"),
        (status = 400, description = "`invalid_inbound`: not an inbound message this provider sends", body = ErrorBody),
        (status = 401, description = "`invalid_signature`: Twilio's `X-Twilio-Signature`, or the `sig` of a Vonage account that signs its webhooks, is missing or wrong", body = ErrorBody),
        (status = 404, description = "`not_found`: no such provider", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
    ),
)]
#[post("/hooks/providers/{provider_id}/inbound")]
pub async fn provider_inbound(
    state: web::Data<AppContext>,
    req: HttpRequest,
    provider_id: web::Path<String>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = super::read_body(&mut payload, 64 * 1024).await?;
    let (provider_uuid, found) = named_provider(&state, &provider_id).await?;
    let provider = found
        .as_ref()
        .as_ref()
        .ok_or_else(|| ApiError::not_found("provider"))?;
    let mut params = callback_params(&req, &body, "invalid_inbound")?;
    check_signature(&state, &req, provider, &mut params)?;
    let sms = match provider.kind {
        ProviderKind::Twilio => twilio::parse_inbound(&params),
        ProviderKind::Vonage => vonage::parse_inbound(&params),
        ProviderKind::Sandbox => None,
    };
    let Some(sms) = sms else {
        return Err(ApiError::bad_request(
            "invalid_inbound",
            "This is not an inbound message we understand.",
        ));
    };
    let Some(tenant) = provider.tenant_id else {
        tracing::warn!(
            "an inbound message on a platform provider is not stored: its numbers are no one tenant's"
        );
        return Ok(HttpResponse::NoContent().finish());
    };
    openclaw_core::trace::record_tenant(tenant);
    let received = openclaw_core::inbound::receive(&state.pool, tenant, provider_uuid, sms).await?;
    if let openclaw_core::inbound::Received::Stored {
        inbound,
        opt_out_changed,
    } = &received
    {
        tracing::info!(inbound_id = %openclaw_core::domain::InboundId::from(inbound.id), keyword = ?inbound.keyword, opt_out_changed, "inbound message stored");
    }
    Ok(match provider.kind {
        ProviderKind::Twilio => HttpResponse::Ok()
            .content_type("text/xml")
            .body(r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#),
        _ => HttpResponse::NoContent().finish(),
    })
}
