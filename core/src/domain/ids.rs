//! Typed ids. In Postgres every id is a UUIDv7 (time-ordered, so indexes stay append-only and
//! ids sort by creation); on the wire it is a type prefix plus the same 128 bits as a ULID
//! string, e.g. `msg_01JD2X4N9X4S0M6ZQ4C3W5Y8RT`. A `msg_` id never parses as a `prv_` id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}` followed by 26 characters)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn uuid(self) -> Uuid {
                self.0
            }

            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                s.strip_prefix($prefix)
                    .and_then(|rest| Ulid::from_string(rest).ok())
                    .map(|ulid| Self(Uuid::from_u128(ulid.0)))
                    .ok_or_else(|| InvalidId {
                        kind: $kind,
                        prefix: $prefix,
                        value: s.chars().take(64).collect(),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, Ulid(self.0.as_u128()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "[0-9A-HJKMNP-TV-Z]{26}$")))
                    .examples([serde_json::json!(concat!($prefix, "01JD2X4N9X4S0M6ZQ4C3W5Y8RT"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(
    /// A tenant: one company using OpenClaw.
    TenantId, "ten_", "tenant");
typed_id!(
    /// A person who signs in.
    UserId, "usr_", "user");
typed_id!(
    /// A tenant API key.
    ApiKeyId, "key_", "API key");
typed_id!(
    /// One of a tenant's SMS gateway accounts.
    ProviderId, "prv_", "provider");
typed_id!(
    /// One SMS.
    MessageId, "msg_", "message");
typed_id!(
    /// One entry of the audit log.
    AuditEventId, "aud_", "audit event");
typed_id!(
    /// A budget alert: a threshold of the monthly budget reached.
    AlertId, "alr_", "budget alert");
typed_id!(
    /// A tenant's invoice for one billing period.
    InvoiceId, "inv_", "invoice");
typed_id!(
    /// A tenant's webhook endpoint: a URL that events are posted to.
    WebhookId, "wh_", "webhook");
typed_id!(
    /// Something that happened that a tenant may be told of (a message's new status, …).
    EventId, "evt_", "event");
typed_id!(
    /// One event on its way to one endpoint (or to a message's own callback URL).
    DeliveryId, "whd_", "webhook delivery");
typed_id!(
    /// A message someone sent to one of a tenant's numbers.
    InboundId, "inb_", "inbound message");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_string_form() {
        let id = MessageId::new();
        let text = id.to_string();
        assert!(text.starts_with("msg_"));
        assert_eq!(text.len(), 4 + 26);
        assert_eq!(MessageId::parse(&text), Ok(id));
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<MessageId>(&format!("\"{text}\"")).unwrap(),
            id
        );
    }

    #[test]
    fn refuses_another_types_prefix_and_garbage() {
        let text = ProviderId::new().to_string();
        assert!(MessageId::parse(&text).is_err());
        assert!(MessageId::parse("msg_").is_err());
        assert!(MessageId::parse("msg_not-a-ulid-at-all-000000").is_err());
        let err = TenantId::parse("abc").unwrap_err();
        assert_eq!(err.kind, "tenant");
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = MessageId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MessageId::new();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
