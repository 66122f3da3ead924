-- The message types a tenant sends to opted-out numbers all the same (a one-time code the
-- person asked for, a receipt of their order): none by default; marketing never.
ALTER TABLE tenants ADD COLUMN opt_out_exempt_types text[] NOT NULL DEFAULT '{}'
    CHECK (opt_out_exempt_types <@ ARRAY['transactional', 'otp']::text[]);
