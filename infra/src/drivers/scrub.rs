//! What of a tool's stderr may be kept: the tools' own error lines, never the rows they echo.
//!
//! A failed load prints the offending data: PostgreSQL in `DETAIL:` (`Failing row contains
//! (…)`, `Key (id)=(…)`), `CONTEXT:` (`COPY t, line 1: "…the row…"`) and the SQL echoed after
//! `Command was:`; MariaDB inside its error line (`near '…the statement…' at line 1`,
//! `Duplicate entry '…'`, `Incorrect integer value: '…'`). The stderr tail is recorded in the
//! append-only ledger and sent with alerts, so those parts are dropped or masked here, and
//! every line is capped.

/// Longest line kept, in characters.
pub const MAX_LINE: usize = 300;

/// The mask that stands for a value that was removed.
pub const MASK: &str = "…";

/// Scrubs stderr line by line; it keeps state across lines (an echoed command spans several).
#[derive(Debug, Default)]
pub struct Scrubber {
    in_echo: bool,
    /// Between the `--------------` lines the `mariadb` client prints around a failed
    /// statement (the statement itself, rows and all).
    in_statement: bool,
}

impl Scrubber {
    /// The line as it may be kept, or `None` when it must go.
    pub fn line(&mut self, raw: &str) -> Option<String> {
        let line = raw.trim_end_matches(['\r', '\n']);
        if line.len() >= 10 && line.bytes().all(|b| b == b'-') {
            self.in_statement = !self.in_statement;
            return None;
        }
        if self.in_statement {
            return None;
        }
        let (prefixed, detail, body) = strip_tool_prefix(line);
        if self.in_echo {
            if !prefixed {
                // Still the echoed command (it has no tool prefix).
                return None;
            }
            self.in_echo = false;
        }
        let label = body.trim_start();
        if label.starts_with("Command was:") {
            self.in_echo = true;
            return None;
        }
        if is_data_label(label) || is_caret_line(label) {
            return None;
        }
        // A tool's own `detail:` lines echo commands and keys; only the server's error
        // message (masked below) is kept.
        if detail && !label.starts_with("Error message from server:") {
            return None;
        }
        Some(cap(&mask_values(line)))
    }
}

/// `pg_restore: error: x` → `(true, false, "x")`; `pg_dump: detail: x` → `(true, true, "x")`;
/// a line without a tool prefix → `(false, false, line)`.
fn strip_tool_prefix(line: &str) -> (bool, bool, &str) {
    for tool in [
        "pg_restore: ",
        "pg_dump: ",
        "pg_dumpall: ",
        "psql: ",
        "pg_basebackup: ",
    ] {
        if let Some(rest) = line.strip_prefix(tool) {
            if let Some(r) = rest.strip_prefix("detail: ") {
                return (true, true, r);
            }
            for level in ["error: ", "hint: ", "warning: ", "fatal: "] {
                if let Some(r) = rest.strip_prefix(level) {
                    return (true, false, r);
                }
            }
            return (true, false, rest);
        }
    }
    (false, false, line)
}

/// PostgreSQL message fields that carry rows or statements.
fn is_data_label(s: &str) -> bool {
    const LABELS: [&str; 5] = ["DETAIL:", "CONTEXT:", "QUERY:", "STATEMENT:", "WHERE:"];
    if LABELS.iter().any(|l| s.starts_with(l)) {
        return true;
    }
    // `LINE 3: INSERT INTO …` (the statement around an error position).
    if let Some(rest) = s.strip_prefix("LINE ") {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        return digits > 0 && rest[digits..].starts_with(':');
    }
    false
}

/// The `^` under an error position.
fn is_caret_line(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.chars().all(|c| c == '^' || c == ' ')
}

/// Masks the values error lines quote: PostgreSQL's trailing `: "value"` and
/// `value "…" is out of range`, MariaDB's `near '…'`, `entry '…'`, `value: '…'`.
fn mask_values(line: &str) -> String {
    let mut s = line.to_string();
    // MariaDB: the quoted text runs to the last occurrence of what follows it, since the
    // text itself is not escaped and may hold quotes.
    for (open, close) in [
        ("near '", "' at line "),
        ("entry '", "' for key "),
        ("value: '", "' for column "),
        ("value '", "' for column "),
    ] {
        s = mask_between(&s, open, close);
    }
    // PostgreSQL: `invalid input syntax for type integer: "abc"` and the like end with the
    // value; object names are never at the end after a colon.
    if let Some(start) = s.rfind(": \"") {
        if s.ends_with('"') && s.len() > start + 3 {
            s = format!("{}: \"{MASK}\"", &s[..start]);
        }
    }
    if let Some(start) = s.find("value \"") {
        if let Some(end) = s.rfind("\" is out of range") {
            if end >= start + 7 {
                s = format!("{}value \"{MASK}{}", &s[..start], &s[end..]);
            }
        }
    }
    s
}

