//! PostgreSQL test support: throw-away databases, a rich fixture that exercises
//! the awkward corners of `pg_dump`, a `mutate` step that a restore must undo,
//! and a `fingerprint` that two databases share only if they are identical.
// Each test module uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use sqlx::{Connection, PgConnection, Row};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: &str = "5432";
pub const PG_USER: &str = "postgres";

/// Everything a restore must bring back, in comparable form. Shared with `support::mysql`.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Fingerprint {
    /// Table -> digest of all its rows, independent of physical row order.
    /// PostgreSQL: `schema.table`, covering ordinary tables, partitioned parents,
    /// partitions and materialized views.
    pub tables: BTreeMap<String, String>,
    /// Table -> row count (`-1` for an unpopulated materialized view).
    pub row_counts: BTreeMap<String, i64>,
    /// PostgreSQL: `schema.sequence` -> the value the next `nextval()` returns (folds
    /// `last_value` and `is_called` into one number). MariaDB: table -> `AUTO_INCREMENT`
    /// and sequence -> `next_not_cached_value`.
    pub sequences: BTreeMap<String, i64>,
    /// Normalised DDL of the whole database.
    pub schema: String,
}

impl Fingerprint {
    /// Human-readable differences, empty when equal: which tables, counts and sequences
    /// differ, and the schema lines found on only one side.
    pub fn differences(&self, other: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        map_differences("rows of", &self.tables, &other.tables, &mut out);
        map_differences(
            "row count of",
            &self.row_counts,
            &other.row_counts,
            &mut out,
        );
        map_differences("sequence", &self.sequences, &other.sequences, &mut out);
        if self.schema != other.schema {
            let left: std::collections::BTreeSet<&str> = self.schema.lines().collect();
            let right: std::collections::BTreeSet<&str> = other.schema.lines().collect();
            for line in left.difference(&right) {
                out.push(format!("schema line only on the left:  {line}"));
            }
            for line in right.difference(&left) {
                out.push(format!("schema line only on the right: {line}"));
            }
            if left == right {
                out.push("schema has the same lines in a different order or count".to_owned());
            }
        }
        out
    }

    /// Panics listing every difference when `actual` is not identical to `self`.
    pub fn assert_same(&self, actual: &Fingerprint, context: &str) {
        let differences = self.differences(actual);
        assert!(
            differences.is_empty(),
            "{context}: databases differ (left = expected, right = actual):\n{}",
            differences.join("\n")
        );
    }
}

fn map_differences<V: PartialEq + std::fmt::Debug>(
    what: &str,
    left: &BTreeMap<String, V>,
    right: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    let keys: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for key in keys {
        let (l, r) = (left.get(key), right.get(key));
        if l != r {
            out.push(format!("{what} {key}: {l:?} != {r:?}"));
        }
    }
}

/// Connection URL for database `db` on the test server.
pub fn db_url(db: &str) -> String {
    format!("postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}")
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
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"))
}

pub async fn create_db(name: &str) {
    let mut conn = connect(PG_ADMIN_URL).await;
    sqlx::raw_sql(&format!("CREATE DATABASE {}", quote_ident(name)))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
    conn.close().await.ok();
}

/// `CREATE DATABASE name <options>` (options written by the test itself).
pub async fn create_db_with(name: &str, options: &str) {
    let mut conn = connect(PG_ADMIN_URL).await;
    sqlx::raw_sql(&format!("CREATE DATABASE {} {options}", quote_ident(name)))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
    conn.close().await.ok();
}

pub async fn drop_db(name: &str) {
    let mut conn = connect(PG_ADMIN_URL).await;
    sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(name)
    ))
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
            panic!("dropping a temporary PostgreSQL database failed");
        }
    }
}

