-- Sender ids used when neither the message nor the chosen provider names one.
ALTER TABLE tenants ADD COLUMN default_sender_ids text[] NOT NULL DEFAULT '{}';
