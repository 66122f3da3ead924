//! Accepting a message: validation, E.164, segments and pricing, the same for the API and the
//! admin app. What passes becomes a [`NewMessage`] for the group commit ([`crate::ingest`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::billing::terms::Terms;
use crate::db::messages::NewMessage;
use crate::domain::{KeyMode, PhoneNumber, SegmentInfo, Status, text};
use crate::routing::{self, RouteProvider};

/// Longest body accepted, in characters (ten UCS-2 segments fit well inside).
pub const MAX_BODY_CHARS: usize = 1_600;
pub const MESSAGE_TYPES: [&str; 3] = ["transactional", "otp", "marketing"];

#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The recipient, with country code; normalised to E.164.
    #[schema(example = "+4915112345678")]
    pub to: String,
    #[schema(example = "Your code is 123456")]
    pub body: String,
    /// A phone number or an alphanumeric sender id (1–11 characters).
    pub from: Option<String>,
    /// `transactional` (default), `otp` or `marketing`.
    pub message_type: Option<String>,
    pub callback_url: Option<String>,
    /// Your own reference, echoed back.
    pub client_ref: Option<String>,
    /// Send later (at most 30 days ahead).
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Give up if not sent within this many seconds (60–259200).
    pub validity_seconds: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Who is sending: the tenant, the API key (if any) and whether it is a test-mode send.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub tenant_id: Uuid,
    pub api_key_id: Option<Uuid>,
    pub test_mode: bool,
    /// The tenant's budget is a hard cap: a live message holds its worst-case cost.
    pub hard_cap: bool,
    /// What a `callback_url` may be: the operator's rules for webhook URLs.
    pub callback_urls: crate::webhooks::UrlPolicy,
}

/// Bad input (400), nowhere to send it (422), or an unpaid invoice past due (402).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invalid,
    Unroutable,
    PaymentRequired,
}

/// Why a message was not accepted: a stable code, the field at fault and a sentence.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub kind: Kind,
    pub code: &'static str,
    /// The field at fault; None when it is none of the request's (an unpaid invoice).
    pub field: Option<&'static str>,
    pub message: String,
}

impl SendError {
    pub fn new(
        kind: Kind,
        code: &'static str,
        field: &'static str,
        message: impl Into<String>,
    ) -> Self {
        SendError {
            kind,
            code,
            field: Some(field),
            message: message.into(),
        }
    }

    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        SendError::new(Kind::Invalid, "invalid_field", field, message)
    }
}

/// The recipient opted out of the tenant's messages (the group commit found it on the list).
pub fn opted_out() -> SendError {
    SendError::new(
        Kind::Unroutable,
        "recipient_opted_out",
        "to",
        "This number opted out of your messages (it replied STOP, or was added to your \
         opt-outs); nothing was sent or charged. It opts back in by replying START.",
    )
}

