//! Canonical JSON in one pass over the text (the rules are in [`crate::seal`]'s documentation).
//!
//! `ledger verify` computes the canonical bytes of every event, so this is on its hot path: the
//! text is read once, strings without escapes are copied as they are, and only objects allocate
//! (one buffer for their values, to sort them by key). The output is byte for byte what
//! `serde_json` gives when each level is parsed and written again (the seal format's original
//! definition); the tests below hold this implementation to that reference.

use crate::seal::{normalise_timestamp, CanonError};
use std::borrow::Cow;
use std::ops::Range;

/// Deeper nesting is refused (as `serde_json` does), so a hostile event cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Writes the canonical form of the JSON text `raw` to `out`; with `timestamps`, every string
/// value that is an RFC 3339 timestamp is normalised.
pub(crate) fn write(raw: &str, timestamps: bool, out: &mut String) -> Result<(), CanonError> {
    let text = raw.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Err(err("empty"));
    }
    let mut p = Parser {
        s: text,
        i: 0,
        timestamps,
        spare: Vec::new(),
    };
    p.value(out, 0)?;
    p.skip_ws();
    if p.i != text.len() {
        return Err(err(format!("trailing characters at byte {}", p.i)));
    }
    Ok(())
}

fn err(msg: impl Into<String>) -> CanonError {
    CanonError::Json(msg.into())
}

/// An object's values written out, and its keys with where each value lies.
type Members<'a> = (String, Vec<(Cow<'a, str>, Range<usize>)>);

struct Parser<'a> {
    s: &'a str,
    i: usize,
    timestamps: bool,
    /// Buffers of finished objects, reused by the next ones.
    spare: Vec<Members<'a>>,
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), CanonError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(err(format!("expected '{}' at byte {}", c as char, self.i)))
        }
    }

    fn value(&mut self, out: &mut String, depth: usize) -> Result<(), CanonError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(out, depth + 1),
            Some(b'[') => self.array(out, depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                match self.timestamps.then(|| normalise_timestamp(&s)).flatten() {
                    Some(t) => write_clean(&t, out),
                    None => write_cow(s, out),
                }
                Ok(())
            }
            Some(b't') => self.literal("true", out),
            Some(b'f') => self.literal("false", out),
            Some(b'n') => self.literal("null", out),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            _ => Err(err(format!("expected a value at byte {}", self.i))),
        }
    }

    fn object(&mut self, out: &mut String, depth: usize) -> Result<(), CanonError> {
        if depth > MAX_DEPTH {
            return Err(err("recursion limit exceeded"));
        }
        self.i += 1;
        let (mut values, mut entries) = self.spare.pop().unwrap_or_default();
        values.clear();
        entries.clear();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(err(format!("expected a key at byte {}", self.i)));
                }
                let key = self.string()?;
                self.expect(b':')?;
                let start = values.len();
                self.value(&mut values, depth)?;
                entries.push((key, start..values.len()));
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(err(format!("expected ',' or '}}' at byte {}", self.i))),
                }
            }
        }
        // Sorted by key; of keys given twice the last one counts (as a map built in order).
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        out.push('{');
        let mut first = true;
        for (n, (key, range)) in entries.iter().enumerate() {
            if entries.get(n + 1).is_some_and(|next| next.0 == *key) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            write_cow(key.clone(), out);
            out.push(':');
            out.push_str(&values[range.clone()]);
        }
        out.push('}');
        self.spare.push((values, entries));
        Ok(())
    }

    fn array(&mut self, out: &mut String, depth: usize) -> Result<(), CanonError> {
        if depth > MAX_DEPTH {
            return Err(err("recursion limit exceeded"));
        }
        self.i += 1;
        out.push('[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.value(out, depth)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        out.push(',');
                    }
                    Some(b']') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(err(format!("expected ',' or ']' at byte {}", self.i))),
                }
            }
        }
        out.push(']');
        Ok(())
    }

    fn literal(&mut self, word: &str, out: &mut String) -> Result<(), CanonError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            out.push_str(word);
            Ok(())
        } else {
            Err(err(format!("unexpected token at byte {}", self.i)))
        }
    }

    /// A number, kept as written once its grammar and range are checked.
    fn number(&mut self, out: &mut String) -> Result<(), CanonError> {
        let b = self.bytes();
        let start = self.i;
        let mut i = start;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i),
            _ => return Err(err(format!("invalid number at byte {start}"))),
        }
        if b.get(i) == Some(&b'.') {
            let j = digits(i + 1);
            if j == i + 1 {
                return Err(err(format!("invalid number at byte {start}")));
            }
            i = j;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let j = digits(i);
            if j == i {
                return Err(err(format!("invalid number at byte {start}")));
            }
            i = j;
        }
        let text = &self.s[start..i];
        // Integers that fit are in range; anything else is checked as serde_json reads it (a
        // number that overflows a double is refused).
        let plain = text.len() <= 18 && !text.contains(['.', 'e', 'E']);
        if !plain {
            serde_json::from_str::<serde_json::Number>(text)?;
        }
        self.i = i;
        out.push_str(text);
        Ok(())
    }

    /// A string's value: borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, CanonError> {
        let b = self.bytes();
        let start = self.i + 1;
        let mut i = start;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    self.i = i + 1;
                    return Ok(Cow::Borrowed(&self.s[start..i]));
                }
                b'\\' => break,
                0..=0x1f => return Err(err(format!("control character in a string at byte {i}"))),
                _ => i += 1,
            }
        }
        if i >= b.len() {
            return Err(err("unterminated string"));
        }
        // Escapes: let serde_json decode the string from its opening quote.
        let mut strings =
            serde_json::Deserializer::from_str(&self.s[self.i..]).into_iter::<String>();
        let s = strings.next().ok_or_else(|| err("unterminated string"))??;
        self.i += strings.byte_offset();
        Ok(Cow::Owned(s))
    }
}

