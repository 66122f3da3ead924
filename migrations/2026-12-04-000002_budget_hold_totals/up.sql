-- Hard-cap holds as a running total per tenant, so the group commit's check reads a few rows
-- however many messages are on their way (summing a row per held message cost the accept path
-- about 5 ms a commit with 20,000 messages on their way, and more as the backlog grew).
--
-- A held message keeps its hold on its own row (`hold_micros`). The transaction that stores it
-- adds it to the tenant's `budget_held` total, under the lock on the tenant's budget row that
-- every writer of the total takes. When the message leaves scheduled/queued/sending, the
-- trigger appends a `budget_releases` row — an insert, so the worker never waits for that
-- lock — and the tenant's next capped group commit folds the releases into the total, under
-- the lock. What is held is the total less the releases not yet folded.
ALTER TABLE messages ADD COLUMN hold_micros bigint NOT NULL DEFAULT 0;

CREATE TABLE budget_held (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    micros    bigint NOT NULL
);
-- No foreign key: the trigger's insert stays a plain append on the worker's path.
CREATE TABLE budget_releases (
    tenant_id uuid NOT NULL,
    micros    bigint NOT NULL
);
CREATE INDEX budget_releases_tenant_idx ON budget_releases (tenant_id);

GRANT SELECT ON budget_held TO openclaw_tenant;
ALTER TABLE budget_held ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budget_held TO openclaw_tenant
    USING (tenant_id = app_tenant());
-- A tenant-scoped statement (a cancel) may release a hold.
GRANT SELECT, INSERT ON budget_releases TO openclaw_tenant;
ALTER TABLE budget_releases ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budget_releases TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

-- The holds of messages still on their way carry over.
UPDATE messages m SET hold_micros = h.micros FROM budget_holds h WHERE h.message_id = m.id;
INSERT INTO budget_held (tenant_id, micros)
    SELECT tenant_id, sum(micros)::int8 FROM budget_holds GROUP BY tenant_id;

CREATE OR REPLACE FUNCTION release_budget_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO budget_releases (tenant_id, micros) VALUES (OLD.tenant_id, OLD.hold_micros);
    RETURN NULL;
END
$$;
DROP TABLE budget_holds;
