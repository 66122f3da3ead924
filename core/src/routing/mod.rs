//! Which providers may carry a message, cheapest first. Pure functions over a tenant's
//! [`RouteTable`], which the API (for the estimate in the 202) and the worker (for the send)
//! load and cache the same way ([`table`]), so they agree.

pub mod table;

pub use table::{Gateway, RouteTable, RouteTables};
use uuid::Uuid;

/// One price row: `country` is ISO 3166-1 alpha-2 or `*`; `message_type` a type or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub country: String,
    pub message_type: String,
    pub price_micros: i64,
    pub currency: String,
}

/// What routing needs to know of a provider.
#[derive(Debug, Clone)]
pub struct RouteProvider {
    pub id: Uuid,
    pub name: String,
    pub is_sandbox: bool,
    pub enabled: bool,
    pub prices: Vec<Price>,
}

/// A provider that may carry the message, at the price that applies to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub provider_id: Uuid,
    pub price_micros: i64,
    pub currency: String,
}

/// The price for a destination: an exact country beats `*`, and within each a price for the
/// message type beats the type-less `*` one.
pub fn price_for<'a>(prices: &'a [Price], country: &str, message_type: &str) -> Option<&'a Price> {
    let rank = |p: &Price| -> Option<u8> {
        let country_rank = if p.country == country {
            0
        } else if p.country == "*" {
            2
        } else {
            return None;
        };
        let type_rank = if p.message_type == message_type {
            0
        } else if p.message_type == "*" {
            1
        } else {
            return None;
        };
        Some(country_rank + type_rank)
    };
    prices
        .iter()
        .filter_map(|p| rank(p).map(|r| (r, p)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, p)| p)
}

/// Enabled providers priced for the destination, cheapest first (ties broken by provider id,
/// so the order is stable). Test-mode sends may only use sandbox providers.
pub fn candidates(
    providers: &[RouteProvider],
    country: &str,
    message_type: &str,
    test_mode: bool,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = providers
        .iter()
        .filter(|p| p.enabled && (!test_mode || p.is_sandbox))
        .filter_map(|p| {
            price_for(&p.prices, country, message_type).map(|price| Candidate {
                provider_id: p.id,
                price_micros: price.price_micros,
                currency: price.currency.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.price_micros
            .cmp(&b.price_micros)
            .then(a.provider_id.cmp(&b.provider_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(country: &str, message_type: &str, micros: i64) -> Price {
        Price {
            country: country.into(),
            message_type: message_type.into(),
            price_micros: micros,
            currency: "USD".into(),
        }
    }

    fn provider(n: u128, sandbox: bool, prices: Vec<Price>) -> RouteProvider {
        RouteProvider {
            id: Uuid::from_u128(n),
            name: format!("p{n}"),
            is_sandbox: sandbox,
            enabled: true,
            prices,
        }
    }

    #[test]
    fn exact_country_and_type_beat_wildcards() {
        let prices = vec![
            price("*", "*", 1),
            price("*", "otp", 2),
            price("DE", "*", 3),
            price("DE", "otp", 4),
        ];
        assert_eq!(price_for(&prices, "DE", "otp").unwrap().price_micros, 4);
        assert_eq!(
            price_for(&prices, "DE", "marketing").unwrap().price_micros,
            3
        );
        assert_eq!(price_for(&prices, "FR", "otp").unwrap().price_micros, 2);
        assert_eq!(
            price_for(&prices, "FR", "marketing").unwrap().price_micros,
            1
        );
        assert!(price_for(&[price("DE", "otp", 1)], "DE", "marketing").is_none());
        assert!(price_for(&[price("DE", "*", 1)], "FR", "otp").is_none());
    }

    #[test]
    fn cheapest_first_and_unpriced_or_disabled_left_out() {
        let mut disabled = provider(4, false, vec![price("DE", "*", 1)]);
        disabled.enabled = false;
        let providers = vec![
            provider(1, false, vec![price("DE", "*", 7_500)]),
            provider(2, false, vec![price("DE", "*", 5_000)]),
            provider(3, false, vec![price("FR", "*", 1_000)]),
            disabled,
            provider(5, false, vec![price("*", "*", 6_000)]),
        ];
        let order: Vec<u128> = candidates(&providers, "DE", "transactional", false)
            .iter()
            .map(|c| c.provider_id.as_u128())
            .collect();
        assert_eq!(order, vec![2, 5, 1]);
    }

    #[test]
    fn ties_are_broken_by_provider_id() {
        let providers = vec![
            provider(9, false, vec![price("DE", "*", 5)]),
            provider(3, false, vec![price("DE", "*", 5)]),
        ];
        let order: Vec<u128> = candidates(&providers, "DE", "otp", false)
            .iter()
            .map(|c| c.provider_id.as_u128())
            .collect();
        assert_eq!(order, vec![3, 9]);
    }

    #[test]
    fn test_mode_uses_only_sandbox_providers() {
        let providers = vec![
            provider(1, false, vec![price("US", "*", 1)]),
            provider(2, true, vec![price("US", "*", 10)]),
        ];
        let test: Vec<u128> = candidates(&providers, "US", "otp", true)
            .iter()
            .map(|c| c.provider_id.as_u128())
            .collect();
        assert_eq!(test, vec![2]);
        assert_eq!(candidates(&providers, "US", "otp", false).len(), 2);
    }
}
