//! The one place where text becomes part of an SQL statement.
//!
//! Every identifier and literal that Backline puts into SQL it runs itself (database names,
//! role names, the database properties recorded with a version) goes through these
//! functions; nothing else builds SQL from data. Values that the engines can take as bound
//! parameters are bound instead; these are for the places where SQL has no parameters
//! (identifiers, `CREATE DATABASE` options, `COMMENT ON`, `ALTER … SET`, `GRANT`).
//!
//! The forms chosen do not depend on server settings:
//! * PostgreSQL identifiers: `"…"` with `"` doubled.
//! * PostgreSQL literals: `E'…'` with `\` and `'` doubled, which reads the same whatever
//!   `standard_conforming_strings` is.
//! * MySQL/MariaDB identifiers: `` `…` `` with `` ` `` doubled.
//! * libpq connection-string values: `'…'` with `\` and `'` backslash-escaped.
//!
//! NUL cannot be part of a PostgreSQL or MySQL identifier or PostgreSQL text, so it is
//! dropped rather than allowed to cut a statement short.

/// A PostgreSQL identifier, always quoted (case and every character kept).
pub fn pg_ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|&c| c != '\0') {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A PostgreSQL string literal, as an escape string (`E'…'`).
pub fn pg_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    out.push_str("E'");
    for c in s.chars().filter(|&c| c != '\0') {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A MySQL/MariaDB identifier, always quoted with backticks.
pub fn my_ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('`');
    for c in s.chars().filter(|&c| c != '\0') {
        if c == '`' {
            out.push('`');
        }
        out.push(c);
    }
    out.push('`');
    out
}

/// A value in a libpq connection string (`dbname='…'`).
pub fn conninfo_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars().filter(|&c| c != '\0') {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A value in a MySQL/MariaDB option file (`key="…"`).
pub fn my_option_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|&c| c != '\0') {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The elements of a PostgreSQL list setting as the catalog keeps it (`a, "b c"`), split
/// like the server's `SplitGUCList`: separated by commas, double-quoted elements keep their
/// case and may contain commas (a doubled `"` stands for one).
pub fn split_pg_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        item.push('"');
                    }
                    Some('"') | None => break,
                    Some(c) => item.push(c),
                }
            }
            while chars.peek().is_some_and(|&c| c != ',') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                item.push(c);
                chars.next();
            }
            let trimmed = item.trim_end().len();
            item.truncate(trimmed);
        }
        out.push(item);
        match chars.next() {
            Some(',') => continue,
            _ => break,
        }
    }
    if out.len() == 1 && out[0].is_empty() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_quoting() {
        assert_eq!(pg_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(pg_ident("a\0b"), "\"ab\"");
        assert_eq!(pg_literal("it's"), "E'it''s'");
        assert_eq!(pg_literal("a\\'; DROP"), "E'a\\\\''; DROP'");
        assert_eq!(pg_literal(""), "E''");
    }

    #[test]
    fn mysql_and_conninfo_quoting() {
        assert_eq!(my_ident("a`b"), "`a``b`");
        assert_eq!(conninfo_value("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(my_option_value("p\"a\\ss\nx"), "\"p\\\"a\\\\ss\\nx\"");
    }

    #[test]
    fn lists_split_like_the_server() {
        assert_eq!(split_pg_list("a, b"), vec!["a", "b"]);
        assert_eq!(split_pg_list("\"$user\", public"), vec!["$user", "public"]);
        assert_eq!(split_pg_list("\"a,b\", \"c\"\"d\""), vec!["a,b", "c\"d"]);
        assert_eq!(split_pg_list(""), Vec::<String>::new());
        assert_eq!(split_pg_list("x"), vec!["x"]);
    }
}
