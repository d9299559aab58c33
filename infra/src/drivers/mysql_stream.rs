//! What Backline adds to, and changes in, a `mariadb-dump` stream so that it restores into a
//! database of any name, exactly as the source was.
//!
//! * A dump taken without `--databases` carries no `CREATE DATABASE`, so the source's default
//!   character set and collation would be lost. The backup starts with a
//!   `ALTER DATABASE CHARACTER SET … COLLATE …` (no name: it applies to the database the
//!   client was started on), what `--databases` would have recorded.
//! * Some lines name the *source* database: `ALTER DATABASE \`source\` CHARACTER SET …`
//!   around stored routines, and `DEFAULT nextval(\`source\`.\`seq\`)` in column definitions.
//!   Loaded into another database (a restore target, or the scratch copy a restore loads
//!   first), they would change, depend on, or fail on a database that is not the target.
//!   [`Retarget`] drops the source's name from exactly those lines.
//! * `LOCK TABLES … WRITE;` / `UNLOCK TABLES;` around each table's rows are dropped (see
//!   [`rewrite`](Retarget::rewrite)).
//!
//! Nothing inside a `DELIMITER` block (the bodies of routines, triggers and events: the
//! owner's text) is ever changed: the block is passed through byte for byte, and where it
//! ends is decided as the client decides it (`mysql_block`).

use super::mysql_block::Block;
use backline_domain::MyDatabaseProperties;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

/// The first line of a MariaDB/MySQL backup: the source database's defaults (empty unless
/// both names are plain words).
pub fn defaults_prelude(p: &MyDatabaseProperties) -> Vec<u8> {
    if !p.is_valid() {
        return Vec::new();
    }
    format!(
        "/*!40101 ALTER DATABASE CHARACTER SET {} COLLATE {} */;\n",
        p.charset, p.collation
    )
    .into_bytes()
}

/// Lines that may be rewritten, or that change how the rest is read, start with one of these.
const PREFIXES: [&[u8]; 8] = [
    // `DELIMITER ;;`: a block of routine, trigger or event bodies follows.
    b"DELIMITER ",
    // The SQL mode a block is read in (whether `\` escapes in strings).
    b"/*!50003 SET sql_mode = ",
    b"ALTER DATABASE `",
    b"LOCK TABLES `",
    b"UNLOCK TABLES;",
    // A column definition inside CREATE TABLE.
    b"  `",
    // The header names the source database: "-- Host: h    Database: name".
    b"-- Host: ",
    // A view's definer (rewritten with `no_definer`).
    b"/*!50013 DEFINER=",
];
/// Longer lines are never a statement we look for: passed through as they are.
const MAX_CAPTURE: usize = 4096;

enum State {
    /// At the start of a line, holding its first bytes until they decide.
    Start(Vec<u8>),
    /// Inside a line that is passed through unchanged.
    Pass,
    /// Inside a line that began with one of [`PREFIXES`].
    Capture(Vec<u8>),
    /// Inside a `DELIMITER` block: passed through unchanged until it ends.
    Block(Box<Block>),
    /// The first line of a statement inside a block, held until it ends (see
    /// [`Retarget::rewrite_block_head`]).
    BlockHead(Box<Block>, Vec<u8>),
}

/// Rewrites the lines of a dump that name the source database or lock tables (see the module
/// documentation), streaming: memory stays bounded whatever the length of the other lines.
pub struct Retarget {
    state: State,
    /// The source database's name, quoted, from the dump's header.
    source: Option<String>,
    /// The SQL mode last set by the dump has `NO_BACKSLASH_ESCAPES`.
    no_backslash_escapes: bool,
    /// The delimiter of a block that starts after the line just captured.
    entering: Option<Vec<u8>>,
    /// Definers become `CURRENT_USER` (`mysql_definer`).
    no_definer: bool,
}

impl Default for Retarget {
    fn default() -> Self {
        Self {
            state: State::Start(Vec::new()),
            source: None,
            no_backslash_escapes: false,
            entering: None,
            no_definer: false,
        }
    }
}

impl Retarget {
    /// A retarget that also makes the restoring user the definer of every object.
    pub fn without_definers() -> Self {
        Self {
            no_definer: true,
            ..Self::default()
        }
    }

