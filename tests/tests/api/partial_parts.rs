//! Contents and partial restores of a multi-part version (a parallel backup): listed like the
//! single-stream version of the same database, and chosen tables restored from whichever
//! parts hold them, with the same guarantees as from one object.

use crate::helpers::spawn_app;
use crate::partial_restore::{pg_exec, pg_text};
use crate::support::pg;
use serde_json::{json, Value};

/// Sized so that a backup with two data parts puts `orders` (the largest table) in the first
/// and `order_items` and `customers` in the second: the two tables restored below come from
/// different parts.
const SHOP: &str = "
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers,
  total numeric(10,2) NOT NULL CHECK (total >= 0), note text);
CREATE INDEX orders_by_customer ON orders (customer_id);
CREATE TABLE order_items (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders,
  sku text NOT NULL);
CREATE VIEW order_totals AS SELECT customer_id, sum(total) AS total FROM orders GROUP BY 1;
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id, total, note)
  SELECT 1 + g % 50, g * 1.5, CASE WHEN g % 7 = 0 THEN NULL ELSE E'note\\t' || g END
  FROM generate_series(1, 4000) g;
INSERT INTO order_items (order_id, sku) SELECT 1 + g % 4000, 'sku-' || g FROM generate_series(1, 600) g;
";

/// After the backups: rows of the two chosen tables and of one other change, and a new table
/// references one of the chosen ones.
const LATER: &str = "
UPDATE orders SET total = total + 1, note = 'changed' WHERE id % 3 = 0;
UPDATE customers SET name = name || ' (renamed)' WHERE id <= 10;
UPDATE order_items SET sku = sku || '-later' WHERE id % 2 = 0;
CREATE TABLE added (id int PRIMARY KEY, customer_id int REFERENCES customers, v text);
INSERT INTO added VALUES (1, 3, 'new'), (2, 4, 'newer');
";

const CHOSEN: [&str; 2] = ["public.orders", "public.customers"];

/// Scratch databases of partial restores into `db` that are still there.
async fn scratch_left(db: &str) -> String {
    pg_text(
        "postgres",
        &format!(
            "SELECT count(*)::text FROM pg_database WHERE starts_with(datname, '{db}__partial_')"
        ),
    )
    .await
}

/// `pg_restore -l` of a stored (zstd-compressed) part.
fn part_listing(file: &std::path::Path) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{}' | '{}' -l",
            file.display(),
            pg::pg_bin("pg_restore")
        ))
        .output()
        .expect("zstd | pg_restore -l");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `expected` with the chosen tables' rows as in `version`.
fn with_rows_of(version: &pg::Fingerprint, mut expected: pg::Fingerprint) -> pg::Fingerprint {
    for t in CHOSEN {
        expected.tables.insert(t.into(), version.tables[t].clone());
        expected.row_counts.insert(t.into(), version.row_counts[t]);
    }
    expected
}

