//! Escaping for the markup each chat service reads, so that text from a database's error
//! output is shown as written: it can never mention anyone, forge a link or break the layout.

/// The last `max` characters of `s` (tool output ends with the part that matters).
pub fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    s.chars().skip(n.saturating_sub(max)).collect()
}

/// The first `max` characters of `s`, with `…` when something was cut.
pub fn head(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Telegram's HTML parse mode: `<`, `>` and `&` as entities (and `"` for attribute values).
/// <https://core.telegram.org/bots/api#html-style>
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Mattermost's Markdown: every ASCII punctuation character Markdown (and Mattermost's Slack
/// compatibility: `<!channel>`, `<url|text>`) gives a meaning to is backslash-escaped, and an
/// `@` is followed by a zero-width space so that no `@channel`, `@all` or `@name` notifies.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '<' | '>' | '~' | '&' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown fenced code block whose fence is longer than any run of backticks inside, so the
/// text cannot close it (inside a code block nothing is a mention or a link).
pub fn code_block(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}\n{}\n{fence}", s.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_the_three_and_quotes() {
        assert_eq!(
            html(r#"<b>x</b> & "y""#),
            "&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn markdown_neutralises_mentions_links_and_emphasis() {
        let m = markdown("@channel [x](http://evil) <!here> **b** `c`");
        assert!(!m.contains("@channel"), "{m}");
        assert!(m.contains(r"\[x\]\(http\:"), "{m}");
        assert!(m.contains(r"\<\!here\>"), "{m}");
        assert!(m.contains(r"\*\*b\*\*"), "{m}");
    }

    #[test]
    fn code_blocks_cannot_be_closed_from_inside() {
        let b = code_block("a ``` b ```` c");
        assert!(b.starts_with("`````\n") && b.ends_with("\n`````"), "{b}");
        assert_eq!(code_block("x"), "```\nx\n```");
    }

    #[test]
    fn head_and_tail_count_characters() {
        assert_eq!(tail("héllo", 3), "llo");
        assert_eq!(head("héllo", 3), "hé…");
        assert_eq!(head("hé", 3), "hé");
    }
}
