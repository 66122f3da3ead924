//! Request ids and the ids carried by tracing spans, so one `grep` of the logs follows a
//! message from the API through the worker.
//!
//! Every HTTP request gets a [`RequestId`] (the caller's `X-Request-Id` when it is sane, else
//! a new one), echoed in the response and kept in its `request` span
//! ([`crate::request::request_ids`], behind the `actix` feature). While the request is
//! served it is also the task's [`current`] id, which the group commit puts in each queue
//! envelope entry ([`crate::queue::Entry`]), and the worker logs it with the send's outcome.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

/// The header a request id is read from and echoed in.
pub const HEADER: &str = "x-request-id";

/// One request's id: 1 to 128 characters of `A-Z a-z 0-9 . _ : - / + = @`, so it reads the
/// same in a log line, a header and a `grep`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    pub const MAX_LEN: usize = 128;

    /// The id a caller sent, if it is one we keep; anything else gets a new id instead.
    pub fn parse(value: &str) -> Option<RequestId> {
        let sane = !value.is_empty()
            && value.len() <= Self::MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_:/+=@".contains(&b));
        sane.then(|| RequestId(value.into()))
    }

    /// A new id (a random UUID).
    pub fn generate() -> RequestId {
        RequestId(Uuid::new_v4().to_string().into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// Runs `work` with `id` as the [`current`] request id.
pub async fn scope<F: Future>(id: RequestId, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

/// Records the tenant acted for in the current span (the request's, whose `tenant_id` field
/// is declared empty until the caller is known).
pub fn record_tenant(tenant_id: Uuid) {
    tracing::Span::current().record(
        "tenant_id",
        tracing::field::display(crate::domain::TenantId::from(tenant_id)),
    );
}

/// Records the message a request is about in the current span.
pub fn record_message(message_id: Uuid) {
    tracing::Span::current().record(
        "message_id",
        tracing::field::display(crate::domain::MessageId::from(message_id)),
    );
}

/// Records the provider a request is about (a receipt) in the current span.
pub fn record_provider(provider_id: Uuid) {
    tracing::Span::current().record(
        "provider_id",
        tracing::field::display(crate::domain::ProviderId::from(provider_id)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sane_ids_and_refuses_the_rest() {
        for good in ["abc", "req-1.2_3:4", "a/b+c=d@e", &"x".repeat(128)] {
            assert_eq!(
                RequestId::parse(good).map(|r| r.to_string()),
                Some(good.into())
            );
        }
        for bad in [
            "",
            "has space",
            "tab\t",
            "nl\n",
            "quote\"",
            "é",
            &"x".repeat(129),
        ] {
            assert_eq!(RequestId::parse(bad), None, "{bad:?}");
        }
        let made = RequestId::generate();
        assert_eq!(RequestId::parse(made.as_str()), Some(made.clone()));
        assert_ne!(made, RequestId::generate());
    }

    #[tokio::test]
    async fn current_is_the_scoped_id() {
        assert_eq!(current(), None);
        let id = RequestId::generate();
        let seen = scope(id.clone(), async { current() }).await;
        assert_eq!(seen, Some(id));
        assert_eq!(current(), None);
    }
}