/// A string as read: one read without escapes has nothing to escape (no quote, backslash or
/// control character), so it is copied as it is.
fn write_cow<'a>(s: impl Into<Cow<'a, str>>, out: &mut String) {
    match s.into() {
        Cow::Borrowed(clean) => write_clean(clean, out),
        Cow::Owned(s) => write_str(&s, out),
    }
}

/// `s`, which has nothing to escape, as a JSON string.
fn write_clean(s: &str, out: &mut String) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// `s` as a JSON string the way `serde_json` writes it (public for the fixed fields of an event).
pub(crate) fn write_string(s: &str, out: &mut String) {
    write_str(s, out)
}

/// `s` as a JSON string the way `serde_json` writes it: `"`, `\` and control characters
/// escaped, everything else as it is.
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut from = 0;
    for (i, c) in s.bytes().enumerate() {
        let esc = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{c:04x}"));
        } else {
            out.push_str(esc);
        }
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    /// The definition's output for `raw`.
    fn reference(raw: &str, timestamps: bool) -> Result<String, crate::seal::CanonError> {
        let mut out = String::new();
        crate::seal::reference_write(raw, timestamps, &mut out)?;
        Ok(out)
    }

    fn canonical(raw: &str, timestamps: bool) -> Result<String, crate::seal::CanonError> {
        let mut out = String::new();
        super::write(raw, timestamps, &mut out)?;
        Ok(out)
    }

    /// A small deterministic generator (xorshift), so the test needs no crate and repeats.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
        fn ws(&mut self) -> &'static str {
            self.pick(&["", "", "", " ", "\n  ", "\t", "\r\n"])
        }
        fn string(&mut self) -> String {
            let parts = [
                "a",
                "b",
                "key",
                "é",
                "\\u00e9",
                "\\n",
                "\\\"",
                "\\\\",
                "\\/",
                "\\ud83d\\ude00",
                "😀",
                "\\u0001",
                "\\u001f",
                "\\b",
                "\\f",
                "\\t",
                "\u{7f}",
                "\u{2028}",
                "Z",
                "2026-11-30T18:07:05Z",
                "2026-11-30T19:07:05.1234567+01:00",
                "1",
            ];
            let n = self.next() % 4;
            let mut s = String::from("\"");
            for _ in 0..n {
                s.push_str(self.pick(&parts));
            }
            s.push('"');
            s
        }
        fn value(&mut self, depth: u32) -> String {
            let choice = if depth > 4 {
                self.next() % 4
            } else {
                self.next() % 7
            };
            match choice {
                0 => self.string(),
                1 => self
                    .pick(&[
                        "0",
                        "-0",
                        "1.50",
                        "1e3",
                        "1E+3",
                        "-12.5e-7",
                        "42",
                        "123456789012345678",
                        "12345678901234567890123",
                        "1e400",
                        "-1e-400",
                        "0.0",
                        "9e99999999999",
                    ])
                    .to_string(),
                2 => self.pick(&["true", "false", "null"]).to_string(),
                3 => "\"2026-11-30T18:07:05.5Z\"".to_string(),
                4 | 5 => {
                    let n = self.next() % 5;
                    let mut s = format!("{{{}", self.ws());
                    for k in 0..n {
                        if k > 0 {
                            s.push_str(&format!("{},{}", self.ws(), self.ws()));
                        }
                        let key = self.string();
                        let value = self.value(depth + 1);
                        let (a, b) = (self.ws(), self.ws());
                        s.push_str(&format!("{key}{a}:{b}{value}"));
                    }
                    s.push_str(&format!("{}}}", self.ws()));
                    s
                }
                _ => {
                    let n = self.next() % 4;
                    let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                    let sep = format!("{},{}", self.ws(), self.ws());
                    format!("[{}{}{}]", self.ws(), items.join(&sep), self.ws())
                }
            }
        }
    }

    /// The one-pass writer never accepts what the definition refuses and, when it accepts,
    /// writes the same bytes; with its fallback, what seals use equals the definition.
    fn same(raw: &str, timestamps: bool) {
        let (want, got) = (reference(raw, timestamps), canonical(raw, timestamps));
        match (&want, &got) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{raw:?}"),
            (_, Err(_)) => {}
            (Err(_), Ok(_)) => panic!("{raw:?}: the definition refuses it, one-pass gives {got:?}"),
        }
        let mut used = String::new();
        let used = crate::seal::write_canonical(raw, timestamps, &mut used).map(|()| used);
        assert_eq!(used.ok(), want.ok(), "{raw:?}");
    }

    #[test]
    fn gives_the_references_bytes_for_generated_json_and_its_mutations() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let (mut valid, mut invalid, mut fast) = (0, 0, 0);
        for _ in 0..20_000 {
            let text = format!("{}{}{}", g.ws(), g.value(0), g.ws());
            let ts = g.next().is_multiple_of(2);
            same(&text, ts);
            if reference(&text, ts).is_ok() {
                valid += 1;
                fast += usize::from(canonical(&text, ts).is_ok());
            }
            // Cut short, or one ASCII character changed: both must refuse or agree.
            let cut = (g.next() as usize) % (text.len() + 1);
            if text.is_char_boundary(cut) {
                same(&text[..cut], ts);
            }
            let at = (g.next() as usize) % text.len().max(1);
            if text.is_char_boundary(at) && text.is_char_boundary(at + 1) && at < text.len() {
                let c = g.pick(&["{", "}", "[", "]", ",", ":", "\"", "\\", " ", "x", "0", "-"]);
                let mutated = format!("{}{}{}", &text[..at], c, &text[at + 1..]);
                if reference(&mutated, ts).is_err() {
                    invalid += 1;
                }
                same(&mutated, ts);
            }
        }
        assert!(
            valid > 15_000 && invalid > 5_000,
            "{valid} valid, {invalid} invalid"
        );
        // The fast path is the common one: it accepts nearly all the definition accepts.
        assert!(
            fast * 100 >= valid * 99,
            "one-pass accepted {fast} of {valid}"
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_deep_nesting_is_refused() {
        assert_eq!(
            canonical(r#"{"a":1,"b":2,"a":3}"#, false).unwrap(),
            r#"{"a":3,"b":2}"#
        );
        same(r#"{"a":1,"b":2,"a":3}"#, false);
        same(r#"{"\u0061":1,"a":2}"#, false);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(canonical(&deep, false).is_err());
    }
}
