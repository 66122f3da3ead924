//! Which providers may carry a message, cheapest first. Pure functions over a tenant's
//! [`RouteTable`], which the API (for the estimate in the 202) and the worker (for the send)
//! load and cache the same way ([`table`]), so they agree.

pub mod table;

pub use table::{Gateway, RouteTable, RouteTables};
use uuid::Uuid;

use crate::domain::{Markup, Rate};

/// One price row: `country` is ISO 3166-1 alpha-2 or `*`; `message_type` a type or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub country: String,
    pub message_type: String,
    pub price_micros: i64,
    pub currency: String,
    /// In a route table, a price given in another currency than the tenant's, converted into
    /// it ([`convert`]): the price as given, and the rate. None as stored.
    pub fx: Option<Fx>,
}

/// An amount converted into the tenant's currency: the amount in the currency it was given in,
/// and the rate used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fx {
    pub currency: String,
    pub micros: i64,
    pub rate: Rate,
}

/// What a message costs through a provider, in the tenant's currency, with what it was
/// converted from when its price was in another currency.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Charge {
    /// What the tenant is charged (through a platform provider: its sell price).
    pub micros: i64,
    pub fx: Option<Fx>,
    /// Through a platform provider: what it costs the operator, in the tenant's currency.
    pub platform_cost_micros: Option<i64>,
}

impl Charge {
    /// `segments` of a price per segment (saturating; the conversion is of the price per
    /// segment, so the cost is the same whichever way it is read).
    pub fn of(price_micros: i64, fx: Option<&Fx>, segments: i32) -> Charge {
        let n = i64::from(segments);
        Charge {
            micros: price_micros.saturating_mul(n),
            fx: fx.map(|f| Fx {
                currency: f.currency.clone(),
                micros: f.micros.saturating_mul(n),
                rate: f.rate,
            }),
            platform_cost_micros: None,
        }
    }
}

/// The operator's exchange rates, by (from, to) currency.
pub type Rates = std::collections::HashMap<(String, String), Rate>;

/// A provider's prices in the tenant's currency `tenant`: a price in another currency is
/// converted at the operator's rate into it, rounded half to even, and remembers what it was
/// ([`Fx`]). A price with no rate (its rate was removed after it was uploaded) is left out, so
/// the provider is not priced there, and said so in the log.
pub fn convert(prices: Vec<Price>, tenant: &str, rates: &Rates) -> Vec<Price> {
    prices
        .into_iter()
        .filter_map(|p| {
            if p.currency == tenant {
                return Some(p);
            }
            let rate = rates.get(&(p.currency.clone(), tenant.to_owned()));
            let converted = rate.and_then(|r| r.convert(p.price_micros).map(|m| (*r, m)));
            match converted {
                Some((rate, micros)) => Some(Price {
                    price_micros: micros,
                    currency: tenant.to_owned(),
                    fx: Some(Fx {
                        currency: p.currency,
                        micros: p.price_micros,
                        rate,
                    }),
                    ..p
                }),
                None => {
                    tracing::warn!(
                        from = %p.currency,
                        to = tenant,
                        country = %p.country,
                        "no exchange rate for a price; the provider is not priced there"
                    );
                    None
                }
            }
        })
        .collect()
}

/// What routing needs to know of a provider.
#[derive(Debug, Clone)]
pub struct RouteProvider {
    pub id: Uuid,
    pub name: String,
    pub is_sandbox: bool,
    pub enabled: bool,
    /// What the tenant is charged per segment: its own provider's prices, or a platform
    /// provider's sell list.
    pub prices: Vec<Price>,
    /// A platform provider's cost list (None: the tenant's own provider).
    pub platform: Option<PlatformPrices>,
}

/// What the operator pays for a platform provider's messages.
#[derive(Debug, Clone, Default)]
pub struct PlatformPrices {
    pub costs: Vec<Price>,
}