    /// Feeds `input`, appending what is decided to `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match &mut self.state {
                State::Pass => match input.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        out.extend_from_slice(&input[..=i]);
                        input = &input[i + 1..];
                        self.state = State::Start(Vec::new());
                    }
                    None => {
                        out.extend_from_slice(input);
                        input = &[];
                    }
                },
                State::Block(block) if block.at_statement_start() => {
                    let block = std::mem::replace(block, Box::new(Block::new(b";", false)));
                    self.state = State::BlockHead(block, Vec::new());
                }
                State::BlockHead(block, line) => {
                    let (taken, whole) = match input.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (input.len(), false),
                    };
                    line.extend_from_slice(&input[..taken]);
                    input = &input[taken..];
                    if !whole && line.len() <= MAX_CAPTURE {
                        continue;
                    }
                    let line = std::mem::take(line);
                    let rewritten =
                        Self::rewrite_block_head(self.no_definer, &line, block.delimiter());
                    out.extend_from_slice(rewritten.as_deref().unwrap_or(&line));
                    // The block reads the line as written (a rewrite keeps its lexical shape).
                    let ended = block.feed(&line).is_some();
                    let block = std::mem::replace(block, Box::new(Block::new(b";", false)));
                    self.state = if ended {
                        State::Start(Vec::new())
                    } else {
                        State::Block(block)
                    };
                }
                State::Block(block) => {
                    // Up to the end of the line, so that the next line's start is seen.
                    let upto = input
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(input.len(), |i| i + 1);
                    let ended = block.feed(&input[..upto]);
                    let n = ended.unwrap_or(upto);
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                    if ended.is_some() {
                        self.state = State::Start(Vec::new());
                    }
                }
                State::Start(head) => {
                    // Byte by byte (at most 16 per line), so that the first complete
                    // prefix decides.
                    let b = input[0];
                    input = &input[1..];
                    if b == b'\n' {
                        out.extend_from_slice(head);
                        out.push(b);
                        head.clear();
                        continue;
                    }
                    head.push(b);
                    if PREFIXES.iter().any(|p| p == head) {
                        let line = std::mem::take(head);
                        self.state = State::Capture(line);
                    } else if !PREFIXES.iter().any(|p| p.starts_with(head)) {
                        out.extend_from_slice(head);
                        self.state = State::Pass;
                    }
                }
                State::Capture(line) => match input.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        line.extend_from_slice(&input[..=i]);
                        input = &input[i + 1..];
                        let line = std::mem::take(line);
                        out.extend_from_slice(&self.rewrite(&line));
                        self.state = match self.entering.take() {
                            Some(d) => {
                                State::Block(Box::new(Block::new(&d, self.no_backslash_escapes)))
                            }
                            None => State::Start(Vec::new()),
                        };
                    }
                    None if line.len() + input.len() > MAX_CAPTURE => {
                        out.extend_from_slice(line);
                        self.state = State::Pass;
                    }
                    None => {
                        line.extend_from_slice(input);
                        input = &[];
                    }
                },
            }
        }
    }

    /// Flushes what is held at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match std::mem::replace(&mut self.state, State::Start(Vec::new())) {
            State::Start(held) | State::Capture(held) | State::BlockHead(_, held) => {
                out.extend_from_slice(&held)
            }
            State::Pass | State::Block(_) => {}
        }
    }
}

/// An `AsyncWrite` that passes everything through [`Retarget`] on its way to `inner`.
pub struct RetargetWriter<W> {
    inner: W,
    retarget: Retarget,
    pending: Vec<u8>,
    finished: bool,
}

impl<W> RetargetWriter<W> {
    pub fn new(inner: W) -> Self {
        Self::with(inner, Retarget::default())
    }

    pub fn with(inner: W, retarget: Retarget) -> Self {
        Self {
            inner,
            retarget,
            pending: Vec::new(),
            finished: false,
        }
    }
}

