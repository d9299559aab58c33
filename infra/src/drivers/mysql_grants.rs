//! MariaDB/MySQL: what `mariadb-dump --single-transaction --routines --triggers --events`
//! needs, checked from `SHOW GRANTS` (which includes the grants of the user's current role)
//! and the objects the user can see. `--single-transaction` takes no LOCK TABLES.
//! Measured with mariadb-dump 10.11: without SELECT or SHOW VIEW or EVENT it stops; without
//! TRIGGER it leaves the triggers out and succeeds; a routine it can see but not read
//! (another definer, no SELECT on mysql.proc) stops it; routines it cannot see are left out.

use super::grants::MissingGrant;
use super::{mysql, StageError};
use backline_domain::{ConnectionString, Stage};
use sqlx::{MySqlConnection, Row};

/// Where a grant applies.
#[derive(Debug, PartialEq, Eq)]
enum Scope {
    Global,
    /// A database name pattern (`_` and `%` wildcards, `\` escapes).
    Database(String),
    Table(String, String),
    /// Routines, proxies, a bare `*`: nothing a dump needs.
    Other,
}

#[derive(Debug, PartialEq, Eq)]
struct Grant {
    /// Upper case; `ALL PRIVILEGES` is `ALL`; column-level ones are left out.
    privileges: Vec<String>,
    scope: Scope,
}

/// The byte offset of `word` in `s` outside backquotes and parentheses.
fn find_top(s: &str, word: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut quoted, mut depth) = (false, 0i32);
    for i in 0..b.len() {
        match b[i] {
            b'`' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            _ if !quoted && depth == 0 && b[i..].starts_with(word.as_bytes()) => return Some(i),
            _ => {}
        }
    }
    None
}

/// A backquoted or bare identifier at the start of `s`, and the rest.
fn ident(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('`') {
        let mut out = String::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '`' {
                if matches!(chars.peek(), Some((_, '`'))) {
                    chars.next();
                    out.push('`');
                } else {
                    return Some((out, &rest[i + 1..]));
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        let end = s.find('.').unwrap_or(s.len());
        Some((s[..end].to_string(), &s[end..]))
    }
}

fn scope(object: &str) -> Scope {
    let object = object.trim();
    if object == "*.*" {
        return Scope::Global;
    }
    // Routine and package grants: `PROCEDURE db.p`, `FUNCTION db.f`, `PACKAGE db.p`.
    if object.contains(' ') && !object.starts_with('`') {
        return Scope::Other;
    }
    let Some((db, rest)) = ident(object) else {
        return Scope::Other;
    };
    let Some(rest) = rest.strip_prefix('.') else {
        return Scope::Other;
    };
    if rest == "*" {
        return Scope::Database(db);
    }
    match ident(rest) {
        Some((table, "")) => Scope::Table(db, table),
        _ => Scope::Other,
    }
}

/// One line of `SHOW GRANTS`; `None` for a role grant (`GRANT r TO u`).
fn parse_grant(line: &str) -> Option<Grant> {
    let body = line.trim().strip_prefix("GRANT ")?;
    let on = find_top(body, " ON ")?;
    let (privileges, rest) = (&body[..on], &body[on + 4..]);
    let to = find_top(rest, " TO ")?;
    let mut list = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    for (i, c) in privileges.char_indices().chain([(privileges.len(), ',')]) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                let p = privileges[start..i].trim().to_ascii_uppercase();
                start = i + 1;
                if p.contains('(') {
                    continue;
                }
                list.push(if p == "ALL PRIVILEGES" {
                    "ALL".into()
                } else {
                    p
                });
            }
            _ => {}
        }
    }
    Some(Grant {
        privileges: list,
        scope: scope(&rest[..to]),
    })
}

