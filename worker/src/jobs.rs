//! The jobs consumer: runs the jobs the relay publishes (work that runs later and may fail,
//! kept in the `jobs` table). Each job runs inside a transaction that holds its row locked, so
//! two workers handed the same job (a redelivery) never run it at once; the row is deleted
//! (done) or moved on with a backoff (failed) in that transaction, and the delivery is acked
//! only after it commits. A worker that dies mid-job leaves the row as it was: its lease ends,
//! the relay publishes it again, and the job runs again (a mail may then go twice; nothing is
//! lost).

use std::sync::Arc;

use diesel_async::AsyncConnection;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use openclaw_core::alerts;
use openclaw_core::billing::invoices;
use openclaw_core::db::jobs::{self, Job};
use openclaw_core::domain::JobKind;
use openclaw_core::queue::{self, JobMessage};
use tokio_util::sync::CancellationToken;

use crate::startup::Shared;

/// Jobs run at once by one worker.
const PREFETCH: u16 = 8;

pub async fn run(
    shared: Arc<Shared>,
    conn: &lapin::Connection,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (channel, mut consumer) =
        queue::consume(conn, &shared.topology.jobs_queue(), PREFETCH).await?;
    let mut running = tokio::task::JoinSet::new();
    let failure = loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break None,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                running.spawn(handle(shared.clone(), delivery));
            }
            Some(Err(e)) => break Some(anyhow::Error::new(e).context("receiving a job")),
            None => break Some(anyhow::anyhow!("the broker closed the jobs consumer")),
        }
        // Reap what finished, so the set does not grow.
        while running.try_join_next().is_some() {}
    };
    // Jobs under way finish (and commit) before the session ends.
    while running.join_next().await.is_some() {}
    let _ = channel.close(200, "worker stopping".into()).await;
    failure.map_or(Ok(()), Err)
}

async fn handle(shared: Arc<Shared>, delivery: Delivery) {
    let Some(message) = JobMessage::from_bytes(&delivery.data) else {
        tracing::warn!("a jobs-queue message that is not a job id was dropped");
        let _ = delivery.ack(BasicAckOptions::default()).await;
        return;
    };
    match run_job(&shared, message.job).await {
        Ok(()) => {
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                tracing::debug!(error = %e, "job ack not delivered; the broker will redeliver");
            }
        }
        // Not acked: the broker hands it out again when this channel goes, and the relay
        // publishes the job again when its lease ends, whichever comes first.
        Err(e) => tracing::warn!(
            job = %message.job,
            error = format!("{e:#}"),
            "could not record a job's outcome; it will run again"
        ),
    }
}

/// Runs the job under its row lock and records the outcome; Err only when the outcome could
/// not be recorded. A job that is gone (done already) or locked (running elsewhere) is left.
pub async fn run_job(shared: &Shared, id: uuid::Uuid) -> anyhow::Result<()> {
    let mut conn = shared.pool.get().await?;
    conn.transaction(async |c| {
        let Some(job) = jobs::lock(c, id).await? else {
            return Ok(());
        };
        // In a savepoint: a job whose own statements fail still gets its failure recorded.
        let outcome = c
            .transaction(async |s| perform(shared, s, &job).await)
            .await;
        match outcome {
            Ok(()) => jobs::done(c, job.id).await?,
            Err(e) => {
                let error = format!("{e:#}");
                let parked = jobs::failed(c, &job, &error).await?;
                let then = if parked {
                    "it failed too often and is parked; an operator must look"
                } else {
                    "it will run again"
                };
                tracing::warn!(
                    job = %job.id,
                    kind = %job.kind,
                    attempts = job.attempts + 1,
                    parked,
                    error,
                    "a job failed; {then}"
                );
            }
        }
        anyhow::Ok(())
    })
    .await
}

async fn perform(
    shared: &Shared,
    c: &mut diesel_async::AsyncPgConnection,
    job: &Job,
) -> anyhow::Result<()> {
    match job.kind {
        JobKind::BudgetAlertMail => {
            let setup = alerts::MailSetup {
                mailer: shared.mailer.as_deref(),
                public_url: &shared.settings.public_url,
            };
            alerts::mail(c, &setup, job.subject).await
        }
        JobKind::BillingClose => invoices::open_period(c, job.subject).await,
        JobKind::WebhookDisabledMail => {
            let setup = alerts::MailSetup {
                mailer: shared.mailer.as_deref(),
                public_url: &shared.settings.public_url,
            };
            openclaw_core::webhooks::mail_disabled(
                c,
                &setup,
                shared.settings.webhook_give_up_after,
                job.subject,
            )
            .await
        }
        // Its steps commit on their own connection, each after its Stripe call; this job's
        // row lock keeps a second worker from running the same close at once.
        JobKind::InvoiceClose => {
            invoices::close(&shared.pool, shared.stripe.as_deref(), job.subject).await
        }
    }
}
