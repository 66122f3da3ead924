DROP TABLE opt_outs;
DROP TABLE inbound_messages;
