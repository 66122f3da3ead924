-- A slow endpoint's backlog waits in Postgres, untouched: the relay publishes an endpoint's
-- due deliveries only while few of its deliveries are under way, and finds the endpoints with
-- due deliveries by skipping through this index (one probe per endpoint, not one per row).
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, due_at)
    WHERE state = 'pending' AND endpoint_id IS NOT NULL;
-- Deliveries to messages' own callback URLs are taken in the order they fall due.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_callback_due ON webhook_deliveries (due_at)
    WHERE state = 'pending' AND endpoint_id IS NULL;
