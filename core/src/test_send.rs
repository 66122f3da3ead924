//! A test message sent by a signed-in member from the admin app. With a live provider priced
//! for the destination it is accepted like any `POST /v1/messages` (same validation, price
//! and group commit); otherwise it goes to the sandbox in test mode (never billed), and a
//! tenant without an enabled sandbox provider gets one
//! ([`crate::providers::service::provision_sandbox`]).

use uuid::Uuid;

use crate::accept::{self, Kind, Origin, SendError, SendRequest};
use crate::crypto::Keyring;
use crate::db::messages::Inserted;
use crate::db::{self, PgPool};
use crate::domain::Money;
use crate::ingest::Ingest;
use crate::members::Manager;
use crate::permissions::{self, Action};
use crate::providers::service::{self as provider_service, ProviderError};

#[derive(Debug, thiserror::Error)]
pub enum TestSendError {
    /// The message itself is wrong (`to`, `body`), or nothing can carry it: the field and
    /// sentence `POST /v1/messages` gives.
    #[error(transparent)]
    Rejected(SendError),
    #[error("Your role cannot send messages; ask an owner or admin.")]
    Forbidden,
    /// The tenant's hard-capped budget has no room for it: the sentence `POST /v1/messages`
    /// gives with its 402.
    #[error("{0}")]
    OverBudget(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for TestSendError {
    fn from(e: diesel::result::Error) -> Self {
        TestSendError::Internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for TestSendError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        TestSendError::Internal(anyhow::Error::new(e).context("getting a database connection"))
    }
}

impl From<ProviderError> for TestSendError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Internal(e) => TestSendError::Internal(e),
            ProviderError::Forbidden(_) => TestSendError::Forbidden,
            other => TestSendError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// What became of a test message.
#[derive(Debug, Clone, Copy)]
pub struct TestSent {
    pub message_id: Uuid,
    /// Sent to the sandbox in test mode (no live provider was priced for it).
    pub test_mode: bool,
    /// The sandbox provider was added for it (the tenant's routes changed).
    pub provisioned_sandbox: bool,
}

fn request(to: &str, body: &str, test_mode: bool) -> SendRequest {
    SendRequest {
        to: to.to_owned(),
        body: body.to_owned(),
        from: None,
        message_type: None,
        callback_url: None,
        client_ref: Some(
            if test_mode {
                "admin-app test (sandbox)"
            } else {
                "admin-app test"
            }
            .into(),
        ),
        scheduled_at: None,
        validity_seconds: None,
        metadata: None,
    }
}

/// Sends `body` to `to` for `manager`'s tenant and returns the message's id once committed.
pub async fn send(
    pool: &PgPool,
    keys: &Keyring,
    ingest: &Ingest,
    manager: &Manager,
    to: &str,
    body: &str,
) -> Result<TestSent, TestSendError> {
    if !permissions::allowed(manager.role, Action::SendMessages) {
        return Err(TestSendError::Forbidden);
    }
    let tenant_id = manager.tenant;
    let mut conn = pool.get().await?;
    // The tenant's route table as the API's sends see it: its own providers and the
    // platform's, prices converted into its currency.
    let table = crate::routing::table::load(&mut conn, keys, tenant_id).await?;
    let (hard_cap, terms) = (table.hard_cap, table.billing.clone());
    let origin = |test_mode| Origin {
        tenant_id,
        api_key_id: None,
        test_mode,
        hard_cap,
        // A test message has no callback URL.
        callback_urls: Default::default(),
    };
    let live: Vec<_> = table
        .providers
        .into_iter()
        .filter(|p| !p.is_sandbox)
        .collect();
    let (row, test_mode, provisioned_sandbox) = match accept::prepare(
        request(to, body, false),
        origin(false),
        &live,
        &terms,
        accept::now(),
    ) {
        Ok(row) => (row, false, false),
        Err(e) if e.kind == Kind::Unroutable => {
            let (routes, added) = db::scoped(&mut conn, tenant_id, async |c| {
                provider_service::provision_sandbox(c, keys, manager).await
            })
            .await?;
            let row = accept::prepare(
                request(to, body, true),
                origin(true),
                &routes,
                &terms,
                accept::now(),
            )
            .map_err(TestSendError::Rejected)?;
            (row, true, added)
        }
        Err(e) => return Err(TestSendError::Rejected(e)),
    };
    drop(conn);
    let message_id = row.id;
    match ingest.submit(vec![row]).await?.pop() {
        Some(Inserted::Created) => Ok(TestSent {
            message_id,
            test_mode,
            provisioned_sandbox,
        }),
        Some(Inserted::OverBudget {
            remaining_micros,
            currency,
        }) => Err(TestSendError::OverBudget(
            crate::budgets::over_budget_sentence(&Money::new(remaining_micros, currency)),
        )),
        Some(Inserted::OptedOut) => Err(TestSendError::Rejected(crate::accept::opted_out())),
        Some(Inserted::Refused { reason }) => Err(TestSendError::Internal(anyhow::anyhow!(
            "the database refused the test message: {reason}"
        ))),
        _ => Err(TestSendError::Internal(anyhow::anyhow!(
            "the message was not created"
        ))),
    }
}
