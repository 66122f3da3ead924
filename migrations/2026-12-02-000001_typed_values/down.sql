ALTER TABLE messages
    DROP CONSTRAINT messages_status_known,
    DROP CONSTRAINT messages_encoding_known;
