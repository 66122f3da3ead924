-- Released holds as running totals, one row per tenant and database backend, instead of a row
-- per released message that the next capped group commit deleted. Those deletes left a dead
-- index entry and heap tuple per message until a vacuum: the group commit's
-- `DELETE FROM budget_releases` walked 38,531 dead index entries and 159 heap pages to fold 16
-- releases 20 s into the benchmark (2.2 ms a commit, growing with the traffic since the last
-- vacuum; autovacuum visits a table at most once a minute).
--
-- What a tenant holds is now `budget_held` (only added to, by the transactions that store held
-- messages, under the budget lock) less the sum of its `budget_released` rows (only added to,
-- by the trigger, in the transaction that moves the message). Each backend adds to its own row
-- (`backend` is its pid), so two transactions never wait for or deadlock on one row, and the
-- worker still never waits for the budget lock. Rows of backends that have gone are merged into
-- the tenant's row 0 by `budget_room`, under the lock, once the tenant has more than 16 rows.
CREATE TABLE budget_released (
    tenant_id uuid NOT NULL,
    backend   int4 NOT NULL,
    micros    bigint NOT NULL,
    PRIMARY KEY (tenant_id, backend)
);
GRANT SELECT, INSERT, UPDATE ON budget_released TO openclaw_tenant;
ALTER TABLE budget_released ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budget_released TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

-- Releases not yet folded carry over.
INSERT INTO budget_released (tenant_id, backend, micros)
    SELECT tenant_id, 0, sum(micros)::int8 FROM budget_releases GROUP BY tenant_id;
DROP TABLE budget_releases;

CREATE OR REPLACE FUNCTION release_budget_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO budget_released AS r (tenant_id, backend, micros)
        VALUES (OLD.tenant_id, pg_backend_pid(), OLD.hold_micros)
        ON CONFLICT (tenant_id, backend) DO UPDATE SET micros = r.micros + EXCLUDED.micros;
    RETURN NULL;
END
$$;

DROP FUNCTION budget_room(uuid[], date, date);
-- Locks the tenants' budget rows (in tenant order, so concurrent commits cannot deadlock), then,
-- in statements of their own (a PL/pgSQL statement takes a new snapshot, so they see every hold
-- and release committed before the lock was ours), tidies the released totals of backends that
-- have gone and reads what each month has left: the limit less the ledger's spend less what is
-- held. It writes nothing the calling statement writes. `ROWS 1`: a row per capped tenant
-- of the commit, so the planner joins the commit's rows to it, not the other way round.
CREATE FUNCTION budget_room(tenants uuid[], first_day date, last_day date)
RETURNS TABLE (tenant_id uuid, currency text, room bigint)
LANGUAGE plpgsql VOLATILE ROWS 1 AS $$
BEGIN
    PERFORM 1 FROM budgets b WHERE b.tenant_id = ANY (tenants) AND b.hard_cap
        ORDER BY b.tenant_id FOR UPDATE;
    IF (SELECT count(*) FROM budget_released r WHERE r.tenant_id = ANY (tenants)) > 16 THEN
        WITH gone AS (
                 DELETE FROM budget_released r
                 WHERE r.tenant_id = ANY (tenants) AND r.backend <> 0
                   AND r.backend NOT IN (SELECT a.pid FROM pg_stat_activity a)
                 RETURNING r.tenant_id, r.micros)
        INSERT INTO budget_released AS r (tenant_id, backend, micros)
            SELECT g.tenant_id, 0, sum(g.micros)::int8 FROM gone g GROUP BY g.tenant_id
            ORDER BY g.tenant_id
            ON CONFLICT ON CONSTRAINT budget_released_pkey
            DO UPDATE SET micros = r.micros + EXCLUDED.micros;
    END IF;
    RETURN QUERY
    SELECT b.tenant_id, b.currency,
           (b.monthly_limit_micros
            - COALESCE((SELECT sum(d.cost_micros + d.fee_micros) FROM spend_daily d
                        WHERE d.tenant_id = b.tenant_id AND d.day BETWEEN first_day AND last_day
                          AND d.currency = b.currency), 0)
            - COALESCE((SELECT h.micros FROM budget_held h WHERE h.tenant_id = b.tenant_id), 0)
            + COALESCE((SELECT sum(r.micros) FROM budget_released r
                        WHERE r.tenant_id = b.tenant_id), 0))::int8
    FROM budgets b WHERE b.tenant_id = ANY (tenants) AND b.hard_cap;
END
$$;
