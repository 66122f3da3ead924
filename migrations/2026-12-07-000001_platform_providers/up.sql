-- Platform providers: gateway accounts the operator owns (`tenant_id` NULL), offered to every
-- tenant's routing at their sell price. Each has two price lists: what the gateway charges the
-- operator (`cost`) and what the operator bills tenants (`sell`); where the sell list names no
-- price for a destination, the cost plus the operator's default markup is the sell price.
-- Tenants' own providers have one list, `cost` (what their gateway charges them).
--
-- Row-level security already keeps platform rows from every tenant-scoped query: their
-- `tenant_id` is NULL, never `app_tenant()`.
ALTER TABLE providers ALTER COLUMN tenant_id DROP NOT NULL;
CREATE INDEX providers_platform_idx ON providers (id) WHERE tenant_id IS NULL AND deleted_at IS NULL;

ALTER TABLE provider_prices ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE provider_prices ADD COLUMN list text NOT NULL DEFAULT 'cost'
    CHECK (list IN ('cost', 'sell'));
ALTER TABLE provider_prices ADD CONSTRAINT provider_prices_sell_is_platform
    CHECK (list = 'cost' OR tenant_id IS NULL);
ALTER TABLE provider_prices DROP CONSTRAINT provider_prices_pkey;
ALTER TABLE provider_prices ADD PRIMARY KEY (provider_id, list, country, message_type);

-- What a message sent through a platform provider cost the operator (its cost price ×
-- segments, in the tenant's currency); `cost_micros` is what the tenant is billed for it.
ALTER TABLE messages ADD COLUMN platform_cost_micros bigint;
ALTER TABLE ledger_entries ADD COLUMN platform_cost_micros bigint;
ALTER TABLE spend_daily ADD COLUMN platform_cost_micros bigint NOT NULL DEFAULT 0;

-- Invoices bill the messages sent through platform providers, a line per price per segment.
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_kind_check;
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_kind_check
    CHECK (kind IN ('platform_fee', 'platform_messages'));

-- A tenant's history names the platform providers its messages went through: their ids and
-- names (nothing else of them) are readable from a tenant-scoped transaction through this.
CREATE FUNCTION platform_provider_names() RETURNS TABLE (id uuid, name text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT id, name FROM providers WHERE tenant_id IS NULL $$;
GRANT EXECUTE ON FUNCTION platform_provider_names() TO openclaw_tenant;
