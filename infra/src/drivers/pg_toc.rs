//! What a PostgreSQL version holds, from `pg_restore -l` of its verified local copy (or of
//! each verified part of a multi-part version): the table of contents, and exact row counts
//! from one streaming pass over its data.

use super::pg_restore_parts::Source;
use super::process::{command, RunningTool};
use super::{Feed, Probe, StageError};
use backline_domain::Stage;
use std::collections::BTreeMap;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The kinds of entry `pg_dump` writes, longest first (several are more than one word).
const KINDS: &[&str] = &[
    "PUBLICATION TABLES IN SCHEMA",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "MATERIALIZED VIEW DATA",
    "TEXT SEARCH TEMPLATE",
    "FOREIGN DATA WRAPPER",
    "PROCEDURAL LANGUAGE",
    "DATABASE PROPERTIES",
    "TEXT SEARCH PARSER",
    "SEQUENCE OWNED BY",
    "PUBLICATION TABLE",
    "MATERIALIZED VIEW",
    "CHECK CONSTRAINT",
    "OPERATOR FAMILY",
    "OPERATOR CLASS",
    "SECURITY LABEL",
    "FOREIGN SERVER",
    "EVENT TRIGGER",
    "FOREIGN TABLE",
    "BLOB METADATA",
    "FK CONSTRAINT",
    "ACCESS METHOD",
    "INDEX ATTACH",
    "LARGE OBJECT",
    "SEQUENCE SET",
    "USER MAPPING",
    "ROW SECURITY",
    "SUBSCRIPTION",
    "DEFAULT ACL",
    "PUBLICATION",
    "SHELL TYPE",
    "TABLE DATA",
    "CONSTRAINT",
    "STATISTICS",
    "CONVERSION",
    "SEARCHPATH",
    "STDSTRINGS",
    "EXTENSION",
    "AGGREGATE",
    "COLLATION",
    "PROCEDURE",
    "TRANSFORM",
    "BLOB DATA",
    "SEQUENCE",
    "FUNCTION",
    "OPERATOR",
    "ENCODING",
    "DATABASE",
    "TRIGGER",
    "COMMENT",
    "DEFAULT",
    "POLICY",
    "DOMAIN",
    "SCHEMA",
    "SERVER",
    "INDEX",
    "TABLE",
    "BLOBS",
    "BLOB",
    "CAST",
    "RULE",
    "TYPE",
    "VIEW",
    "ACL",
];

/// One line of `pg_restore -l`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    /// The whole line, as `pg_restore -L` reads it back.
    pub line: String,
    pub kind: String,
    /// `None` for objects outside a schema (`-` in the listing).
    pub schema: Option<String>,
    /// The tag: the object's name (constraints: `table name`; comments: `KIND name`).
    pub name: String,
}

/// Parses the listing: `<id>; <tableoid> <oid> <KIND> <schema> <tag> <owner>`. Comment lines
/// and lines of unknown kinds are kept (as `kind` empty) so that the list can be written back.
pub fn parse_toc(text: &str) -> Vec<TocEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            parse_line(l).unwrap_or_else(|| TocEntry {
                line: l.to_string(),
                kind: String::new(),
                schema: None,
                name: String::new(),
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Option<TocEntry> {
    if line.starts_with(';') {
        return None;
    }
    let (_, rest) = line.split_once("; ")?;
    let mut it = rest.splitn(3, ' ');
    let (_tableoid, _oid, rest) = (it.next()?, it.next()?, it.next()?);
    let kind = KINDS.iter().find(|k| {
        rest.strip_prefix(**k)
            .is_some_and(|after| after.starts_with(' '))
    })?;
    let rest = &rest[kind.len() + 1..];
    let (schema, rest) = rest.split_once(' ')?;
    // The owner is the last word; a tag may hold spaces.
    let (name, _owner) = rest.rsplit_once(' ').unwrap_or((rest, ""));
    Some(TocEntry {
        line: line.to_string(),
        kind: kind.to_string(),
        schema: (schema != "-").then(|| schema.to_string()),
        name: name.to_string(),
    })
}

/// Runs `pg_restore` with `args`, fed the artifact, and hands each line of its output to
/// `on_line`. The tool may stop reading before the end.
pub(crate) async fn fed_lines(
    probe: &Probe,
    args: &[&str],
    feed: &dyn Feed,
    mut on_line: impl FnMut(&[u8]) + Send,
) -> Result<(), StageError> {
    let mut cmd = command(&probe.restore_tool);
    cmd.args(args);
    let mut tool = RunningTool::spawn(cmd, "pg_restore", true, true, None)?;
    let (Some(mut stdin), Some(stdout)) = (tool.stdin.take(), tool.stdout.take()) else {
        return Err(StageError::new(Stage::Restore, "pg_restore has no pipes"));
    };
    let feeding = async move {
        let r = feed.feed(&mut stdin).await;
        drop(stdin);
        r
    };
    let reading = async move {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => on_line(&buf),
                Err(e) => {
                    return Err(StageError::new(
                        Stage::Restore,
                        format!("reading pg_restore's output failed: {e}"),
                    ))
                }
            }
        }
    };
    let (fed, read) = tokio::join!(feeding, reading);
    let finished = tool.finish(Stage::Restore).await;
    finished?;
    read?;
    match fed {
        Err(e) if e.stage != Stage::Feed => Err(e),
        _ => Ok(()),
    }
}

