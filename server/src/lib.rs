//! openclaw-server: the HTTP API (and, mounted beside it, the admin web app).

pub mod auth;
pub mod error;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
