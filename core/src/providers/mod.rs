//! SMS gateway adapters. Each speaks its provider's real wire format over HTTP and classifies
//! what came back, so the worker only ever sees [`SendOutcome`]. The tenant's provider
//! accounts (add, change, remove, prices) are [`service`].//!
//! The rooms: [`kinds`] (the gateways and what a provider account may hold), [`credentials`]
//! (validated, masked, sealed at rest, the master-key rotation) and [`dispatch`] (one send
//! through an account, classified).

mod credentials;
mod dispatch;
mod kinds;
pub mod sandbox;
pub mod service;
pub mod twilio;
pub mod vonage;

pub use credentials::*;
pub use dispatch::*;
pub use kinds::*;
