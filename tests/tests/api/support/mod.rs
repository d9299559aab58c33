pub mod external;
pub mod mysql;
pub mod pg;
pub mod pitr;
pub mod relay;
pub mod s3;
pub mod servers;
pub mod sshd;