#[tokio::test]
async fn a_multi_part_version_lists_and_restores_tables_like_a_single_stream_one() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("partial_parts").await;
    pg_exec(db.name(), SHOP).await;
    let version = pg::fingerprint(db.name()).await;
    let id = app.register(db.name(), "postgres", &db.url()).await;
    let single = app.backup(&id).await;
    assert_eq!(single["status"], "completed", "{single}");
    let r = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"backup_jobs": 2}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let par = app.backup(&id).await;
    assert_eq!(par["status"], "completed", "{par}");
    let roles: Vec<&str> = par["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["pre-data", "data", "data", "post-data"], "{par}");
    let par_id = par["id"].as_str().expect("id").to_string();
    let root = app.data_dir.path().join("artifacts");
    let part = |i: usize| root.join(par["parts"][i]["key"].as_str().expect("key"));
    // The two tables restored below are in different data parts.
    assert!(part_listing(&part(1)).contains("TABLE DATA public orders "));
    assert!(part_listing(&part(2)).contains("TABLE DATA public customers "));

    // The same listing: schemas, tables with their rows, every other object.
    let one = app
        .get_json(&format!(
            "/api/v1/backups/{}/contents",
            single["id"].as_str().expect("id")
        ))
        .await;
    let parts = app
        .get_json(&format!("/api/v1/backups/{par_id}/contents"))
        .await;
    for field in ["engine", "schemas", "tables", "objects"] {
        assert_eq!(one[field], parts[field], "{field}: {one} / {parts}");
    }
    let rows: Vec<(String, Value)> = parts["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| (t["name"].as_str().expect("name").into(), t["rows"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            ("public.customers".to_string(), json!(50)),
            ("public.order_items".to_string(), json!(600)),
            ("public.orders".to_string(), json!(4000)),
        ]
    );
    let objects = parts["objects"].to_string();
    for o in [
        "order_totals",
        "orders_by_customer",
        "orders orders_customer_id_fkey",
        "order_items order_items_order_id_fkey",
    ] {
        assert!(objects.contains(o), "{o} in {objects}");
    }

    pg_exec(db.name(), LATER).await;
    let changed = pg::fingerprint(db.name()).await;
    assert_ne!(
        changed.tables["public.orders"],
        version.tables["public.orders"]
    );
    let r = app
        .restore(&par_id, json!({"target_database_id": id, "tables": CHOSEN}))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    // The chosen tables are the version's again (with their index, constraints and the view
    // that reads orders, as DDL); order_items and the added table, with the foreign keys
    // that reference the chosen tables, are as they were.
    let after = pg::fingerprint(db.name()).await;
    with_rows_of(&version, changed.clone()).assert_same(&after, "after the partial restore");
    assert_eq!(scratch_left(db.name()).await, "0");
    let started = app.events_of("RestoreStarted").await;
    let last = started.last().expect("RestoreStarted");
    assert_eq!(last["payload"]["backup_id"], par_id.as_str(), "{last}");
    assert_eq!(last["payload"]["selection"]["tables"], json!(CHOSEN));

    // Under a new name: a copy of the version's orders beside the current one.
    let r = app
        .restore(
            &par_id,
            json!({"target_database_id": id, "tables": ["public.orders"],
                   "rename": {"public.orders": "public.orders_copy"}}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    let mut renamed = pg::fingerprint(db.name()).await;
    assert_eq!(
        renamed.tables.remove("public.orders_copy"),
        Some(version.tables["public.orders"].clone())
    );
    assert_eq!(renamed.tables, after.tables);
    assert_eq!(
        renamed.sequences.remove("public.orders_copy_id_seq"),
        Some(4001)
    );
    assert_eq!(renamed.sequences, after.sequences);
    assert!(
        renamed
            .schema
            .contains("CREATE INDEX orders_copy_by_customer"),
        "{}",
        renamed.schema
    );
    assert_eq!(scratch_left(db.name()).await, "0");
    let started = app.events_of("RestoreStarted").await;
    let last = started.last().expect("RestoreStarted");
    assert_eq!(
        last["payload"]["selection"]["rename"]["public.orders"],
        "public.orders_copy"
    );
    pg_exec(db.name(), "DROP TABLE orders_copy").await;

    // A tampered data part: refused before anything is changed.
    let before = pg::fingerprint(db.name()).await;
    let victim = part(2);
    let mut bytes = std::fs::read(&victim).expect("part");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&victim, bytes).expect("part");
    let r = app
        .restore(
            &par_id,
            json!({"target_database_id": id, "tables": ["public.customers"]}),
        )
        .await;
    assert_eq!(r["status"], "failed", "{r}");
    let error = r["error"].to_string();
    assert!(error.contains("data-2") && error.contains("sha256"), "{r}");
    before.assert_same(&pg::fingerprint(db.name()).await, "after a refused restore");
    assert_eq!(scratch_left(db.name()).await, "0");
}
