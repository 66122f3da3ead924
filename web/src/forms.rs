//! The admin app's form posts. Each is a plain URL-encoded `<form method="post">`, so it works
//! without JavaScript: on success it redirects (303) to the next page, on failure back to the
//! form, with the message for the field at fault carried in a short-lived cookie.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use openclaw_core::accounts::{self, AccountError};
use openclaw_core::audit;
use openclaw_core::changes::Change;

use crate::session::{self, AppContext, Flash};

type Fields = web::Form<Vec<(String, String)>>;

fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_owned()));
    res
}

/// Form posts must come from our own pages: the session cookie is SameSite=Lax, and the
/// Origin (or, without it, the Referer) must be ours.
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

fn forbidden() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html><title>Not allowed</title><p>This form was not sent from OpenClaw's own pages. <a href=\"/\">Start again</a>.</p>")
}

/// Back to the form with the error, keeping what was typed except passwords.
fn back(
    ctx: &AppContext,
    to: &str,
    form: &str,
    e: AccountError,
    keep: &[(&str, String)],
) -> HttpResponse {
    let (field, message) = match &e {
        AccountError::Invalid { field, message } => (Some(field.to_string()), message.clone()),
        AccountError::EmailTaken => (Some("email".into()), e.to_string()),
        AccountError::BadCredentials => (Some("password".into()), e.to_string()),
        AccountError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), form, "form failed");
            (
                None,
                "Something went wrong on our side; please try again in a moment.".into(),
            )
        }
        other => (None, other.to_string()),
    };
    let flash = Flash {
        form: form.into(),
        field,
        message,
        values: keep
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    see_other(to).cookie(flash.to_cookie(ctx)).finish()
}

pub async fn sign_up(ctx: web::Data<AppContext>, req: HttpRequest, form: Fields) -> HttpResponse {
    if !same_origin(&ctx, &req) {
        return forbidden();
    }
    let (tenant_name, email) = (field(&form, "tenant_name"), field(&form, "email"));
    match accounts::sign_up(
        &ctx.pool,
        &ctx.jwt,
        &tenant_name,
        &email,
        &field(&form, "password"),
        &session::client_of(&req),
    )
    .await
    {
        Ok((_, _, tokens)) => {
            let mut res = see_other("/dashboard");
            for c in session::session_cookies(&ctx, &tokens) {
                res.cookie(c);
            }
            res.finish()
        }
        Err(e) => back(
            &ctx,
            "/sign-up",
            "sign-up",
            e,
            &[("tenant_name", tenant_name), ("email", email)],
        ),
    }
}

pub async fn sign_in(ctx: web::Data<AppContext>, req: HttpRequest, form: Fields) -> HttpResponse {
    if !same_origin(&ctx, &req) {
        return forbidden();
    }
    let email = field(&form, "email");
    let client = session::client_of(&req);
    match accounts::sign_in(
        &ctx.pool,
        &ctx.jwt,
        &email,
        &field(&form, "password"),
        &client,
    )
    .await
    {
        Ok((user, tokens)) => {
            // Staff have no tenant dashboard: their console is the tenant list.
            let mut res = see_other(if user.tenant_id.is_none() {
                "/admin/tenants"
            } else {
                "/dashboard"
            });
            for c in session::session_cookies(&ctx, &tokens) {
                res.cookie(c);
            }
            res.finish()
        }
        Err(e) => back(&ctx, "/sign-in", "sign-in", e, &[("email", email)]),
    }
}

pub async fn sign_out(ctx: web::Data<AppContext>, req: HttpRequest) -> HttpResponse {
    if !same_origin(&ctx, &req) {
        return forbidden();
    }
    if let Some((identity, _)) = session::current(&ctx, session::SessionCookies::of(&req)).await
        && let Err(e) = accounts::sign_out(&ctx.pool, &identity, &session::client_of(&req)).await
    {
        tracing::error!(error = %e, "signing out failed");
    }
    let mut res = see_other("/sign-in");
    for c in session::cleared_cookies(&ctx) {
        res.cookie(c);
    }
    res.finish()
}

