ALTER TABLE tenant_fee_overrides DROP COLUMN markup_bps;