fn mask_between(s: &str, open: &str, close: &str) -> String {
    let Some(start) = s.find(open) else {
        return s.to_string();
    };
    let from = start + open.len();
    let end = match s.rfind(close) {
        Some(e) if e >= from => e,
        // No closing part: the value runs to the end of the line.
        _ => s.len(),
    };
    format!("{}{MASK}{}", &s[..from], &s[end..])
}

fn cap(s: &str) -> String {
    match s.char_indices().nth(MAX_LINE) {
        Some((i, _)) => format!("{}{MASK}", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> Vec<String> {
        let mut s = Scrubber::default();
        text.lines().filter_map(|l| s.line(l)).collect()
    }

    #[test]
    fn postgres_rows_and_statements_are_dropped() {
        let out = scrub(concat!(
            "pg_restore: error: COPY failed for table \"a_accounts\": ERROR:  new row for relation \"a_accounts\" violates check constraint \"c\"\n",
            "DETAIL:  Failing row contains (1985, Account MARKER-1985, DE).\n",
            "CONTEXT:  COPY a_accounts, line 1: \"1985\tAccount MARKER-1985\tDE\"\n",
            "pg_restore: error: could not execute query: ERROR:  syntax error at or near \"x\"\n",
            "LINE 1: INSERT INTO t VALUES ('MARKER-1985');\n",
            "                     ^\n",
            "Command was: INSERT INTO t VALUES ('MARKER-1985',\n",
            "  'more MARKER-1985');\n",
            "\n",
            "pg_restore: error: invalid input syntax for type integer: \"MARKER-1985\"\n",
            "pg_restore: detail: Key (id)=(MARKER-1985) already exists.\n",
            "pg_restore: error: value \"MARKER-1985\" is out of range for type integer\n",
            "pg_restore: warning: errors ignored on restore: 1\n",
        ));
        let all = out.join("\n");
        assert!(!all.contains("MARKER"), "{all}");
        assert!(all.contains("violates check constraint \"c\""), "{all}");
        assert!(
            all.contains("COPY failed for table \"a_accounts\""),
            "{all}"
        );
        assert!(all.contains("errors ignored on restore: 1"), "{all}");
        assert!(
            all.contains("invalid input syntax for type integer: \"…\""),
            "{all}"
        );
    }

    #[test]
    fn mariadb_values_are_masked() {
        let out = scrub(concat!(
            "ERROR 1064 (42000) at line 30: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '(1985,'Account MARKER-1985','DE'),(1986,' at line 1\n",
            "ERROR 1062 (23000) at line 45: Duplicate entry 'MARKER-1985' for key 'PRIMARY'\n",
            "ERROR 1366 (22007) at line 12: Incorrect integer value: 'MARKER-1985' for column `db`.`t`.`id` at row 1\n",
            "ERROR 1049 (42000): Unknown database 'shop'\n",
            "--------------\n",
            "INSERT INTO `f` VALUES\n",
            "(16777200,'Account MARKER-1985'),\n",
            "--------------\n",
            "\n",
            "ERROR 1180 (HY000) at line 39: Got error 1 \"Operation not permitted\" during COMMIT\n",
        ));
        let all = out.join("\n");
        assert!(!all.contains("MARKER"), "{all}");
        assert!(all.contains("near '…' at line 1"), "{all}");
        assert!(
            all.contains("Duplicate entry '…' for key 'PRIMARY'"),
            "{all}"
        );
        assert!(all.contains("Unknown database 'shop'"), "{all}");
        assert!(all.contains("ERROR 1180 (HY000) at line 39"), "{all}");
    }

    #[test]
    fn lines_are_capped_and_names_kept() {
        let long = "x".repeat(5000);
        let out = scrub(&format!(
            "pg_restore: error: {long}\nERROR:  role \"bob\" does not exist"
        ));
        assert_eq!(out[0].chars().count(), MAX_LINE + 1);
        assert_eq!(out[1], "ERROR:  role \"bob\" does not exist");
    }
}