/// Sends a test message from the browser (`openclaw_core::test_send`): with a live provider
/// priced for the destination it goes out like any API send; otherwise it goes to the sandbox
/// in test mode (never billed), and a tenant without a sandbox provider gets one.
pub async fn send_test(ctx: web::Data<AppContext>, req: HttpRequest, form: Fields) -> HttpResponse {
    use openclaw_core::test_send::{self, TestSendError};

    if !same_origin(&ctx, &req) {
        return forbidden();
    }
    let Some((identity, _)) = session::current(&ctx, session::SessionCookies::of(&req)).await
    else {
        return see_other("/sign-in").finish();
    };
    let (to, body) = (field(&form, "to"), field(&form, "body"));
    let fail = |field: Option<&str>, message: String| {
        let flash = Flash {
            form: "send-test".into(),
            field: field.map(str::to_owned),
            message,
            values: vec![("to".into(), to.clone()), ("body".into(), body.clone())],
        };
        see_other("/messages/new")
            .cookie(flash.to_cookie(&ctx))
            .finish()
    };
    // Staff have no tenant to send for.
    let Some(tenant) = identity.tenant_id else {
        return fail(None, TestSendError::Forbidden.to_string());
    };
    let manager = openclaw_core::members::Manager {
        tenant,
        user_id: identity.user_id,
        role: identity.role,
        actor: session::client_of(&req).person(identity.user_id, false),
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
            see_other(&format!(
                "/messages/{}",
                openclaw_core::domain::MessageId::from(sent.message_id)
            ))
            .finish()
        }
        Err(TestSendError::Rejected(e)) => fail(Some(e.field), e.message),
        Err(TestSendError::Internal(e)) => {
            tracing::error!(error = format!("{e:#}"), "sending a test message failed");
            fail(
                None,
                "Something went wrong on our side; please try again in a moment.".into(),
            )
        }
        Err(e @ TestSendError::Forbidden) => fail(None, e.to_string()),
    }
}

/// A signed-in member acting for their tenant, as the audit log names them.
pub(crate) struct Member {
    pub tenant: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub role: openclaw_core::domain::Role,
    pub actor: audit::Actor,
}

/// For a form post: checks it came from our own pages, then returns the signed-in member of a
/// tenant whose role allows `action`, or the answer to send the browser.
async fn member(
    ctx: &AppContext,
    req: &HttpRequest,
    action: openclaw_core::permissions::Action,
) -> Result<Member, HttpResponse> {
    if !same_origin(ctx, req) {
        return Err(forbidden());
    }
    let Some((identity, _)) = session::current(ctx, session::SessionCookies::of(req)).await else {
        return Err(see_other("/sign-in").finish());
    };
    match identity.tenant_id {
        Some(tenant) if openclaw_core::permissions::allowed(identity.role, action) => Ok(Member {
            tenant,
            user_id: identity.user_id,
            role: identity.role,
            actor: session::client_of(req).person(identity.user_id, false),
        }),
        _ => Err(HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body("<!DOCTYPE html><title>Not allowed</title><p>Your role does not allow this. <a href=\"/dashboard\">Back</a>.</p>")),
    }
}

fn keys_flash(
    ctx: &AppContext,
    field: Option<&str>,
    message: String,
    values: Vec<(String, String)>,
) -> HttpResponse {
    flash_to(ctx, "/api-keys", "api-keys", field, message, values)
}

/// Back to the API keys page with the service's answer to a mistake (the same sentence the
/// API gives), keeping what was typed.
fn key_failed(
    ctx: &AppContext,
    e: openclaw_core::api_keys::KeyError,
    values: Vec<(String, String)>,
) -> HttpResponse {
    use openclaw_core::api_keys::KeyError;
    match e {
        KeyError::Invalid { field, message } => keys_flash(ctx, Some(field), message, values),
        KeyError::Internal(cause) => internal(ctx, "/api-keys", "api-keys", cause),
        other => keys_flash(ctx, None, other.to_string(), Vec::new()),
    }
}

pub async fn create_key(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageApiKeys,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let (name, mode) = (field(&form, "name"), field(&form, "mode"));
    let new = openclaw_core::api_keys::NewKey {
        name: name.clone(),
        // The page's select always sends one; a post without it gets the default, as the
        // API does.
        mode: Some(mode.clone()).filter(|m| !m.is_empty()),
        scopes: None,
        expires_at: None,
    };
    match openclaw_core::api_keys::create(&ctx.pool, &manager(&m), new).await {
        Ok(minted) => {
            ctx.changed(Change::ApiKeys).await;
            keys_flash(&ctx, Some("created"), minted.secret, Vec::new())
        }
        Err(e) => key_failed(&ctx, e, vec![("name".into(), name), ("mode".into(), mode)]),
    }
}

