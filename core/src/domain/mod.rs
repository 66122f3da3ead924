//! Values that are valid once they exist ("parse, don't validate").

pub mod ids;
pub mod money;
pub mod phone;
pub mod role;
pub mod segments;
pub mod text;

pub use ids::*;
pub use money::Money;
pub use phone::PhoneNumber;
pub use role::Role;
pub use segments::{Encoding, SegmentInfo};

/// Years a date or time in a request may name. Outside them a value is a mistake or a probe,
/// and part of it Postgres could not even store (its timestamps end at 4713 BC and 294276 AD).
pub const SANE_YEARS: std::ops::RangeInclusive<i32> = 2000..=9999;
