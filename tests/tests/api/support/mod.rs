pub mod mysql;
pub mod pg;
