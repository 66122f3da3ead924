//! E.164 phone numbers, parsed and validated with the `phonenumber` crate (libphonenumber's
//! metadata), so a number is only accepted when it is a real, dialable number.

use phonenumber::Mode;

/// A valid phone number in E.164 form with the ISO 3166-1 alpha-2 country it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    country: String,
}

/// Why some text is not a phone number we can send to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("`{0}` is not a valid phone number: {1}")]
    Invalid(String, &'static str),
}

const MAX_INPUT: usize = 64;

impl PhoneNumber {
    /// Accepts international input: a leading `+` or `00`, then digits with optional spaces,
    /// dashes, dots and parentheses ("+49 151 12345678", "+1 (415) 555-2671",
    /// "0049 151 12345678"). There is no default country, so national formats are refused.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let shown: String = input.chars().take(MAX_INPUT).collect();
        let invalid = |why| PhoneError::Invalid(shown.clone(), why);
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if trimmed.len() > MAX_INPUT {
            return Err(invalid("it is too long"));
        }
        let mut compact = String::with_capacity(trimmed.len());
        for c in trimmed.chars() {
            match c {
                '0'..='9' | '+' => compact.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => {
                    return Err(invalid(
                        "only digits, spaces, dashes, dots and parentheses may follow the country code",
                    ));
                }
            }
        }
        let international = if let Some(rest) = compact.strip_prefix("00") {
            format!("+{rest}")
        } else if compact.starts_with('+') {
            compact
        } else {
            return Err(invalid("it needs its country code, e.g. +49 or 0049"));
        };
        if international[1..].contains('+') {
            return Err(invalid("`+` may only start the number"));
        }
        let number = phonenumber::parse(None, &international)
            .map_err(|_| invalid("it is not a number in any country's numbering plan"))?;
        if !phonenumber::is_valid(&number) {
            return Err(invalid(
                "no such number exists in its country's numbering plan",
            ));
        }
        let country = number
            .country()
            .id()
            .map(|id| id.as_ref().to_owned())
            .ok_or_else(|| invalid("it belongs to no single country"))?;
        Ok(PhoneNumber {
            e164: number.format().mode(Mode::E164).to_string(),
            country,
        })
    }

    /// `+4915112345678`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// ISO 3166-1 alpha-2, upper case ("DE", "US").
    pub fn country(&self) -> &str {
        &self.country
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_formats_normalise_to_e164() {
        for (input, e164, country) in [
            ("+49 151 12345678", "+4915112345678", "DE"),
            ("0049 151 12345678", "+4915112345678", "DE"),
            ("+1 (415) 555-2671", "+14155552671", "US"),
            ("+44 20 7946 0958", "+442079460958", "GB"),
            ("+91 98765 43210", "+919876543210", "IN"),
            ("  +33.6.12.34.56.78 ", "+33612345678", "FR"),
        ] {
            let n = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.e164(), e164, "{input}");
            assert_eq!(n.country(), country, "{input}");
        }
    }

    #[test]
    fn the_sandbox_magic_numbers_are_valid_us_numbers() {
        for n in ["+15005550001", "+15005550002", "+15005550003"] {
            let parsed = PhoneNumber::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(parsed.country(), "US");
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for input in [
            "",
            "   ",
            "12345",
            "015112345678",
            "+49 abc",
            "+1 800 FLOWERS",
            "+999 1234567",
            "+49 1",
            "+4+915112345678",
            "+49151123456789012345678901234567890",
            &"9".repeat(200),
        ] {
            let err = PhoneNumber::parse(input).expect_err(input);
            assert!(
                err.to_string().contains("is not a valid phone number"),
                "{err}"
            );
        }
    }
}
