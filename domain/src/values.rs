use serde::{Deserialize, Serialize};
use std::fmt;

/// Which kind of database server a registered database lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    /// The server's own databases: never a restore target (restoring into `template1` would
    /// seed every later database, into `mysql` would replace the accounts). Backing them up
    /// is allowed. MySQL/MariaDB names are compared without case (they may be case-insensitive).
    pub fn is_system_database(self, name: &str) -> bool {
        match self {
            Engine::Postgres => matches!(name, "postgres" | "template0" | "template1"),
            Engine::Mysql => ["mysql", "sys", "information_schema", "performance_schema"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name)),
        }
    }

    /// The names [`is_system_database`](Self::is_system_database) refuses, for messages.
    pub fn system_databases(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres, template0, template1",
            Engine::Mysql => "mysql, sys, information_schema, performance_schema",
        }
    }

    /// Extension of an artifact produced by this engine's dump tool, before compression.
    pub fn artifact_ext(self) -> &'static str {
        match self {
            Engine::Postgres => "pgdump",
            Engine::Mysql => "sql",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name must not be empty")]
    Empty,
    #[error("name is {0} characters long; at most 63 are allowed")]
    TooLong(usize),
    #[error("name must start with a letter or a digit")]
    BadStart,
    #[error("name may only contain letters, digits, '_', '-' and '.'; found {0:?}")]
    BadChar(char),
}

/// The name a user gives a registered database (also used in storage keys, so it is
/// restricted to characters that are safe in a path segment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatabaseName(String);

impl DatabaseName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        let n = s.chars().count();
        if n > 63 {
            return Err(NameError::TooLong(n));
        }
        if !s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(NameError::BadStart);
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(NameError::BadChar(c));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DatabaseName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DatabaseName> for String {
    fn from(n: DatabaseName) -> String {
        n.0
    }
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a backup or a restore failed: which stage, a message a person can act on, and the
/// last lines the tool printed on stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Failure {
    pub stage: crate::stage::Stage,
    pub message: String,
    #[serde(default)]
    pub stderr_tail: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn system_databases() {
        use super::Engine;
        assert!(Engine::Postgres.is_system_database("template1"));
        assert!(!Engine::Postgres.is_system_database("Template1"));
        assert!(!Engine::Postgres.is_system_database("shop"));
        assert!(Engine::Mysql.is_system_database("MySQL"));
        assert!(Engine::Mysql.is_system_database("performance_schema"));
        assert!(!Engine::Mysql.is_system_database("postgres"));
    }

    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(DatabaseName::parse("shop_prod-1.eu").is_ok());
        assert_eq!(DatabaseName::parse("  "), Err(NameError::Empty));
        assert_eq!(DatabaseName::parse("_x"), Err(NameError::BadStart));
        assert_eq!(DatabaseName::parse("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(DatabaseName::parse("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(
            DatabaseName::parse(&"a".repeat(64)),
            Err(NameError::TooLong(64))
        );
    }

    #[test]
    fn engines_parse() {
        assert_eq!(Engine::parse("PostgreSQL"), Some(Engine::Postgres));
        assert_eq!(Engine::parse("mariadb"), Some(Engine::Mysql));
        assert_eq!(Engine::parse("oracle"), None);
    }
}
