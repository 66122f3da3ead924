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

pub mod ids;
pub mod job;
pub mod ledger;
pub mod mode;
pub mod money;
pub mod period;
pub mod phone;
pub mod role;
pub mod segments;
pub mod status;
pub mod text;

pub use ids::*;
pub use job::JobKind;
pub use ledger::LedgerKind;
pub use mode::KeyMode;
pub use money::Money;
pub use period::Period;
pub use phone::PhoneNumber;
pub use role::{MemberStatus, Role};
pub use segments::{Encoding, SegmentInfo};
pub use status::Status;

/// Years a date or time in a request may name. Outside them a value is a mistake or a probe,
/// and part of it Postgres could not even store (its timestamps end at 4713 BC and 294276 AD).
pub const SANE_YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;
