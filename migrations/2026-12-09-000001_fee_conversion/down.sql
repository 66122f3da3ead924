ALTER TABLE messages
    DROP COLUMN fee_source_currency,
    DROP COLUMN fee_source_micros,
    DROP COLUMN fee_rate_e9;
