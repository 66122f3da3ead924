//! API integration tests: the server and worker in this process, on a database of their own
//! (copied from a migrated template) and a queue prefix of their own, against the real
//! Postgres and RabbitMQ of this machine.

mod accounts;
mod admin_walk;
mod alerts;
mod api_keys;
mod audit;
mod bad_input;
mod billing;
mod budget;
mod changes;
mod exchange_rates;
mod inbound;
mod invoices;
mod isolation;
mod members;
mod messages;
mod operations;
mod opt_out_doors;
mod poison;
mod provider_doors;
mod provider_service;
mod providers;
mod receipts;
mod request_ids;
mod security;
mod services;
mod settings;
mod spend;
mod spend_report;
mod storage;
mod webhook_doors;
mod webhooks;
