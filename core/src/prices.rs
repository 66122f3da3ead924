//! Price lists: parsing and validating rows from JSON or CSV, for the API and the admin app.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accept::MESSAGE_TYPES;
use crate::domain::Money;
use crate::routing::Price;

pub const MAX_PRICES: usize = 10_000;

/// One row as people write it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    /// ISO 3166-1 alpha-2, or `*` for every destination.
    #[schema(example = "DE")]
    pub country: String,
    /// `transactional`, `otp` or `marketing`; absent or `*` for any.
    pub message_type: Option<String>,
    /// Per segment, a decimal string.
    #[schema(example = "0.0720")]
    pub price: String,
    #[schema(pattern = r"^[A-Za-z]{3}$", example = "USD")]
    pub currency: String,
}

/// What is wrong with a price list: the field (`prices[3].price`, or the CSV column) and a
/// sentence that starts with where (`prices[3]:`, `Line 4:`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PriceError {
    pub field: String,
    pub message: String,
    /// The list came as CSV.
    pub csv: bool,
    /// The list is well formed, but a price is in a currency the operator has no exchange rate
    /// for into the tenant's: it could never be charged (a 422, not a 400).
    pub no_rate: bool,
}

/// What currencies prices may be in: they are charged in each of `billed_in` (a tenant's
/// billing currency; for a platform provider, every tenant's), so a price must be in it or
/// have one of the operator's exchange rates, `rated` (from, to), into it
/// ([`crate::billing::rates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceCurrencies {
    pub billed_in: Vec<String>,
    pub rated: Vec<(String, String)>,
}

impl PriceCurrencies {
    /// The tenant's currency only.
    pub fn only(tenant: &str) -> PriceCurrencies {
        PriceCurrencies {
            billed_in: vec![tenant.to_owned()],
            rated: Vec::new(),
        }
    }

    /// The currencies a price in `currency` could not be charged in.
    fn unrated(&self, currency: &str) -> Vec<&str> {
        self.billed_in
            .iter()
            .filter(|to| {
                *to != currency && !self.rated.iter().any(|(f, t)| f == currency && t == *to)
            })
            .map(String::as_str)
            .collect()
    }
}

/// Validates one row; `at` says where it came from ("prices[3]" or "Line 4").
fn parse_entry(
    entry: &PriceEntry,
    currencies: &PriceCurrencies,
    at: &str,
    field: impl Fn(&str) -> String,
) -> Result<Price, PriceError> {
    let err = |f: &str, message: String| PriceError {
        field: field(f),
        message: format!("{at}: {message}"),
        csv: false,
        no_rate: false,
    };
    let country = entry.country.trim().to_ascii_uppercase();
    let country_ok =
        country == "*" || (country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase()));
    if !country_ok {
        return Err(err(
            "country",
            format!(
                "`{}` is not a country: use an ISO 3166-1 alpha-2 code such as DE, or `*`.",
                entry.country
            ),
        ));
    }
    let message_type = match entry.message_type.as_deref().map(str::trim) {
        None | Some("") | Some("*") => "*".to_owned(),
        Some(t) if MESSAGE_TYPES.contains(&t) => t.to_owned(),
        Some(t) => {
            return Err(err(
                "message_type",
                format!("`{t}` is not a message type: use transactional, otp, marketing or `*`."),
            ));
        }
    };
    let price_micros =
        Money::parse_amount(entry.price.trim()).map_err(|e| err("price", e.to_string()))?;
    let row_currency =
        Money::parse_currency(entry.currency.trim()).map_err(|e| err("currency", e.to_string()))?;
    let unrated = currencies.unrated(&row_currency);
    if !unrated.is_empty() {
        let message = match unrated.as_slice() {
            [tenant] if currencies.billed_in.len() == 1 => format!(
                "there is no exchange rate from {row_currency} into {tenant}, the currency \
                 this account is billed in: give the price in {tenant}, or ask the operator \
                 to set a rate."
            ),
            _ => format!(
                "there is no exchange rate from {row_currency} into {}, which tenants are \
                 billed in: set the rate first, or give the price in another currency.",
                unrated.join(", ")
            ),
        };
        let mut e = err("currency", message);
        e.no_rate = true;
        return Err(e);
    }
    Ok(Price {
        country,
        message_type,
        price_micros,
        currency: row_currency,
        fx: None,
    })
}

