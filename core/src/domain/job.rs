//! What a job (work that runs later and may fail) does.

super::text_enum! {
    pub enum JobKind {
        /// Mail a budget alert (the job's subject) to the tenant's owners and billing members.
        BudgetAlertMail = "budget_alert_mail",
        /// Open the invoices of a billing period (the subject) a staff member closed: one per
        /// tenant with anything billable, each with its own `invoice_close` job.
        BillingClose = "billing_close",
        /// Close one invoice (the subject) through Stripe, step by step.
        InvoiceClose = "invoice_close",
        /// Tell a tenant's owners that its webhook endpoint (the subject) was disabled.
        WebhookDisabledMail = "webhook_disabled_mail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(JobKind::parse("mail"), None);
    }
}
