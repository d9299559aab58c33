//! MariaDB test support: throw-away databases, a rich fixture that exercises the
//! awkward corners of `mariadb-dump`, a `mutate` step that a restore must undo,
//! and a `fingerprint` that two databases share only if they are identical.
// Each test module uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlRow;
use sqlx::{Column, Connection, MySqlConnection, Row};

pub const MYSQL_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

pub const MYSQL_HOST: &str = "127.0.0.1";
pub const MYSQL_PORT: &str = "3306";
pub const MYSQL_USER: &str = "root";

pub use super::pg::Fingerprint;

/// Connection URL for database `db` on the test server.
pub fn db_url(db: &str) -> String {
    format!("mysql://{MYSQL_USER}@{MYSQL_HOST}:{MYSQL_PORT}/{db}")
}

/// `prefix` (lower-cased, reduced to `[a-z0-9_]`, at most 20 chars) + `_` + 16 random hex digits.
pub fn unique_name(prefix: &str) -> String {
    let mut clean: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(20)
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        clean.insert(0, 't');
    }
    // The tail of a v7 uuid is random; the head is a timestamp shared by concurrent callers.
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{clean}_{}", &id[16..])
}

fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

async fn connect(url: &str) -> MySqlConnection {
    let mut conn = MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to MariaDB at {url}: {e}"));
    // sqlx adds PIPES_AS_CONCAT and drops strictness; use the server's stock mode so that
    // objects created here carry the sql_mode a real application would give them.
    sqlx::raw_sql(
        "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,\
         NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION'",
    )
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("setting sql_mode on {url} failed: {e}"));
    conn
}

pub async fn create_db(name: &str) {
    let mut conn = connect(MYSQL_ADMIN_URL).await;
    sqlx::raw_sql(&format!(
        "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        quote_ident(name)
    ))
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
    conn.close().await.ok();
}

pub async fn drop_db(name: &str) {
    let mut conn = connect(MYSQL_ADMIN_URL).await;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("DROP DATABASE {name} failed: {e}"));
    conn.close().await.ok();
}

/// A uniquely named database that is dropped when the guard goes out of scope,
/// including when the test panics.
pub struct TempDb {
    name: String,
}

impl TempDb {
    pub async fn create(prefix: &str) -> TempDb {
        let name = unique_name(prefix);
        create_db(&name).await;
        TempDb { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> String {
        db_url(&self.name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside a runtime: use a thread with its own runtime.
        let name = std::mem::take(&mut self.name);
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime for TempDb::drop")
                .block_on(drop_db(&name));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("dropping a temporary MariaDB database failed");
        }
    }
}

/// Statements run one by one: compound bodies (BEGIN … END) need no DELIMITER this way,
/// and a failure names the statement.
async fn run_statements(db: &str, what: &str, statements: &[&str]) {
    let mut conn = connect(&db_url(db)).await;
    for statement in statements {
        sqlx::raw_sql(statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| {
                panic!("{what} on database {db} failed: {e}\nstatement: {statement}")
            });
    }
    conn.close().await.ok();
}

/// `(label, body, payload)` of a `text_samples` row.
type TextSample<'a> = (&'a str, Option<&'a str>, Option<&'a [u8]>);

/// Tables of every column family, a view, a trigger, routines, an event, a sequence and
/// a virtual column, with ~151k rows generated server-side from the SEQUENCE engine.
pub async fn load_rich_fixture(db: &str) {
    run_statements(db, "loading the MariaDB fixture", RICH_FIXTURE).await;
    // The database's default changes after its routines were created (they keep the
    // collation they were created under): a restore must bring back both.
    run_statements(
        db,
        "changing the database default",
        &[&format!(
            "ALTER DATABASE {} CHARACTER SET latin1 COLLATE latin1_swedish_ci",
            quote_ident(db)
        )],
    )
    .await;

    let mut conn = connect(&db_url(db)).await;
    let all_bytes: Vec<u8> = (0..=255).collect();
    let samples: [TextSample; 10] = [
        ("empty", Some(""), Some(b"")),
        ("null", None, None),
        (
            "emoji",
            Some("👩‍👩‍👧‍👦 family, 𝄞 clef, 𠜎 cjk ext-b"),
            Some("🎉".as_bytes()),
        ),
        ("quotes", Some("single ' double \" backtick `"), Some(b"'")),
        (
            "escapes",
            Some("back\\slash \\N \\0 tab\tnewline\ncr\rctrl-z\x1aend"),
            Some(b"\\N"),
        ),
        ("nul", Some("before\0after"), Some(b"\0")),
        ("rtl", Some("שלום عليكم"), Some(b"\xff\xfe\xfd\xfc")),
        (
            "combining",
            Some("e\u{301} vs é, zero\u{200b}width"),
            Some(b"\xc3\x28"),
        ),
        (
            "invalid-utf8",
            Some("bytes are not text"),
            Some(b"\x80\x81\xc0\xaf\xed\xa0\x80"),
        ),
        ("all-bytes", Some("every byte value"), Some(&all_bytes)),
    ];
    for (label, body, payload) in samples {
        sqlx::query("INSERT INTO text_samples (label, body, payload) VALUES (?, ?, ?)")
            .bind(label)
            .bind(body)
            .bind(payload)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("inserting text sample {label} into {db} failed: {e}"));
    }
    conn.close().await.ok();
}

