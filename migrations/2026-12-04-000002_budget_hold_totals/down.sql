CREATE TABLE budget_holds (
    message_id  uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    micros      bigint NOT NULL CHECK (micros >= 0)
);
CREATE INDEX budget_holds_tenant_idx ON budget_holds (tenant_id) INCLUDE (micros);
GRANT SELECT, INSERT, DELETE ON budget_holds TO openclaw_tenant;
ALTER TABLE budget_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budget_holds TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
INSERT INTO budget_holds (message_id, tenant_id, micros)
    SELECT id, tenant_id, hold_micros FROM messages
    WHERE held AND status IN ('scheduled', 'queued', 'sending');
CREATE OR REPLACE FUNCTION release_budget_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM budget_holds WHERE message_id = OLD.id;
    RETURN NULL;
END
$$;
DROP TABLE budget_releases;
DROP TABLE budget_held;
ALTER TABLE messages DROP COLUMN hold_micros;
