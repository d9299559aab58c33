//! `no_definer`: the MariaDB counterpart of `no_owner`. A restore by a user without SUPER (or
//! SET USER) cannot create views, routines, triggers and events that name another definer;
//! with this option the `DEFINER=` clause `mariadb-dump` writes at the start of each such
//! statement becomes `DEFINER=CURRENT_USER`, the restoring user. Only the clause in the
//! statement's head changes, never a body.

/// The heads `mariadb-dump` writes before a definer, and what must follow it.
const HEADS: [(&str, &str); 4] = [
    // Routines (and packages), inside a DELIMITER block.
    ("CREATE DEFINER=", " "),
    // Triggers, inside a DELIMITER block.
    ("/*!50003 CREATE*/ /*!50017 DEFINER=", "*/"),
    // Events, inside a DELIMITER block.
    ("/*!50106 CREATE*/ /*!50117 DEFINER=", "*/"),
    // Views.
    ("/*!50013 DEFINER=", " SQL SECURITY "),
];

/// `line` with its definer replaced by `CURRENT_USER`, if it starts with one of the heads.
pub(crate) fn rewrite(line: &str) -> Option<String> {
    for (head, follows) in HEADS {
        let Some(rest) = line.strip_prefix(head) else {
            continue;
        };
        let after = account(rest)?;
        if !after.starts_with(follows) {
            return None;
        }
        return Some(format!("{head}CURRENT_USER{after}"));
    }
    None
}

/// What follows an account: `` `user`@`host` ``, `` `role` `` or `CURRENT_USER`.
fn account(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix("CURRENT_USER") {
        return Some(rest);
    }
    let rest = quoted(s)?;
    match rest.strip_prefix('@') {
        Some(host) => quoted(host),
        None => Some(rest),
    }
}

/// What follows one backtick-quoted name (backticks inside doubled).
fn quoted(s: &str) -> Option<&str> {
    let body = s.strip_prefix('`')?;
    let bytes = body.as_bytes();
    let mut i = 0;
    loop {
        match bytes.get(i) {
            Some(b'`') if bytes.get(i + 1) == Some(&b'`') => i += 2,
            Some(b'`') => return Some(&body[i + 1..]),
            Some(_) => i += 1,
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn definers_become_the_restoring_user() {
        let cases = [
            (
                "CREATE DEFINER=`root`@`127.0.0.1` FUNCTION `f1`(x INT) RETURNS int(11)\n",
                "CREATE DEFINER=CURRENT_USER FUNCTION `f1`(x INT) RETURNS int(11)\n",
            ),
            (
                "/*!50003 CREATE*/ /*!50017 DEFINER=`a``b`@`%`*/ /*!50003 TRIGGER t BEFORE INSERT ON p FOR EACH ROW SET @n = 1 */;;\n",
                "/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER t BEFORE INSERT ON p FOR EACH ROW SET @n = 1 */;;\n",
            ),
            (
                "/*!50106 CREATE*/ /*!50117 DEFINER=`admin_role`*/ /*!50106 EVENT `e1` ON SCHEDULE EVERY 1 DAY DO SELECT 1 */ ;;\n",
                "/*!50106 CREATE*/ /*!50117 DEFINER=CURRENT_USER*/ /*!50106 EVENT `e1` ON SCHEDULE EVERY 1 DAY DO SELECT 1 */ ;;\n",
            ),
            (
                "/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */\n",
                "/*!50013 DEFINER=CURRENT_USER SQL SECURITY DEFINER */\n",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(rewrite(line).as_deref(), Some(want), "{line}");
        }
        for line in [
            "CREATE FUNCTION f() RETURNS int\n",
            "CREATE DEFINER=`unterminated@`h FUNCTION\n",
            "/*!50013 DEFINER=`root`@`localhost` */ SELECT 'SQL SECURITY '\n",
            "INSERT INTO t VALUES ('CREATE DEFINER=`x`@`y` FUNCTION')\n",
        ] {
            assert_eq!(rewrite(line), None, "{line}");
        }
    }
}
