DROP TRIGGER message_status_events ON messages;
DROP FUNCTION message_status_events();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_callback_secrets;
DROP TABLE webhook_endpoints;
DROP FUNCTION uuid_v7();
