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
