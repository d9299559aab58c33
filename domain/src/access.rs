//! Who may do what: roles, the databases a principal is scoped to, and the names people and
//! tokens are known by. The rules that use them live with the aggregates (`user`, `token`) and
//! in the API's role table.

use serde::{Deserialize, Serialize};

/// What a principal may do; each role can do everything the one below it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except secrets.
    Viewer,
    /// Plus back up now, verify, pin/unpin, acknowledge alerts, restore into restore targets.
    Operator,
    /// Plus databases, channels, users, tokens, and restores into any database.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The databases a principal sees and acts on: every one (`None`), or those whose id equals an
/// entry or whose name matches an entry as a pattern (`*` any run of characters, `?` one).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DatabaseScope(pub Option<Vec<String>>);

impl DatabaseScope {
    pub const ALL: DatabaseScope = DatabaseScope(None);

    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    /// Whether the database with this id and name is in scope.
    pub fn allows(&self, id: &str, name: &str) -> bool {
        match &self.0 {
            None => true,
            Some(entries) => entries.iter().any(|e| e == id || pattern_matches(e, name)),
        }
    }

    /// Whether every database `inner` allows is allowed here too (a token may not see more than
    /// the user who issues it): the same entries, or this scope allows everything.
    pub fn contains(&self, inner: &DatabaseScope) -> bool {
        match (&self.0, &inner.0) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(outer), Some(inner)) => inner.iter().all(|i| outer.contains(i)),
        }
    }

    /// Checks the entries a person gave: none empty, no whitespace, at most 100.
    pub fn parse(entries: Option<Vec<String>>) -> Result<Self, AccessError> {
        let Some(entries) = entries else {
            return Ok(Self::ALL);
        };
        if entries.len() > 100 {
            return Err(AccessError::BadScope("at most 100 entries".into()));
        }
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let e = e.trim().to_string();
            if e.is_empty() || e.len() > 200 || e.chars().any(char::is_whitespace) {
                return Err(AccessError::BadScope(format!(
                    "{e:?} is not a database id or name pattern"
                )));
            }
            out.push(e);
        }
        Ok(Self(Some(out)))
    }
}

/// `*` matches any run of characters (also none), `?` exactly one; everything else itself.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy with one back-track point: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A sign-in name: 1–64 letters, digits, `.`, `_`, `-` or `@`.
pub fn parse_username(s: &str) -> Result<String, AccessError> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(AccessError::BadUsername(s.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("username {0:?} is not valid: use 1–64 letters, digits, '.', '_', '-' or '@'")]
    BadUsername(String),
    #[error("databases: {0}")]
    BadScope(String),
    #[error("name must be 1–100 characters")]
    BadName,
    #[error("this user already exists")]
    AlreadyExists,
    #[error("no such user")]
    NoUser,
    #[error("this user is disabled")]
    Disabled,
    #[error("no such token")]
    NoToken,
    #[error("this token is already revoked")]
    AlreadyRevoked,
    #[error("expires_at is in the past")]
    ExpiryInThePast,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_and_ids_match_exactly() {
        assert!(pattern_matches("staging_*", "staging_shop"));
        assert!(pattern_matches("*", ""));
        assert!(pattern_matches("s?op", "shop"));
        assert!(pattern_matches("*_db_*", "a_db_b"));
        assert!(!pattern_matches("staging_*", "prod_shop"));
        assert!(!pattern_matches("shop", "shop2"));
        let s = DatabaseScope::parse(Some(vec!["staging_*".into(), "0190-id".into()])).unwrap();
        assert!(s.allows("x", "staging_a"));
        assert!(s.allows("0190-id", "prod"));
        assert!(!s.allows("y", "prod"));
        assert!(DatabaseScope::ALL.allows("y", "prod"));
        assert!(DatabaseScope::parse(Some(vec![" ".into()])).is_err());
    }

    #[test]
    fn a_scope_contains_narrower_ones_only() {
        let wide = DatabaseScope::parse(Some(vec!["a".into(), "b".into()])).unwrap();
        let narrow = DatabaseScope::parse(Some(vec!["a".into()])).unwrap();
        assert!(DatabaseScope::ALL.contains(&wide));
        assert!(wide.contains(&narrow));
        assert!(!narrow.contains(&wide));
        assert!(!wide.contains(&DatabaseScope::ALL));
    }

    #[test]
    fn roles_are_ordered_and_usernames_checked() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!(Role::parse("Admin"), Some(Role::Admin));
        assert_eq!(parse_username(" ann ").unwrap(), "ann");
        assert!(parse_username("a b").is_err());
        assert!(parse_username("").is_err());
    }
}
