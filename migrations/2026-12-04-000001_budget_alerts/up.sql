-- Budget alerts: one per (tenant, period, threshold), raised by the worker's sweep when the
-- month's spend reaches that percentage of the limit. The unique key is what makes "one alert
-- per threshold per period" hold however many workers sweep at once.
CREATE TABLE budget_alerts (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The calendar month in UTC, as its first day.
    period               date NOT NULL CHECK (extract(day FROM period) = 1),
    threshold            integer NOT NULL CHECK (threshold BETWEEN 1 AND 1000),
    -- The limit and the spend when it was raised, in the billing currency.
    monthly_limit_micros bigint NOT NULL CHECK (monthly_limit_micros >= 0),
    spent_micros         bigint NOT NULL CHECK (spent_micros >= 0),
    currency             text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, period, threshold)
);
-- Newest first: ids are UUIDv7, so they sort by creation.
CREATE INDEX budget_alerts_newest_idx ON budget_alerts (tenant_id, id DESC);

GRANT SELECT ON budget_alerts TO openclaw_tenant;
ALTER TABLE budget_alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budget_alerts TO openclaw_tenant
    USING (tenant_id = app_tenant());

-- Work that runs later and may fail (mail today; billing closes next), written in the
-- transaction of the change that causes it. The worker's relay publishes due rows to the jobs
-- queue; the job's consumer deletes the row in the transaction that records the outcome, or
-- moves `due_at` on with a backoff when it failed. A published row is leased (`due_at` moved
-- on) so it is not published twice while its queue message is on its way.
CREATE TABLE jobs (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('budget_alert_mail')),
    -- What the job acts on (e.g. the alert's id).
    subject     uuid NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    due_at      timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, subject)
);
CREATE INDEX jobs_due_idx ON jobs (due_at);