/// Changes data and schema the way a user would after a backup was taken.
pub async fn mutate(db: &str) {
    run_statements(db, "mutating the MariaDB fixture", MUTATION).await;
}

pub async fn fingerprint(db: &str) -> Fingerprint {
    let mut conn = connect(&db_url(db)).await;

    let objects = sqlx::query(
        "SELECT CAST(TABLE_NAME AS CHAR) AS name, CAST(TABLE_TYPE AS CHAR) AS kind,
                AUTO_INCREMENT AS auto_increment
           FROM information_schema.TABLES
          WHERE TABLE_SCHEMA = ?
          ORDER BY TABLE_NAME",
    )
    .bind(db)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("listing tables of {db} failed: {e}"));

    let mut tables = BTreeMap::new();
    let mut row_counts = BTreeMap::new();
    let mut sequences = BTreeMap::new();
    let mut schema = Vec::new();

    let charset = sqlx::query(
        "SELECT CAST(DEFAULT_CHARACTER_SET_NAME AS CHAR) AS cs,
                CAST(DEFAULT_COLLATION_NAME AS CHAR) AS co
           FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(db)
    .fetch_one(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("reading the character set of {db} failed: {e}"));
    schema.push(format!(
        "-- database\nDEFAULT CHARACTER SET {} COLLATE {}",
        charset.get::<String, _>("cs"),
        charset.get::<String, _>("co")
    ));

    for object in &objects {
        let name: String = object.get("name");
        let kind: String = object.get("kind");
        let quoted = quote_ident(&name);
        match kind.as_str() {
            "VIEW" => {
                let row = show(&mut conn, &format!("SHOW CREATE VIEW {quoted}")).await;
                schema.push(format!("-- view {name}\n{}", text(&row, "Create View")));
            }
            "SEQUENCE" => {
                let row = show(&mut conn, &format!("SHOW CREATE SEQUENCE {quoted}")).await;
                schema.push(format!(
                    "-- sequence {name}\n{}",
                    text(&row, "Create Table")
                ));
                let next: i64 =
                    sqlx::query_scalar(&format!("SELECT next_not_cached_value FROM {quoted}"))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("reading sequence {name} in {db} failed: {e}"));
                sequences.insert(name, next);
            }
            _ => {
                let row = show(&mut conn, &format!("SHOW CREATE TABLE {quoted}")).await;
                // A sequence default names its database (`nextval(`db`.`seq`)`): the
                // database's own name reads as `<db>`, any other stays visible.
                let create =
                    text(&row, "Create Table").replace(&format!("{}.", quote_ident(db)), "`<db>`.");
                schema.push(format!("-- table {name}\n{create}"));
                if let Some(next) = object.get::<Option<u64>, _>("auto_increment") {
                    sequences.insert(name.clone(), i64::try_from(next).unwrap_or(i64::MAX));
                }
                let (count, digest) = table_digest(&mut conn, db, &name).await;
                tables.insert(name.clone(), digest);
                row_counts.insert(name, count);
            }
        }
    }

    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TRIGGER_NAME AS CHAR) FROM information_schema.TRIGGERS
          WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME",
    )
    .bind(db)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("listing triggers of {db} failed: {e}"));
    for name in triggers {
        let row = show(
            &mut conn,
            &format!("SHOW CREATE TRIGGER {}", quote_ident(&name)),
        )
        .await;
        schema.push(format!(
            "-- trigger {name} (sql_mode {})\n{}",
            text(&row, "sql_mode"),
            text(&row, "SQL Original Statement")
        ));
    }

    let routines = sqlx::query(
        "SELECT CAST(ROUTINE_TYPE AS CHAR) AS kind, CAST(ROUTINE_NAME AS CHAR) AS name,
                CAST(DATABASE_COLLATION AS CHAR) AS db_collation
           FROM information_schema.ROUTINES
          WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    )
    .bind(db)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("listing routines of {db} failed: {e}"));
    for routine in routines {
        let kind: String = routine.get("kind");
        let name: String = routine.get("name");
        // PROCEDURE, FUNCTION, PACKAGE or PACKAGE BODY: SHOW CREATE and its column follow the kind.
        let column = format!("Create {}", title_case(&kind));
        let row = show(
            &mut conn,
            &format!("SHOW CREATE {kind} {}", quote_ident(&name)),
        )
        .await;
        let db_collation: String = routine.get("db_collation");
        schema.push(format!(
            "-- {} {name} (sql_mode {}, database collation {db_collation})\n{}",
            kind.to_lowercase(),
            text(&row, "sql_mode"),
            text(&row, &column)
        ));
    }

    let events = sqlx::query(
        "SELECT CAST(EVENT_NAME AS CHAR) AS name, CAST(STATUS AS CHAR) AS status
           FROM information_schema.EVENTS
          WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME",
    )
    .bind(db)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("listing events of {db} failed: {e}"));
    for event in events {
        let name: String = event.get("name");
        let status: String = event.get("status");
        let row = show(
            &mut conn,
            &format!("SHOW CREATE EVENT {}", quote_ident(&name)),
        )
        .await;
        schema.push(format!(
            "-- event {name} ({status}, sql_mode {})\n{}",
            text(&row, "sql_mode"),
            text(&row, "Create Event")
        ));
    }
    conn.close().await.ok();

    Fingerprint {
        tables,
        row_counts,
        sequences,
        schema: schema.join("\n"),
    }
}

