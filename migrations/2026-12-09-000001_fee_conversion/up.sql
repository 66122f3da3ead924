-- A platform fee converted from the operator's fee in another currency than the tenant's: the
-- fee's currency, the fee in it and the rate used (all NULL when the fee was in the tenant's
-- currency), fixed when the message is accepted and copied onto its fee's ledger entry.
ALTER TABLE messages
    ADD COLUMN fee_source_currency text,
    ADD COLUMN fee_source_micros bigint,
    ADD COLUMN fee_rate_e9 bigint;
