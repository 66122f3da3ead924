ALTER TABLE messages
    DROP CONSTRAINT messages_status_known,
    DROP CONSTRAINT messages_encoding_known;
ALTER TABLE message_attempts DROP CONSTRAINT message_attempts_outcome_known;
ALTER TABLE users DROP CONSTRAINT users_role_known;
