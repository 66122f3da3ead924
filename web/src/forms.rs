//! The admin app's form posts. Each is a plain URL-encoded `<form method="post">`, so it works
//! without JavaScript: on success it redirects (303) to the next page, on failure back to the
//! form, with the message for the field at fault carried in a short-lived cookie.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use openclaw_core::accounts::{self, AccountError};
use openclaw_core::audit::{self, action};
use openclaw_core::changes::{self, Change};
use serde_json::json;

use crate::session::{self, AppContext, Flash, Scoped};

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

/// Sends a test message from the browser. With a live provider priced for the destination it
/// goes out like any API send; otherwise it goes to the sandbox in test mode (never billed),
/// and a tenant without a sandbox provider gets one.
pub async fn send_test(ctx: web::Data<AppContext>, req: HttpRequest, form: Fields) -> HttpResponse {
    use openclaw_core::accept::{self, Kind, Origin, SendRequest};
    use openclaw_core::db::messages::Inserted;
    use openclaw_core::permissions::{Action, allowed};

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
    let Some(tenant_id) = identity
        .tenant_id
        .filter(|_| allowed(identity.role, Action::SendMessages))
    else {
        return fail(
            None,
            "Your role cannot send messages; ask an owner or admin.".into(),
        );
    };
    let request = |test: bool| SendRequest {
        to: to.clone(),
        body: body.clone(),
        from: None,
        message_type: None,
        callback_url: None,
        client_ref: Some(
            if test {
                "admin-app test (sandbox)"
            } else {
                "admin-app test"
            }
            .into(),
        ),
        scheduled_at: None,
        validity_seconds: None,
        metadata: None,
    };
    let result = async {
        let mut conn = ctx.pool.get().await?;
        let table = openclaw_core::db::providers::routing_table(&mut conn, tenant_id).await?;
        let live: Vec<_> = table
            .iter()
            .filter(|p| !p.route.is_sandbox)
            .map(|p| p.route.clone())
            .collect();
        let origin = |test_mode| Origin {
            tenant_id,
            api_key_id: None,
            test_mode,
        };
        let row = match accept::prepare(request(false), origin(false), &live, accept::now()) {
            Ok(row) => row,
            Err(e) if e.kind == Kind::Unroutable => {
                let mut routes: Vec<_> = table.iter().map(|p| p.route.clone()).collect();
                if !routes.iter().any(|r| r.is_sandbox && r.enabled) {
                    routes.push(add_sandbox(&ctx, &mut conn, tenant_id).await?);
                }
                accept::prepare(request(true), origin(true), &routes, accept::now())
                    .map_err(|e| anyhow::Error::new(e).context("sandbox route"))?
            }
            Err(e) => return Ok(Err(e)),
        };
        let id = row.id;
        match ctx.ingest.submit(vec![row]).await?.pop() {
            Some(Inserted::Created) => Ok(Ok(id)),
            _ => Err(anyhow::anyhow!("the message was not created")),
        }
    }
    .await;
    match result {
        Ok(Ok(id)) => see_other(&format!(
            "/messages/{}",
            openclaw_core::domain::MessageId::from(id)
        ))
        .finish(),
        Ok(Err(e)) => fail(Some(e.field), e.message),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sending a test message failed");
            fail(
                None,
                "Something went wrong on our side; please try again in a moment.".into(),
            )
        }
    }
}