/// Revokes (`rotate == false`) or rotates a key, from the API keys page. A rotation from here
/// has no grace period: the old key is refused at once.
async fn change_key(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: String,
    rotate: bool,
) -> HttpResponse {
    use openclaw_core::api_keys::{self as service, KeyError};
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageApiKeys,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let Ok(id) = openclaw_core::domain::ApiKeyId::parse(&id) else {
        return key_failed(&ctx, KeyError::NotFound, Vec::new());
    };
    let manager = manager(&m);
    let outcome = if rotate {
        service::rotate(&ctx.pool, &manager, id.uuid(), None)
            .await
            .map(|minted| Some(minted.secret))
    } else {
        service::revoke(&ctx.pool, &manager, id.uuid())
            .await
            .map(|_| None)
    };
    match outcome {
        Ok(new_secret) => {
            ctx.changed(Change::ApiKeys).await;
            match new_secret {
                Some(secret) => keys_flash(&ctx, Some("created"), secret, Vec::new()),
                None => keys_flash(&ctx, None, String::new(), Vec::new()),
            }
        }
        Err(e) => key_failed(&ctx, e, Vec::new()),
    }
}

pub async fn revoke_key(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    change_key(ctx, req, id.into_inner(), false).await
}

pub async fn rotate_key(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    change_key(ctx, req, id.into_inner(), true).await
}

fn flash_to(
    ctx: &AppContext,
    to: &str,
    form: &str,
    field: Option<&str>,
    message: String,
    values: Vec<(String, String)>,
) -> HttpResponse {
    let flash = Flash {
        form: form.into(),
        field: field.map(str::to_owned),
        message,
        values,
    };
    see_other(to).cookie(flash.to_cookie(ctx)).finish()
}

