//! An exchange rate as an exact decimal with nine fractional digits, kept as billionths
//! (`1.0845` is 1,084,500,000), and the conversion of micro-units at it, rounded half to
//! even. Never a float.

/// How many units of one currency one unit of another buys, in billionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(i64);

const SCALE: i64 = 1_000_000_000;

impl Rate {
    /// The largest rate: 1,000,000 (the Iranian rial's rate to the euro is below 100,000).
    pub const MAX_E9: i64 = 1_000_000 * SCALE;

    /// A stored rate (billionths); None unless 0 < e9 ≤ [`Rate::MAX_E9`].
    pub fn from_e9(e9: i64) -> Option<Rate> {
        (e9 > 0 && e9 <= Rate::MAX_E9).then_some(Rate(e9))
    }

    pub fn e9(self) -> i64 {
        self.0
    }

    /// `"1.0845"` → 1,084,500,000: digits, optionally a point and at most nine more digits,
    /// above zero and at most 1,000,000.
    pub fn parse(s: &str) -> Result<Rate, String> {
        let shown: String = s.chars().take(24).collect();
        let bad = |why: &str| format!("`{shown}` is not an exchange rate: {why}.");
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits(whole)
            || !digits(frac)
            || (s.contains('.') && frac.is_empty())
        {
            return Err(bad("write it like 1.0845"));
        }
        if frac.len() > 9 {
            return Err(bad("at most nine digits after the point"));
        }
        if whole.len() > 7 {
            return Err(bad("it can be at most 1000000"));
        }
        let whole: i64 = whole.parse().map_err(|_| bad("write it like 1.0845"))?;
        let frac_e9: i64 = format!("{frac:0<9}")
            .parse()
            .map_err(|_| bad("write it like 1.0845"))?;
        let e9 = whole * SCALE + frac_e9;
        if e9 == 0 {
            return Err(bad("it must be above zero"));
        }
        Rate::from_e9(e9).ok_or_else(|| bad("it can be at most 1000000"))
    }

    /// `micros` of one currency in the other, rounded half to even; None if it does not fit.
    pub fn convert(self, micros: i64) -> Option<i64> {
        let product = i128::from(micros) * i128::from(self.0);
        let scale = i128::from(SCALE);
        let (q, r) = (product.div_euclid(scale), product.rem_euclid(scale));
        let q = match (2 * r).cmp(&scale) {
            std::cmp::Ordering::Less => q,
            std::cmp::Ordering::Greater => q + 1,
            std::cmp::Ordering::Equal => q + (q & 1),
        };
        i64::try_from(q).ok()
    }
}

/// The shortest decimal that is the rate: `1.0845`, `3`, `0.000012`.
impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, frac) = (self.0 / SCALE, self.0 % SCALE);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let frac = format!("{frac:09}");
            write!(f, "{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_exact_decimals() {
        for (text, e9, shown) in [
            ("1.0845", 1_084_500_000, "1.0845"),
            ("3", 3_000_000_000, "3"),
            ("0.000000001", 1, "0.000000001"),
            ("1000000", Rate::MAX_E9, "1000000"),
            ("0.50", 500_000_000, "0.5"),
        ] {
            let rate = Rate::parse(text).unwrap();
            assert_eq!(rate.e9(), e9, "{text}");
            assert_eq!(rate.to_string(), shown);
            assert_eq!(Rate::parse(shown).unwrap(), rate);
        }
    }

    #[test]
    fn refuses_what_is_not_a_rate() {
        for bad in [
            "",
            "0",
            "0.0",
            "-1",
            "1.",
            ".5",
            "1,5",
            "1e3",
            "1.0000000001",
            "1000000.1",
            "99999999",
            " 1",
            "NaN",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Rate::from_e9(0).is_none());
        assert!(Rate::from_e9(Rate::MAX_E9 + 1).is_none());
    }

    #[test]
    fn converts_rounding_half_to_even() {
        let rate = Rate::parse("1.0845").unwrap();
        assert_eq!(rate.convert(7_500), Some(8_134)); // 8,133.75
        assert_eq!(rate.convert(0), Some(0));
        let half = Rate::parse("0.5").unwrap();
        assert_eq!(half.convert(1), Some(0)); // 0.5 → 0
        assert_eq!(half.convert(3), Some(2)); // 1.5 → 2
        assert_eq!(half.convert(5), Some(2)); // 2.5 → 2
        assert_eq!(Rate::parse("1000000").unwrap().convert(i64::MAX), None);
    }
}
