DROP FUNCTION platform_provider_names();
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_kind_check;
DELETE FROM invoice_lines WHERE kind = 'platform_messages';
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_kind_check CHECK (kind IN ('platform_fee'));
ALTER TABLE spend_daily DROP COLUMN platform_cost_micros;
ALTER TABLE ledger_entries DROP COLUMN platform_cost_micros;
ALTER TABLE messages DROP COLUMN platform_cost_micros;
DELETE FROM provider_prices WHERE list = 'sell' OR tenant_id IS NULL;
ALTER TABLE provider_prices DROP CONSTRAINT provider_prices_pkey;
ALTER TABLE provider_prices ADD PRIMARY KEY (provider_id, country, message_type);
ALTER TABLE provider_prices DROP CONSTRAINT provider_prices_sell_is_platform;
ALTER TABLE provider_prices DROP COLUMN list;
ALTER TABLE provider_prices ALTER COLUMN tenant_id SET NOT NULL;
DROP INDEX providers_platform_idx;
-- Platform providers cannot go back to having no tenant; messages may point at them.
ALTER TABLE providers ALTER COLUMN tenant_id SET NOT NULL;
