DROP FUNCTION budget_room(uuid[], date, date);
CREATE FUNCTION budget_room(tenants uuid[], first_day date, last_day date)
RETURNS TABLE (tenant_id uuid, currency text, room bigint, folded bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM budgets b WHERE b.tenant_id = ANY (tenants) AND b.hard_cap
        ORDER BY b.tenant_id FOR UPDATE;
    RETURN QUERY
    WITH released AS (
             DELETE FROM budget_releases r WHERE r.tenant_id = ANY (tenants)
             RETURNING r.tenant_id, r.micros),
         sums AS (
             SELECT s.tenant_id, sum(s.micros)::int8 AS micros FROM released s
             GROUP BY s.tenant_id)
    SELECT b.tenant_id, b.currency,
           (b.monthly_limit_micros
            - COALESCE((SELECT sum(d.cost_micros + d.fee_micros) FROM spend_daily d
                        WHERE d.tenant_id = b.tenant_id AND d.day BETWEEN first_day AND last_day
                          AND d.currency = b.currency), 0)
            - COALESCE((SELECT h.micros FROM budget_held h WHERE h.tenant_id = b.tenant_id), 0)
            + COALESCE((SELECT s.micros FROM sums s WHERE s.tenant_id = b.tenant_id), 0))::int8,
           COALESCE((SELECT s.micros FROM sums s WHERE s.tenant_id = b.tenant_id), 0)::int8
    FROM budgets b WHERE b.tenant_id = ANY (tenants) AND b.hard_cap;
END
$$;
CREATE TABLE budget_releases (
    tenant_id uuid NOT NULL,
    micros    bigint NOT NULL
);
CREATE INDEX budget_releases_tenant_idx ON budget_releases (tenant_id);
GRANT SELECT, INSERT ON budget_releases TO openclaw_tenant;
ALTER TABLE budget_releases ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budget_releases TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
CREATE OR REPLACE FUNCTION release_budget_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO budget_releases (tenant_id, micros) VALUES (OLD.tenant_id, OLD.hold_micros);
    RETURN NULL;
END
$$;
-- The released totals fold into the held ones.
UPDATE budget_held h SET micros = h.micros - r.micros
    FROM (SELECT tenant_id, sum(micros)::int8 AS micros FROM budget_released GROUP BY tenant_id) r
    WHERE r.tenant_id = h.tenant_id;
DROP TABLE budget_released;
