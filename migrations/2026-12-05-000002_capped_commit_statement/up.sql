-- One statement for a hard-capped group commit (it was a transaction of five round trips):
-- `budget_room` locks the tenants' budget rows (in tenant order, so concurrent commits cannot
-- deadlock) and then, in a statement of its own (a PL/pgSQL statement takes a new snapshot, so
-- it sees every hold and every spend committed before the lock was ours), takes the releases
-- the trigger appended (deleting them) and reads what each month has left. The insert that
-- calls it admits rows in order while they fit, stores them, and moves the held total by what
-- it added less what was folded, in one UPDATE (the function must not write `budget_held`
-- itself: one statement may change a row once).
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

