//! Billing: the operator's settings and tenants' fees ([`settings`], [`terms`]), closing a
//! period into invoices and each invoice through Stripe ([`invoices`]), and Stripe's client
//! and events ([`stripe`]).

pub mod invoices;
pub mod reconcile;
pub mod settings;
pub mod stripe;
pub mod terms;
