//! Money as integer micro-units (1 USD = 1_000_000 micros). Never floats.
//! On the wire: `{"amount": "0.007500", "currency": "USD"}`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub micros: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

/// Why some text is not an amount or a currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an amount: {1}")]
    Invalid(String, &'static str),
    #[error("`{0}` is not a currency: a currency is three letters such as USD")]
    Currency(String),
}

const MICROS: i64 = 1_000_000;

impl Money {
    pub fn new(micros: i64, currency: impl Into<String>) -> Self {
        Money {
            micros,
            currency: currency.into(),
        }
    }

    /// "0.0075" → 7_500: digits, optionally a point and at most six more digits.
    pub fn parse_amount(s: &str) -> Result<i64, MoneyError> {
        let shown: String = s.chars().take(32).collect();
        let invalid = |why| MoneyError::Invalid(shown.clone(), why);
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(invalid("it has no digits"));
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("use digits and one decimal point, e.g. 0.0075"));
        }
        if s.contains('.') && (whole.is_empty() || frac.is_empty()) {
            return Err(invalid("put digits on both sides of the decimal point"));
        }
        if frac.len() > 6 {
            return Err(invalid("at most 6 digits may follow the decimal point"));
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid("it is too large"))?
        };
        let frac_micros: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}")
                .parse()
                .map_err(|_| invalid("it is too large"))?
        };
        whole
            .checked_mul(MICROS)
            .and_then(|w| w.checked_add(frac_micros))
            .ok_or_else(|| invalid("it is too large"))
    }

    /// 7_500 → "0.007500" (always six fractional digits).
    pub fn format_amount(micros: i64) -> String {
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs();
        let unit = MICROS as u64;
        format!("{sign}{}.{:06}", abs / unit, abs % unit)
    }

    /// "usd" → "USD"; three ASCII letters.
    pub fn parse_currency(s: &str) -> Result<String, MoneyError> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(s.to_ascii_uppercase())
        } else {
            Err(MoneyError::Currency(s.chars().take(16).collect()))
        }
    }

    /// This amount `n` times (price × segments); None on overflow.
    pub fn times(&self, n: u32) -> Option<Money> {
        self.micros
            .checked_mul(i64::from(n))
            .map(|micros| Money::new(micros, self.currency.clone()))
    }
}

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    amount: std::borrow::Cow<'a, str>,
    currency: std::borrow::Cow<'a, str>,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            amount: Money::format_amount(self.micros).into(),
            currency: self.currency.as_str().into(),
        }
        .serialize(s)
    }
}

/// `0.154000 USD`, as the admin app and the CLI show an amount.
impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", Money::format_amount(self.micros), self.currency)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        let micros = Money::parse_amount(&wire.amount).map_err(serde::de::Error::custom)?;
        let currency = Money::parse_currency(&wire.currency).map_err(serde::de::Error::custom)?;
        Ok(Money { micros, currency })
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("Decimal string, up to 6 fractional digits"))
                    .examples([serde_json::json!("0.007500")]),
            )
            .property(
                "currency",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("ISO 4217"))
                    .pattern(Some("^[A-Za-z]{3}$"))
                    .examples([serde_json::json!("USD")]),
            )
            .required("amount")
            .required("currency")
            .into()
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings_into_micros() {
        for (s, micros) in [
            ("0.0075", 7_500),
            ("1", 1_000_000),
            ("12.5", 12_500_000),
            ("0.000001", 1),
            ("0.072", 72_000),
            ("0", 0),
        ] {
            assert_eq!(Money::parse_amount(s), Ok(micros), "{s}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_non_negative_decimal() {
        for s in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1.",
            ".5",
            "0.0000001",
            "1,5",
            "abc",
            "99999999999999999999",
        ] {
            assert!(Money::parse_amount(s).is_err(), "{s}");
        }
    }

    #[test]
    fn formats_with_six_fractional_digits() {
        assert_eq!(Money::format_amount(7_500), "0.007500");
        assert_eq!(Money::format_amount(12_500_000), "12.500000");
        assert_eq!(Money::format_amount(0), "0.000000");
        assert_eq!(Money::format_amount(-1), "-0.000001");
    }

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(Money::parse_currency("usd"), Ok("USD".into()));
        assert!(Money::parse_currency("US").is_err());
        assert!(Money::parse_currency("U$D").is_err());
        let e = Money::parse_currency("12.50").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`12.50` is not a currency: a currency is three letters such as USD"
        );
    }

    #[test]
    fn serialises_as_amount_and_currency() {
        let m = Money::new(72_000, "USD");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"amount": "0.072000", "currency": "USD"})
        );
        assert_eq!(serde_json::from_value::<Money>(json).unwrap(), m);
        assert!(
            serde_json::from_value::<Money>(serde_json::json!({"amount": "x", "currency": "USD"}))
                .is_err()
        );
        assert_eq!(m.times(3), Some(Money::new(216_000, "USD")));
        assert_eq!(Money::new(i64::MAX, "USD").times(2), None);
    }
}
