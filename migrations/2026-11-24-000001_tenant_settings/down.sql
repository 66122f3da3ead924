ALTER TABLE tenants DROP COLUMN default_sender_ids;
