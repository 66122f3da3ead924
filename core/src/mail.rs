//! Outgoing mail (member invitations, budget alerts) over SMTP, when `OPENCLAW_SMTP_URL` is set:
//! `smtp://host:25` (plain, a local relay), `smtp://user:pass@host:587?tls=required`
//! (STARTTLS) or `smtps://user:pass@host:465`. Without it, invitations are handed over as links.

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry SMTP credentials: never printed.
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// An invitation to join a tenant.
pub struct Invite<'a> {
    pub to: &'a str,
    pub tenant_name: &'a str,
    pub invited_by: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A budget alert, mailed to a tenant's owners and billing members (one mail, every one of
/// them a recipient).
pub struct WebhookDisabledMail<'a> {
    pub to: &'a [String],
    pub tenant_name: &'a str,
    pub url: &'a str,
    /// e.g. "3 days".
    pub failing_for: String,
    pub last_error: &'a str,
    /// The admin app's webhooks page.
    pub link: &'a str,
}

pub struct AlertMail<'a> {
    pub to: &'a [String],
    pub tenant_name: &'a str,
    /// e.g. "80%".
    pub threshold: i32,
    /// e.g. "December 2026".
    pub month: String,
    pub spent: &'a crate::domain::Money,
    pub limit: &'a crate::domain::Money,
    /// The admin app's spend page.
    pub link: &'a str,
}

impl Mailer {
    pub fn new(smtp_url: &str, from: &str) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .context("OPENCLAW_SMTP_URL is not an smtp:// or smtps:// URL")?
            .build();
        let from = from.parse().context(
            "OPENCLAW_MAIL_FROM is not a mailbox like `OpenClaw <no-reply@example.com>`",
        )?;
        Ok(Mailer { transport, from })
    }

    pub async fn send_budget_alert(&self, alert: &AlertMail<'_>) -> anyhow::Result<()> {
        let body = format!(
            "Hello,\r\n\r\n{}'s SMS spend for {} has reached {}% of its monthly budget:\r\n\r\n\
             \x20   spent   {}\r\n\x20   budget  {}\r\n\r\n\
             See the spend and change the budget here:\r\n\r\n{}\r\n",
            alert.tenant_name, alert.month, alert.threshold, alert.spent, alert.limit, alert.link,
        );
        let mut message = Message::builder().from(self.from.clone());
        for to in alert.to {
            message = message.to(to.parse().context("a recipient's address")?);
        }
        let message = message
            .subject(format!(
                "{}% of {}'s {} SMS budget spent",
                alert.threshold, alert.tenant_name, alert.month
            ))
            .body(body)
            .context("building the budget alert")?;
        self.transport
            .send(message)
            .await
            .context("sending the budget alert over SMTP")?;
        Ok(())
    }

    /// Tells a tenant's owners that one of its webhook endpoints was disabled.
    pub async fn send_webhook_disabled(&self, d: &WebhookDisabledMail<'_>) -> anyhow::Result<()> {
        let body = format!(
            "Hello,\r\n\r\nEvery delivery to {}'s webhook endpoint\r\n\r\n\x20   {}\r\n\r\n\
             failed for {}, so OpenClaw has stopped posting events to it. The last error:\r\n\r\n\
             \x20   {}\r\n\r\nOnce it answers again, add it anew on the webhooks page:\r\n\r\n{}\r\n",
            d.tenant_name, d.url, d.failing_for, d.last_error, d.link,
        );
        let mut message = Message::builder().from(self.from.clone());
        for to in d.to {
            message = message.to(to.parse().context("a recipient's address")?);
        }
        let message = message
            .subject(format!("{}'s webhook endpoint was disabled", d.tenant_name))
            .body(body)
            .context("building the webhook mail")?;
        self.transport
            .send(message)
            .await
            .context("sending the webhook mail over SMTP")?;
        Ok(())
    }

    pub async fn send_invite(&self, invite: &Invite<'_>) -> anyhow::Result<()> {
        let body = format!(
            "Hello,\r\n\r\n{} invited you to join {} on OpenClaw as {}.\r\n\r\n\
             Accept the invitation and choose your password here:\r\n\r\n{}\r\n\r\n\
             The link works once, until {} UTC.\r\n",
            invite.invited_by,
            invite.tenant_name,
            invite.role,
            invite.link,
            invite.expires_at.format("%Y-%m-%d %H:%M"),
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(invite.to.parse().context("the invited address")?)
            .subject(format!("Join {} on OpenClaw", invite.tenant_name))
            .body(body)
            .context("building the invitation")?;
        self.transport
            .send(message)
            .await
            .context("sending the invitation over SMTP")?;
        Ok(())
    }
}