/// The version's table of contents.
pub async fn list(probe: &Probe, feed: &dyn Feed) -> Result<Vec<TocEntry>, StageError> {
    let mut text = String::new();
    fed_lines(probe, &["--list"], feed, |l| {
        text.push_str(&String::from_utf8_lossy(l))
    })
    .await?;
    Ok(parse_toc(&text))
}

/// One archive of a version with its own table of contents: the version itself, or one part
/// of a multi-part version (whose listing holds only that part's section).
pub struct Listed<'a> {
    pub feed: &'a dyn Feed,
    pub toc: Vec<TocEntry>,
}

/// The archives of `source` in the order they load (pre-data, data parts, post-data), each
/// listed by its own `pg_restore -l`: a `pg_restore -L` list must name the entries of the
/// archive it is given.
pub async fn list_archives<'a>(
    probe: &Probe,
    source: Source<'a>,
) -> Result<Vec<Listed<'a>>, StageError> {
    let feeds: Vec<&'a dyn Feed> = match source {
        Source::One(feed) => vec![feed],
        Source::Parts(parts) => std::iter::once(parts.pre_data)
            .chain(parts.data.iter().copied())
            .chain(std::iter::once(parts.post_data))
            .collect(),
    };
    let mut out = Vec::with_capacity(feeds.len());
    for feed in feeds {
        out.push(Listed {
            feed,
            toc: list(probe, feed).await?,
        });
    }
    Ok(out)
}

/// The version's table of contents: its archives' listings one after the other. pg_dump
/// orders a listing by section, so the parts' listings in load order are a single-stream
/// dump's listing of the same database, but for the order of the data entries between parts.
pub fn merged(archives: &[Listed<'_>]) -> Vec<TocEntry> {
    archives
        .iter()
        .flat_map(|a| a.toc.iter().cloned())
        .collect()
}

/// [`row_counts`] of a whole version: of its one archive, or of each data part (a table's
/// rows are in one part).
pub async fn version_row_counts(
    probe: &Probe,
    source: Source<'_>,
) -> Result<BTreeMap<(String, String), u64>, StageError> {
    let feeds = match source {
        Source::One(feed) => vec![feed],
        Source::Parts(parts) => parts.data.clone(),
    };
    let mut counts = BTreeMap::new();
    for feed in feeds {
        for (table, n) in row_counts(probe, feed).await? {
            *counts.entry(table).or_insert(0) += n;
        }
    }
    Ok(counts)
}

/// Exact row counts of every table with data, by `(schema, table)`: one pass over the data
/// section, counting the lines of each `COPY` block (a row is one line in COPY's text form).
pub async fn row_counts(
    probe: &Probe,
    feed: &dyn Feed,
) -> Result<BTreeMap<(String, String), u64>, StageError> {
    let mut counts = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut in_copy = false;
    fed_lines(probe, &["--data-only", "--file=-"], feed, |l| {
        if in_copy {
            if l == b"\\.\n" || l == b"\\." {
                in_copy = false;
            } else if let Some(k) = &current {
                *counts.entry(k.clone()).or_insert(0) += 1;
            }
            return;
        }
        if let Some(rest) = l.strip_prefix(b"-- Data for Name: ") {
            current = data_header(&String::from_utf8_lossy(rest));
            if let Some(k) = &current {
                counts.entry(k.clone()).or_insert(0);
            }
        } else if l.starts_with(b"COPY ") && l.ends_with(b"FROM stdin;\n") {
            in_copy = true;
        }
    })
    .await?;
    Ok(counts)
}

/// `orders; Type: TABLE DATA; Schema: public; Owner: app` → `(public, orders)`.
fn data_header(rest: &str) -> Option<(String, String)> {
    let (name, rest) = rest.split_once("; Type: TABLE DATA; Schema: ")?;
    let (schema, _) = rest
        .split_once("; Owner: ")
        .unwrap_or((rest.trim_end(), ""));
    Some((schema.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_lines_parse() {
        let toc = parse_toc(
            ";\n; Archive created at 2026-11-30\n\
             215; 1259 16390 TABLE public orders app\n\
             3350; 0 16390 TABLE DATA public orders app\n\
             3201; 2606 16400 CONSTRAINT public orders orders_pkey app\n\
             3202; 2606 16401 FK CONSTRAINT public order_items order_items_order_fk app\n\
             8; 2615 2200 SCHEMA - public pg_database_owner\n\
             3360; 0 0 COMMENT - SCHEMA public pg_database_owner\n\
             216; 1259 16391 TABLE public my table app\n",
        );
        let kinds: Vec<&str> = toc.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "",
                "",
                "TABLE",
                "TABLE DATA",
                "CONSTRAINT",
                "FK CONSTRAINT",
                "SCHEMA",
                "COMMENT",
                "TABLE"
            ]
        );
        assert_eq!(toc[3].schema.as_deref(), Some("public"));
        assert_eq!(toc[3].name, "orders");
        assert_eq!(toc[4].name, "orders orders_pkey");
        assert_eq!(toc[6].schema, None);
        assert_eq!(toc[6].name, "public");
        assert_eq!(toc[8].name, "my table");
    }

    #[test]
    fn data_headers_name_the_table() {
        assert_eq!(
            data_header("orders; Type: TABLE DATA; Schema: public; Owner: app\n"),
            Some(("public".into(), "orders".into()))
        );
        assert_eq!(data_header("x; Type: SEQUENCE SET; Schema: public"), None);
    }
}
