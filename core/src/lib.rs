//! OpenClaw's shared core: the domain types, Postgres storage, the RabbitMQ topology and the
//! SMS provider adapters. The server and the worker are thin shells around this crate.

pub mod accept;
pub mod accounts;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod budgets;
pub mod cache;
pub mod changes;
pub mod config;
pub mod context;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod hooks;
pub mod inbound;
pub mod ingest;
pub mod jwt;
pub mod mail;
pub mod members;
pub mod opt_outs;
pub mod permissions;
pub mod prices;
pub mod providers;
pub mod queue;
pub mod receipts;
#[cfg(feature = "actix")]
pub mod request;
pub mod routing;
pub mod settings;
pub mod staff;
pub mod test_send;
pub mod trace;
pub mod webhooks;
