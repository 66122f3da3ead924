DROP INDEX webhook_deliveries_callback_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE state = 'pending';
DROP INDEX webhook_deliveries_endpoint_due;
