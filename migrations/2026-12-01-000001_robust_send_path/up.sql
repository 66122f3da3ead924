-- Batches sent with an `Idempotency-Key`: the answer given, stored in the same transaction as
-- the batch's messages, so a retry after a dropped connection gets that answer back instead of
-- sending the batch again. (Single sends keep their key on the message row itself.)
CREATE TABLE idempotent_requests (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
GRANT SELECT, INSERT ON idempotent_requests TO openclaw_tenant;
ALTER TABLE idempotent_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotent_requests TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

-- A round whose send outcome is unknown (its worker died mid-call, or the provider's answer
-- never came) waits until `doubt_until` for the provider's receipt, which carries our message
-- id, to settle it; it is never sent again. Past that time it fails with `outcome_unknown`.
ALTER TABLE messages ADD COLUMN doubt_until timestamptz;
CREATE INDEX messages_in_doubt_idx ON messages (doubt_until) WHERE doubt_until IS NOT NULL;

-- Provider calls one worker process makes to this provider at once.
ALTER TABLE providers ADD COLUMN max_concurrency integer NOT NULL DEFAULT 32
    CHECK (max_concurrency BETWEEN 1 AND 1000);
