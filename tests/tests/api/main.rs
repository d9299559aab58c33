//! Backline's end-to-end tests: the real server on a free port, against the real PostgreSQL
//! and MariaDB of the machine. Every test makes its own uniquely named databases.

mod alerts;
mod disaster;
mod encryption;
mod every_object;
mod failures;
mod fanout;
mod fast_restore;
mod faults;
mod fixtures_selftest;
mod hardening;
mod health;
mod helpers;
mod input;
mod ledger;
mod leftovers;
mod names;
mod notifiers;
mod partial_restore;
mod pitr;
mod replay;
mod restore_safety;
mod retention;
mod roundtrip;
mod s3;
mod scheduling;
mod seals;
mod seals_shared;
mod secrets;
mod servers;
mod signed_manifests;
mod startup;
mod storages;
mod support;
mod verify_alert;
