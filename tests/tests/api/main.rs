//! Backline's end-to-end tests: the real server on a free port, against the real PostgreSQL
//! and MariaDB of the machine. Every test makes its own uniquely named databases.

mod failures;
mod fixtures_selftest;
mod helpers;
mod input;
mod replay;
mod roundtrip;
mod secrets;
mod support;
