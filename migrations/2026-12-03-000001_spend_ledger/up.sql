-- The spend ledger: one row per priced event, written by the statement that makes the status
-- change causing it. `spend_daily` and every report are sums of it.
--
-- A row is unique per (message, attempt, kind): a replayed round, a repeated receipt or a
-- settled doubt can never charge a message twice. `attempt` is the retry round the message was
-- taken in. Test-mode messages write nothing here.
CREATE TABLE ledger_entries (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id    uuid NOT NULL,
    attempt       integer NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('message')),
    day           date NOT NULL,
    provider_id   uuid NOT NULL REFERENCES providers (id),
    country       text NOT NULL,
    message_type  text NOT NULL,
    segments      integer NOT NULL,
    amount_micros bigint NOT NULL,
    currency      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, attempt, kind)
);
-- One index only: every sent message writes a row, and each index is a write more on the send
-- path. What is read by tenant and day (a budget's month, the reports) is read from
-- `spend_daily`, the ledger's sums; reconciling a month scans the ledger.

GRANT SELECT, INSERT ON ledger_entries TO openclaw_tenant;
ALTER TABLE ledger_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_entries TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());

-- Messages priced before the ledger existed get their entry, dated by the first event that
-- says a provider took them, and the rollup is rebuilt from the ledger, so the two agree from
-- the start.
INSERT INTO ledger_entries (tenant_id, message_id, attempt, kind, day, provider_id, country,
    message_type, segments, amount_micros, currency)
SELECT m.tenant_id, m.id, m.round, 'message',
       (COALESCE((SELECT min((e ->> 'at')::timestamptz) FROM jsonb_array_elements(m.events) AS e
                  WHERE e ->> 'status' IN ('sent', 'delivered', 'undelivered')),
                 m.created_at) AT TIME ZONE 'UTC')::date,
       m.provider_id, m.country, m.message_type, m.segments, m.cost_micros, m.currency
FROM messages m
WHERE m.mode = 'live' AND m.cost_micros IS NOT NULL AND m.provider_id IS NOT NULL
  AND m.status IN ('sent', 'delivered', 'undelivered');
DELETE FROM spend_daily;
INSERT INTO spend_daily (tenant_id, day, provider_id, country, message_type, currency, messages,
    segments, cost_micros)
SELECT tenant_id, day, provider_id, country, message_type, currency, count(*), sum(segments),
       sum(amount_micros)
FROM ledger_entries GROUP BY 1, 2, 3, 4, 5, 6;
