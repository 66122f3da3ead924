-- A tenant's monthly budget (calendar months in UTC), in its billing currency. At most one per
-- tenant; none means no limit and no alerts.
CREATE TABLE budgets (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    monthly_limit_micros bigint NOT NULL CHECK (monthly_limit_micros >= 0),
    currency             text NOT NULL,
    -- Percentages of the limit at which an alert is raised, ascending, distinct.
    alert_thresholds     integer[] NOT NULL DEFAULT '{}',
    hard_cap             boolean NOT NULL DEFAULT false,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON budgets TO openclaw_tenant;
ALTER TABLE budgets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON budgets TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
