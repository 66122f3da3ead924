-- A receipt that never comes. Each provider says how long its receipts may take; a message
-- still `sent` that long after its provider took it gets a `receipt_overdue` event (it stays
-- `sent`: a late receipt still moves it on).
ALTER TABLE providers ADD COLUMN receipt_timeout_seconds integer NOT NULL DEFAULT 86400
    CHECK (receipt_timeout_seconds BETWEEN 1 AND 604800);

-- The sends waiting for their receipt, a row per statement that recorded them (and per
-- timeout), written by that statement: no index on `messages` changes with a status (its
-- updates stay HOT), and a row's messages are looked at once, when it falls due.
CREATE TABLE receipt_watches (
    id bigserial PRIMARY KEY,
    due_at timestamptz NOT NULL,
    message_ids uuid[] NOT NULL
);
CREATE INDEX receipt_watches_due ON receipt_watches (due_at);
