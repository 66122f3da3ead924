//! End-to-end: the built `openclaw-server` and `openclaw-worker` binaries, real Postgres and
//! RabbitMQ, and `provider-sim` speaking the Twilio and Vonage wire formats. Providers are real
//! `twilio`/`vonage` providers pointed at the simulator through `base_url`.

mod billing_close;
mod budget_cap;
mod changes;
mod delivery;
mod doubt;
mod ledger;
mod memory;
mod outbox;
mod platform;
mod receipts;
mod restart;
mod support;
mod trace;
mod webhooks;
