//! Billing: the operator's settings and tenants' fees ([`settings`], [`terms`]), closing a
//! period into invoices and each invoice through Stripe ([`invoices`]), and Stripe's client
//! and events ([`stripe`]), and the exchange rates prices in other currencies convert at
//! ([`rates`]).

pub mod invoices;
pub mod rates;
pub mod reconcile;
pub mod settings;
pub mod stripe;
pub mod terms;
