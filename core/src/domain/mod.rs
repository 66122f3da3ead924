//! Values that are valid once they exist ("parse, don't validate").

/// Stores an enum that has `as_str` and `parse` in a Postgres `text` column, whose CHECK
/// constraint lists the same names (the enum derives `AsExpression` and `FromSqlRow` for
/// `Text`). A name the enum does not know is an error when read, never a default.
macro_rules! text_column {
    ($ty:ty) => {
        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let name = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::pg::Pg,
                >>::from_sql(bytes)?;
                <$ty>::parse(&name)
                    .ok_or_else(|| format!("{name:?} is not a {}", stringify!($ty)).into())
            }
        }
    };
}
pub(crate) use text_column;

/// An enum stored as text: its variants with their names, `ALL`, `as_str`, `parse`, `Display`
/// and the diesel mapping ([`text_column!`]). Further derives (serde, utoipa) go on the enum.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: [$name; <[&str]>::len(&[$($text),+])] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::domain::text_column!($name);
    };
}
pub(crate) use text_enum;

pub mod billing;
pub mod ids;
pub mod job;
pub mod ledger;
pub mod message_type;
pub mod mode;
pub mod money;
pub mod opt_out;
pub mod period;
pub mod phone;
pub mod rate;
pub mod role;
pub mod segments;
pub mod status;
pub mod text;
pub mod webhook;

pub use billing::{CloseStep, InvoiceLineKind, InvoiceStatus, Markup};
pub use ids::*;
pub use job::JobKind;
pub use ledger::LedgerKind;
pub use message_type::MessageType;
pub use mode::KeyMode;
pub use money::Money;
pub use opt_out::{Keyword, OptOutSource};
pub use period::Period;
pub use phone::PhoneNumber;
pub use rate::Rate;
pub use role::{MemberStatus, Role};
pub use segments::{Encoding, SegmentInfo};
pub use status::Status;
pub use webhook::{DeliveryState, EventKind};

/// Years a date or time in a request may name. Outside them a value is a mistake or a probe,
/// and part of it Postgres could not even store (its timestamps end at 4713 BC and 294276 AD).
pub const SANE_YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;