/// A provider that may carry the message, at the price that applies to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub provider_id: Uuid,
    /// Per segment, in the tenant's currency.
    pub price_micros: i64,
    pub currency: String,
    /// What the price was converted from, if it was given in another currency.
    pub fx: Option<Fx>,
    /// A platform provider's cost per segment, in the tenant's currency.
    pub platform_cost_micros: Option<i64>,
}

impl Candidate {
    /// What `segments` cost through it.
    pub fn charge(&self, segments: i32) -> Charge {
        Charge {
            platform_cost_micros: self
                .platform_cost_micros
                .map(|c| c.saturating_mul(i64::from(segments))),
            ..Charge::of(self.price_micros, self.fx.as_ref(), segments)
        }
    }
}

/// A platform provider's cost price with `markup` on: the price as given is marked up, then
/// converted at the same rate, so the sell price is what the operator would have typed.
pub fn marked_up(cost: &Price, markup: Markup) -> Option<Price> {
    let (micros, fx) = match &cost.fx {
        Some(fx) => {
            let given = markup.apply(fx.micros)?;
            let fx = Fx {
                micros: given,
                ..fx.clone()
            };
            (fx.rate.convert(given)?, Some(fx))
        }
        None => (markup.apply(cost.price_micros)?, None),
    };
    Some(Price {
        price_micros: micros,
        fx,
        ..cost.clone()
    })
}

