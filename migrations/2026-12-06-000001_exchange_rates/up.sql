-- Exchange rates the operator sets: a price given in a currency other than its tenant's is
-- converted at the rate from its currency to the tenant's, when the tenant's routes are read.
-- A rate is an exact decimal in billionths (1.0845 is 1084500000). A change applies to what
-- is sent from then on; what was charged keeps the rate it was charged at, stored with the
-- message's cost and on its ledger entry.
CREATE TABLE exchange_rates (
    from_currency  text NOT NULL CHECK (from_currency ~ '^[A-Z]{3}$'),
    to_currency    text NOT NULL CHECK (to_currency ~ '^[A-Z]{3}$'),
    rate_e9        bigint NOT NULL CHECK (rate_e9 BETWEEN 1 AND 1000000000000000),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    PRIMARY KEY (from_currency, to_currency),
    CHECK (from_currency <> to_currency)
);
-- A tenant's price upload checks that its currencies have a rate.
GRANT SELECT ON exchange_rates TO openclaw_tenant;

-- A cost converted from a price in another currency: the price's currency, the cost in it and
-- the rate used (all NULL when the price was in the tenant's currency).
ALTER TABLE messages
    ADD COLUMN cost_source_currency text,
    ADD COLUMN cost_source_micros bigint,
    ADD COLUMN cost_rate_e9 bigint;
ALTER TABLE ledger_entries
    ADD COLUMN source_currency text,
    ADD COLUMN source_micros bigint,
    ADD COLUMN rate_e9 bigint;
