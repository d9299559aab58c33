//! Database-level properties, read from the server's catalogs at backup time and recorded as
//! typed data with the version (event and manifest).
//!
//! A restore re-creates them from this data, never from the text of the archive: what an
//! archive says is whatever its bytes say, and a database owner can put almost any text into
//! a function body. Every name and value here is quoted when it becomes SQL again
//! (`backline_infra::sql`).

use serde::{Deserialize, Serialize};

/// The properties of the database a backup was taken of, by engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "lowercase")]
pub enum DatabaseProperties {
    Postgres(Box<PgDatabaseProperties>),
    Mysql(MyDatabaseProperties),
}

impl DatabaseProperties {
    pub fn postgres(&self) -> Option<&PgDatabaseProperties> {
        match self {
            DatabaseProperties::Postgres(p) => Some(p),
            DatabaseProperties::Mysql(_) => None,
        }
    }

    pub fn mysql(&self) -> Option<&MyDatabaseProperties> {
        match self {
            DatabaseProperties::Mysql(p) => Some(p),
            DatabaseProperties::Postgres(_) => None,
        }
    }
}

/// A PostgreSQL database's own properties (`pg_database`, `pg_db_role_setting`,
/// `pg_shdescription`, `pg_shseclabel`), as `pg_dump --create` would restore them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgDatabaseProperties {
    /// The owning role's name.
    pub owner: String,
    /// Server encoding name, e.g. `UTF8`, `LATIN1`.
    pub encoding: String,
    /// `libc`, `icu` or `builtin` (absent before PostgreSQL 15: libc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale_provider: Option<PgLocaleProvider>,
    pub collate: String,
    pub ctype: String,
    /// ICU (or builtin) locale when that provider is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icu_rules: Option<String>,
    /// `-1` for no limit.
    pub connection_limit: i32,
    /// The default tablespace when it is not `pg_default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tablespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `ALTER DATABASE … SET` (no role) and `ALTER ROLE … IN DATABASE … SET` (a role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<PgSetting>,
    /// The database's access privileges; `None` when they are the defaults (`datacl` NULL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileges: Option<Vec<PgDatabaseGrant>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_labels: Vec<PgSecurityLabel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgLocaleProvider {
    Libc,
    Icu,
    Builtin,
}

impl PgLocaleProvider {
    /// From `pg_database.datlocprovider`.
    pub fn from_catalog(c: &str) -> Option<Self> {
        match c {
            "c" => Some(Self::Libc),
            "i" => Some(Self::Icu),
            "b" => Some(Self::Builtin),
            _ => None,
        }
    }

    /// The keyword `CREATE DATABASE … LOCALE_PROVIDER` takes.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Libc => "libc",
            Self::Icu => "icu",
            Self::Builtin => "builtin",
        }
    }
}

/// One configuration setting of the database, for every role (`role: None`) or one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgSetting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub name: String,
    /// The value as the catalog keeps it (for list settings such as `search_path`, the
    /// comma-separated list, elements double-quoted where needed).
    pub value: String,
}

/// A database privilege of PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PgDatabasePrivilege {
    Create,
    Connect,
    Temporary,
}

impl PgDatabasePrivilege {
    pub const ALL: [PgDatabasePrivilege; 3] = [Self::Create, Self::Connect, Self::Temporary];

    /// From `aclexplode(datacl).privilege_type`.
    pub fn from_catalog(s: &str) -> Option<Self> {
        match s {
            "CREATE" => Some(Self::Create),
            "CONNECT" => Some(Self::Connect),
            "TEMPORARY" | "TEMP" => Some(Self::Temporary),
            _ => None,
        }
    }

    pub fn keyword(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Connect => "CONNECT",
            Self::Temporary => "TEMPORARY",
        }
    }
}

/// One privilege on the database held by a role (`grantee: None` is PUBLIC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgDatabaseGrant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee: Option<String>,
    pub privilege: PgDatabasePrivilege,
    #[serde(default)]
    pub grantable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgSecurityLabel {
    pub provider: String,
    pub label: String,
}

/// A MySQL/MariaDB database's defaults (`information_schema.SCHEMATA`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyDatabaseProperties {
    pub charset: String,
    pub collation: String,
}

impl MyDatabaseProperties {
    /// Only plain words (letters, digits, `_`): character set and collation names are
    /// keywords in SQL, so anything else is refused rather than quoted.
    pub fn parse(charset: &str, collation: &str) -> Option<Self> {
        (is_word(charset) && is_word(collation)).then(|| Self {
            charset: charset.to_string(),
            collation: collation.to_string(),
        })
    }

    /// Whether both names are plain words (data read back from events is checked again).
    pub fn is_valid(&self) -> bool {
        is_word(&self.charset) && is_word(&self.collation)
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_names_are_plain_words_only() {
        assert!(MyDatabaseProperties::parse("latin1", "latin1_swedish_ci").is_some());
        assert!(MyDatabaseProperties::parse("utf8mb4; DROP", "x").is_none());
        assert!(MyDatabaseProperties::parse("", "x").is_none());
        assert!(MyDatabaseProperties::parse("utf8mb4", "a b").is_none());
        let forged = MyDatabaseProperties {
            charset: "x */; DROP DATABASE y; /*".into(),
            collation: "c".into(),
        };
        assert!(!forged.is_valid());
    }

    #[test]
    fn serde_shape_is_tagged_by_engine() {
        let p = DatabaseProperties::Mysql(MyDatabaseProperties {
            charset: "latin1".into(),
            collation: "latin1_swedish_ci".into(),
        });
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["engine"], "mysql");
        assert_eq!(serde_json::from_value::<DatabaseProperties>(v).unwrap(), p);
        let pg = DatabaseProperties::Postgres(Box::new(PgDatabaseProperties {
            owner: "o".into(),
            encoding: "UTF8".into(),
            locale_provider: Some(PgLocaleProvider::Icu),
            collate: "C".into(),
            ctype: "C".into(),
            locale: Some("de-DE".into()),
            icu_rules: None,
            connection_limit: -1,
            tablespace: None,
            comment: Some("it's".into()),
            settings: vec![PgSetting {
                role: None,
                name: "search_path".into(),
                value: "a, \"b c\"".into(),
            }],
            privileges: Some(vec![PgDatabaseGrant {
                grantee: None,
                privilege: PgDatabasePrivilege::Connect,
                grantable: false,
            }]),
            security_labels: vec![],
        }));
        let v = serde_json::to_value(&pg).unwrap();
        assert_eq!(v["engine"], "postgres");
        assert_eq!(v["privileges"][0]["privilege"], "CONNECT");
        assert_eq!(serde_json::from_value::<DatabaseProperties>(v).unwrap(), pg);
    }
}
