//! Backline's HTTP API and command line, over the application (`backline-app`).

pub mod cli;
pub mod http;
pub mod startup;
pub mod telemetry;
