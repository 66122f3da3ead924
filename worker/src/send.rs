//! One round of one message: route → attempt each candidate → outcome.
//! Pure of the queue: it takes the tenant's route table (`openclaw_core::routing::table`) and
//! returns what to commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use openclaw_core::db::messages::{Message, NewAttempt, Resolution, RoundResult};
use openclaw_core::providers::{OutboundSms, ProviderClient, ProviderKind, SendOutcome, sandbox};
use openclaw_core::queue::Topology;
use openclaw_core::routing::{self, Charge, RouteTable};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;
use uuid::Uuid;

/// Each provider's calls under way in this process, bounded by its `max_concurrency`, so a
/// gateway that cannot take more is never flooded (a flood ends in timeouts, and a timeout's
/// outcome is unknown).
#[derive(Default)]
pub struct ProviderLimits {
    limits: std::sync::Mutex<HashMap<Uuid, (usize, Arc<Semaphore>)>>,
}

impl ProviderLimits {
    /// Waits for room to call `provider`. A changed limit takes effect for calls started
    /// after the change.
    pub async fn enter(&self, provider: Uuid, max: usize) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
            let entry = limits
                .entry(provider)
                .or_insert_with(|| (max, Arc::new(Semaphore::new(max))));
            if entry.0 != max {
                *entry = (max, Arc::new(Semaphore::new(max)));
            }
            entry.1.clone()
        };
        semaphore
            .acquire_owned()
            .await
            .expect("provider semaphores are never closed")
    }
}

/// Everything a round needs besides the message.
pub struct SendContext<'a> {
    pub http: &'a reqwest::Client,
    pub topology: &'a Topology,
    pub public_url: &'a str,
    /// How long a provider call may take before its outcome is unknown.
    pub timeout: Duration,
    pub limits: &'a ProviderLimits,
}

/// Tries each candidate provider in price order until one accepts. Transient failures make
/// the message due for another round (after the next backoff step); permanent refusals
/// exclude that provider from later rounds.
pub async fn send_round(
    ctx: &SendContext<'_>,
    routes: &RouteTable,
    message: Message,
    refused_before: &[Uuid],
) -> RoundResult {
    let mut attempts = Vec::new();
    if message.expires_at.is_some_and(|t| t <= Utc::now()) {
        return RoundResult {
            message,
            attempts,
            resolution: Resolution::Expired,
        };
    }
    let test_mode = message.mode.is_test();
    let candidates: Vec<_> = routing::candidates(
        &routes.providers,
        &message.country,
        &message.message_type,
        test_mode,
        routes.billing.markup(chrono::Utc::now()),
    )
    .into_iter()
    .filter(|c| !refused_before.contains(&c.provider_id))
    .collect();

    let mut transient = false;
    let mut last_refusal: Option<(Option<String>, String)> = None;
    for candidate in &candidates {
        let Some(gateway) = routes.gateways.get(&candidate.provider_id) else {
            continue;
        };
        let from = message
            .sender
            .as_deref()
            .or(gateway.sender_ids.first().map(String::as_str))
            .or(routes.default_sender.as_deref());
        let callback = (gateway.kind != ProviderKind::Sandbox).then(|| {
            openclaw_core::hooks::status_callback_url(
                ctx.public_url,
                candidate.provider_id,
                message.id,
            )
        });
        let client_ref = openclaw_core::domain::MessageId::from(message.id).to_string();
        let sms = OutboundSms {
            to: &message.recipient,
            from,
            body: &message.body,
            client_ref: &client_ref,
            status_callback: callback.as_deref(),
        };
        let room = ctx
            .limits
            .enter(candidate.provider_id, gateway.max_concurrency)
            .await;
        let started_at = Utc::now();
        let clock = Instant::now();
        let outcome = ProviderClient {
            kind: gateway.kind,
            base_url: gateway.base_url.as_deref(),
            credentials: &gateway.credentials,
            timeout: ctx.timeout,
        }
        .send(ctx.http, &sms)
        .instrument(tracing::info_span!(
            "provider",
            provider_id = %openclaw_core::domain::ProviderId::from(candidate.provider_id),
            kind = gateway.kind.as_str(),
        ))
        .await;
        drop(room);
        let latency_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
        let mut attempt = NewAttempt {
            provider_id: candidate.provider_id,
            started_at,
            outcome: outcome.kind(),
            provider_code: None,
            provider_message_id: None,
            error_message: None,
            latency_ms,
        };
        let cost = if test_mode {
            Charge::default()
        } else {
            candidate.charge(message.segments)
        };
        match outcome {
            SendOutcome::Accepted {
                provider_message_id,
            } => {
                attempt.provider_message_id = Some(provider_message_id.clone());
                attempts.push(attempt);
                return RoundResult {
                    message,
                    attempts,
                    resolution: Resolution::Sent {
                        provider_id: candidate.provider_id,
                        provider_message_id,
                        cost,
                    },
                };
            }
            SendOutcome::Transient {
                code,
                message: text,
            } => {
                transient = true;
                attempt.provider_code = code;
                attempt.error_message = Some(text);
                attempts.push(attempt);
            }
            SendOutcome::Permanent {
                code,
                message: text,
            } => {
                last_refusal = Some((code.clone(), text.clone()));
                attempt.provider_code = code;
                attempt.error_message = Some(text);
                attempts.push(attempt);
            }
            // The provider may have it: trying another could send it twice. Its receipt
            // (carrying our id) settles the message; none by the window's end fails it.
            SendOutcome::Unknown {
                code,
                message: text,
            } => {
                attempt.provider_code = code.clone();
                attempt.error_message = Some(text.clone());
                attempts.push(attempt);
                return RoundResult {
                    message,
                    attempts,
                    resolution: Resolution::InDoubt {
                        provider_id: candidate.provider_id,
                        cost,
                        message: format!(
                            "Whether the provider took the message is unknown ({text}); it is \
                             not sent again, and waits for the provider's receipt."
                        ),
                        provider_code: code,
                    },
                };
            }
        }
    }

    let resolution = if transient {
        match ctx.topology.delay_before(message.round + 1) {
            Some(delay) => Resolution::Retry {
                at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
            },
            None => Resolution::Failed {
                code: "retries_exhausted".into(),
                message: format!(
                    "Every provider failed temporarily, {} times; giving up.",
                    message.round + 1
                ),
                provider_code: attempts.last().and_then(|a| a.provider_code.clone()),
            },
        }
    } else if let Some((code, text)) = last_refusal {
        Resolution::Failed {
            code: "provider_refused".into(),
            message: format!("Every provider refused the message; the last said: {text}"),
            provider_code: code,
        }
    } else {
        Resolution::Failed {
            code: "no_route".into(),
            message: format!(
                "No enabled provider is priced for {} any more.",
                message.country
            ),
            provider_code: None,
        }
    };
    RoundResult {
        message,
        attempts,
        resolution,
    }
}

/// The sandbox reports delivery a little after accepting, like a real gateway would.
pub fn sandbox_receipt(receipts: openclaw_core::receipts::Receipts, message: &Message) {
    let (delay, said) = sandbox::receipt_for(&message.recipient);
    let receipt = openclaw_core::db::messages::ReceiptUpdate {
        tenant_id: message.tenant_id,
        message_id: message.id,
        status: said.status.status(),
        provider_code: None,
        error: said.error,
        from: None,
    };
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let id = receipt.message_id;
        if let Err(e) = receipts.apply(receipt).await {
            tracing::warn!(error = format!("{e:#}"), message_id = %id, "sandbox receipt not applied");
        }
    });
}