async fn run_script(db: &str, what: &str, sql: &str) {
    let mut conn = connect(&db_url(db)).await;
    sqlx::raw_sql(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{what} on database {db} failed: {e}"));
    conn.close().await.ok();
}

/// Schemas, types, tables, constraints, indexes, views, functions, triggers,
/// sequences and partitions, with ~122k rows generated server-side.
pub async fn load_rich_fixture(db: &str) {
    run_script(db, "loading the PostgreSQL fixture", RICH_FIXTURE).await;
}

/// Changes data and schema the way a user would after a backup was taken.
pub async fn mutate(db: &str) {
    run_script(db, "mutating the PostgreSQL fixture", MUTATION).await;
}

pub async fn fingerprint(db: &str) -> Fingerprint {
    let mut conn = connect(&db_url(db)).await;

    let relations = sqlx::query(
        "SELECT n.nspname || '.' || c.relname AS name,
                format('%I.%I', n.nspname, c.relname) AS quoted,
                c.relkind = 'm' AND NOT c.relispopulated AS unpopulated
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'm')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_toast%'
            AND n.nspname NOT LIKE 'pg\\_temp\\_%'
          ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("listing tables of {db} failed: {e}"));

    let mut tables = BTreeMap::new();
    let mut row_counts = BTreeMap::new();
    for rel in relations {
        let name: String = rel.get("name");
        let quoted: String = rel.get("quoted");
        if rel.get::<bool, _>("unpopulated") {
            // Selecting from an unpopulated materialized view is an error, and "not populated"
            // is itself state a restore must preserve.
            tables.insert(name.clone(), "<not populated>".to_owned());
            row_counts.insert(name, -1);
            continue;
        }
        // Ordering by the row text makes this independent of physical order and primary keys.
        let sql = format!(
            "SELECT count(*) AS n,
                    md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest
               FROM {quoted} t"
        );
        let row = sqlx::query(&sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("fingerprinting {name} in {db} failed: {e}"));
        tables.insert(name.clone(), row.get::<String, _>("digest"));
        row_counts.insert(name, row.get::<i64, _>("n"));
    }

    let seqs = sqlx::query(
        "SELECT schemaname || '.' || sequencename AS name,
                format('%I.%I', schemaname, sequencename) AS quoted,
                increment_by
           FROM pg_catalog.pg_sequences
          ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("listing sequences of {db} failed: {e}"));
    let mut sequences = BTreeMap::new();
    for seq in seqs {
        let name: String = seq.get("name");
        let quoted: String = seq.get("quoted");
        let increment: i64 = seq.get("increment_by");
        let row = sqlx::query(&format!("SELECT last_value, is_called FROM {quoted}"))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("reading sequence {name} in {db} failed: {e}"));
        let last: i64 = row.get("last_value");
        let next = if row.get::<bool, _>("is_called") {
            last.saturating_add(increment)
        } else {
            last
        };
        sequences.insert(name, next);
    }
    conn.close().await.ok();

    Fingerprint {
        tables,
        row_counts,
        sequences,
        schema: schema_text(db).await,
    }
}

