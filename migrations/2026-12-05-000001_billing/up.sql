-- Billing: the operator's settings (a platform fee per segment, the default markup on platform
-- providers, the grace period for invoices), each version effective from a day and never
-- rewritten once it applies; per-tenant fee overrides (a contract price); and the invoices a
-- closed period makes, each closed through Stripe by a stored state machine.

-- One row per version; the one in force on a day is the latest with effective_from <= that day.
-- Amounts are per segment, in micro-units of `currency`; the markup in hundredths of a percent.
CREATE TABLE billing_settings (
    effective_from       date PRIMARY KEY,
    platform_fee_micros  bigint NOT NULL CHECK (platform_fee_micros BETWEEN 0 AND 1000000000),
    currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    markup_bps           integer NOT NULL CHECK (markup_bps BETWEEN 0 AND 100000),
    grace_days           integer NOT NULL CHECK (grace_days BETWEEN 1 AND 365),
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL
);

-- A tenant's own platform fee from a day on (NULL: the platform's fee again).
CREATE TABLE tenant_fee_overrides (
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    effective_from       date NOT NULL,
    platform_fee_micros  bigint CHECK (platform_fee_micros BETWEEN 0 AND 1000000000),
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (tenant_id, effective_from)
);

-- The platform fee of a message (fee per segment × segments, in its currency), fixed when it is
-- accepted; its ledger entry is written with the message's own when a provider takes it.
ALTER TABLE messages ADD COLUMN fee_micros bigint NOT NULL DEFAULT 0;
ALTER TABLE spend_daily ADD COLUMN fee_micros bigint NOT NULL DEFAULT 0;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('message', 'platform_fee'));

-- A period a staff member asked to close. The close job opens an invoice per tenant with
-- anything billable in it.
CREATE TABLE billing_periods (
    id            uuid PRIMARY KEY,
    period        date NOT NULL UNIQUE CHECK (extract(day FROM period) = 1),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    requested_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    -- When the invoices were opened (the ledger frozen), and how many.
    opened_at     timestamptz,
    invoices      integer
);

-- A tenant's invoice for a period: its lines frozen from the ledger when opened; `step` is
-- where its close stands (customer → items → invoice → finalize → done), each step recorded
-- after the Stripe call it makes, whose idempotency key derives from (tenant, period, step).
CREATE TABLE invoices (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    period              date NOT NULL CHECK (extract(day FROM period) = 1),
    currency            text NOT NULL,
    total_micros        bigint NOT NULL CHECK (total_micros >= 0),
    status              text NOT NULL CHECK (status IN ('draft', 'open', 'paid', 'uncollectible', 'void')),
    step                text NOT NULL CHECK (step IN ('customer', 'items', 'invoice', 'finalize', 'done')),
    stripe_invoice_id   text UNIQUE,
    stripe_total_minor  bigint,
    number              text,
    hosted_invoice_url  text,
    -- Unpaid at this moment (finalized + the grace period), the tenant is past due.
    past_due_at         timestamptz,
    finalized_at        timestamptz,
    paid_at             timestamptz,
    payment_failed_at   timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, period)
);
CREATE INDEX invoices_period_idx ON invoices (period, tenant_id);
-- What the accept path asks of a tenant: its open invoices' past-due moments.
CREATE INDEX invoices_open_idx ON invoices (tenant_id) WHERE status = 'open';

CREATE TABLE invoice_lines (
    invoice_id      uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    line            integer NOT NULL CHECK (line >= 1),
    kind            text NOT NULL CHECK (kind IN ('platform_fee')),
    description     text NOT NULL,
    -- Segments billed, at unit_micros each; amount_micros = quantity × unit_micros.
    quantity        bigint NOT NULL CHECK (quantity >= 0),
    unit_micros     bigint NOT NULL CHECK (unit_micros >= 0),
    amount_micros   bigint NOT NULL CHECK (amount_micros >= 0),
    stripe_item_id  text,
    PRIMARY KEY (invoice_id, line)
);

-- One Stripe customer per tenant, made at its first close.
CREATE TABLE stripe_customers (
    tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    customer_id  text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Stripe events applied, by their id: a redelivered event changes nothing.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    invoice_id   uuid,
    received_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('budget_alert_mail', 'billing_close', 'invoice_close'));

-- Tenants read their own invoices and lines.
GRANT SELECT ON invoices, invoice_lines TO openclaw_tenant;
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices TO openclaw_tenant USING (tenant_id = app_tenant());
ALTER TABLE invoice_lines ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoice_lines TO openclaw_tenant
    USING (invoice_id IN (SELECT id FROM invoices WHERE tenant_id = app_tenant()));
-- The accept path of a tenant request reads the settings and its overrides.
GRANT SELECT ON billing_settings TO openclaw_tenant;
GRANT SELECT ON tenant_fee_overrides TO openclaw_tenant;
ALTER TABLE tenant_fee_overrides ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_fee_overrides TO openclaw_tenant
    USING (tenant_id = app_tenant());
