//! Test support and black-box tools: real services for tests, the provider simulator, and
//! helpers that run the relay in-process or as the built binaries.

pub mod app;
pub mod browser;
pub mod forms;
pub mod procs;
pub mod receiver;
pub mod services;
pub mod sim;
pub mod smtp;
pub mod stripe;
pub mod tool;
