//! Billing's vocabulary: an invoice's status, where its close stands, what its lines bill, and
//! a markup as an exact percentage.

use serde::{Deserialize, Serialize};

super::text_enum! {
    /// An invoice's status, as Stripe names them.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum InvoiceStatus {
        /// Opened from the ledger, not yet finalized.
        Draft = "draft",
        /// Finalized: sent to the tenant and awaiting payment.
        Open = "open",
        Paid = "paid",
        Uncollectible = "uncollectible",
        Void = "void",
    }
}

super::text_enum! {
    /// Where an invoice's close stands: the next step to take. Each step is recorded only after
    /// the Stripe call it makes, so an interrupted close resumes at the step it was in, and
    /// that step's idempotency key makes the repeated call harmless.
    pub enum CloseStep {
        /// Make the tenant's Stripe customer (once per tenant).
        Customer = "customer",
        /// Create an invoice item per line.
        Items = "items",
        /// Create the invoice, taking the pending items.
        Invoice = "invoice",
        /// Finalize it.
        Finalize = "finalize",
        Done = "done",
    }
}

impl CloseStep {
    /// The step after this one.
    pub fn next(self) -> CloseStep {
        match self {
            CloseStep::Customer => CloseStep::Items,
            CloseStep::Items => CloseStep::Invoice,
            CloseStep::Invoice => CloseStep::Finalize,
            CloseStep::Finalize | CloseStep::Done => CloseStep::Done,
        }
    }
}

super::text_enum! {
    /// What an invoice line bills.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum InvoiceLineKind {
        /// The platform fee per segment of the messages sent.
        PlatformFee = "platform_fee",
        /// The messages sent through platform providers, at their sell price per segment.
        PlatformMessages = "platform_messages",
    }
}

/// A percentage with two decimals, kept as hundredths of a percent (basis points): `12.5` is
/// 1,250. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Markup(pub i32);

impl Markup {
    /// At most 1,000 %.
    pub const MAX_BPS: i32 = 100_000;

    /// `"12.5"` → 1,250: digits, optionally a point and at most two more digits, 0–1000.
    pub fn parse(s: &str) -> Result<Markup, String> {
        let shown: String = s.chars().take(16).collect();
        let bad = || format!("`{shown}` is not a percentage: write it like 12.5 (0 to 1000).");
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 4 || frac.len() > 2 || !digits(whole) || !digits(frac)
        {
            return Err(bad());
        }
        if s.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole: i32 = whole.parse().map_err(|_| bad())?;
        let frac: i32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().map_err(|_| bad())?
        };
        let bps = whole * 100 + frac;
        if bps > Markup::MAX_BPS {
            return Err(bad());
        }
        Ok(Markup(bps))
    }

    pub fn bps(self) -> i32 {
        self.0
    }

    /// `micros` with the markup on, rounded half to even to the micro-unit; None if it does not
    /// fit.
    pub fn apply(self, micros: i64) -> Option<i64> {
        let product = i128::from(micros) * i128::from(10_000 + self.0);
        let (q, r) = (product.div_euclid(10_000), product.rem_euclid(10_000));
        let q = match (2 * r).cmp(&10_000) {
            std::cmp::Ordering::Less => q,
            std::cmp::Ordering::Greater => q + 1,
            std::cmp::Ordering::Equal => q + (q & 1),
        };
        i64::try_from(q).ok()
    }
}

/// `12.50`.
impl std::fmt::Display for Markup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_markup_rounds_half_to_even_to_the_micro_unit() {
        assert_eq!(Markup(0).apply(7_500), Some(7_500));
        assert_eq!(Markup(2_000).apply(7_500), Some(9_000));
        // 0.000005 × 1.1 = 5.5 micros → 6; 0.000025 × 1.1 = 27.5 → 28; 0.000015 × 1.1 = 16.5 → 16.
        assert_eq!(Markup(1_000).apply(5), Some(6));
        assert_eq!(Markup(1_000).apply(25), Some(28));
        assert_eq!(Markup(1_000).apply(15), Some(16));
        assert_eq!(Markup(Markup::MAX_BPS).apply(i64::MAX), None);
    }

    #[test]
    fn markup_is_an_exact_percentage() {
        assert_eq!(Markup::parse("12.5"), Ok(Markup(1250)));
        assert_eq!(Markup::parse("0"), Ok(Markup(0)));
        assert_eq!(Markup::parse("1000"), Ok(Markup(100_000)));
        assert_eq!(Markup::parse("7.05").unwrap().to_string(), "7.05");
        for bad in [
            "", "1.", ".5", "1.234", "-1", "1000.01", "12,5", "1e2", "99999",
        ] {
            assert!(Markup::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn steps_go_forward_to_done() {
        let mut step = CloseStep::Customer;
        let mut seen = vec![step];
        while step != CloseStep::Done {
            step = step.next();
            seen.push(step);
        }
        assert_eq!(seen, CloseStep::ALL.to_vec());
        for s in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::parse(s.as_str()), Some(s));
        }
    }
}
