//! openclaw-worker: consumes sends, routes them over the cheapest provider that takes them,
//! retries through delay queues, and records every attempt, outcome and cost.

pub mod consumer;
pub mod jobs;
pub mod relay;
pub mod send;
pub mod startup;
pub mod webhooks;
