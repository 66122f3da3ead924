-- Hard-capped budgets: what accepted messages may still cost. A message of a tenant whose
-- budget is a hard cap is accepted only if its worst-case cost (the dearest provider that could
-- take it, × segments) fits what the month has left: the limit, less the ledger's spend, less
-- the holds of the tenant's messages still on their way. The hold is written in the
-- transaction that stores the message, under a lock on the tenant's budget row (so concurrent
-- group commits, in any server process, see each other's holds), and it goes when the message
-- leaves `scheduled`/`queued`/`sending`, by the trigger below, whichever statement moved it:
-- sent (the ledger has the actual cost now), failed, canceled, expired.
ALTER TABLE messages ADD COLUMN held boolean NOT NULL DEFAULT false;

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

CREATE FUNCTION release_budget_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM budget_holds WHERE message_id = OLD.id;
    RETURN NULL;
END
$$;
-- Only held messages pay for the call: the others never match the WHEN.
CREATE TRIGGER release_budget_hold AFTER UPDATE OF status ON messages
    FOR EACH ROW
    WHEN (OLD.held AND OLD.status IN ('scheduled', 'queued', 'sending')
          AND NEW.status NOT IN ('scheduled', 'queued', 'sending'))
    EXECUTE FUNCTION release_budget_hold();