fn split_senders(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The credentials object built from a kind's form fields, or every kind's (empty ones left
/// out).
fn credentials_json(
    form: &[(String, String)],
    kind: Option<openclaw_core::providers::ProviderKind>,
) -> serde_json::Value {
    let kinds = match kind {
        Some(kind) => vec![kind],
        None => openclaw_core::providers::ProviderKind::ALL.to_vec(),
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

fn internal(ctx: &AppContext, to: &str, form: &str, e: anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{e:#}"), form, "form failed");
    flash_to(
        ctx,
        to,
        form,
        None,
        "Something went wrong on our side; please try again.".into(),
        Vec::new(),
    )
}

/// Back to a provider form with the service's error: the field it names mapped onto the
/// form's inputs (`credentials.auth_token` is the `auth_token` input, `sender_ids[2]` the one
/// `sender_ids` input), with the same sentence the API gives.
fn provider_failed(
    ctx: &AppContext,
    to: &str,
    form: &str,
    e: openclaw_core::providers::service::ProviderError,
    keep: Vec<(String, String)>,
) -> HttpResponse {
    use openclaw_core::providers::service::ProviderError;
    match e {
        ProviderError::Invalid { field, message } => {
            let field = field.strip_prefix("credentials.").unwrap_or(&field);
            let field = field.split('[').next().unwrap_or(field);
            flash_to(ctx, to, form, Some(field), message, keep)
        }
        // The price form has one input for the whole list.
        ProviderError::Prices(e) => flash_to(ctx, to, form, Some("csv"), e.message, keep),
        ProviderError::NotFound => see_other("/providers").finish(),
        ProviderError::Forbidden(_) => HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body("<!DOCTYPE html><title>Not allowed</title><p>Your role does not allow this. <a href=\"/dashboard\">Back</a>.</p>"),
        ProviderError::Internal(cause) => internal(ctx, to, form, cause),
    }
}

/// `max_rate_per_sec` and `max_concurrency` as typed (empty: none).
fn limits(
    form: &[(String, String)],
) -> Result<(Option<i32>, Option<i32>), openclaw_core::providers::service::ProviderError> {
    use openclaw_core::providers::service::number_from_text;
    Ok((
        number_from_text("max_rate_per_sec", &field(form, "max_rate_per_sec"))?,
        number_from_text("max_concurrency", &field(form, "max_concurrency"))?,
    ))
}

pub async fn create_provider(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::providers::ProviderKind;
    use openclaw_core::providers::service::{self as service, ProviderInput};
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageProviders,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let typed_kind = field(&form, "kind");
    let kind = ProviderKind::parse(typed_kind.trim());
    let back_to = match kind {
        Some(kind) => format!("/providers/new?kind={}", kind.as_str()),
        None => "/providers/new".to_owned(),
    };
    let keep: Vec<(String, String)> = [
        "name",
        "base_url",
        "sender_ids",
        "max_rate_per_sec",
        "max_concurrency",
        "account_sid",
        "api_key",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), field(&form, name)))
    .collect();
    let fail = |e| provider_failed(&ctx, &back_to, "provider-new", e, keep.clone());
    let (max_rate_per_sec, max_concurrency) = match limits(&form) {
        Ok(limits) => limits,
        Err(e) => return fail(e),
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
        max_rate_per_sec,
        max_concurrency,
        enabled: true,
    };
    match service::create(&ctx.pool, &ctx.settings.master_key, &manager(&m), input).await {
        Ok(row) => {
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            let id = openclaw_core::domain::ProviderId::from(row.id);
            flash_to(
                &ctx,
                &format!("/providers/{id}"),
                "provider",
                Some("saved"),
                "Added. Give it prices below: it carries no messages until it has some.".into(),
                Vec::new(),
            )
        }
        Err(e) => fail(e),
    }
}

fn provider_id(raw: &str) -> Option<uuid::Uuid> {
    openclaw_core::domain::ProviderId::parse(raw)
        .ok()
        .map(|p| p.uuid())
}

/// The provider's settings form: every field is posted as shown, so the service's comparison
/// with the stored provider decides what changed. Empty credential fields keep the stored
/// credentials; an empty base URL is the provider's public API, an empty rate no limit and an
/// empty concurrency the default.
pub async fn update_provider(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::providers::service::{
        self as service, DEFAULT_MAX_CONCURRENCY, ProviderPatch,
    };
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageProviders,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let back_to = format!("/providers/{}", id.as_str());
    let Some(id) = provider_id(&id) else {
        return see_other("/providers").finish();
    };
    let fail = |e| provider_failed(&ctx, &back_to, "provider", e, Vec::new());
    let (max_rate_per_sec, max_concurrency) = match limits(&form) {
        Ok(limits) => limits,
        Err(e) => return fail(e),
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
        max_rate_per_sec: Some(max_rate_per_sec),
        max_concurrency: Some(max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY)),
        enabled: Some(field(&form, "enabled") == "on"),
    };
    match service::update(&ctx.pool, &ctx.settings.master_key, &manager(&m), id, patch).await {
        Ok(_) => {
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            flash_to(
                &ctx,
                &back_to,
                "provider",
                Some("saved"),
                "Saved.".into(),
                Vec::new(),
            )
        }
        Err(e) => fail(e),
    }
}

/// The price form's fields: an uploaded CSV file, or CSV pasted into the text box.
async fn read_price_form(mut form: actix_multipart::Multipart) -> Result<String, String> {
    use futures::StreamExt;
    const LIMIT: usize = 2 * 1024 * 1024;
    let (mut file, mut pasted) = (Vec::new(), Vec::new());
    while let Some(part) = form.next().await {
        let mut part = part.map_err(|e| format!("The upload could not be read: {e}."))?;
        let name = part
            .content_disposition()
            .and_then(|d| d.get_name())
            .unwrap_or_default()
            .to_owned();
        let target = match name.as_str() {
            "file" => &mut file,
            "csv" => &mut pasted,
            _ => continue,
        };
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|e| format!("The upload could not be read: {e}."))?;
            if target.len() + chunk.len() > LIMIT {
                return Err("The price list is over 2 MB.".into());
            }
            target.extend_from_slice(&chunk);
        }
    }
    let chosen = if file.iter().any(|b| !b.is_ascii_whitespace()) {
        file
    } else {
        pasted
    };
    String::from_utf8(chosen).map_err(|_| "The price list is not UTF-8 text.".into())
}

