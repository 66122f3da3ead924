DROP TRIGGER message_status_events ON messages;
DROP FUNCTION message_status_events();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_callback_secrets;
DROP TABLE webhook_endpoints;
DROP FUNCTION uuid_v7();
DELETE FROM jobs WHERE kind = 'webhook_disabled_mail';
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('budget_alert_mail', 'billing_close', 'invoice_close'));
