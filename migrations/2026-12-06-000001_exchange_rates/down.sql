ALTER TABLE ledger_entries DROP COLUMN source_currency, DROP COLUMN source_micros,
    DROP COLUMN rate_e9;
ALTER TABLE messages DROP COLUMN cost_source_currency, DROP COLUMN cost_source_micros,
    DROP COLUMN cost_rate_e9;
DROP TABLE exchange_rates;