pub async fn upload_prices(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    use openclaw_core::providers::service::{self as service, PriceInput};
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageProviders,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let back_to = format!("/providers/{}", id.as_str());
    let Some(id) = provider_id(&id) else {
        return see_other("/providers").finish();
    };
    let csv = match read_price_form(form).await {
        Ok(csv) => csv,
        Err(m) => return flash_to(&ctx, &back_to, "provider", Some("csv"), m, Vec::new()),
    };
    let input = PriceInput::Csv(csv.as_bytes());
    match service::replace_prices(&ctx.pool, &manager(&m), id, input).await {
        Ok(prices) => {
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            flash_to(
                &ctx,
                &back_to,
                "provider",
                Some("saved"),
                format!("Saved {} prices.", prices.len()),
                Vec::new(),
            )
        }
        Err(e) => provider_failed(&ctx, &back_to, "provider", e, vec![("csv".into(), csv)]),
    }
}

pub async fn delete_provider(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    use openclaw_core::providers::service::{self as service, ProviderError};
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageProviders,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let Some(id) = provider_id(&id) else {
        return see_other("/providers").finish();
    };
    match service::delete(&ctx.pool, &manager(&m), id).await {
        // Gone already (another tab, another person): the list shows what is left.
        Ok(()) | Err(ProviderError::NotFound) => {
            ctx.changed(Change::Routes { tenant: m.tenant }).await;
            see_other("/providers").finish()
        }
        Err(e) => provider_failed(&ctx, "/providers", "provider", e, Vec::new()),
    }
}

pub async fn save_settings(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::settings::{self, SettingsChange, SettingsError};
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageSettings,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let (name, senders) = (field(&form, "name"), field(&form, "default_sender_ids"));
    let change = SettingsChange {
        name: Some(name.clone()),
        default_sender_ids: Some(split_senders(&senders)),
    };
    let result = settings::update(&ctx.pool, &manager(&m), change).await;
    if result.is_ok() {
        // The default sender is part of the tenant's route table.
        ctx.changed(Change::Routes { tenant: m.tenant }).await;
    }
    match result {
        Ok(_) => flash_to(
            &ctx,
            "/settings",
            "settings",
            Some("saved"),
            "Saved.".into(),
            Vec::new(),
        ),
        Err(SettingsError::Internal(cause)) => internal(&ctx, "/settings", "settings", cause),
        Err(e) => {
            let field = match &e {
                SettingsError::Invalid { field, .. } => Some(*field),
                _ => None,
            };
            // Keep what was typed.
            let keep = vec![
                ("name".to_owned(), name),
                ("default_sender_ids".to_owned(), senders),
            ];
            flash_to(&ctx, "/settings", "settings", field, e.to_string(), keep)
        }
    }
}

fn members_flash(ctx: &AppContext, field: Option<&str>, message: String) -> HttpResponse {
    flash_to(ctx, "/members", "members", field, message, Vec::new())
}

fn member_failed(
    ctx: &AppContext,
    e: openclaw_core::members::MemberError,
    values: Vec<(String, String)>,
) -> HttpResponse {
    use openclaw_core::members::MemberError;
    let (field, message) = match e {
        MemberError::Invalid { field, message } => (Some(field), message),
        MemberError::EmailTaken => (Some("email"), e.to_string()),
        MemberError::Internal(cause) => return internal(ctx, "/members", "members", cause),
        other => (None, other.to_string()),
    };
    flash_to(ctx, "/members", "members", field, message, values)
}

fn manager(m: &Member) -> openclaw_core::members::Manager {
    openclaw_core::members::Manager {
        tenant: m.tenant,
        user_id: m.user_id,
        role: m.role,
        actor: m.actor.clone(),
    }
}

/// Invites someone; the page then shows the invitation link, this once.
pub async fn invite_member(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageMembers,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let email = field(&form, "email");
    let mail = openclaw_core::members::Mail::of(&ctx.mailer, &ctx.settings.public_url);
    match openclaw_core::members::invite(
        &ctx.pool,
        &manager(&m),
        &email,
        &field(&form, "role"),
        mail,
    )
    .await
    {
        Ok(inv) => flash_to(
            &ctx,
            "/members",
            "members",
            Some("invited"),
            format!("{}/accept-invite?token={}", ctx.origin, inv.token),
            vec![(
                "mailed".into(),
                if ctx.mailer.is_some() { "yes" } else { "" }.into(),
            )],
        ),
        // Keep the address typed so it need not be typed again.
        Err(e) => member_failed(&ctx, e, vec![("email".into(), email)]),
    }
}

