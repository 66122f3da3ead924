-- A tenant's own markup on platform providers' cost prices, from a day on, beside its own fee
-- (NULL: the operator's default markup in force that day), in hundredths of a percent.
ALTER TABLE tenant_fee_overrides
    ADD COLUMN markup_bps integer CHECK (markup_bps BETWEEN 0 AND 100000);