/// MySQL's LIKE for grant patterns: `%` any run, `_` one character, `\` escapes.
fn like(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|k| go(&p[1..], &s[k..])),
            Some('_') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && go(&p[2..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(&p, &s)
}

struct Grants(Vec<Grant>);

impl Grants {
    /// Whether `privilege` is held on database `db` (or on its `table`).
    fn has(&self, privilege: &str, db: &str, table: Option<&str>) -> bool {
        self.0.iter().any(|g| {
            g.privileges.iter().any(|p| p == privilege || p == "ALL")
                && match &g.scope {
                    Scope::Global => true,
                    Scope::Database(pattern) => like(pattern, db),
                    Scope::Table(d, t) => d == db && Some(t.as_str()) == table,
                    Scope::Other => false,
                }
        })
    }
}

fn failed(e: sqlx::Error) -> StageError {
    StageError::new(Stage::Connect, mysql::describe(&e))
}

async fn strings(
    c: &mut MySqlConnection,
    sql: &str,
    db: &str,
) -> Result<Vec<Vec<String>>, StageError> {
    let rows = sqlx::query(sql)
        .bind(db)
        .fetch_all(&mut *c)
        .await
        .map_err(failed)?;
    Ok(rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<String, _>(i).unwrap_or_default())
                .collect()
        })
        .collect())
}

/// What the user of `conn` lacks to dump its database.
pub(super) async fn missing(conn: &ConnectionString) -> Result<Vec<MissingGrant>, StageError> {
    let db = conn.database.as_str();
    let mut c = mysql::connect(conn, Some(db)).await?;
    let rows = sqlx::query("SHOW GRANTS")
        .fetch_all(&mut c)
        .await
        .map_err(failed)?;
    // Text, or bytes on servers that report it as binary.
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            r.try_get::<String, _>(0).unwrap_or_else(|_| {
                String::from_utf8_lossy(&r.try_get::<Vec<u8>, _>(0).unwrap_or_default())
                    .into_owned()
            })
        })
        .collect();
    let grants = Grants(lines.iter().filter_map(|l| parse_grant(l)).collect());
    let objects = strings(
        &mut c,
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_TYPE AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
        db,
    )
    .await?;
    let routines = strings(
        &mut c,
        "SELECT CAST(ROUTINE_NAME AS CHAR), CAST(DEFINER AS CHAR), CAST(CURRENT_USER() AS CHAR) \
         FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME",
        db,
    )
    .await?;
    // MariaDB < 11.3 shows another definer's routine body only to readers of mysql.proc.
    let proc_readable = sqlx::query("SELECT 1 FROM mysql.proc LIMIT 0")
        .fetch_all(&mut c)
        .await
        .is_ok()
        || grants.has("SELECT", "mysql", Some("proc"))
        || grants.has("SHOW CREATE ROUTINE", db, None);
    let _ = sqlx::Connection::close(c).await;
    Ok(judge(&grants, db, &objects, &routines, proc_readable))
}

