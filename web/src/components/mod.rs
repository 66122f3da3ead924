pub mod alert;
pub mod chart;
pub mod layout;
