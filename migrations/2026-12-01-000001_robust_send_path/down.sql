ALTER TABLE providers DROP COLUMN max_concurrency;
DROP INDEX messages_in_doubt_idx;
ALTER TABLE messages DROP COLUMN doubt_until;
DROP TABLE idempotent_requests;
