//! Connection strings: parsed once at the boundary, stored without the password in clear,
//! and shown only in redacted form (`postgres://user:***@host:5432/db`).

use crate::ssh::{SshSettings, StoredSsh};
use crate::values::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection string is not a valid URL: {0}")]
    NotAUrl(String),
    #[error("connection string scheme {scheme:?} does not fit engine {engine}; use {expected}")]
    SchemeMismatch {
        scheme: String,
        engine: Engine,
        expected: &'static str,
    },
    #[error("connection string has no host (expected e.g. {0})")]
    NoHost(&'static str),
    #[error("connection host {0:?} is a path: Unix sockets are not supported (a socket skips the server's network authentication); connect over TCP, e.g. 127.0.0.1")]
    UnixSocket(String),
    #[error("connection host {0:?} is not a host name or IP address (letters, digits, '.', '-' and '_')")]
    BadHost(String),
    #[error("connection string has no user name (expected e.g. {0})")]
    NoUser(&'static str),
    #[error("connection string names no database (expected e.g. {0})")]
    NoDatabase(&'static str),
    #[error("connection string must name exactly one database, found path {0:?}")]
    BadPath(String),
    #[error("connection string {0} contains control characters")]
    ControlChars(&'static str),
    #[error("connection string is not valid UTF-8 after percent-decoding ({0})")]
    BadEncoding(&'static str),
    #[error("connection string parameter {name:?} is not supported for {engine}; supported: {supported}")]
    UnknownParam {
        name: String,
        engine: Engine,
        supported: &'static str,
    },
    #[error("connection string parameter {0:?} has an invalid value")]
    BadParamValue(String),
}

/// A password (or other secret) encrypted with the data key of one database.
/// Base64 nonce and ciphertext; the key itself never enters the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub nonce: String,
    pub ciphertext: String,
}

/// What the ledger keeps of a connection string: everything but the clear password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConnection {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub password: Option<SealedSecret>,
    /// The SSH bastion it is reached through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Box<StoredSsh>>,
}

impl StoredConnection {
    /// `postgres://user:***@host:5432/db?sslmode=require`: safe for logs, events and responses.
    pub fn redacted(&self, engine: Engine) -> String {
        // Everything but RFC 3986's unreserved characters is escaped.
        const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, ESCAPED).to_string();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let auth = if self.password.is_some() {
            format!("{}:***", enc(&self.user))
        } else {
            enc(&self.user)
        };
        let mut s = format!(
            "{}://{}@{}:{}/{}",
            engine.as_str(),
            auth,
            host,
            self.port,
            enc(&self.database)
        );
        if !self.params.is_empty() {
            let q: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={}", enc(v)))
                .collect();
            s.push('?');
            s.push_str(&q.join("&"));
        }
        s
    }
}

/// Where the tools actually connect when the database is reached through a tunnel: a local
/// endpoint, kept open as long as any clone of the connection holds `keep`.
#[derive(Clone)]
pub struct Via {
    pub host: String,
    pub port: u16,
    pub keep: Arc<dyn std::any::Any + Send + Sync>,
}

impl PartialEq for Via {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host && self.port == other.port
    }
}

impl Eq for Via {}

/// A connection string parsed at the boundary. The password is held apart so that it can be
/// sealed before anything is stored; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    pub params: BTreeMap<String, String>,
    password: Option<String>,
    /// The SSH bastion it is reached through, secret opened.
    pub ssh: Option<SshSettings>,
    /// The open tunnel's local end, once opened.
    via: Option<Via>,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("params", &self.params)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssh", &self.ssh)
            .field("via", &self.via.as_ref().map(|v| (&v.host, v.port)))
            .finish()
    }
}

const PG_EXAMPLE: &str = "postgres://user:password@host:5432/dbname";
const MY_EXAMPLE: &str = "mysql://user:password@host:3306/dbname";
const PG_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "connect_timeout",
];
const MY_PARAMS: &[&str] = &["ssl-mode", "sslmode", "ssl-ca", "ssl-cert", "ssl-key"];

fn decode(s: &str, what: &'static str) -> Result<String, ConnectionError> {
    let d = percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| ConnectionError::BadEncoding(what))?
        .into_owned();
    if d.chars().any(|c| c.is_control()) {
        return Err(ConnectionError::ControlChars(what));
    }
    Ok(d)
}

/// A decoded host that is a name, nothing else. The tools read more into a host than a name:
/// libpq takes `/dir` (or `@name`) as a Unix socket, where `peer` or `trust` authentication may
/// let anyone in as anyone, and `a,b` as a list of hosts.
fn host_name(host: String) -> Result<String, ConnectionError> {
    if host.starts_with('/') || host.contains('/') {
        return Err(ConnectionError::UnixSocket(host));
    }
    let valid = host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !host.starts_with(['.', '-']);
    if !valid {
        return Err(ConnectionError::BadHost(host));
    }
    Ok(host)
}

