-- Webhooks: a tenant's endpoints, the events that happen to its messages, and one delivery of
-- each event to each endpoint subscribed to it (and to the message's own `callback_url`).
--
-- The deliveries are the outbox: a trigger on `messages` writes the event and its deliveries in
-- the transaction (and the statement) that changes a status, so a crash can delay an event but
-- never lose it. The worker's relay publishes due deliveries to RabbitMQ; the webhook consumer
-- claims them (`fence` is bumped by each claim, so two copies of one queue message deliver
-- once), posts, and records the outcome against the fence it claimed.

-- Time-ordered ids for rows made in SQL, as the Rust code makes them (UUIDv7: the first 48
-- bits are the Unix time in milliseconds, then the version, then random bits).
CREATE FUNCTION uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::int8)
                                      FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;
GRANT EXECUTE ON FUNCTION uuid_v7() TO openclaw_tenant;

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url text NOT NULL,
    events text[] NOT NULL,
    -- The signing secret, encrypted with the master key.
    secret_key_id text NOT NULL,
    secret_enc bytea NOT NULL,
    -- The secret before the last rotation, which signs alongside until `previous_until`.
    previous_key_id text,
    previous_enc bytea,
    previous_until timestamptz,
    enabled bool NOT NULL DEFAULT true,
    disabled_reason text,
    -- When its deliveries started failing (none has succeeded since); NULL while it answers.
    failing_since timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);

-- The secret that signs the events sent to messages' own `callback_url`, one per tenant.
CREATE TABLE webhook_callback_secrets (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    secret_key_id text NOT NULL,
    secret_enc bytea NOT NULL,
    previous_key_id text,
    previous_enc bytea,
    previous_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_events (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    kind text NOT NULL,
    -- What it is about (a message's id for `message.status`).
    subject_id uuid,
    -- Its facts as of the moment it happened, rendered into the public shape on delivery.
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_subject ON webhook_events (subject_id);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    -- NULL: the event's message's own callback_url, kept in `url`.
    endpoint_id uuid REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    url text,
    state text NOT NULL DEFAULT 'pending',
    -- Requests made.
    attempts int4 NOT NULL DEFAULT 0,
    -- Bumped by every claim; an outcome is recorded only against the claim that made it.
    fence int4 NOT NULL DEFAULT 0,
    -- Pending: when the relay publishes it (next attempt, or the end of a claim's lease).
    due_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    last_status int4,
    last_latency_ms int4,
    last_error text,
    -- Every attempt: [{at, status, latency_ms, error}].
    log jsonb NOT NULL DEFAULT '[]',
    CHECK ((endpoint_id IS NULL) <> (url IS NULL))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- Owners are mailed when their endpoint is disabled.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('budget_alert_mail', 'billing_close', 'invoice_close', 'webhook_disabled_mail'));

GRANT SELECT, INSERT, UPDATE, DELETE ON
    webhook_endpoints, webhook_callback_secrets, webhook_events, webhook_deliveries
    TO openclaw_tenant;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_callback_secrets', 'webhook_events',
                             'webhook_deliveries']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO openclaw_tenant '
                       'USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant())', t);
    END LOOP;
END
$$;

-- A `message.status` event for every status a statement moved a message to (but `sending`,
-- which is the worker's own business), for tenants with an endpoint listening and messages
-- with a callback_url; with a delivery to each. Once per statement: a group commit of 500
-- receipts writes its events in one INSERT, not 500.
CREATE FUNCTION message_status_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS MATERIALIZED (
             SELECT uuid_v7() AS event_id, n.id, n.tenant_id, n.callback_url,
                    jsonb_build_object(
                        'status', n.status, 'previous_status', o.status,
                        'to', n.recipient, 'from', n.sender, 'mode', n.mode,
                        'message_type', n.message_type, 'client_ref', n.client_ref,
                        'metadata', n.metadata, 'segments', n.segments,
                        'provider_id', n.provider_id, 'cost_micros', n.cost_micros,
                        'currency', n.currency, 'error_code', n.error_code,
                        'error_message', n.error_message, 'provider_code', n.error_provider_code,
                        'at', now()) AS data
             FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE n.status <> o.status AND n.status <> 'sending'
               AND (n.callback_url IS NOT NULL
                    OR EXISTS (SELECT 1 FROM webhook_endpoints e
                               WHERE e.tenant_id = n.tenant_id AND e.enabled
                                 AND 'message.status' = ANY (e.events)))),
         events AS (
             INSERT INTO webhook_events (id, tenant_id, kind, subject_id, data)
             SELECT c.event_id, c.tenant_id, 'message.status', c.id, c.data FROM changed c)
    INSERT INTO webhook_deliveries (id, tenant_id, event_id, endpoint_id, url)
    SELECT uuid_v7(), c.tenant_id, c.event_id, e.id, NULL
      FROM changed c JOIN webhook_endpoints e
        ON e.tenant_id = c.tenant_id AND e.enabled AND 'message.status' = ANY (e.events)
    UNION ALL
    SELECT uuid_v7(), c.tenant_id, c.event_id, NULL, c.callback_url
      FROM changed c WHERE c.callback_url IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER message_status_events AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION message_status_events();
