//! The gateways OpenClaw speaks to, and the fields of a provider account besides its
//! credentials.

use serde::{Deserialize, Serialize};

use super::*;

crate::domain::text_enum! {
    /// The gateways OpenClaw speaks to, in the order people are offered them.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ProviderKind {
        Twilio = "twilio",
        Vonage = "vonage",
        /// Simulated inside OpenClaw: for demos and test-mode keys.
        Sandbox = "sandbox",
    }
}

crate::domain::text_enum! {
    /// Which of a provider's price lists: what its gateway charges (a tenant's provider has only
    /// this one), or what the operator bills tenants for a platform provider's messages.
    #[derive(Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum PriceList {
        Cost = "cost",
        Sell = "sell",
    }
}

impl ProviderKind {
    /// The provider's public API root, which `base_url` overrides.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Twilio => Some(twilio::DEFAULT_BASE_URL),
            ProviderKind::Vonage => Some(vonage::DEFAULT_BASE_URL),
            ProviderKind::Sandbox => None,
        }
    }
}

/// A provider's name: 1–100 characters on one line (no control characters).
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("The name must be 1 to 100 characters.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("The name must not contain control characters.".into());
    }
    Ok(name.to_owned())
}

/// An http:// or https:// API root, without a trailing slash.
pub fn validate_base_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(url.to_owned())
    } else {
        Err("The base URL must be an http:// or https:// URL.".into())
    }
}

/// Calls one worker process may make to a provider at once: 1–1000.
pub fn validate_concurrency(n: i32) -> Result<i32, String> {
    if (1..=1000).contains(&n) {
        Ok(n)
    } else {
        Err("`max_concurrency` must be between 1 and 1000.".into())
    }
}

/// Longest a provider's receipts may take before a message is marked overdue: a week.
pub const MAX_RECEIPT_TIMEOUT_SECONDS: i32 = 604_800;

/// Seconds a provider's receipt may take: 1 to a week.
pub fn validate_receipt_timeout(seconds: i32) -> Result<i32, String> {
    if (1..=MAX_RECEIPT_TIMEOUT_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!(
            "`receipt_timeout_seconds` must be between 1 and {MAX_RECEIPT_TIMEOUT_SECONDS} (a week)."
        ))
    }
}

/// Messages per second a provider may be sent: 1–100000.
pub fn validate_rate(rate: i32) -> Result<i32, String> {
    if (1..=100_000).contains(&rate) {
        Ok(rate)
    } else {
        Err("`max_rate_per_sec` must be between 1 and 100000.".into())
    }
}

/// Sender ids (phone numbers or alphanumeric ids): the index of a bad one with its reason.
pub fn validate_senders(senders: &[String]) -> Result<Vec<String>, (Option<usize>, String)> {
    if senders.len() > 100 {
        return Err((None, "At most 100 sender ids.".into()));
    }
    senders
        .iter()
        .enumerate()
        .map(|(i, s)| crate::accept::validate_sender(s).map_err(|m| (Some(i), m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_line_of_1_to_100_characters() {
        assert_eq!(validate_name("  Twilio EU ").unwrap(), "Twilio EU");
        assert!(validate_name(" ").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
        assert!(validate_name("Twilio\0EU").is_err());
        assert!(validate_name("Twilio\nEU").is_err());
    }
}
