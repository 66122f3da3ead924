//! Every route, declared in one place; `/openapi.json` is collected from these same
//! registrations (utoipa-actix-web), so the document cannot drift from the code.

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod budget;
pub mod exchange_rates;
pub mod health;
pub mod hooks;
pub mod members;
pub mod messages;
pub mod opt_outs;
pub mod platform_providers;
pub mod providers;
pub mod schemas;
pub mod settings;
pub mod spend;
pub mod webhooks;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Largest accepted request body (a batch of 1,000 long messages fits).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn config(cfg: &mut ServiceConfig) {
    health::config(cfg);
    accounts::config(cfg);
    members::config(cfg);
    audit::config(cfg);
    admin::config(cfg);
    api_keys::config(cfg);
    settings::config(cfg);
    providers::config(cfg);
    platform_providers::config(cfg);
    messages::config(cfg);
    spend::config(cfg);
    budget::config(cfg);
    billing::config(cfg);
    exchange_rates::config(cfg);
    hooks::config(cfg);
    webhooks::config(cfg);
    opt_outs::config(cfg);
}

/// A JSON body parsed into `T`, with errors in our shape: `invalid_json` for syntax and for an
/// array where the object belongs, `invalid_field` naming the field for a wrong or missing
/// value, 413 over the limit, and `invalid_field` for a NUL character anywhere (no column can
/// store one) unless `REFUSE_NUL` is false: then the handler answers it itself (the batch, per
/// entry; API keys and settings, whose services refuse it in a name as any control character,
/// on either door).
pub struct JsonBody<T, const REFUSE_NUL: bool = true> {
    pub value: T,
    /// The body as received (for the idempotency fingerprint).
    pub bytes: web::Bytes,
}

pub async fn read_body<S>(payload: &mut S, limit: usize) -> Result<web::Bytes, ApiError>
where
    S: futures::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "The request body could not be read.")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The request body is over the limit of {limit} bytes."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub fn parse_json<T: DeserializeOwned>(bytes: &web::Bytes) -> Result<JsonBody<T>, ApiError> {
    parse_json_refusing_nul(bytes, true)
}

/// [`parse_json`]; with `refuse_nul` false a NUL character is left to the handler (a batch
/// answers it for the one entry that holds it).
fn parse_json_refusing_nul<T: DeserializeOwned, const N: bool>(
    bytes: &web::Bytes,
    refuse_nul: bool,
) -> Result<JsonBody<T, N>, ApiError> {
    let invalid_json = |e: serde_json::Error| {
        ApiError::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {e}."),
        )
    };
    let refused = |e: serde_path_to_error::Error<serde_json::Error>| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return invalid_json(inner);
        }
        let inner = inner.to_string();
        // "missing field `to`" names the field; the path then points at its parent.
        let field = match inner.split('`').nth(1) {
            Some(name) if inner.starts_with("missing field") => {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            }
            _ => path,
        };
        ApiError::invalid(&field, format!("`{field}`: {inner}."))
    };
    // Every request body of this API is a JSON object, as the document says; serde alone
    // would also fill a struct from an array of its fields in order (`[null, null]`).
    if bytes.trim_ascii_start().first() == Some(&b'[') {
        return Err(ApiError::bad_request(
            "invalid_json",
            "The request body must be a JSON object.",
        ));
    }
    if let Some(field) = nul_in_json(bytes).filter(|_| refuse_nul) {
        return Err(ApiError::invalid(
            &field,
            format!("`{field}` contains a NUL character (\\u0000), which cannot be stored."),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => {
            de.end().map_err(invalid_json)?;
            value
        }
        // JSON Schema, and so this API's document, counts `60.0` as an integer; serde does
        // not. A body refused for a value gets a second try with such numbers made integers
        // (only refused bodies pay for it).
        Err(e) if e.inner().is_data() => {
            let mut doc: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid_json)?;
            if !integral_floats_to_integers(&mut doc) {
                return Err(refused(e));
            }
            serde_path_to_error::deserialize(doc).map_err(refused)?
        }
        Err(e) => return Err(refused(e)),
    };
    Ok(JsonBody {
        value,
        bytes: bytes.clone(),
    })
}

