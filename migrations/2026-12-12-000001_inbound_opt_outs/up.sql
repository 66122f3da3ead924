-- Inbound messages (what people text to a tenant's numbers) and opt-outs (numbers that asked,
-- by a STOP reply or through the tenant, to get nothing more from it).

CREATE TABLE inbound_messages (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider_id uuid NOT NULL,
    -- The provider's own id (Twilio's MessageSid, Vonage's messageId): a resent one is stored once.
    provider_message_id text NOT NULL,
    sender text NOT NULL,
    recipient text NOT NULL,
    body text NOT NULL,
    -- What its keyword did: 'opt_out', 'opt_in', 'help', or NULL (none).
    keyword text CHECK (keyword IN ('opt_out', 'opt_in', 'help')),
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider_id, provider_message_id)
);
CREATE INDEX inbound_messages_tenant ON inbound_messages (tenant_id, id DESC);

CREATE TABLE opt_outs (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number text NOT NULL,
    -- For pages, newest first.
    id uuid NOT NULL UNIQUE,
    -- How it came: a keyword reply ('inbound'), a person or app ('manual'), a CSV ('import').
    source text NOT NULL CHECK (source IN ('inbound', 'manual', 'import')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, number)
);
CREATE INDEX opt_outs_page ON opt_outs (tenant_id, id DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON inbound_messages, opt_outs TO openclaw_tenant;
ALTER TABLE inbound_messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbound_messages TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
ALTER TABLE opt_outs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON opt_outs TO openclaw_tenant
    USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