/// No two rows for the same country and message type; not too many rows.
fn check_list(prices: Vec<Price>, csv: bool) -> Result<Vec<Price>, PriceError> {
    if prices.len() > MAX_PRICES {
        return Err(PriceError {
            field: "prices".into(),
            message: format!("At most {MAX_PRICES} prices."),
            csv,
            no_rate: false,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for p in &prices {
        if !seen.insert((&p.country, &p.message_type)) {
            return Err(PriceError {
                field: "prices".into(),
                message: format!(
                    "The price for country {} and message type {} is listed twice.",
                    p.country, p.message_type
                ),
                csv,
                no_rate: false,
            });
        }
    }
    Ok(prices)
}

/// A JSON price list (`{prices: [...]}` entries).
pub fn from_entries(
    entries: &[PriceEntry],
    currencies: &PriceCurrencies,
) -> Result<Vec<Price>, PriceError> {
    let prices = entries
        .iter()
        .enumerate()
        .map(|(i, p)| {
            parse_entry(p, currencies, &format!("prices[{i}]"), |f| {
                format!("prices[{i}].{f}")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_list(prices, false)
}

/// A CSV price list with the header `country,message_type,price,currency`; errors name the
/// line.
pub fn from_csv(body: &[u8], currencies: &PriceCurrencies) -> Result<Vec<Price>, PriceError> {
    let fail = |field: &str, message: String| PriceError {
        field: field.into(),
        message,
        csv: true,
        no_rate: false,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| fail("csv", format!("Line 1: {e}.")))?
        .clone();
    let expected = ["country", "message_type", "price", "currency"];
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(fail(
            "csv",
            "Line 1: the header must be `country,message_type,price,currency`.".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| fail("csv", format!("Line {line}: {e}.")))?;
        let entry = PriceEntry {
            country: record[0].to_owned(),
            message_type: Some(record[1].to_owned()),
            price: record[2].to_owned(),
            currency: record[3].to_owned(),
        };
        out.push(
            parse_entry(&entry, currencies, &format!("Line {line}"), |f| {
                f.to_owned()
            })
            .map_err(|mut e| {
                e.csv = true;
                e
            })?,
        );
    }
    check_list(out, true)
}

/// Back to rows as people write them.
pub fn to_entries(prices: Vec<Price>) -> Vec<PriceEntry> {
    prices
        .into_iter()
        .map(|p| PriceEntry {
            country: p.country,
            message_type: (p.message_type != "*").then_some(p.message_type),
            price: Money::format_amount(p.price_micros),
            currency: p.currency,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> PriceCurrencies {
        PriceCurrencies::only("USD")
    }

    #[test]
    fn csv_rows_parse_and_errors_name_the_line() {
        let ok = from_csv(
            b"country,message_type,price,currency\nde,,0.07,usd\n*,otp,0.05,USD\n",
            &usd(),
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].country, "DE");
        assert_eq!(ok[0].message_type, "*");
        assert_eq!(ok[0].price_micros, 70_000);
        let err = from_csv(
            b"country,message_type,price,currency\nDE,,0.07,USD\nXYZ,,1,USD\n",
            &usd(),
        )
        .unwrap_err();
        assert!(err.message.starts_with("Line 3:"), "{err}");
        assert!(err.csv);
        let err = from_csv(b"country,price\nDE,1\n", &usd()).unwrap_err();
        assert!(err.message.starts_with("Line 1:"));
        let err =
            from_csv(b"country,message_type,price,currency\nDE,,1,EUR\n", &usd()).unwrap_err();
        assert!(
            err.message.contains("no exchange rate from EUR into USD"),
            "{err}"
        );
        assert!(err.no_rate && err.csv);
        let rated = PriceCurrencies {
            billed_in: vec!["USD".into()],
            rated: vec![("EUR".into(), "USD".into())],
        };
        let ok = from_csv(b"country,message_type,price,currency\nDE,,1,EUR\n", &rated).unwrap();
        assert_eq!(ok[0].currency, "EUR");
        // A platform provider's price is charged in every tenant's currency: it needs a rate
        // into each one it is not in.
        let platform = PriceCurrencies {
            billed_in: vec!["EUR".into(), "USD".into()],
            rated: vec![("EUR".into(), "USD".into())],
        };
        assert!(
            from_csv(
                b"country,message_type,price,currency\nDE,,1,EUR\n",
                &platform
            )
            .is_ok()
        );
        let err = from_csv(
            b"country,message_type,price,currency\nDE,,1,USD\n",
            &platform,
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("no exchange rate from USD into EUR, which tenants are billed in"),
            "{err}"
        );
        let err = from_csv(
            b"country,message_type,price,currency\nDE,,1,GBP\n",
            &platform,
        )
        .unwrap_err();
        assert!(err.message.contains("from GBP into EUR, USD"), "{err}");
        let err = from_csv(
            b"country,message_type,price,currency\nDE,,1,USD\nde,*,2,USD\n",
            &usd(),
        )
        .unwrap_err();
        assert!(err.message.contains("listed twice"), "{err}");
    }

    #[test]
    fn json_entries_name_the_field() {
        let err = from_entries(
            &[PriceEntry {
                country: "DE".into(),
                message_type: Some("spam".into()),
                price: "1".into(),
                currency: "USD".into(),
            }],
            &usd(),
        )
        .unwrap_err();
        assert_eq!(err.field, "prices[0].message_type");
        assert!(!err.csv);
    }
}
