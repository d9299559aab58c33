//! Where a `DELIMITER` block of a dump ends, as the `mariadb`/`mysql` client sees it.
//!
//! `mariadb-dump` writes routines, triggers and events between `DELIMITER ;;` and
//! `DELIMITER ;`. Their bodies are the owner's text, passed through byte for byte: nothing in
//! them may be rewritten (see `mysql_stream`). The block ends only where the client itself
//! takes `DELIMITER ;` as a command: at the start of a line, between statements, outside any
//! string or comment. A body line reading `DELIMITER ;` inside a string literal or in the
//! middle of a statement does not end it. This follows the client's reader (`read_and_execute`
//! and `add_line` in `client/mysql.cc`): quotes `'` `"` `` ` ``, backslash escapes (not in
//! strings under `NO_BACKSLASH_ESCAPES`), `/* */` comments (but `/*!` and `/*M!` are code),
//! `#` and `-- ` comments, and the current delimiter.

/// Bytes of a line held before they are lexed (a delimiter command is far shorter).
const HOLD: usize = 64 * 1024;
/// Lookahead the lexer needs past a position (`/*M!`, a delimiter of up to 8 bytes).
const LOOKAHEAD: usize = 8;

#[derive(Debug)]
pub(crate) struct Block {
    delimiter: Vec<u8>,
    /// `NO_BACKSLASH_ESCAPES` is in effect (set by the dump's `SET sql_mode` before the block).
    no_backslash_escapes: bool,
    in_string: Option<u8>,
    ml_comment: bool,
    /// The rest of the current line is a `#` or `-- ` comment.
    line_comment: bool,
    /// No statement text since the last delimiter (a command is only read then).
    statement_empty: bool,
    /// The current line's bytes not lexed yet.
    line: Vec<u8>,
    /// `line` starts at the line's first byte.
    from_line_start: bool,
}

impl Block {
    pub(crate) fn new(delimiter: &[u8], no_backslash_escapes: bool) -> Self {
        Self {
            delimiter: delimiter.to_vec(),
            no_backslash_escapes,
            in_string: None,
            ml_comment: false,
            line_comment: false,
            statement_empty: true,
            line: Vec::new(),
            from_line_start: true,
        }
    }

    /// The block's current delimiter.
    pub(crate) fn delimiter(&self) -> &[u8] {
        &self.delimiter
    }

    /// At the start of a line that starts a statement (outside strings and comments).
    pub(crate) fn at_statement_start(&self) -> bool {
        self.from_line_start
            && self.line.is_empty()
            && self.in_string.is_none()
            && !self.ml_comment
            && self.statement_empty
    }

    /// Reads `input`; `Some(n)` when the block ended with the line that ends at `input[n - 1]`.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match input[i..].iter().position(|&b| b == b'\n') {
                Some(p) => {
                    self.line.extend_from_slice(&input[i..i + p]);
                    i += p + 1;
                    if self.end_line() {
                        return Some(i);
                    }
                }
                None => {
                    self.line.extend_from_slice(&input[i..]);
                    i = input.len();
                    if self.line.len() > HOLD {
                        let upto = self.line.len() - LOOKAHEAD;
                        self.lex(upto);
                        self.from_line_start = false;
                    }
                }
            }
        }
        None
    }

    /// The line is complete: a delimiter command, or more of the block.
    fn end_line(&mut self) -> bool {
        if self.from_line_start
            && self.in_string.is_none()
            && !self.ml_comment
            && self.statement_empty
        {
            let t = trim(&self.line);
            if let Some(arg) = delimiter_command(t) {
                let ends = arg == b";";
                if !arg.is_empty() {
                    self.delimiter = arg.to_vec();
                }
                self.line.clear();
                return ends;
            }
        }
        let len = self.line.len();
        self.lex(len);
        self.line.clear();
        self.line_comment = false;
        self.from_line_start = true;
        false
    }

    /// Lexes `line[..upto]` (bytes past `upto` serve as lookahead) and drops them.
    fn lex(&mut self, upto: usize) {
        let line = std::mem::take(&mut self.line);
        let at = |i: usize| line.get(i).copied();
        let mut i = 0;
        while i < upto && !self.line_comment {
            let c = line[i];
            let escapes = !(self.in_string.is_some() && self.no_backslash_escapes);
            if !self.ml_comment && c == b'\\' && escapes {
                // An escaped character in a string, or a client command outside one.
                if self.in_string.is_none() {
                    self.statement_empty = false;
                }
                i += 2;
                continue;
            }
            if !self.ml_comment
                && self.in_string.is_none()
                && line[i..].starts_with(&self.delimiter)
            {
                self.statement_empty = true;
                i += self.delimiter.len();
                continue;
            }
            if !self.ml_comment
                && self.in_string.is_none()
                && (c == b'#'
                    || (c == b'-'
                        && at(i + 1) == Some(b'-')
                        && at(i + 2).is_none_or(|n| n.is_ascii_whitespace())))
            {
                self.line_comment = true;
                break;
            }
            if self.in_string.is_none()
                && c == b'/'
                && at(i + 1) == Some(b'*')
                && !(at(i + 2) == Some(b'!')
                    || (at(i + 2) == Some(b'M') && at(i + 3) == Some(b'!')))
            {
                self.ml_comment = true;
                i += 2;
                continue;
            }
            if self.ml_comment && c == b'*' && at(i + 1) == Some(b'/') {
                self.ml_comment = false;
                i += 2;
                continue;
            }
            if !self.ml_comment {
                if Some(c) == self.in_string {
                    self.in_string = None;
                } else if self.in_string.is_none() && matches!(c, b'\'' | b'"' | b'`') {
                    self.in_string = Some(c);
                }
                if !c.is_ascii_whitespace() {
                    self.statement_empty = false;
                }
            }
            i += 1;
        }
        self.line = if self.line_comment {
            Vec::new()
        } else {
            line[i.min(line.len())..].to_vec()
        };
    }
}