async fn schema_text(db: &str) -> String {
    let output = tokio::process::Command::new(pg_bin("pg_dump"))
        .args(["--schema-only", "--no-owner", "--no-privileges"])
        .args(["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", db])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run pg_dump: {e}"));
    assert!(
        output.status.success(),
        "pg_dump --schema-only {db} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("pg_dump output is UTF-8");
    normalise_schema_dump(&text)
}

/// Keeps only the statements of a plain-format dump: the dropped lines either vary from
/// run to run (`\restrict <random key>`) or describe the session, not the database.
pub fn normalise_schema_dump(text: &str) -> String {
    text.lines()
        .filter(|line| {
            !(line.trim().is_empty()
                || line.starts_with("--")
                || line.starts_with("SET ")
                || line.starts_with("SELECT pg_catalog.set_config")
                || line.starts_with("\\restrict")
                || line.starts_with("\\unrestrict"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Path of a PostgreSQL client tool: `$PG_BIN_DIR/<tool>` when set, else found on `PATH`.
pub fn pg_bin(tool: &str) -> String {
    match std::env::var("PG_BIN_DIR") {
        Ok(dir) if !dir.is_empty() => format!("{dir}/{tool}"),
        _ => tool.to_owned(),
    }
}

/// Copies `from` into the (existing, empty) database `to` with `pg_dump | psql`.
pub async fn copy_with_pg_dump(from: &str, to: &str) {
    let dump = tokio::process::Command::new(pg_bin("pg_dump"))
        .args(["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", from])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run pg_dump: {e}"));
    assert!(
        dump.status.success(),
        "pg_dump {from} failed ({}): {}",
        dump.status,
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut psql = tokio::process::Command::new(pg_bin("psql"))
        .args(["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", to])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    let mut stdin = psql.stdin.take().expect("psql stdin is piped");
    let feed = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let written = stdin.write_all(&dump.stdout).await;
        drop(stdin);
        written
    });
    let restored = psql
        .wait_with_output()
        .await
        .expect("psql runs to completion");
    feed.await
        .expect("feeding psql does not panic")
        .expect("psql reads the whole dump");
    assert!(
        restored.status.success(),
        "psql restoring into {to} failed ({}): {}",
        restored.status,
        String::from_utf8_lossy(&restored.stderr)
    );
}

const RICH_FIXTURE: &str = r#"
CREATE SCHEMA sales;
CREATE SCHEMA audit;
COMMENT ON SCHEMA sales IS 'Orders and what is in them';

CREATE TYPE sales.order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled', 'refunded');
CREATE TYPE public.postal_address AS (street text, city text, zip varchar(10), country char(2));
CREATE DOMAIN public.email_address AS text CHECK (VALUE ~ '^[^@\s]+@[^@\s]+$');

-- An explicit sequence used as a column default; INCREMENT 7 so its position is distinctive.
CREATE SEQUENCE sales.invoice_no_seq START 100000 INCREMENT 7;
-- A sequence positioned with is_called = false: nextval() returns exactly 500.
CREATE SEQUENCE public.ticket_seq;
SELECT setval('public.ticket_seq', 500, false);

CREATE FUNCTION public.customer_tier(spent numeric) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF spent IS NULL THEN
        RETURN 'none';
    ELSIF spent >= 10000 THEN
        RETURN 'gold';
    ELSIF spent >= 1000 THEN
        RETURN 'silver';
    END IF;
    RETURN 'bronze';
END;
$$;

CREATE TABLE public.customers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id  uuid NOT NULL UNIQUE,
    name         text NOT NULL,
    email        public.email_address,
    address      public.postal_address,
    tags         text[],
    lucky_numbers int[],
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    birth_date   date,
    last_ip      inet,
    home_net     cidr,
    profile      jsonb,
    raw_profile  json,
    avatar       bytea,
    balance      numeric(38, 12),
    precise      numeric,
    session_len  interval,
    CONSTRAINT customers_balance_sane CHECK (balance > -1e20)
);
CREATE UNIQUE INDEX customers_email_lower_key ON public.customers (lower(email));
COMMENT ON TABLE public.customers IS 'People who buy things; "quoted" and ünïcödé comment';
COMMENT ON COLUMN public.customers.precise IS 'numeric without a typmod';

CREATE TABLE sales.orders (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
    invoice_no  bigint NOT NULL DEFAULT nextval('sales.invoice_no_seq') UNIQUE,
    status      sales.order_status NOT NULL,
    ordered_at  timestamptz NOT NULL,
    ship_by     date,
    total       numeric(20, 4) NOT NULL CHECK (total >= 0),
    note        text
);
CREATE INDEX orders_customer_idx ON sales.orders (customer_id);
CREATE INDEX orders_pending_idx ON sales.orders (ordered_at) WHERE status = 'pending';

CREATE TABLE sales.order_items (
    order_id   bigint NOT NULL REFERENCES sales.orders (id) ON DELETE CASCADE,
    line_no    int NOT NULL,
    sku        text NOT NULL,
    quantity   int NOT NULL CHECK (quantity > 0),
    unit_price numeric(12, 2) NOT NULL,
    line_total numeric(14, 2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    PRIMARY KEY (order_id, line_no)
);

-- No primary key on purpose: duplicates are possible and must survive.
CREATE TABLE audit.change_log (
    changed_at timestamptz NOT NULL DEFAULT now(),
    table_name text NOT NULL,
    operation  text NOT NULL,
    row_id     bigint,
    old_row    jsonb,
    new_row    jsonb
);

CREATE FUNCTION audit.record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit.change_log (table_name, operation, row_id, old_row, new_row)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END);
    RETURN NULL;
END;
$$;

CREATE TABLE audit.measurements (
    sensor_id   int NOT NULL,
    recorded_on date NOT NULL,
    reading     double precision,
    ok          boolean
) PARTITION BY RANGE (recorded_on);
CREATE TABLE audit.measurements_2023 PARTITION OF audit.measurements
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE audit.measurements_2024 PARTITION OF audit.measurements
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE public.text_samples (
    id      int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    label   text NOT NULL,
    body    text,
    payload bytea
);

INSERT INTO public.customers (external_id, name, email, address, tags, lucky_numbers, is_active,
                              created_at, birth_date, last_ip, home_net, profile, raw_profile,
                              avatar, balance, precise, session_len)
SELECT md5('customer-' || i)::uuid,
       (ARRAY['Ana', 'Bjørn', 'Chloé', 'Dmitri', 'Émile', 'Fatima', 'Grzegorz', 'Hana',
              'Ifeoma', 'José', 'Kenji', 'Łucja', 'Mei', 'Noor', 'Olúwaseun', 'Priya',
              'Quentin', 'Rūta', 'Søren', 'Zoë'])[1 + i % 20]
         || ' ' ||
       (ARRAY['Smith', 'O''Brien', 'Müller', 'Nguyễn', 'García', 'Kowalski', '李',
              'Schmidt', 'Иванов', 'Tanaka', 'Papadopoulos', 'حداد', 'Nakamura'])[1 + (i * 7) % 13],
       CASE WHEN i % 17 = 0 THEN NULL
            ELSE 'user' || i || '@example.' || (ARRAY['com', 'org', 'net', 'io'])[1 + i % 4] END,
       CASE WHEN i % 11 = 0 THEN NULL
            ELSE ROW((i % 999 + 1) || ' Rua "Principal", 2º',
                     (ARRAY['Lisbon', 'Oslo', 'Paris', 'Kraków', 'Tokyo', 'Lagos', 'São Paulo'])[1 + i % 7],
                     lpad((i * 37 % 100000)::text, 5, '0'),
                     (ARRAY['PT', 'NO', 'FR', 'PL', 'JP', 'NG', 'BR'])[1 + i % 7])::public.postal_address END,
       CASE i % 6 WHEN 0 THEN NULL
                  WHEN 1 THEN '{}'::text[]
                  WHEN 2 THEN ARRAY['vip', NULL, 'comma,inside', 'quote"inside']
                  ELSE ARRAY['tag' || (i % 5), 'NULL', 'back\slash', '{brace}'] END,
       CASE i % 5 WHEN 0 THEN NULL
                  WHEN 1 THEN ARRAY[i, NULL, -i]
                  ELSE ARRAY[i % 100, i % 7, i % 3] END,
       i % 10 <> 0,
       timestamptz '2020-01-01 00:00:00+00' + i * interval '37 minutes 13.123456 seconds',
       CASE WHEN i % 23 = 0 THEN NULL ELSE date '1940-01-01' + (i * 13) % 25000 END,
       CASE WHEN i % 4 = 0 THEN ('2001:db8::' || to_hex(i))::inet
            ELSE ('10.' || (i >> 16) % 256 || '.' || (i >> 8) % 256 || '.' || i % 256)::inet END,
       ('192.168.' || i % 256 || '.0/24')::cidr,
       jsonb_build_object('plan', (ARRAY['free', 'pro', 'team'])[1 + i % 3],
                          'score', i % 100,
                          'ratio', (i % 1000) / 7.0,
                          'flags', jsonb_build_array(i % 2 = 0, NULL, 'x'),
                          'note', E'tab\there "quoted" back\\slash ☃'),
       ('{"b": ' || i || ',   "a": [1, 2,  null], "a": "duplicate key kept by json"}')::json,
       CASE i % 8 WHEN 0 THEN NULL
                  WHEN 1 THEN '\x'::bytea
                  ELSE decode(md5('avatar' || i), 'hex') || '\x00ff80fe'::bytea END,
       (i * 12345.678901234567::numeric) - 100000000,
       CASE WHEN i % 3 = 0 THEN NULL ELSE (10::numeric ^ 25 + i) / 7 END,
       make_interval(days => i % 30, hours => i % 24, secs => (i % 60) + 0.25)
  FROM generate_series(1, 10000) AS i;

-- Edge values of the types above.
UPDATE public.customers
   SET created_at = 'infinity', birth_date = '0044-03-15 BC', precise = 'NaN',
       balance = 99999999999999999999999999.999999999999,
       session_len = '-1 year -2 mons +3 days -04:05:06.789'
 WHERE id = 1;
UPDATE public.customers
   SET created_at = '-infinity', birth_date = 'infinity',
       precise = -0.000000000000000000000000000000000001,
       balance = -99999999999999999999.5, session_len = '0'
 WHERE id = 2;

INSERT INTO sales.orders (customer_id, status, ordered_at, ship_by, total, note)
SELECT 1 + (i * 7919) % 10000,
       (enum_range(NULL::sales.order_status))[1 + i % 5],
       timestamptz '2022-03-01 08:00:00+00' + i * interval '17 minutes 3.5 seconds',
       CASE WHEN i % 9 = 0 THEN NULL ELSE date '2022-03-05' + i / 100 END,
       round(((i * 7349) % 1000000) / 100.0, 4),
       CASE i % 7 WHEN 0 THEN NULL
                  WHEN 1 THEN ''
                  WHEN 2 THEN E'line one\nline two\r\n\ttabbed \\ backslash ''single'' "double" 🎉'
                  ELSE 'Please deliver to door ' || i END
  FROM generate_series(1, 30000) AS i;

INSERT INTO sales.order_items (order_id, line_no, sku, quantity, unit_price)
SELECT o.id, l,
       'SKU-' || lpad(((o.id * 31 + l * 17) % 5000)::text, 5, '0'),
       1 + (o.id + l) % 9,
       round((((o.id * 13 + l * 101) % 50000) / 100.0)::numeric, 2) + 0.99
  FROM sales.orders o, generate_series(1, 1 + (o.id % 3)::int) AS l;

INSERT INTO audit.measurements (sensor_id, recorded_on, reading, ok)
SELECT 1 + i % 40,
       date '2023-01-01' + i % 731,
       CASE WHEN i % 31 = 0 THEN NULL ELSE sin(i) * 1000 + i / 3.0 END,
       CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN true ELSE false END
  FROM generate_series(1, 20000) AS i;

INSERT INTO audit.measurements (sensor_id, recorded_on, reading, ok) VALUES
    (0, '2023-06-30', 'NaN', NULL),
    (0, '2023-07-01', 'Infinity', true),
    (0, '2024-02-29', '-Infinity', false),
    (0, '2024-12-31', '-0', true),
    (0, '2024-01-01', 1.7976931348623157e308, true),
    (0, '2023-01-01', 5e-324, false);

INSERT INTO public.text_samples (label, body, payload) VALUES
    ('empty', '', '\x'),
    ('null', NULL, NULL),
    ('emoji', '👩‍👩‍👧‍👦 family, 𝄞 clef, 𠜎 cjk ext-b', '\xf09f8e89'),
    ('quotes', 'single '' double " backtick `', '\x27'),
    ('escapes', E'back\\slash \\N tab\tnewline\ncarriage\rend', '\x5c4e'),
    ('control', E'bell\x07 escape\x1b unit\x1f', '\x00'),
    ('rtl', 'שלום عليكم', '\xfffefdfc'),
    ('combining', 'e' || chr(769) || ' vs é, zero' || chr(8203) || 'width', '\xc328'),
    ('copy-markers', E'\\.\n\\.', '\x5c2e0a'),
    ('all-bytes', 'every byte value', (SELECT string_agg(set_byte('\x00'::bytea, 0, b), ''::bytea ORDER BY b)
                                         FROM generate_series(0, 255) AS b));

CREATE TRIGGER orders_audit
    AFTER UPDATE OR DELETE ON sales.orders
    FOR EACH ROW EXECUTE FUNCTION audit.record_change();

-- Fire the trigger so the audit table holds rows produced by it.
UPDATE sales.orders SET status = 'shipped' WHERE id % 100 = 1 AND status = 'paid';
DELETE FROM sales.orders WHERE id % 5000 = 1;

CREATE VIEW sales.paid_orders AS
SELECT o.id, o.invoice_no, c.name AS customer, o.total, o.ordered_at
  FROM sales.orders o JOIN public.customers c ON c.id = o.customer_id
 WHERE o.status = 'paid';

CREATE MATERIALIZED VIEW sales.customer_totals AS
SELECT customer_id, count(*) AS orders, sum(total) AS spent, public.customer_tier(sum(total)) AS tier
  FROM sales.orders
 GROUP BY customer_id;
CREATE UNIQUE INDEX customer_totals_customer_key ON sales.customer_totals (customer_id);

-- Leave sequences at values no fresh database would have.
SELECT nextval('sales.invoice_no_seq') FROM generate_series(1, 3);
SELECT setval(pg_get_serial_sequence('sales.orders', 'id'), 45678);
"#;

const MUTATION: &str = r#"
UPDATE public.customers SET name = name || ' (renamed)', balance = balance + 1 WHERE id % 97 = 0;
UPDATE sales.orders SET status = 'refunded' WHERE id % 211 = 0;
DELETE FROM public.customers WHERE id % 499 = 0;
DELETE FROM audit.measurements WHERE sensor_id = 7;
INSERT INTO public.customers (external_id, name, created_at)
SELECT md5('late-customer-' || i)::uuid, 'Late ' || i, now() FROM generate_series(1, 50) AS i;
INSERT INTO sales.orders (customer_id, status, ordered_at, total)
SELECT 1 + i, 'pending', now(), i FROM generate_series(1, 25) AS i;
INSERT INTO audit.measurements (sensor_id, recorded_on, reading) VALUES (999, '2024-06-01', 1.5);
UPDATE public.text_samples SET payload = '\xdead' WHERE label = 'empty';
SELECT nextval('public.ticket_seq');
SELECT nextval('sales.invoice_no_seq') FROM generate_series(1, 10);
ALTER TABLE sales.orders ADD COLUMN discount numeric(5, 2) DEFAULT 0;
CREATE TABLE public.wishlist (id serial PRIMARY KEY, customer_id bigint REFERENCES public.customers (id), sku text);
INSERT INTO public.wishlist (customer_id, sku) VALUES (2, 'SKU-00001'), (3, 'SKU-00002');
CREATE VIEW public.active_customers AS SELECT id, name FROM public.customers WHERE is_active;
REFRESH MATERIALIZED VIEW sales.customer_totals;
"#;