/// What a provider charges the tenant per segment for a destination, and (a platform
/// provider) what it costs the operator: its own price; or a platform provider's sell price
/// where its sell list names one, else its cost with `markup` on. A platform provider with no
/// cost price for the destination is not priced there.
pub fn price_of(
    provider: &RouteProvider,
    country: &str,
    message_type: &str,
    markup: Markup,
) -> Option<(Price, Option<i64>)> {
    match &provider.platform {
        None => price_for(&provider.prices, country, message_type).map(|p| (p.clone(), None)),
        Some(platform) => {
            let cost = price_for(&platform.costs, country, message_type)?;
            let sell = match price_for(&provider.prices, country, message_type) {
                Some(sell) => sell.clone(),
                None => marked_up(cost, markup)?,
            };
            Some((sell, Some(cost.price_micros)))
        }
    }
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
/// so the order is stable): the tenant's own at their price and the platform's at their sell
/// price ([`price_of`], `markup` the operator's default in force). Test-mode sends may only use
/// sandbox providers.
pub fn candidates(
    providers: &[RouteProvider],
    country: &str,
    message_type: &str,
    test_mode: bool,
    markup: Markup,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = providers
        .iter()
        .filter(|p| p.enabled && (!test_mode || p.is_sandbox))
        .filter_map(|p| {
            price_of(p, country, message_type, markup).map(|(price, cost)| Candidate {
                provider_id: p.id,
                price_micros: price.price_micros,
                currency: price.currency,
                fx: price.fx,
                platform_cost_micros: cost,
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
            fx: None,
        }
    }

    fn provider(n: u128, sandbox: bool, prices: Vec<Price>) -> RouteProvider {
        RouteProvider {
            id: Uuid::from_u128(n),
            name: format!("p{n}"),
            is_sandbox: sandbox,
            enabled: true,
            prices,
            platform: None,
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
        let order: Vec<u128> = candidates(&providers, "DE", "transactional", false, Markup(0))
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
        let order: Vec<u128> = candidates(&providers, "DE", "otp", false, Markup(0))
            .iter()
            .map(|c| c.provider_id.as_u128())
            .collect();
        assert_eq!(order, vec![3, 9]);
    }

    #[test]
    fn prices_in_another_currency_convert_at_the_rate_and_remember_it() {
        let eur = Price {
            currency: "EUR".into(),
            ..price("DE", "*", 7_500)
        };
        let gbp = Price {
            currency: "GBP".into(),
            ..price("FR", "*", 1_000)
        };
        let rate = Rate::parse("1.0845").unwrap();
        let rates: Rates = [(("EUR".into(), "USD".into()), rate)].into_iter().collect();
        let out = convert(vec![price("*", "*", 9_000), eur, gbp], "USD", &rates);
        assert_eq!(out.len(), 2, "the GBP price has no rate: left out");
        assert_eq!(out[0], price("*", "*", 9_000));
        assert_eq!(out[1].price_micros, 8_134);
        assert_eq!(out[1].currency, "USD");
        let fx = out[1].fx.clone().unwrap();
        assert_eq!(
            (fx.currency.as_str(), fx.micros, fx.rate),
            ("EUR", 7_500, rate)
        );
        // Routed by the converted price: 8,134 beats 9,000.
        let providers = vec![
            provider(1, false, vec![out[0].clone()]),
            provider(2, false, vec![out[1].clone()]),
        ];
        let first = candidates(&providers, "DE", "otp", false, Markup(0)).remove(0);
        assert_eq!(first.provider_id.as_u128(), 2);
        let charge = first.charge(3);
        assert_eq!(charge.micros, 24_402);
        assert_eq!(charge.fx.unwrap().micros, 22_500);
    }

    #[test]
    fn platform_providers_compete_at_their_sell_price_or_cost_plus_markup() {
        let mut platform = provider(7, false, vec![price("DE", "*", 6_000)]);
        platform.platform = Some(PlatformPrices {
            costs: vec![price("DE", "*", 4_000), price("FR", "*", 5_000)],
        });
        let own = provider(8, false, vec![price("*", "*", 5_500)]);
        let providers = vec![platform.clone(), own];
        // DE: the sell list's 6,000 loses to the tenant's own 5,500; the cost never shows.
        let de = candidates(&providers, "DE", "otp", false, Markup(2_000));
        assert_eq!(
            de.iter()
                .map(|c| (
                    c.provider_id.as_u128(),
                    c.price_micros,
                    c.platform_cost_micros
                ))
                .collect::<Vec<_>>(),
            vec![(8, 5_500, None), (7, 6_000, Some(4_000))]
        );
        // FR: no sell price, so cost + 10 % = 5,500, tied with the tenant's and first by id.
        let fr = candidates(&providers, "FR", "otp", false, Markup(1_000));
        assert_eq!(
            (fr[0].provider_id.as_u128(), fr[0].price_micros),
            (7, 5_500)
        );
        let charge = fr[0].charge(2);
        assert_eq!(
            (charge.micros, charge.platform_cost_micros),
            (11_000, Some(10_000))
        );
        // US: the platform has no cost price there, so it is not a candidate at all.
        let us = candidates(&providers, "US", "otp", false, Markup(0));
        assert_eq!(us.len(), 1);
        // A converted cost is marked up as given, then converted at the same rate.
        let rate = Rate::parse("1.0845").unwrap();
        let eur = Price {
            price_micros: 8_134,
            fx: Some(Fx {
                currency: "EUR".into(),
                micros: 7_500,
                rate,
            }),
            ..price("DE", "*", 0)
        };
        let sell = marked_up(&eur, Markup(2_000)).unwrap();
        assert_eq!(sell.fx.as_ref().unwrap().micros, 9_000);
        assert_eq!(sell.price_micros, 9_760); // 9,000 × 1.0845 = 9,760.5, half to even
    }

    #[test]
    fn test_mode_uses_only_sandbox_providers() {
        let providers = vec![
            provider(1, false, vec![price("US", "*", 1)]),
            provider(2, true, vec![price("US", "*", 10)]),
        ];
        let test: Vec<u128> = candidates(&providers, "US", "otp", true, Markup(0))
            .iter()
            .map(|c| c.provider_id.as_u128())
            .collect();
        assert_eq!(test, vec![2]);
        assert_eq!(
            candidates(&providers, "US", "otp", false, Markup(0)).len(),
            2
        );
    }
}