/// A sender is a phone number (normalised to E.164) or an alphanumeric id of 1–11 characters.
pub fn validate_sender(sender: &str) -> Result<String, String> {
    let s = sender.trim();
    if s.starts_with('+') || s.starts_with("00") {
        return PhoneNumber::parse(s)
            .map(|p| p.e164().to_owned())
            .map_err(|e| e.to_string());
    }
    let ok = (1..=11).contains(&s.chars().count())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        && s.chars().any(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{}` is not a sender: use a phone number with its country code or 1–11 letters and digits.",
            s.chars().take(32).collect::<String>()
        ))
    }
}

/// Validates and prices one send request: everything that can be checked before the message
/// is committed. A live send of a tenant past due on an invoice ([`Terms::past_due`]) is
/// refused; test-mode sends cost nothing and go on.
pub fn prepare(
    req: SendRequest,
    sender_of: Origin,
    routes: &[RouteProvider],
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<NewMessage, SendError> {
    for (field, text) in [
        ("body", Some(&req.body)),
        ("client_ref", req.client_ref.as_ref()),
        ("callback_url", req.callback_url.as_ref()),
    ] {
        if text.is_some_and(|t| !text::storable(t)) {
            return Err(SendError::invalid(
                field,
                format!("`{field}` contains a NUL character (\\u0000), which cannot be stored."),
            ));
        }
    }
    if let Some(path) = req.metadata.as_ref().and_then(text::unstorable_in_json) {
        return Err(SendError::invalid(
            "metadata",
            format!(
                "`metadata.{path}` contains a NUL character (\\u0000), which cannot be stored."
            ),
        ));
    }
    let to = PhoneNumber::parse(&req.to)
        .map_err(|e| SendError::new(Kind::Invalid, "invalid_phone_number", "to", e.to_string()))?;
    let chars = req.body.chars().count();
    if req.body.trim().is_empty() {
        return Err(SendError::invalid("body", "The message body is empty."));
    }
    if chars > MAX_BODY_CHARS {
        return Err(SendError::new(
            Kind::Invalid,
            "body_too_long",
            "body",
            format!("The body has {chars} characters; the limit is {MAX_BODY_CHARS}."),
        ));
    }
    let sender = req
        .from
        .as_deref()
        .map(|f| validate_sender(f).map_err(|m| SendError::invalid("from", m)))
        .transpose()?;
    let message_type = match req.message_type.as_deref() {
        None => "transactional",
        Some(t) if MESSAGE_TYPES.contains(&t) => t,
        Some(_) => {
            return Err(SendError::invalid(
                "message_type",
                "`message_type` must be transactional, otp or marketing.",
            ));
        }
    };
    // The rules of webhook endpoints' URLs (the events are posted the same way).
    if let Some(url) = &req.callback_url {
        crate::webhooks::check_url(url, sender_of.callback_urls)
            .map_err(|e| SendError::invalid("callback_url", format!("`callback_url`: {e}")))?;
    }
    if req
        .client_ref
        .as_ref()
        .is_some_and(|r| r.chars().count() > 128)
    {
        return Err(SendError::invalid(
            "client_ref",
            "`client_ref` is at most 128 characters.",
        ));
    }
    if let Some(meta) = &req.metadata {
        let ok = meta.as_object().is_some_and(|o| o.len() <= 50) && meta.to_string().len() <= 8192;
        if !ok {
            return Err(SendError::invalid(
                "metadata",
                "`metadata` must be an object of at most 50 keys and 8 KB.",
            ));
        }
    }
    let scheduled_at = match req.scheduled_at {
        Some(at) if at > now + chrono::Duration::days(30) => {
            return Err(SendError::invalid(
                "scheduled_at",
                "`scheduled_at` is at most 30 days ahead.",
            ));
        }
        Some(at) if at > now + chrono::Duration::seconds(1) => Some(at),
        _ => None,
    };
    let expires_at = match req.validity_seconds {
        None => None,
        Some(s) if (60..=259_200).contains(&s) => {
            Some(scheduled_at.unwrap_or(now) + chrono::Duration::seconds(s))
        }
        Some(_) => {
            return Err(SendError::invalid(
                "validity_seconds",
                "`validity_seconds` must be between 60 and 259200 (3 days).",
            ));
        }
    };

    let info = SegmentInfo::of(&req.body);
    let test_mode = sender_of.test_mode;
    if let Some(overdue) = terms.past_due(now).filter(|_| !test_mode) {
        return Err(SendError {
            kind: Kind::PaymentRequired,
            code: "payment_required",
            field: None,
            message: overdue.sentence(),
        });
    }
    let candidates = routing::candidates(
        routes,
        to.country(),
        message_type,
        test_mode,
        terms.markup(now),
    );
    let Some(cheapest) = candidates.first() else {
        let what = if test_mode {
            "enabled sandbox provider (test-mode keys use only sandbox providers)"
        } else {
            "enabled provider"
        };
        return Err(SendError::new(
            Kind::Unroutable,
            "no_route",
            "to",
            format!(
                "No {what} of yours has a price for {}; add one or price it.",
                to.country()
            ),
        ));
    };
    let segments = i32::try_from(info.segments).unwrap_or(i32::MAX);
    // Test-mode messages are never billed.
    let estimated = if test_mode {
        0
    } else {
        cheapest.price_micros.saturating_mul(i64::from(segments))
    };
    let fee = if test_mode {
        routing::Charge::default()
    } else {
        let per_segment = terms.fee(now);
        routing::Charge::of(per_segment.micros, per_segment.fx.as_ref(), segments)
    };
    Ok(NewMessage {
        id: Uuid::now_v7(),
        tenant_id: sender_of.tenant_id,
        api_key_id: sender_of.api_key_id,
        mode: if test_mode {
            KeyMode::Test
        } else {
            KeyMode::Live
        },
        recipient: to.e164().to_owned(),
        sender,
        country: to.country().to_owned(),
        message_type: message_type.to_owned(),
        body: req.body,
        encoding: info.encoding,
        segments,
        estimated_cost_micros: estimated,
        currency: cheapest.currency.clone(),
        status: if scheduled_at.is_some() {
            Status::Scheduled
        } else {
            Status::Queued
        },
        callback_url: req.callback_url,
        client_ref: req.client_ref,
        metadata: req.metadata,
        scheduled_at,
        expires_at,
        idempotency_key: None,
        request_hash: None,
        created_at: now,
        // The worst case: the dearest provider that could take it, and the fee.
        hold_micros: (sender_of.hard_cap && !test_mode).then(|| {
            candidates
                .iter()
                .map(|c| c.price_micros)
                .max()
                .unwrap_or(0)
                .saturating_mul(i64::from(segments))
                .saturating_add(fee.micros)
        }),
        fee_micros: fee.micros,
        fee_fx: fee.fx,
    })
}

/// Now, to the microsecond Postgres keeps, so a replayed answer is identical to the first.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}