/// The built-in sandbox as a provider of the tenant, priced at zero everywhere.
async fn add_sandbox(
    ctx: &AppContext,
    conn: &mut diesel_async::AsyncPgConnection,
    tenant_id: uuid::Uuid,
) -> anyhow::Result<openclaw_core::routing::RouteProvider> {
    use openclaw_core::db::{providers, tenants};
    use openclaw_core::providers::Credentials;
    use openclaw_core::routing::{Price, RouteProvider};

    let currency = tenants::find(conn, tenant_id).await?.currency;
    let sealed = Credentials::Sandbox.seal(&ctx.settings.master_key);
    let row = providers::insert(
        conn,
        &providers::NewProvider {
            id: uuid::Uuid::now_v7(),
            tenant_id,
            name: "Sandbox".into(),
            kind: "sandbox".into(),
            credentials_enc: sealed.ciphertext,
            credentials_key_id: sealed.key_id,
            credentials_mask: sealed.mask,
            base_url: None,
            sender_ids: Vec::new(),
            max_rate_per_sec: None,
            max_concurrency: None,
            enabled: true,
        },
    )
    .await?;
    let prices = vec![Price {
        country: "*".into(),
        message_type: "*".into(),
        price_micros: 0,
        currency,
    }];
    providers::replace_prices(conn, tenant_id, row.id, &prices).await?;
    changes::announce(conn, Change::Routes { tenant: tenant_id }).await?;
    ctx.changed(Change::Routes { tenant: tenant_id }).await;
    tracing::info!(tenant_id = %tenant_id, provider_id = %row.id, "added the sandbox provider for a test message");
    Ok(RouteProvider {
        id: row.id,
        name: row.name,
        is_sandbox: true,
        enabled: true,
        prices,
    })
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

fn keys_flash(ctx: &AppContext, field: Option<&str>, message: String) -> HttpResponse {
    let flash = Flash {
        form: "api-keys".into(),
        field: field.map(str::to_owned),
        message,
        values: Vec::new(),
    };
    see_other("/api-keys").cookie(flash.to_cookie(ctx)).finish()
}

pub async fn create_key(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::db::api_keys;
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
    let tenant_id = m.tenant;
    let name = match api_keys::validate_name(&field(&form, "name")) {
        Ok(name) => name,
        Err(m) => return keys_flash(&ctx, Some("name"), m.into()),
    };
    let mode = if field(&form, "mode") == "test" {
        "test"
    } else {
        "live"
    };
    let scopes: Vec<String> = api_keys::DEFAULT_SCOPES
        .iter()
        .map(|s| s.to_string())
        .collect();
    let result = ctx
        .scoped(tenant_id, async |c| {
            let minted = api_keys::create(c, tenant_id, &name, mode, &scopes, None).await?;
            audit::record(
                c,
                &m.actor,
                Some(tenant_id),
                action::API_KEY_CREATED,
                Some(openclaw_core::domain::ApiKeyId::from(minted.key.id).to_string()),
                json!({"name": name, "prefix": minted.key.prefix, "mode": mode, "scopes": scopes}),
            )
            .await?;
            Ok(minted)
        })
        .await;
    match result {
        // Nothing cached can be out of date: no cache has seen the new key's secret (as the
        // API's own `POST /v1/api-keys`).
        Ok(minted) => keys_flash(&ctx, Some("created"), minted.secret),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "creating an API key failed");
            keys_flash(
                &ctx,
                None,
                "Something went wrong on our side; please try again.".into(),
            )
        }
    }
}

/// Revokes (`rotate == false`) or rotates a key, from the API keys page.
async fn change_key(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: String,
    rotate: bool,
) -> HttpResponse {
    use openclaw_core::db::api_keys;
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
    let tenant_id = m.tenant;
    let Ok(id) = openclaw_core::domain::ApiKeyId::parse(&id) else {
        return keys_flash(&ctx, None, "That key does not exist.".into());
    };
    let result = ctx
        .scoped(tenant_id, async |c| {
            let outcome = if rotate {
                api_keys::rotate(c, tenant_id, id.uuid(), chrono::Duration::zero())
                    .await?
                    .map(|minted| Some(minted.secret))
            } else {
                api_keys::revoke(c, tenant_id, id.uuid(), chrono::Utc::now())
                    .await?
                    .map(|_| None)
            };
            if outcome.is_some() {
                audit::record(
                    c,
                    &m.actor,
                    Some(tenant_id),
                    if rotate {
                        action::API_KEY_ROTATED
                    } else {
                        action::API_KEY_REVOKED
                    },
                    Some(id.to_string()),
                    json!({}),
                )
                .await?;
                changes::announce(c, Change::ApiKeys).await?;
            }
            Ok(outcome)
        })
        .await;
    match result {
        Ok(Some(new_secret)) => {
            ctx.changed(Change::ApiKeys).await;
            match new_secret {
                Some(secret) => keys_flash(&ctx, Some("created"), secret),
                None => keys_flash(&ctx, None, String::new()),
            }
        }
        Ok(None) => keys_flash(
            &ctx,
            None,
            "That key does not exist or was already revoked.".into(),
        ),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "changing an API key failed");
            keys_flash(
                &ctx,
                None,
                "Something went wrong on our side; please try again.".into(),
            )
        }
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

