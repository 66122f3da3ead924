DROP TABLE receipt_watches;
ALTER TABLE providers DROP COLUMN receipt_timeout_seconds;