pub async fn change_member_role(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
    form: Fields,
) -> HttpResponse {
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageMembers,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let Ok(id) = openclaw_core::domain::UserId::parse(&id) else {
        return members_flash(&ctx, None, "No such member.".into());
    };
    match openclaw_core::members::change_role(
        &ctx.pool,
        &manager(&m),
        id.uuid(),
        &field(&form, "role"),
    )
    .await
    {
        Ok(changed) if changed.id == m.user_id => see_other("/sign-in").finish(),
        Ok(changed) => members_flash(
            &ctx,
            Some("saved"),
            format!("{} is now {}.", changed.email, changed.role),
        ),
        Err(e) => member_failed(&ctx, e, Vec::new()),
    }
}

pub async fn remove_member(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let m = match member(
        &ctx,
        &req,
        openclaw_core::permissions::Action::ManageMembers,
    )
    .await
    {
        Ok(m) => m,
        Err(res) => return res,
    };
    let Ok(id) = openclaw_core::domain::UserId::parse(&id) else {
        return members_flash(&ctx, None, "No such member.".into());
    };
    match openclaw_core::members::remove(&ctx.pool, &manager(&m), id.uuid()).await {
        Ok(()) if id.uuid() == m.user_id => see_other("/sign-in").finish(),
        Ok(()) => members_flash(&ctx, Some("saved"), "Removed.".into()),
        Err(e) => member_failed(&ctx, e, Vec::new()),
    }
}

/// Accepts an invitation from the link: sets the password and signs the new member in.
pub async fn accept_invite(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::members::MemberError;
    if !same_origin(&ctx, &req) {
        return forbidden();
    }
    let token = field(&form, "token");
    let back_to = format!("/accept-invite?token={}", url_escape(&token));
    match openclaw_core::members::accept_invite(
        &ctx.pool,
        &ctx.jwt,
        &token,
        &field(&form, "password"),
        &session::client_of(&req),
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
        Err(MemberError::Invalid { field, message }) => flash_to(
            &ctx,
            &back_to,
            "accept-invite",
            Some(field),
            message,
            Vec::new(),
        ),
        Err(MemberError::Internal(cause)) => internal(&ctx, &back_to, "accept-invite", cause),
        Err(other) => flash_to(
            &ctx,
            &back_to,
            "accept-invite",
            None,
            other.to_string(),
            Vec::new(),
        ),
    }
}

/// Tokens are URL-safe already; anything else is dropped rather than trusted into a URL.
fn url_escape(token: &str) -> String {
    token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect()
}

/// Changes the signed-in person's password; every other session ends, this one continues.
pub async fn change_password(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    if !same_origin(&ctx, &req) {
        return forbidden();
    }
    let Some((identity, _)) = session::current(&ctx, session::SessionCookies::of(&req)).await
    else {
        return see_other("/sign-in").finish();
    };
    let fail = |field: Option<&str>, message: String| {
        flash_to(&ctx, "/settings", "password", field, message, Vec::new())
    };
    match accounts::change_password(
        &ctx.pool,
        &ctx.jwt,
        identity.user_id,
        &field(&form, "current_password"),
        &field(&form, "new_password"),
        &session::client_of(&req),
    )
    .await
    {
        Ok(tokens) => {
            let flash = Flash {
                form: "password".into(),
                field: Some("saved".into()),
                message: "Password changed. Every other session has been signed out.".into(),
                values: Vec::new(),
            };
            let mut res = see_other("/settings");
            for c in session::session_cookies(&ctx, &tokens) {
                res.cookie(c);
            }
            res.cookie(flash.to_cookie(&ctx)).finish()
        }
        Err(AccountError::Invalid { field, message }) => {
            // The new password's problems belong next to the new password field.
            let field = if field == "password" {
                "new_password"
            } else {
                field
            };
            fail(Some(field), message)
        }
        Err(AccountError::Internal(cause)) => internal(&ctx, "/settings", "password", cause),
        Err(other) => fail(None, other.to_string()),
    }
}