impl ConnectionString {
    pub fn parse(engine: Engine, raw: &str) -> Result<Self, ConnectionError> {
        let raw = raw.trim();
        let (example, schemes, default_port, allowed): (_, &[&str], u16, &[&str]) = match engine {
            Engine::Postgres => (PG_EXAMPLE, &["postgres", "postgresql"], 5432, PG_PARAMS),
            Engine::Mysql => (MY_EXAMPLE, &["mysql", "mariadb"], 3306, MY_PARAMS),
        };
        let url = url::Url::parse(raw).map_err(|e| ConnectionError::NotAUrl(e.to_string()))?;
        if !schemes.contains(&url.scheme()) {
            return Err(ConnectionError::SchemeMismatch {
                scheme: url.scheme().to_string(),
                engine,
                expected: example,
            });
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => host_name(decode(d, "host")?)?,
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(ConnectionError::NoHost(example)),
        };
        let user = decode(url.username(), "user name")?;
        if user.is_empty() {
            return Err(ConnectionError::NoUser(example));
        }
        let password = match url.password() {
            Some(p) => Some(decode(p, "password")?),
            None => None,
        };
        let path = url.path().trim_start_matches('/');
        if path.is_empty() {
            return Err(ConnectionError::NoDatabase(example));
        }
        if path.contains('/') {
            return Err(ConnectionError::BadPath(path.to_string()));
        }
        let database = decode(path, "database name")?;
        let mut params = BTreeMap::new();
        for (k, v) in url.query_pairs() {
            if !allowed.contains(&k.as_ref()) {
                return Err(ConnectionError::UnknownParam {
                    name: k.into_owned(),
                    engine,
                    supported: match engine {
                        Engine::Postgres => "sslmode, sslrootcert, sslcert, sslkey, application_name, connect_timeout",
                        Engine::Mysql => "ssl-mode, ssl-ca, ssl-cert, ssl-key",
                    },
                });
            }
            if v.chars().any(|c| c.is_control()) || v.is_empty() {
                return Err(ConnectionError::BadParamValue(k.into_owned()));
            }
            params.insert(k.into_owned(), v.into_owned());
        }
        Ok(Self {
            engine,
            host,
            port: url.port().unwrap_or(default_port),
            user,
            database,
            params,
            password,
            ssh: None,
            via: None,
        })
    }