/// Turns every number with no fractional part written as a float (`60.0`, `1e3`) into an
/// integer; whether any was.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    let mut changed = false;
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0)
                && f.abs() < 9.0e15
            {
                *value = serde_json::Value::from(f as i64);
                changed = true;
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                changed |= integral_floats_to_integers(item);
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values_mut() {
                changed |= integral_floats_to_integers(item);
            }
        }
        _ => {}
    }
    changed
}

/// The path (`messages[3].body`, `metadata.note`) of the first string or object key holding
/// a NUL character, which no text or jsonb column can store. In valid JSON a NUL can only be
/// written as the escape `\u0000`, so bodies without those six bytes (nearly all) cost one
/// vectorised scan; only the others are parsed a second time to find where it is.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    memchr::memmem::find(bytes, br"\u0000")?;
    // Not valid JSON: the typed parse that follows says why.
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    openclaw_core::domain::text::unstorable_in_json(&value)
}

/// Middleware: a query parameter (name or value) holding a NUL character is refused with 400
/// `invalid_field` naming it, before any handler or page sees it. A NUL can only arrive
/// percent-encoded (`%00`), so a query string without that costs one substring search.
pub async fn refuse_nul_in_query<B: actix_web::body::MessageBody + 'static>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    use actix_web::ResponseError;
    if req.query_string().contains("%00") {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        if let Some((name, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            let name = name.replace('\0', "\\u0000");
            let err = ApiError::invalid(
                &name,
                format!("The query parameter `{name}` contains a NUL character (%00)."),
            );
            let res = err.error_response();
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(actix_web::dev::ServiceResponse::map_into_left_body)
}

pub use openclaw_core::domain::SANE_YEARS;

/// `value` when its year is within [`SANE_YEARS`], else 400 `invalid_field` naming `field`.
pub fn sane_date<D: chrono::Datelike>(field: &str, value: D) -> Result<D, ApiError> {
    if SANE_YEARS.contains(&value.year()) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "`{field}` must be a date between the years {} and {}.",
                SANE_YEARS.start(),
                SANE_YEARS.end()
            ),
        ))
    }
}

impl<T: DeserializeOwned + 'static, const REFUSE_NUL: bool> FromRequest
    for JsonBody<T, REFUSE_NUL>
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as application/json.",
                ));
            }
            let bytes = read_body(&mut payload, MAX_BODY_BYTES).await?;
            parse_json_refusing_nul(&bytes, REFUSE_NUL)
        })
    }
}

/// `limit` (1–200, default 50) and `cursor` of a list request.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(
                "limit",
                "`limit` must be between 1 and 200.",
            )),
        }
    }

    /// Cursors are opaque: base64url of the last id of the previous page.
    pub fn cursor_uuid(&self) -> Result<Option<uuid::Uuid>, ApiError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| uuid::Uuid::from_slice(&b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid("cursor", "`cursor` is not a cursor this API issued."))
    }
}

pub fn cursor_for(id: uuid::Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// `{"data": [...], "next_cursor": "..." | null}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// One page of rows fetched with one row more than `limit` (which tells whether more
    /// follow); the cursor names the last row kept, by `id`; `view` makes each row's answer.
    pub fn of<R>(
        mut rows: Vec<R>,
        limit: i64,
        id: impl Fn(&R) -> uuid::Uuid,
        view: impl FnMut(R) -> T,
    ) -> Page<T> {
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = if more {
            rows.last().map(|r| cursor_for(id(r)))
        } else {
            None
        };
        Page {
            data: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

/// The request asks for CSV (`Accept: text/csv`).
pub fn wants_csv(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

/// Query strings that fail to parse get our error shape too.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request(
            "invalid_query",
            format!("The query string is not valid: {err}."),
        )
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _| {
        ApiError::bad_request("invalid_path", format!("The path is not valid: {err}.")).into()
    })
}
