//! Backline's API server and CLI, wired together.

pub mod app;
pub mod config;
pub mod http;
pub mod startup;
pub mod telemetry;