    /// A server's connection: like [`parse`](Self::parse), but the database may be left out.
    /// PostgreSQL then connects to `postgres`; MySQL/MariaDB to none.
    pub fn parse_server(engine: Engine, raw: &str) -> Result<Self, ConnectionError> {
        let raw = raw.trim();
        match Self::parse(engine, raw) {
            Err(ConnectionError::NoDatabase(_)) => {
                let mut url =
                    url::Url::parse(raw).map_err(|e| ConnectionError::NotAUrl(e.to_string()))?;
                url.set_path(match engine {
                    Engine::Postgres => "/postgres",
                    Engine::Mysql => "/mysql",
                });
                let mut c = Self::parse(engine, url.as_str())?;
                if engine == Engine::Mysql {
                    c.database = String::new();
                }
                Ok(c)
            }
            other => other,
        }
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Builds the parsed form back from what the ledger keeps plus the opened password.
    pub fn from_stored(
        engine: Engine,
        stored: &StoredConnection,
        password: Option<String>,
    ) -> Self {
        Self {
            engine,
            host: stored.host.clone(),
            port: stored.port,
            user: stored.user.clone(),
            database: stored.database.clone(),
            params: stored.params.clone(),
            password,
            ssh: None,
            via: None,
        }
    }

    /// The host the tools connect to: the tunnel's local end when there is one.
    pub fn dial_host(&self) -> &str {
        self.via.as_ref().map_or(&self.host, |v| &v.host)
    }

    /// The port the tools connect to: the tunnel's local end when there is one.
    pub fn dial_port(&self) -> u16 {
        self.via.as_ref().map_or(self.port, |v| v.port)
    }

    /// The same connection, reached through `via` (an open tunnel).
    pub fn through(&self, via: Via) -> Self {
        let mut c = self.clone();
        c.via = Some(via);
        c
    }

    /// Whether it needs a tunnel that is not open yet.
    pub fn needs_tunnel(&self) -> bool {
        self.ssh.is_some() && self.via.is_none()
    }

    /// The same server and credentials, another database on it.
    pub fn with_database(&self, database: &str) -> Self {
        let mut c = self.clone();
        c.database = database.to_string();
        c
    }

    /// The stored form, with the password already sealed by the caller.
    pub fn to_stored(&self, sealed: Option<SealedSecret>) -> StoredConnection {
        StoredConnection {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            database: self.database.clone(),
            params: self.params.clone(),
            password: sealed,
            ssh: None,
        }
    }

    pub fn redacted(&self) -> String {
        let empty = || SealedSecret {
            nonce: String::new(),
            ciphertext: String::new(),
        };
        self.to_stored(self.password.as_ref().map(|_| empty()))
            .redacted(self.engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts_postgres() {
        let c = ConnectionString::parse(
            Engine::Postgres,
            "postgresql://alice:s%3Acr%40t@db.example.com/shop?sslmode=require",
        )
        .unwrap();
        assert_eq!(c.password(), Some("s:cr@t"));
        assert_eq!(c.port, 5432);
        assert_eq!(c.database, "shop");
        assert_eq!(
            c.redacted(),
            "postgres://alice:***@db.example.com:5432/shop?sslmode=require"
        );
        assert!(!format!("{c:?}").contains("s:cr@t"));
    }

    #[test]
    fn parses_mysql_and_ipv6() {
        let c = ConnectionString::parse(Engine::Mysql, "mariadb://root@[::1]:3307/app").unwrap();
        assert_eq!(c.host, "::1");
        assert_eq!(c.port, 3307);
        assert_eq!(c.password(), None);
        assert_eq!(c.redacted(), "mysql://root@[::1]:3307/app");
    }

    #[test]
    fn rejects_bad_strings() {
        use ConnectionError::*;
        let p = |s| ConnectionString::parse(Engine::Postgres, s);
        assert!(matches!(p("not a url"), Err(NotAUrl(_))));
        assert!(matches!(p("mysql://u@h/db"), Err(SchemeMismatch { .. })));
        assert!(matches!(p("postgres:///db"), Err(NoHost(_))));
        assert!(matches!(p("postgres://h/db"), Err(NoUser(_))));
        assert!(matches!(p("postgres://u@h"), Err(NoDatabase(_))));
        assert!(matches!(p("postgres://u@h/a/b"), Err(BadPath(_))));
        assert!(matches!(p("postgres://u%0A@h/db"), Err(ControlChars(_))));
        assert!(matches!(
            p("postgres://u@h/db?host=/tmp"),
            Err(UnknownParam { .. })
        ));
    }

    #[test]
    fn refuses_hosts_that_name_a_socket_or_several_hosts() {
        use ConnectionError::*;
        let p = |s| ConnectionString::parse(Engine::Postgres, s);
        for s in [
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/db",
            "postgres://u@%2ftmp/db",
            "postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql:5432/db",
            "postgres://u@h%2F..%2Fx/db",
        ] {
            let e = p(s).unwrap_err();
            assert!(matches!(e, UnixSocket(_)), "{s}: {e}");
            assert!(
                e.to_string().contains("Unix sockets are not supported"),
                "{e}"
            );
        }
        let e = ConnectionString::parse(
            Engine::Mysql,
            "mysql://root@%2Frun%2Fmysqld%2Fmysqld.sock/db",
        )
        .unwrap_err();
        assert!(matches!(e, UnixSocket(_)), "{e}");
        for s in [
            "postgres://u@%40abstract/db",
            "postgres://u@h1%2Ch2/db",
            "postgres://u@h%20x/db",
            "postgres://u@h%3Dx/db",
            "postgres://u@-h/db",
        ] {
            assert!(matches!(p(s), Err(BadHost(_))), "{s}: {:?}", p(s));
        }
        for s in [
            "postgres://u@db.example.com/x",
            "postgres://u@db_1/x",
            "postgres://u@localhost/x",
            "postgres://u@127.0.0.1/x",
            "postgres://u@[::1]/x",
        ] {
            assert!(p(s).is_ok(), "{s}: {:?}", p(s));
        }
        assert!(matches!(
            p("mysql://u@h/db?socket=/tmp/x"),
            Err(SchemeMismatch { .. })
        ));
        assert!(matches!(
            ConnectionString::parse(Engine::Mysql, "mysql://u@h/db?socket=/tmp/x"),
            Err(UnknownParam { .. })
        ));
    }
}
#[cfg(test)]
mod redaction_tests {
    use super::*;
    #[test]
    fn server_connections_may_leave_out_the_database() {
        let c = ConnectionString::parse_server(Engine::Postgres, "postgres://u:p@h:5433").unwrap();
        assert_eq!(c.database, "postgres");
        assert_eq!(c.redacted(), "postgres://u:***@h:5433/postgres");
        let c = ConnectionString::parse_server(Engine::Mysql, "mysql://root@h/").unwrap();
        assert_eq!(c.database, "");
        let c = ConnectionString::parse_server(Engine::Postgres, "postgres://u@h/maint").unwrap();
        assert_eq!(c.database, "maint");
        assert!(ConnectionString::parse_server(Engine::Postgres, "postgres://h/").is_err());
    }
    #[test]
    fn unreserved_characters_stay() {
        let c = ConnectionString::parse(Engine::Mysql, "mysql://bl_x-1.~:p@h:3306/sec_my").unwrap();
        assert_eq!(c.redacted(), "mysql://bl_x-1.~:***@h:3306/sec_my");
    }
}