/// The credentials object built from a kind's form fields (empty ones left out).
fn credentials_json(
    form: &[(String, String)],
    kind: openclaw_core::providers::ProviderKind,
) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (name, _, _) in crate::pages::providers::credential_fields(kind) {
        let value = field(form, name);
        if !value.trim().is_empty() {
            map.insert((*name).to_owned(), serde_json::Value::String(value));
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

pub async fn create_provider(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::db::providers;
    use openclaw_core::providers::{self as p, Credentials, ProviderKind};
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
    let tenant_id = m.tenant;
    let kind = ProviderKind::parse(&field(&form, "kind")).unwrap_or(ProviderKind::Sandbox);
    let back_to = format!("/providers/new?kind={}", kind.as_str());
    let keep = vec![
        ("name".to_owned(), field(&form, "name")),
        ("base_url".to_owned(), field(&form, "base_url")),
        ("sender_ids".to_owned(), field(&form, "sender_ids")),
        ("account_sid".to_owned(), field(&form, "account_sid")),
        ("api_key".to_owned(), field(&form, "api_key")),
    ];
    let fail =
        |f: &str, m: String| flash_to(&ctx, &back_to, "provider-new", Some(f), m, keep.clone());
    let name = match p::validate_name(&field(&form, "name")) {
        Ok(n) => n,
        Err(m) => return fail("name", m),
    };
    let creds = match Credentials::from_json(kind, &credentials_json(&form, kind)) {
        Ok(c) => c,
        Err(e) => return fail(e.field.trim_start_matches("credentials."), e.message),
    };
    let base_url = match field(&form, "base_url").trim() {
        "" => None,
        url => match p::validate_base_url(url) {
            Ok(u) => Some(u),
            Err(m) => return fail("base_url", m),
        },
    };
    let sender_ids = match p::validate_senders(&split_senders(&field(&form, "sender_ids"))) {
        Ok(s) => s,
        Err((_, m)) => return fail("sender_ids", m),
    };
    let sealed = creds.seal(&ctx.settings.master_key);
    let new = providers::NewProvider {
        id: uuid::Uuid::now_v7(),
        tenant_id,
        name,
        kind: kind.as_str().to_owned(),
        credentials_enc: sealed.ciphertext,
        credentials_key_id: sealed.key_id,
        credentials_mask: sealed.mask,
        base_url,
        sender_ids,
        max_rate_per_sec: None,
        max_concurrency: None,
        enabled: true,
    };
    let result = ctx
        .scoped(tenant_id, async |c| {
            let row = providers::insert(c, &new).await?;
            audit::record(
                c,
                &m.actor,
                Some(tenant_id),
                action::PROVIDER_CREATED,
                Some(openclaw_core::domain::ProviderId::from(row.id).to_string()),
                json!({"name": row.name, "kind": row.kind, "enabled": row.enabled}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(row)
        })
        .await;
    match result {
        Ok(row) => {
            ctx.changed(Change::Routes { tenant: tenant_id }).await;
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
        Err(e) => internal(&ctx, &back_to, "provider-new", e),
    }
}

fn provider_id(raw: &str) -> Option<uuid::Uuid> {
    openclaw_core::domain::ProviderId::parse(raw)
        .ok()
        .map(|p| p.uuid())
}

pub async fn update_provider(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::db::providers;
    use openclaw_core::providers::{self as p, Credentials, ProviderKind};
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
    let tenant_id = m.tenant;
    let back_to = format!("/providers/{}", id.as_str());
    let Some(id) = provider_id(&id) else {
        return see_other("/providers").finish();
    };
    let fail = |f: &str, m: String| flash_to(&ctx, &back_to, "provider", Some(f), m, Vec::new());
    let result = ctx
        .scoped(tenant_id, async |c| {
            let Some(current) = providers::find(c, tenant_id, id).await? else {
                return Ok(None);
            };
            let kind = ProviderKind::parse(&current.kind).unwrap_or(ProviderKind::Sandbox);
            let mut changes = providers::ProviderChanges {
                enabled: Some(field(&form, "enabled") == "on"),
                ..Default::default()
            };
            match p::validate_name(&field(&form, "name")) {
                Ok(n) => changes.name = Some(n),
                Err(m) => return Ok(Some(Err(("name", m)))),
            }
            if kind != ProviderKind::Sandbox {
                changes.base_url = Some(match field(&form, "base_url").trim() {
                    "" => None,
                    url => match p::validate_base_url(url) {
                        Ok(u) => Some(u),
                        Err(m) => return Ok(Some(Err(("base_url", m)))),
                    },
                });
            }
            match p::validate_senders(&split_senders(&field(&form, "sender_ids"))) {
                Ok(s) => changes.sender_ids = Some(s),
                Err((_, m)) => return Ok(Some(Err(("sender_ids", m)))),
            }
            let typed = credentials_json(&form, kind);
            if typed.as_object().is_some_and(|o| !o.is_empty()) {
                match Credentials::from_json(kind, &typed) {
                    Ok(creds) => {
                        let sealed = creds.seal(&ctx.settings.master_key);
                        changes.credentials_enc = Some(sealed.ciphertext);
                        changes.credentials_key_id = Some(sealed.key_id);
                        changes.credentials_mask = Some(sealed.mask);
                    }
                    Err(e) => {
                        let f = crate::pages::providers::credential_fields(kind)
                            .iter()
                            .map(|(n, _, _)| *n)
                            .find(|n| e.field.ends_with(n))
                            .unwrap_or("name");
                        return Ok(Some(Err((f, e.message))));
                    }
                }
            }
            let credentials = changes.credentials_enc.is_some();
            let enabled = changes.enabled;
            providers::update(c, tenant_id, id, changes).await?;
            audit::record(
                c,
                &m.actor,
                Some(tenant_id),
                action::PROVIDER_UPDATED,
                Some(openclaw_core::domain::ProviderId::from(id).to_string()),
                json!({"changed": if credentials {
                vec!["name", "base_url", "sender_ids", "enabled", "credentials"]
            } else {
                vec!["name", "base_url", "sender_ids", "enabled"]
            }, "enabled": enabled}),
            )
            .await?;
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(Some(Ok(())))
        })
        .await;
    match result {
        Ok(Some(Ok(()))) => {
            ctx.changed(Change::Routes { tenant: tenant_id }).await;
            flash_to(
                &ctx,
                &back_to,
                "provider",
                Some("saved"),
                "Saved.".into(),
                Vec::new(),
            )
        }
        Ok(Some(Err((f, m)))) => fail(f, m),
        Ok(None) => see_other("/providers").finish(),
        Err(e) => internal(&ctx, &back_to, "provider", e),
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
    use openclaw_core::db::{providers, tenants};
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
    let tenant_id = m.tenant;
    let back_to = format!("/providers/{}", id.as_str());
    let Some(id) = provider_id(&id) else {
        return see_other("/providers").finish();
    };
    let csv = match read_price_form(form).await {
        Ok(csv) => csv,
        Err(m) => return flash_to(&ctx, &back_to, "provider", Some("csv"), m, Vec::new()),
    };
    let result = ctx
        .scoped(tenant_id, async |c| {
            if providers::find(c, tenant_id, id).await?.is_none() {
                return Ok(None);
            }
            let currency = tenants::find(c, tenant_id).await?.currency;
            match openclaw_core::prices::from_csv(csv.trim().as_bytes(), &currency) {
                Ok(prices) => {
                    providers::replace_prices(c, tenant_id, id, &prices).await?;
                    audit::record(
                        c,
                        &m.actor,
                        Some(tenant_id),
                        action::PRICES_CHANGED,
                        Some(openclaw_core::domain::ProviderId::from(id).to_string()),
                        json!({"entries": prices.len()}),
                    )
                    .await?;
                    changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
                    Ok(Some(Ok(prices.len())))
                }
                Err(e) => Ok(Some(Err(e.message))),
            }
        })
        .await;
    match result {
        Ok(Some(Ok(n))) => {
            ctx.changed(Change::Routes { tenant: tenant_id }).await;
            flash_to(
                &ctx,
                &back_to,
                "provider",
                Some("saved"),
                format!("Saved {n} prices."),
                Vec::new(),
            )
        }
        Ok(Some(Err(m))) => flash_to(
            &ctx,
            &back_to,
            "provider",
            Some("csv"),
            m,
            vec![("csv".into(), csv)],
        ),
        Ok(None) => see_other("/providers").finish(),
        Err(e) => internal(&ctx, &back_to, "provider", e),
    }
}

pub async fn delete_provider(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    use openclaw_core::db::providers;
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
    let tenant_id = m.tenant;
    let Some(id) = provider_id(&id) else {
        return see_other("/providers").finish();
    };
    let result = ctx
        .scoped(tenant_id, async |c| {
            let deleted = providers::delete(c, tenant_id, id).await?;
            if deleted {
                audit::record(
                    c,
                    &m.actor,
                    Some(tenant_id),
                    action::PROVIDER_DELETED,
                    Some(openclaw_core::domain::ProviderId::from(id).to_string()),
                    json!({}),
                )
                .await?;
                changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            }
            Ok(deleted)
        })
        .await;
    match result {
        Ok(_) => {
            ctx.changed(Change::Routes { tenant: tenant_id }).await;
            see_other("/providers").finish()
        }
        Err(e) => internal(&ctx, "/providers", "provider", e),
    }
}

pub async fn save_settings(
    ctx: web::Data<AppContext>,
    req: HttpRequest,
    form: Fields,
) -> HttpResponse {
    use openclaw_core::db::tenants;
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
    let tenant_id = m.tenant;
    let keep = vec![
        ("name".to_owned(), field(&form, "name")),
        (
            "default_sender_ids".to_owned(),
            field(&form, "default_sender_ids"),
        ),
    ];
    let fail =
        |f: &str, m: String| flash_to(&ctx, "/settings", "settings", Some(f), m, keep.clone());
    let name = match openclaw_core::accounts::validate_tenant_name(&field(&form, "name")) {
        Ok(n) => n,
        Err(e) => return fail("name", e.to_string()),
    };
    let senders = match openclaw_core::providers::validate_senders(&split_senders(&field(
        &form,
        "default_sender_ids",
    ))) {
        Ok(s) => s,
        Err((_, m)) => return fail("default_sender_ids", m),
    };
    let result = ctx
        .scoped(tenant_id, async |c| {
            let tenant = tenants::update_settings(c, tenant_id, &name, &senders).await?;
            audit::record(
                c,
                &m.actor,
                Some(tenant_id),
                action::SETTINGS_CHANGED,
                None,
                json!({"name": name, "default_sender_ids": senders}),
            )
            .await?;
            // The default sender is part of the route table.
            changes::announce(c, Change::Routes { tenant: tenant_id }).await?;
            Ok(tenant)
        })
        .await;
    match result {
        Ok(_) => {
            ctx.changed(Change::Routes { tenant: tenant_id }).await;
            flash_to(
                &ctx,
                "/settings",
                "settings",
                Some("saved"),
                "Saved.".into(),
                Vec::new(),
            )
        }
        Err(e) => internal(&ctx, "/settings", "settings", e),
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