/// `PACKAGE BODY` -> `Package Body`, as in the column names of `SHOW CREATE …`.
fn title_case(kind: &str) -> String {
    kind.split(' ')
        .map(|word| {
            let lower = word.to_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn show(conn: &mut MySqlConnection, sql: &str) -> MySqlRow {
    sqlx::query(sql)
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"))
}

/// A column of a SHOW result as text, whether the server types it as text or as bytes.
///
/// Looked up by position: sqlx 0.8 sometimes fails to find a SHOW column by name
/// ("no column found for name: sql_mode") although `columns()` lists it.
fn text(row: &MySqlRow, column: &str) -> String {
    let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
    let index = names
        .iter()
        .position(|name| *name == column)
        .unwrap_or_else(|| panic!("no column {column} in {names:?}"));
    match row.try_get::<Option<String>, _>(index) {
        Ok(value) => value.unwrap_or_default(),
        Err(_) => {
            let bytes: Option<Vec<u8>> = row.try_get(index).unwrap_or_else(|e| {
                panic!("column {column} of {names:?} is neither text nor bytes: {e}")
            });
            String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
        }
    }
}

/// `(COUNT(*), sha256 over the sorted per-row md5s)`.
///
/// Each row is rendered server-side as `CONCAT_WS('|', …)` of one exact, ASCII rendering per
/// column: `HEX()` for every string, binary, JSON, ENUM, SET and BIT column (so bytes, not a
/// lossy text conversion, are compared and no separator can occur inside a value), other types
/// as MariaDB prints them, and `NULL` (never valid hex or a number) for NULL.
///
/// FLOAT is deliberately compared as printed (6 significant digits), not bit for bit: that is
/// all the server hands any text-protocol client, so `mariadb-dump` turns a stored
/// 0.3333333432674408 into `0.333333`, which reloads as 0.33333298563957214. DOUBLE and
/// DECIMAL round-trip exactly and are compared exactly. Sorting the row hashes makes the result independent of physical order and of
/// whether the table has a primary key; streaming them keeps memory flat and avoids
/// `group_concat_max_len`.
async fn table_digest(conn: &mut MySqlConnection, db: &str, table: &str) -> (i64, String) {
    let columns = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR) AS name, CAST(DATA_TYPE AS CHAR) AS data_type
           FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
          ORDER BY ORDINAL_POSITION",
    )
    .bind(db)
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_else(|e| panic!("listing columns of {table} in {db} failed: {e}"));
    assert!(!columns.is_empty(), "table {table} in {db} has no columns");

    let rendered: Vec<String> = columns
        .iter()
        .map(|column| {
            let name = quote_ident(&column.get::<String, _>("name"));
            let data_type = column.get::<String, _>("data_type").to_lowercase();
            let exact = match data_type.as_str() {
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "json"
                | "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
                | "enum" | "set" | "bit" => format!("HEX({name})"),
                _ => name,
            };
            format!("IFNULL({exact}, 'NULL')")
        })
        .collect();
    let sql = format!(
        "SELECT MD5(CONCAT_WS('|', {})) AS h FROM {} ORDER BY h",
        rendered.join(", "),
        quote_ident(table)
    );

    let mut hasher = Sha256::new();
    let mut count = 0i64;
    let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(&mut *conn);
    while let Some(row_hash) = rows
        .try_next()
        .await
        .unwrap_or_else(|e| panic!("fingerprinting {table} in {db} failed: {e}"))
    {
        hasher.update(row_hash.as_bytes());
        hasher.update(b"\n");
        count += 1;
    }
    (count, hex::encode(hasher.finalize()))
}

/// Dumps `db` with `mariadb-dump --databases` (which records `CREATE DATABASE` with its
/// defaults), drops it, and loads the dump back with `mariadb`: the raw tools' round trip.
/// (`--skip-add-locks`: under LOCK TABLES, rows of a table whose default is `NEXTVAL(seq)`
/// cannot be loaded.)
pub async fn reload_with_mariadb_dump(db: &str) {
    let dump = tokio::process::Command::new("mariadb-dump")
        .args(["-h", MYSQL_HOST, "-P", MYSQL_PORT, "-u", MYSQL_USER])
        .args([
            "--single-transaction",
            "--routines",
            "--events",
            "--triggers",
            "--skip-add-locks",
            "--databases",
        ])
        .arg(db)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run mariadb-dump: {e}"));
    assert!(
        dump.status.success(),
        "mariadb-dump {db} failed ({}): {}",
        dump.status,
        String::from_utf8_lossy(&dump.stderr)
    );
    drop_db(db).await;
    let mut client = tokio::process::Command::new("mariadb")
        .args(["-h", MYSQL_HOST, "-P", MYSQL_PORT, "-u", MYSQL_USER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run mariadb: {e}"));
    let mut stdin = client.stdin.take().expect("mariadb stdin is piped");
    let feed = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let written = stdin.write_all(&dump.stdout).await;
        drop(stdin);
        written
    });
    let restored = client
        .wait_with_output()
        .await
        .expect("mariadb runs to completion");
    feed.await
        .expect("feeding mariadb does not panic")
        .expect("mariadb reads the whole dump");
    assert!(
        restored.status.success(),
        "mariadb reloading {db} failed ({}): {}",
        restored.status,
        String::from_utf8_lossy(&restored.stderr)
    );
}

const RICH_FIXTURE: &[&str] = &[
    r#"CREATE TABLE customers (
        id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        public_id       BINARY(16) NOT NULL,
        name            VARCHAR(120) NOT NULL,
        email           VARCHAR(190) NULL,
        email_domain    VARCHAR(190) AS (SUBSTRING_INDEX(email, '@', -1)) VIRTUAL,
        status          ENUM('active', 'suspended', 'closed') NOT NULL DEFAULT 'active',
        flags           SET('newsletter', 'beta', 'vip', 'staff') NOT NULL DEFAULT '',
        permissions     BIT(10) NULL,
        balance         DECIMAL(30, 10) NULL,
        rating          FLOAT NULL,
        score           DOUBLE NULL,
        lifetime_events BIGINT UNSIGNED NULL,
        created_at      DATETIME(6) NOT NULL,
        last_login      TIMESTAMP(6) NULL DEFAULT NULL,
        birth_date      DATE NULL,
        wake_time       TIME NULL,
        member_since    YEAR NULL,
        prefs           JSON NULL,
        bio             TEXT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uq_customers_public_id (public_id),
        UNIQUE KEY uq_customers_email (email),
        KEY ix_customers_status_created (status, created_at),
        CONSTRAINT chk_customers_balance CHECK (balance > -100000000000)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='People who buy things'"#,
    r#"CREATE SEQUENCE invoice_seq START WITH 100000 INCREMENT BY 7"#,
    r#"CREATE SEQUENCE ticket_seq START WITH 500 INCREMENT BY 1 NOCACHE"#,
    // A column whose default draws from a sequence: its rows must load, and the restored
    // table must draw from the restored sequence, not the source database's.
    r#"CREATE SEQUENCE support_seq START WITH 9000 INCREMENT BY 3"#,
    r#"CREATE TABLE support_requests (
        id      BIGINT NOT NULL DEFAULT NEXTVAL(support_seq),
        subject VARCHAR(100) NOT NULL,
        PRIMARY KEY (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"#,
    r#"INSERT INTO support_requests (subject) VALUES ('login fails'), ('refund'), ('typo')"#,
    r#"CREATE TABLE orders (
        id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
        customer_id BIGINT UNSIGNED NOT NULL,
        invoice_no  BIGINT NULL,
        status      ENUM('pending', 'paid', 'shipped', 'cancelled', 'refunded') NOT NULL,
        total       DECIMAL(14, 2) NOT NULL,
        placed_at   DATETIME(6) NOT NULL,
        note        VARCHAR(500) NULL,
        PRIMARY KEY (id),
        KEY ix_orders_customer (customer_id),
        CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
            ON DELETE CASCADE,
        CONSTRAINT chk_orders_total CHECK (total >= 0)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"#,
    r#"CREATE TABLE order_lines (
        order_id   INT UNSIGNED NOT NULL,
        line_no    SMALLINT UNSIGNED NOT NULL,
        sku        CHAR(9) NOT NULL,
        quantity   TINYINT UNSIGNED NOT NULL,
        unit_price DECIMAL(10, 2) NOT NULL,
        line_total DECIMAL(12, 2) AS (quantity * unit_price) PERSISTENT,
        PRIMARY KEY (order_id, line_no),
        CONSTRAINT fk_lines_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"#,
    r#"CREATE TABLE attachments (
        id          INT NOT NULL AUTO_INCREMENT,
        customer_id BIGINT UNSIGNED NULL,
        file_name   VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
        digest      VARBINARY(64) NULL,
        thumbnail   BLOB NULL,
        content     LONGBLOB NULL,
        PRIMARY KEY (id),
        CONSTRAINT fk_attachments_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
            ON DELETE SET NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"#,
    // No primary key on purpose: duplicates are possible and must survive.
    r#"CREATE TABLE audit_log (
        changed_at DATETIME(6) NOT NULL,
        table_name VARCHAR(64) NOT NULL,
        row_id     BIGINT UNSIGNED NULL,
        action     VARCHAR(16) NOT NULL,
        old_value  VARCHAR(64) NULL,
        new_value  VARCHAR(64) NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"#,
    r#"CREATE TABLE text_samples (
        id      INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        label   VARCHAR(32) NOT NULL,
        body    MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
        payload VARBINARY(1024) NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"#,
    r#"INSERT INTO customers (id, public_id, name, email, status, flags, permissions, balance,
                             rating, score, lifetime_events, created_at, last_login, birth_date,
                             wake_time, member_since, prefs, bio)
       SELECT seq,
              UNHEX(MD5(CONCAT('customer-', seq))),
              CONCAT(ELT(1 + seq % 12, 'Ana', 'Bjørn', 'Chloé', 'Dmitri', 'Émile', 'Fatima',
                         'Grzegorz', 'Hana', 'José', 'Łucja', 'Søren', 'Zoë'),
                     ' ',
                     ELT(1 + seq * 7 % 9, 'Smith', 'O''Brien', 'Müller', 'Nguyễn', 'García',
                         '李', 'Иванов', 'Tanaka', 'حداد')),
              IF(seq % 17 = 0, NULL,
                 CONCAT('user', seq, '@example.', ELT(1 + seq % 4, 'com', 'org', 'net', 'io'))),
              ELT(1 + seq % 3, 'active', 'suspended', 'closed'),
              ELT(1 + seq % 5, '', 'newsletter', 'newsletter,vip', 'beta,staff',
                  'newsletter,beta,vip,staff'),
              IF(seq % 13 = 0, NULL, seq % 1024),
              IF(seq % 19 = 0, NULL, seq * 12345.6789012345 - 50000000),
              IF(seq % 29 = 0, NULL, (seq % 1000) / 3.0),
              SQRT(seq) * 1000.123456789 - 77,
              18446744073709551615 - seq * 1000003,
              TIMESTAMP('2020-01-01 00:00:00') + INTERVAL seq * 2237 SECOND
                  + INTERVAL (seq * 137 % 1000000) MICROSECOND,
              IF(seq % 5 = 0, NULL, TIMESTAMP('2024-01-01 00:00:00') + INTERVAL seq MINUTE
                  + INTERVAL (seq * 331 % 1000000) MICROSECOND),
              IF(seq % 23 = 0, NULL, DATE('1940-01-01') + INTERVAL (seq * 13 % 25000) DAY),
              IF(seq % 7 = 0, NULL, SEC_TO_TIME(seq * 97 % 86400)),
              1901 + seq % 255,
              IF(seq % 6 = 0, NULL,
                 JSON_OBJECT('plan', ELT(1 + seq % 3, 'free', 'pro', 'team'),
                             'score', seq % 100,
                             'tags', JSON_ARRAY('a', seq, NULL, TRUE),
                             'note', 'é "quoted" back\\slash ☃')),
              IF(seq % 3 = 0, NULL,
                 CONCAT('Line one 🎉\nLine two\t', REPEAT('ß', seq % 10),
                        ' quote '' "dq" back\\slash 𝄞 \r\n end'))
         FROM seq_1_to_20000"#,
    // Edge values of the types above.
    r#"UPDATE customers
          SET wake_time = '-838:59:59', created_at = '1000-01-01 00:00:00.000000',
              last_login = '1970-01-01 00:00:01.000000', birth_date = '1000-01-01',
              balance = 99999999999999999999.9999999999, rating = 3.40282e38,
              score = 1.7976931348623157e308, lifetime_events = 18446744073709551615,
              member_since = 2155, permissions = b'1111111111'
        WHERE id = 1"#,
    r#"UPDATE customers
          SET wake_time = '838:59:59', created_at = '9999-12-31 23:59:59.999999',
              last_login = '2038-01-19 03:14:07.999999', birth_date = '9999-12-31',
              balance = -99999999999.9999999999, rating = -1.17549e-38,
              score = -2.2250738585072014e-308, lifetime_events = 0,
              member_since = 0, permissions = b'0'
        WHERE id = 2"#,
    r#"INSERT INTO orders (id, customer_id, invoice_no, status, total, placed_at, note)
       SELECT seq,
              1 + (seq * 7919) % 20000,
              100000 + seq * 7,
              ELT(1 + seq % 5, 'pending', 'paid', 'shipped', 'cancelled', 'refunded'),
              ((seq * 7349) % 1000000) / 100.0,
              TIMESTAMP('2022-03-01 08:00:00') + INTERVAL seq * 1023 SECOND
                  + INTERVAL (seq * 7 % 1000000) MICROSECOND,
              ELT(1 + seq % 4, NULL, '', 'line one\nline two\ttab \\ backslash ''single'' "double" 🎉',
                  CONCAT('Please deliver to door ', seq))
         FROM seq_1_to_40000"#,
    r#"INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price)
       SELECT o.id, l.seq,
              CONCAT('SKU-', LPAD((o.id * 31 + l.seq * 17) % 5000, 5, '0')),
              1 + (o.id + l.seq) % 9,
              ((o.id * 13 + l.seq * 101) % 50000) / 100.0 + 0.99
         FROM orders o JOIN seq_1_to_3 l ON l.seq <= 1 + o.id % 3
        WHERE o.id <= 30000"#,
    r#"INSERT INTO attachments (customer_id, file_name, digest, thumbnail, content)
       SELECT IF(seq % 10 = 0, NULL, 1 + seq * 13 % 20000),
              CONCAT('scan-', seq, IF(seq % 2 = 0, '.pdf', ' (copy) ü.PNG')),
              IF(seq % 11 = 0, NULL, UNHEX(SHA2(CONCAT('digest', seq), 512))),
              CASE seq % 9 WHEN 0 THEN NULL WHEN 1 THEN ''
                   ELSE CONCAT(UNHEX(SHA2(seq, 256)), X'00FF00', UNHEX(MD5(seq))) END,
              CASE WHEN seq % 500 = 0 THEN REPEAT(X'00FF80C3289F', 20000)
                   WHEN seq % 3 = 0 THEN NULL
                   ELSE UNHEX(REPEAT(SHA2(seq, 256), 1 + seq % 4)) END
         FROM seq_1_to_5000"#,
    r#"INSERT INTO audit_log (changed_at, table_name, row_id, action, old_value, new_value)
       SELECT TIMESTAMP('2021-06-01 00:00:00') + INTERVAL seq * 601 SECOND,
              ELT(1 + seq % 2, 'orders', 'customers'),
              IF(seq % 10 = 0, NULL, seq % 4000),
              ELT(1 + seq % 3, 'insert', 'update', 'delete'),
              IF(seq % 4 = 0, NULL, 'pending'),
              'paid'
         FROM seq_1_to_30000"#,
    // Exact duplicates in a table without a key.
    r#"INSERT INTO audit_log SELECT * FROM audit_log WHERE row_id = 7"#,
    r#"CREATE TRIGGER trg_orders_status_audit AFTER UPDATE ON orders FOR EACH ROW
       BEGIN
           IF NEW.status <> OLD.status THEN
               INSERT INTO audit_log (changed_at, table_name, row_id, action, old_value, new_value)
               VALUES (TIMESTAMP('2023-01-01') + INTERVAL NEW.id SECOND, 'orders', NEW.id,
                       'status', OLD.status, NEW.status);
           END IF;
       END"#,
    r#"CREATE FUNCTION customer_tier(spent DECIMAL(30, 10)) RETURNS VARCHAR(10)
       DETERMINISTIC
       COMMENT 'gold / silver / bronze by money spent'
       RETURN CASE WHEN spent IS NULL THEN 'none'
                   WHEN spent >= 10000 THEN 'gold'
                   WHEN spent >= 1000 THEN 'silver'
                   ELSE 'bronze' END"#,
    r#"CREATE PROCEDURE cancel_stale_orders(IN older_than DATETIME(6), OUT affected INT)
       MODIFIES SQL DATA
       BEGIN
           UPDATE orders SET status = 'cancelled' WHERE status = 'pending' AND placed_at < older_than;
           SET affected = ROW_COUNT();
       END"#,
    r#"CREATE EVENT purge_old_audit
       ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00'
       ON COMPLETION PRESERVE DISABLE
       COMMENT 'nightly purge'
       DO DELETE FROM audit_log WHERE changed_at < NOW() - INTERVAL 90 DAY"#,
    r#"CREATE VIEW customer_order_summary AS
       SELECT c.id, c.name, COUNT(o.id) AS orders, COALESCE(SUM(o.total), 0) AS spent,
              customer_tier(SUM(o.total)) AS tier
         FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
        GROUP BY c.id, c.name"#,
    // Fire the trigger, and leave sequences and counters where no fresh database has them.
    r#"UPDATE orders SET status = 'shipped' WHERE id % 1000 = 1"#,
    r#"CALL cancel_stale_orders('2022-03-10 00:00:00', @affected)"#,
    r#"DELETE FROM customers WHERE id > 19990"#,
    r#"ALTER TABLE orders AUTO_INCREMENT = 1000000"#,
    r#"DO NEXTVAL(invoice_seq), NEXTVAL(invoice_seq), NEXTVAL(invoice_seq)"#,
    r#"DO NEXTVAL(ticket_seq), NEXTVAL(ticket_seq)"#,
];

const MUTATION: &[&str] = &[
    r#"UPDATE customers SET name = CONCAT(name, ' (renamed)'), balance = balance + 1
        WHERE id % 97 = 0"#,
    r#"UPDATE orders SET status = 'refunded' WHERE id % 211 = 0 AND status <> 'refunded'"#,
    r#"DELETE FROM customers WHERE id % 499 = 0"#,
    r#"UPDATE attachments SET content = X'DEAD' WHERE id = 3"#,
    r#"INSERT INTO customers (public_id, name, created_at)
       SELECT UNHEX(MD5(CONCAT('late-', seq))), CONCAT('Late ', seq), NOW(6) FROM seq_1_to_50"#,
    r#"INSERT INTO orders (customer_id, status, total, placed_at)
       SELECT seq + 1, 'pending', seq, NOW(6) FROM seq_1_to_25"#,
    r#"DO NEXTVAL(ticket_seq)"#,
    r#"ALTER TABLE orders ADD COLUMN discount DECIMAL(5, 2) NOT NULL DEFAULT 0"#,
    r#"CREATE TABLE wishlist (
        id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        customer_id BIGINT UNSIGNED NULL,
        sku CHAR(9) NOT NULL,
        CONSTRAINT fk_wishlist_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
    ) ENGINE=InnoDB"#,
    r#"INSERT INTO wishlist (customer_id, sku) VALUES (2, 'SKU-00001'), (3, 'SKU-00002')"#,
    r#"CREATE VIEW active_customers AS SELECT id, name FROM customers WHERE status = 'active'"#,
    r#"CREATE PROCEDURE touch_customer(IN customer BIGINT UNSIGNED)
       UPDATE customers SET last_login = NOW(6) WHERE id = customer"#,
];
