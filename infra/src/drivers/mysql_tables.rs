//! A MySQL/MariaDB dump split by table, streaming: which tables and views it holds, and the
//! dump reduced to chosen tables (their structure, rows and triggers), for partial restores.
//!
//! `mariadb-dump` marks each part with a comment line: `-- Table structure for table `t``,
//! `-- Dumping data for table `t``, `-- Temporary table structure for view `v``,
//! `-- Final view structure for view `v``, `-- Dumping routines for database …`, `-- Dumping
//! events for database …`. The header (session settings) is kept, except Backline's own
//! `ALTER DATABASE` prelude: a partial restore never changes the target database's defaults.

use super::{Feed, StageError};
use backline_domain::Stage;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// A part of the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Header,
    Table(String),
    View(String),
    Other,
    Footer,
}

/// The name in backticks at the end of a marker line (`` `a``b` `` → ``a`b``).
fn quoted_name(rest: &str) -> Option<String> {
    let inner = rest.trim_end().strip_prefix('`')?.strip_suffix('`')?;
    Some(inner.replace("``", "`"))
}

/// Which part a line starts, if it is a marker.
fn marker(line: &str) -> Option<Part> {
    let l = line.trim_end_matches(['\n', '\r']);
    if let Some(rest) = l.strip_prefix("-- Table structure for table ") {
        return quoted_name(rest).map(Part::Table);
    }
    if let Some(rest) = l.strip_prefix("-- Dumping data for table ") {
        return quoted_name(rest).map(Part::Table);
    }
    for p in [
        "-- Temporary table structure for view ",
        "-- Temporary view structure for view ",
        "-- Final view structure for view ",
    ] {
        if let Some(rest) = l.strip_prefix(p) {
            return quoted_name(rest).map(Part::View);
        }
    }
    if l.starts_with("-- Dumping routines for database ")
        || l.starts_with("-- Dumping events for database ")
    {
        return Some(Part::Other);
    }
    if l.starts_with("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */") {
        return Some(Part::Footer);
    }
    None
}

/// A table or view the dump holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedTable {
    pub name: String,
    pub view: bool,
}

/// Reads the decompressed dump line by line, handing each line and its part to `keep`; the
/// lines it keeps go to `sink`.
async fn each_line(
    feed: &dyn Feed,
    mut sink: Option<&mut (dyn AsyncWrite + Send + Unpin)>,
    mut keep: impl FnMut(&Part, &[u8]) -> bool + Send,
) -> Result<(), StageError> {
    let (mut writer, reader) = tokio::io::duplex(1 << 16);
    let feeding = async move {
        let r = feed.feed(&mut writer).await;
        let _ = writer.shutdown().await;
        r
    };
    let reading = async move {
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let mut buf = Vec::new();
        let mut part = Part::Header;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).await.map_err(|e| {
                StageError::new(Stage::Restore, format!("reading the dump failed: {e}"))
            })?;
            if n == 0 {
                return Ok(());
            }
            if buf.starts_with(b"-- ") || buf.starts_with(b"/*!40103 SET TIME_ZONE=@OLD") {
                if let Some(p) = marker(&String::from_utf8_lossy(&buf)) {
                    part = p;
                }
            }
            if keep(&part, &buf) {
                if let Some(out) = sink.as_mut() {
                    out.write_all(&buf).await.map_err(|e| {
                        StageError::new(
                            Stage::Feed,
                            format!("the restore tool stopped reading: {e}"),
                        )
                    })?;
                }
            }
        }
    };
    let (fed, read) = tokio::join!(feeding, reading);
    read?;
    fed
}

/// The tables and views of a dump, in dump order.
pub async fn list(feed: &dyn Feed) -> Result<Vec<DumpedTable>, StageError> {
    let mut out: Vec<DumpedTable> = Vec::new();
    each_line(feed, None, |part: &Part, _line: &[u8]| {
        let found = match part {
            Part::Table(n) => Some(DumpedTable {
                name: n.clone(),
                view: false,
            }),
            Part::View(n) => Some(DumpedTable {
                name: n.clone(),
                view: true,
            }),
            _ => None,
        };
        if let Some(t) = found {
            if !out.iter().any(|o| o.name == t.name) {
                out.push(t);
            }
        }
        false
    })
    .await?;
    // A view's temporary stand-in is a table section of the same name in some versions.
    let views: Vec<String> = out
        .iter()
        .filter(|t| t.view)
        .map(|t| t.name.clone())
        .collect();
    out.retain(|t| t.view || !views.contains(&t.name));
    Ok(out)
}

/// The dump reduced to the header, the chosen tables' parts and the footer.
pub struct ChosenTables<'a> {
    pub inner: &'a dyn Feed,
    pub tables: Vec<String>,
}

#[async_trait::async_trait]
impl Feed for ChosenTables<'_> {
    async fn feed(&self, sink: &mut (dyn AsyncWrite + Send + Unpin)) -> Result<(), StageError> {
        each_line(
            self.inner,
            Some(sink),
            |part: &Part, line: &[u8]| match part {
                Part::Header => !line.starts_with(b"/*!40101 ALTER DATABASE"),
                Part::Table(n) => self.tables.contains(n),
                Part::Footer => true,
                Part::View(_) | Part::Other => false,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_name_their_part() {
        assert_eq!(
            marker("-- Table structure for table `a``b`\n"),
            Some(Part::Table("a`b".into()))
        );
        assert_eq!(
            marker("-- Dumping data for table `orders`"),
            Some(Part::Table("orders".into()))
        );
        assert_eq!(
            marker("-- Final view structure for view `v`"),
            Some(Part::View("v".into()))
        );
        assert_eq!(
            marker("-- Dumping routines for database 'x'"),
            Some(Part::Other)
        );
        assert_eq!(marker("-- a comment"), None);
    }
}
