-- A message's status and encoding and an attempt's outcome are enums in the code (`Status`,
-- `Encoding`, `AttemptOutcome`);
-- the database refuses any other name, as it already does for key modes and provider kinds.
-- A test compares these lists with the enums.
ALTER TABLE messages
    ADD CONSTRAINT messages_status_known CHECK (status IN ('scheduled', 'queued', 'sending',
        'sent', 'delivered', 'undelivered', 'failed', 'canceled', 'expired')),
    ADD CONSTRAINT messages_encoding_known CHECK (encoding IN ('GSM-7', 'UCS-2'));
ALTER TABLE message_attempts
    ADD CONSTRAINT message_attempts_outcome_known CHECK (outcome IN ('accepted', 'transient',
        'permanent', 'unknown'));
-- A person's role is `domain::Role` (tenant roles and the two platform roles).
ALTER TABLE users
    ADD CONSTRAINT users_role_known CHECK (role IN ('owner', 'admin', 'developer', 'billing',
        'viewer', 'platform_admin', 'billing_staff'));