/// `DELIMITER x` (any case, then whitespace) → `Some(x)`, its first word.
fn delimiter_command(t: &[u8]) -> Option<&[u8]> {
    const WORD: &[u8] = b"delimiter";
    if t.len() < WORD.len() || !t[..WORD.len()].eq_ignore_ascii_case(WORD) {
        return None;
    }
    let rest = &t[WORD.len()..];
    if !rest.is_empty() && !rest[0].is_ascii_whitespace() {
        return None;
    }
    let rest = trim(rest);
    let end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(body: &str, nbe: bool) -> Option<usize> {
        let mut b = Block::new(b";;", nbe);
        b.feed(body.as_bytes())
    }

    #[test]
    fn ends_at_the_command_line() {
        let body = "CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND ;;\nDELIMITER ;\nAFTER";
        assert_eq!(end_of(body, false), Some(body.len() - "AFTER".len()));
        // Split at every byte.
        for split in 1..body.len() {
            let mut b = Block::new(b";;", false);
            let first = b.feed(&body.as_bytes()[..split]);
            let got = first.or_else(|| b.feed(&body.as_bytes()[split..]).map(|n| n + split));
            assert_eq!(got, Some(body.len() - 5), "split {split}");
        }
    }

    #[test]
    fn a_delimiter_line_inside_a_body_does_not_end_it() {
        // Inside a string literal.
        let s = "CREATE PROCEDURE p() SELECT 'x\nDELIMITER ;\nLOCK TABLES `t` WRITE;\n' ;;\nDELIMITER ;\n";
        assert_eq!(end_of(s, false), Some(s.len()));
        let inner = s.find("LOCK").unwrap();
        let mut b = Block::new(b";;", false);
        assert_eq!(b.feed(&s.as_bytes()[..inner]), None);
        // In the middle of a statement (the client's buffer is not empty).
        let s = "CREATE PROCEDURE p()\nBEGIN\nDELIMITER ;\nEND ;;\nDELIMITER ;\n";
        assert_eq!(end_of(s, false), Some(s.len()));
        // In a block comment, and after an escaped quote.
        let s = "CREATE PROCEDURE p() /*\nDELIMITER ;\n*/ SELECT 'a\\'\nDELIMITER ;\n' ;;\nDELIMITER ;\n";
        assert_eq!(end_of(s, false), Some(s.len()));
        // A double-quoted and a backquoted name holding the delimiter.
        let s = "CREATE PROCEDURE `p;;\nDELIMITER ;\n`() SELECT \";;\nDELIMITER ;\n\" ;;\nDELIMITER ;\n";
        assert_eq!(end_of(s, false), Some(s.len()));
        // `-- ;;` is a comment; `/*!` is code.
        let s = "CREATE PROCEDURE p() -- ;;\nSELECT /*! 1 */ 2 ;;\nDELIMITER ;\n";
        assert_eq!(end_of(s, false), Some(s.len()));
    }

    #[test]
    fn backslashes_follow_no_backslash_escapes() {
        // With the mode, `\'` does not escape: the string ends there.
        let s = "CREATE PROCEDURE p() SELECT 'a\\' ;;\nDELIMITER ;\n";
        assert_eq!(end_of(s, true), Some(s.len()));
        assert_eq!(end_of(s, false), None);
    }

    #[test]
    fn long_lines_are_lexed_in_bounded_memory() {
        let mut s = String::from("CREATE PROCEDURE p() SELECT '");
        s.push_str(&"x".repeat(3 * HOLD));
        s.push_str("' ;;\nDELIMITER ;\n");
        let mut b = Block::new(b";;", false);
        let mut got = None;
        for (k, chunk) in s.as_bytes().chunks(1000).enumerate() {
            if let Some(n) = b.feed(chunk) {
                got = Some(k * 1000 + n);
                break;
            }
            assert!(b.line.len() <= HOLD + 1000);
        }
        assert_eq!(got, Some(s.len()));
    }
}