impl<W: AsyncWrite + Unpin> RetargetWriter<W> {
    /// Writes out what is pending; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for RetargetWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        let RetargetWriter {
            retarget, pending, ..
        } = this;
        retarget.push(buf, pending);
        // Best effort now; whatever is left goes out before the next write is taken.
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.finished {
            this.finished = true;
            let RetargetWriter {
                retarget, pending, ..
            } = this;
            retarget.finish(pending);
        }
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl Retarget {
    /// The rewritten form of `line` if it is exactly a statement `mariadb-dump` writes that must
    /// change; otherwise `line` unchanged.
    ///
    /// * `ALTER DATABASE \`source\` CHARACTER SET x COLLATE y ;` loses the name.
    /// * In a column definition, `nextval(\`source\`.\`seq\`)` (and `lastval`, `setval`) loses
    ///   the source's name, so the restored table uses the restored sequence.
    /// * `LOCK TABLES \`t\` WRITE;` and `UNLOCK TABLES;` (around each table's rows) go: under
    ///   such a lock, rows of a table whose default is `NEXTVAL(seq)` cannot be inserted (the
    ///   sequence is not locked: "Table 'seq' was not locked with LOCK TABLES"), and a restore
    ///   needs no lock, the database being loaded is not in use. Backline's own dumps are taken
    ///   with `--skip-add-locks`; this keeps older and imported dumps restorable.
    fn rewrite(&mut self, line: &[u8]) -> Vec<u8> {
        let Ok(text) = std::str::from_utf8(line) else {
            return line.to_vec();
        };
        let body = text.trim_end_matches(['\n', '\r']);
        let eol = &text[body.len()..];
        if let Some(arg) = body.strip_prefix("DELIMITER ") {
            let arg = arg.trim();
            if !arg.is_empty() && arg != ";" && !arg.contains(char::is_whitespace) {
                self.entering = Some(arg.as_bytes().to_vec());
            }
            return line.to_vec();
        }
        if let Some(mode) = body.strip_prefix("/*!50003 SET sql_mode = ") {
            // `'A,B' */ ;` sets a mode; `@saved_sql_mode */ ;` goes back to the dump's own.
            self.no_backslash_escapes = mode.starts_with('\'')
                && mode
                    .split(['\'', ','])
                    .any(|m| m.trim() == "NO_BACKSLASH_ESCAPES");
            return line.to_vec();
        }
        if self.no_definer && body.starts_with("/*!50013 DEFINER=") {
            if let Some(mut r) = super::mysql_definer::rewrite(body) {
                r.push_str(eol);
                return r.into_bytes();
            }
            return line.to_vec();
        }
        if let Some(rest) = body.strip_prefix("-- Host: ") {
            if let Some((_, name)) = rest.rsplit_once("    Database: ") {
                self.source = Some(format!("`{}`", name.replace('`', "``")));
            }
            return line.to_vec();
        }
        if body.starts_with("  `") {
            let Some(source) = &self.source else {
                return line.to_vec();
            };
            let mut out = unqualify(body, source);
            out.push_str(eol);
            return out.into_bytes();
        }
        if body == "UNLOCK TABLES;" {
            return Vec::new();
        }
        if let Some(rest) = body.strip_prefix("LOCK TABLES `") {
            return match after_name(rest) {
                Some(" WRITE;") => Vec::new(),
                _ => line.to_vec(),
            };
        }
        match alter_database(body, ";") {
            Some(mut r) => {
                r.push_str(eol);
                r.into_bytes()
            }
            None => line.to_vec(),
        }
    }

    /// The first line of a statement inside a `DELIMITER` block, as it goes to the client:
    /// the events' `ALTER DATABASE \`source\` … ;;` loses the name (as outside blocks), and
    /// with `no_definer` a definer becomes `CURRENT_USER`. Bodies are never touched.
    fn rewrite_block_head(no_definer: bool, line: &[u8], delimiter: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(line).ok()?;
        let body = text.trim_end_matches(['\n', '\r']);
        let eol = &text[body.len()..];
        let delimiter = std::str::from_utf8(delimiter).ok()?;
        let mut out = alter_database(body, delimiter).or_else(|| {
            no_definer
                .then(|| super::mysql_definer::rewrite(body))
                .flatten()
        })?;
        out.push_str(eol);
        Some(out.into_bytes())
    }
}

/// `ALTER DATABASE \`name\` CHARACTER SET cs COLLATE co <end>` without the name (which is
/// the source's: the statement applies to the database being loaded).
fn alter_database(body: &str, end: &str) -> Option<String> {
    let tail = body.strip_prefix("ALTER DATABASE `").and_then(after_name)?;
    let words: Vec<&str> = tail.split_ascii_whitespace().collect();
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match words.as_slice() {
        ["CHARACTER", "SET", cs, "COLLATE", co, e] if word(cs) && word(co) && *e == end => Some(
            format!("ALTER DATABASE CHARACTER SET {cs} COLLATE {co} {end}"),
        ),
        _ => None,
    }
}