fn judge(
    grants: &Grants,
    db: &str,
    objects: &[Vec<String>],
    routines: &[Vec<String>],
    proc_readable: bool,
) -> Vec<MissingGrant> {
    let mut out = Vec::new();
    let mut lack = |privilege: &str, object: String, effect: &str| {
        out.push(MissingGrant {
            privilege: privilege.into(),
            object,
            effect: effect.into(),
        })
    };
    let mut tables_without_trigger = false;
    for o in objects {
        let (name, kind) = (o[0].as_str(), o.get(1).map(String::as_str).unwrap_or(""));
        let view = kind == "VIEW";
        if !grants.has("SELECT", db, Some(name)) {
            lack(
                "SELECT",
                format!("{db}.{name}"),
                "mariadb-dump stops: SELECT command denied",
            );
        }
        if view && !grants.has("SHOW VIEW", db, Some(name)) {
            lack(
                "SHOW VIEW",
                format!("{db}.{name}"),
                "mariadb-dump stops: it reads the view's definition with SHOW CREATE VIEW",
            );
        }
        if !view && !grants.has("TRIGGER", db, Some(name)) {
            tables_without_trigger = true;
        }
    }
    if objects.is_empty() && !grants.has("SELECT", db, None) {
        lack(
            "SELECT",
            format!("{db}.*"),
            "this user sees no table: the dump would hold none",
        );
    }
    if tables_without_trigger {
        lack(
            "TRIGGER",
            format!("{db}.*"),
            "triggers are left out of the dump, without an error",
        );
    }
    if !grants.has("EVENT", db, None) {
        lack(
            "EVENT",
            format!("{db}.*"),
            "mariadb-dump --events stops: Access denied",
        );
    }
    if !proc_readable {
        for r in routines.iter().filter(|r| r.get(1) != r.get(2)) {
            lack("SELECT on mysql.proc", format!("{db}.{}", r[0]), "mariadb-dump stops: insufficient privileges to SHOW CREATE (the routine has another definer)");
        }
        if !grants.has("EXECUTE", db, None) && !grants.has("ALTER ROUTINE", db, None) {
            lack("EXECUTE (or SELECT on mysql.proc)", format!("{db}.*"), "routines this user cannot see are left out of the dump, without an error (nothing is lost if the database has none)");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lines_of_show_grants() {
        let g = parse_grant("GRANT SELECT, SHOW VIEW ON `shop`.* TO `app`@`%`").unwrap();
        assert_eq!(g.privileges, vec!["SELECT", "SHOW VIEW"]);
        assert_eq!(g.scope, Scope::Database("shop".into()));
        let g = parse_grant("GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION")
            .unwrap();
        assert_eq!(
            (g.privileges, g.scope),
            (vec!["ALL".to_string()], Scope::Global)
        );
        let g = parse_grant("GRANT SELECT (`a ON b`), INSERT ON `x``y`.`t.1` TO `u`@`%`").unwrap();
        assert_eq!(g.privileges, vec!["INSERT"]);
        assert_eq!(g.scope, Scope::Table("x`y".into(), "t.1".into()));
        let g = parse_grant("GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `u`@`%`").unwrap();
        assert_eq!(g.scope, Scope::Other);
        assert!(parse_grant("GRANT `reader` TO `u`@`%`").is_none());
        assert!(parse_grant("SET DEFAULT ROLE `reader` FOR `u`@`%`").is_none());
    }

    #[test]
    fn database_patterns_match_like_grants_do() {
        assert!(like("shop", "shop"));
        assert!(!like("shop", "shop2"));
        assert!(like("shop\\_%", "shop_eu"));
        assert!(!like("shop\\_%", "shopxeu"));
        assert!(like("sh_p%", "shop_eu"));
        assert!(like("%", ""));
    }

    #[test]
    fn a_role_with_everything_on_the_database_lacks_only_what_is_elsewhere() {
        let grants = Grants(
            [
                "GRANT USAGE ON *.* TO `u`@`%`",
                "GRANT SELECT ON `shop`.`t` TO `u`@`%`",
                "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON `sho\\_p`.* TO `r`",
            ]
            .iter()
            .filter_map(|l| parse_grant(l))
            .collect(),
        );
        let objects = vec![
            vec!["t".to_string(), "BASE TABLE".to_string()],
            vec!["u".to_string(), "BASE TABLE".to_string()],
            vec!["v".to_string(), "VIEW".to_string()],
        ];
        let routines = vec![vec![
            "p".to_string(),
            "root@localhost".to_string(),
            "u@%".to_string(),
        ]];
        let missing = judge(&grants, "shop", &objects, &routines, false);
        let names: Vec<(&str, &str)> = missing
            .iter()
            .map(|m| (m.privilege.as_str(), m.object.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("SELECT", "shop.u"),
                ("SELECT", "shop.v"),
                ("SHOW VIEW", "shop.v"),
                ("TRIGGER", "shop.*"),
                ("EVENT", "shop.*"),
                ("SELECT on mysql.proc", "shop.p"),
                ("EXECUTE (or SELECT on mysql.proc)", "shop.*"),
            ]
        );
        assert!(judge(&grants, "sho_p", &objects, &[], true).is_empty());
    }
}