/// `body` with `nextval(source.`, `lastval(source.` and `setval(source.` outside string
/// literals reduced to `nextval(` etc.
fn unqualify(body: &str, source: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if c == '\\' && rest.len() > 1 {
                let n = 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&rest[..n]);
                rest = &rest[n..];
                continue;
            }
            if c == '\'' {
                in_string = false;
            }
        } else if c == '\'' {
            in_string = true;
        } else if let Some(f) = ["nextval(", "lastval(", "setval("]
            .into_iter()
            .find(|f| rest.starts_with(f) && rest[f.len()..].starts_with(&format!("{source}.")))
        {
            out.push_str(f);
            rest = &rest[f.len() + source.len() + 1..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// What follows a backtick-quoted name (whose opening backtick is already consumed).
fn after_name(rest: &str) -> Option<&str> {
    // Backticks inside the name are doubled.
    let bytes = rest.as_bytes();
    let mut i = 0;
    loop {
        match bytes.get(i) {
            Some(b'`') if bytes.get(i + 1) == Some(&b'`') => i += 2,
            Some(b'`') => return Some(&rest[i + 1..]),
            Some(_) => i += 1,
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_writer_rewrites_and_flushes_everything_on_shutdown() {
        let mut out = Vec::new();
        {
            let mut w = RetargetWriter::new(&mut out);
            for piece in [
                &b"ALTER DATABASE `s` CHARACTER SET a COLLATE a_b ;\nSEL"[..],
                b"ECT 1;\nALTER DATA",
            ] {
                w.write_all(piece).await.unwrap();
            }
            w.shutdown().await.unwrap();
        }
        assert_eq!(
            out,
            b"ALTER DATABASE CHARACTER SET a COLLATE a_b ;\nSELECT 1;\nALTER DATA"
        );
    }

    fn run(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut r = Retarget::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn event_blocks_lose_the_source_name_and_definers_go_only_when_asked() {
        let input = b"-- Host: h    Database: src\n\
DELIMITER ;;\n\
ALTER DATABASE `src` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci ;;\n\
/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`h`*/ /*!50106 EVENT `e1` ON SCHEDULE EVERY 1 DAY DO INSERT INTO t VALUES ('\n\
CREATE DEFINER=`x`@`y` FUNCTION')\n\
*/ ;;\n\
ALTER DATABASE `src` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;;\n\
DELIMITER ;\n\
/*!50013 DEFINER=`root`@`h` SQL SECURITY DEFINER */\n\
ALTER DATABASE `src` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;\n";
        let kept = String::from_utf8(input.to_vec())
            .unwrap()
            .replace("ALTER DATABASE `src` ", "ALTER DATABASE ");
        let without = kept.replace("DEFINER=`root`@`h`", "DEFINER=CURRENT_USER");
        assert!(without.contains("CREATE DEFINER=`x`@`y` FUNCTION"));
        for chunk in [1, 2, 5, 13, 64, 100_000] {
            assert_eq!(
                String::from_utf8(run(input, chunk)).unwrap(),
                kept,
                "{chunk}"
            );
            let mut r = Retarget::without_definers();
            let mut out = Vec::new();
            for c in input.chunks(chunk) {
                r.push(c, &mut out);
            }
            r.finish(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), without, "{chunk}");
        }
    }

    #[test]
    fn routine_database_lines_lose_the_source_name_in_any_chunking() {
        let input = b"/*!50003 DROP FUNCTION IF EXISTS `f1` */;\n\
ALTER DATABASE `shop ``eu``` CHARACTER SET latin1 COLLATE latin1_swedish_ci ;\n\
CREATE FUNCTION f1() RETURNS int\nreturn 1\n;;\n\
ALTER DATABASE `shop ``eu``` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci ;\n\
INSERT INTO `t` VALUES (1,'ALTER DATABASE `x` CHARACTER SET a COLLATE b ;');\n\
LOCK TABLES `uses ``seq``` WRITE;\n\
INSERT INTO `uses ``seq``` VALUES (105,'a');\n\
UNLOCK TABLES;\n\
LOCK TABLES `a` WRITE, `b` READ;\n\
UNLOCK TABLES; -- not ours\n";
        let expected = b"/*!50003 DROP FUNCTION IF EXISTS `f1` */;\n\
ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci ;\n\
CREATE FUNCTION f1() RETURNS int\nreturn 1\n;;\n\
ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci ;\n\
INSERT INTO `t` VALUES (1,'ALTER DATABASE `x` CHARACTER SET a COLLATE b ;');\n\
INSERT INTO `uses ``seq``` VALUES (105,'a');\n\
LOCK TABLES `a` WRITE, `b` READ;\n\
UNLOCK TABLES; -- not ours\n";
        for chunk in [1, 2, 3, 7, 16, 17, 64, 100_000] {
            assert_eq!(
                String::from_utf8(run(input, chunk)).unwrap(),
                String::from_utf8(expected.to_vec()).unwrap(),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn sequence_defaults_lose_the_source_name_named_in_the_header() {
        let input = concat!(
            "-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n",
            "-- Host: 127.0.0.1    Database: shop `eu`\n",
            "CREATE TABLE `uses_seq` (\n",
            "  `id` int(11) NOT NULL DEFAULT nextval(`shop ``eu```.`seq1`),\n",
            "  `other` int(11) DEFAULT nextval(`elsewhere`.`seq1`),\n",
            "  `v` text DEFAULT 'it''s nextval(`shop ``eu```.`seq1`)',\n",
            "  `w` text DEFAULT '\\'',\n",
            "  `x` int(11) DEFAULT lastval(`shop ``eu```.`s2`),\n",
            "  PRIMARY KEY (`id`)\n",
            ");\n",
            "INSERT INTO `t` VALUES ('nextval(`shop ``eu```.`s`)');\n",
        );
        let expected = input
            .replace(
                "DEFAULT nextval(`shop ``eu```.`seq1`),",
                "DEFAULT nextval(`seq1`),",
            )
            .replace(
                "DEFAULT lastval(`shop ``eu```.`s2`)",
                "DEFAULT lastval(`s2`)",
            );
        assert_ne!(expected, input);
        for chunk in [1, 3, 9, 1000] {
            assert_eq!(
                String::from_utf8(run(input.as_bytes(), chunk)).unwrap(),
                expected,
                "chunk {chunk}"
            );
        }
        // Without a header, nothing is rewritten.
        let bare = "  `id` int(11) NOT NULL DEFAULT nextval(`s`.`q`),\n";
        assert_eq!(run(bare.as_bytes(), 4), bare.as_bytes());
    }

    #[test]
    fn everything_else_passes_through_byte_for_byte() {
        let mut input = Vec::new();
        input.extend_from_slice(b"ALTER DATABASE `a` UPGRADE DATA DIRECTORY NAME;\n");
        input.extend_from_slice(b"ALTER DATABASE `unterminated");
        input.extend_from_slice(b"\n\n\nALTER DATABASE");
        let long: Vec<u8> = (0..20_000u32).map(|i| (i % 200) as u8 + 1).collect();
        input.extend_from_slice(b"\nALTER DATABASE `");
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\n");
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nLOCK TABLES `t` READ;\nUNLOCK TABLES");
        input.extend_from_slice(b"\nALTER DATABASE `x` CHARACTER SET a COLLATE b ;");
        for chunk in [1, 5, 16, 4096, 1 << 20] {
            assert_eq!(run(&input, chunk), input, "chunk {chunk}");
        }
    }

    #[test]
    fn prelude_refuses_anything_but_plain_names() {
        let p = MyDatabaseProperties::parse("latin1", "latin1_swedish_ci").unwrap();
        assert_eq!(
            defaults_prelude(&p),
            b"/*!40101 ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci */;\n"
        );
        let forged = MyDatabaseProperties {
            charset: "latin1 */; DROP DATABASE x; /*".into(),
            collation: "x".into(),
        };
        assert!(defaults_prelude(&forged).is_empty());
    }

    #[test]
    fn bodies_in_delimiter_blocks_pass_through_unchanged() {
        let input = concat!(
            "-- Host: 127.0.0.1    Database: src\n",
            "/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES' */ ;\n",
            "DELIMITER ;;\n",
            "CREATE DEFINER=`u`@`%` PROCEDURE `p`()\n",
            "BEGIN\n",
            "  SELECT 'x\n",
            "DELIMITER ;\n",
            "LOCK TABLES `t` WRITE;\n",
            "UNLOCK TABLES;\n",
            "ALTER DATABASE `src` CHARACTER SET latin1 COLLATE latin1_bin ;\n",
            "  `c` int DEFAULT nextval(`src`.`s`),\n",
            "';\n",
            "END ;;\n",
            "DELIMITER ;\n",
            "ALTER DATABASE `src` CHARACTER SET latin1 COLLATE latin1_bin ;\n",
            "LOCK TABLES `t` WRITE;\n",
        );
        let body_end = input.find("END ;;\nDELIMITER ;\n").unwrap() + "END ;;\nDELIMITER ;\n".len();
        let expected = format!(
            "{}ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_bin ;\n",
            &input[..body_end]
        );
        for chunk in [1, 2, 5, 13, 64, 100_000] {
            assert_eq!(
                String::from_utf8(run(input.as_bytes(), chunk)).unwrap(),
                expected,
                "chunk {chunk}"
            );
        }
    }
}
