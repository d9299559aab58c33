//! Proves the fixture and fingerprint helpers are not trivially true: the fixture is big and
//! rich, a fingerprint is stable, it notices mutations down to a single byte, and it still
//! matches after an independent dump/restore round trip with the engines' own tools.

use std::time::Instant;

use sqlx::Connection;

use crate::support::{mysql, pg};

const MIN_ROWS: i64 = 100_000;

/// Rows in tables that hold their own data (partitioned parents and views would double count).
fn stored_rows(fingerprint: &pg::Fingerprint, skip: &[&str]) -> i64 {
    fingerprint
        .row_counts
        .iter()
        .filter(|(name, _)| !skip.contains(&name.as_str()))
        .map(|(_, count)| *count)
        .sum()
}

#[tokio::test]
async fn pg_fixture_is_large_and_rich() {
    let db = pg::TempDb::create("selftest_pg_rich").await;
    let started = Instant::now();
    pg::load_rich_fixture(db.name()).await;
    let loaded = started.elapsed();
    let started = Instant::now();
    let fingerprint = pg::fingerprint(db.name()).await;
    eprintln!(
        "pg: load_rich_fixture {loaded:?}, fingerprint {:?}",
        started.elapsed()
    );

    let rows = stored_rows(
        &fingerprint,
        &["audit.measurements", "sales.customer_totals"],
    );
    assert!(
        rows >= MIN_ROWS,
        "only {rows} rows: {:?}",
        fingerprint.row_counts
    );
    for (table, count) in &fingerprint.row_counts {
        assert!(*count > 0, "{table} is empty");
    }
    for table in [
        "public.customers",
        "public.text_samples",
        "sales.orders",
        "sales.order_items",
        "audit.change_log",
        "audit.measurements",
        "audit.measurements_2023",
        "audit.measurements_2024",
        "sales.customer_totals",
    ] {
        assert!(fingerprint.tables.contains_key(table), "{table} not seen");
    }
    for sequence in [
        "sales.invoice_no_seq",
        "public.ticket_seq",
        "sales.orders_id_seq",
        "public.customers_id_seq",
    ] {
        assert!(
            fingerprint.sequences.contains_key(sequence),
            "{sequence} not seen: {:?}",
            fingerprint.sequences
        );
    }
    assert_eq!(fingerprint.sequences["public.ticket_seq"], 500);
    assert_eq!(fingerprint.sequences["sales.orders_id_seq"], 45679);
    for ddl in [
        "CREATE TYPE sales.order_status AS ENUM",
        "CREATE TYPE public.postal_address AS (",
        "CREATE DOMAIN public.email_address",
        "CREATE FUNCTION audit.record_change()",
        "CREATE TRIGGER orders_audit",
        "CREATE VIEW sales.paid_orders",
        "CREATE MATERIALIZED VIEW sales.customer_totals",
        "PARTITION BY RANGE (recorded_on)",
        "line_total numeric(14,2) GENERATED ALWAYS AS (",
        "ON DELETE CASCADE",
        "WHERE (status = 'pending'::sales.order_status)",
        "COMMENT ON TABLE public.customers",
    ] {
        assert!(
            fingerprint.schema.contains(ddl),
            "schema lacks `{ddl}`:\n{}",
            fingerprint.schema
        );
    }
    assert!(
        !fingerprint.schema.contains("\\restrict"),
        "per-run pg_dump noise left in the schema text"
    );
}

#[tokio::test]
async fn pg_fingerprint_is_stable_and_sees_every_kind_of_change() {
    let db = pg::TempDb::create("selftest_pg_mutate").await;
    pg::load_rich_fixture(db.name()).await;
    let before = pg::fingerprint(db.name()).await;
    let again = pg::fingerprint(db.name()).await;
    before.assert_same(&again, "the same PostgreSQL database fingerprinted twice");

    pg::mutate(db.name()).await;
    let after = pg::fingerprint(db.name()).await;
    assert_ne!(before.tables, after.tables, "row changes not seen");
    assert_ne!(
        before.row_counts, after.row_counts,
        "inserts/deletes not seen"
    );
    assert_ne!(
        before.sequences, after.sequences,
        "sequence advance not seen"
    );
    assert_ne!(before.schema, after.schema, "schema changes not seen");
    assert!(after.tables.contains_key("public.wishlist"));
    assert!(after.schema.contains("CREATE VIEW public.active_customers"));
    assert!(after.schema.contains("discount numeric(5,2)"));
}

#[tokio::test]
async fn pg_fingerprint_sees_a_single_byte() {
    let db = pg::TempDb::create("selftest_pg_byte").await;
    pg::load_rich_fixture(db.name()).await;
    let before = pg::fingerprint(db.name()).await;

    let mut conn = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    // 0xff -> 0xfe in the last byte of a non-UTF-8 payload.
    sqlx::query("UPDATE public.text_samples SET payload = '\\xfffefdfd' WHERE label = 'rtl'")
        .execute(&mut conn)
        .await
        .unwrap();
    let after = pg::fingerprint(db.name()).await;
    let differences = before.differences(&after);
    assert_eq!(
        differences.len(),
        1,
        "exactly the one table should differ: {differences:#?}"
    );
    assert!(differences[0].contains("public.text_samples"));

    // A sequence step alone is seen, too.
    sqlx::query("SELECT nextval('public.ticket_seq')")
        .execute(&mut conn)
        .await
        .unwrap();
    let stepped = pg::fingerprint(db.name()).await;
    assert_eq!(stepped.sequences["public.ticket_seq"], 501);
    conn.close().await.ok();
}

#[tokio::test]
async fn pg_dump_round_trip_keeps_the_fingerprint() {
    let original = pg::TempDb::create("selftest_pg_orig").await;
    let copy = pg::TempDb::create("selftest_pg_copy").await;
    pg::load_rich_fixture(original.name()).await;
    let started = Instant::now();
    pg::copy_with_pg_dump(original.name(), copy.name()).await;
    eprintln!("pg: pg_dump | psql {:?}", started.elapsed());

    let expected = pg::fingerprint(original.name()).await;
    let actual = pg::fingerprint(copy.name()).await;
    expected.assert_same(&actual, "pg_dump | psql copy");
}

#[tokio::test]
async fn mysql_fixture_is_large_and_rich() {
    let db = mysql::TempDb::create("selftest_my_rich").await;
    let started = Instant::now();
    mysql::load_rich_fixture(db.name()).await;
    let loaded = started.elapsed();
    let started = Instant::now();
    let fingerprint = mysql::fingerprint(db.name()).await;
    eprintln!(
        "mysql: load_rich_fixture {loaded:?}, fingerprint {:?}",
        started.elapsed()
    );

    let rows = stored_rows(&fingerprint, &[]);
    assert!(
        rows >= MIN_ROWS,
        "only {rows} rows: {:?}",
        fingerprint.row_counts
    );
    for (table, count) in &fingerprint.row_counts {
        assert!(*count > 0, "{table} is empty");
    }
    assert_eq!(fingerprint.sequences["orders"], 1_000_000);
    assert_eq!(fingerprint.sequences["ticket_seq"], 502);
    assert!(fingerprint.sequences.contains_key("invoice_seq"));
    for ddl in [
        "-- table customers",
        "AS (substring_index(`email`,'@',-1)) VIRTUAL",
        "`permissions` bit(10)",
        "`flags` set('newsletter','beta','vip','staff')",
        "`balance` decimal(30,10)",
        "`last_login` timestamp(6)",
        "`member_since` year(4)",
        "`content` longblob",
        "ON DELETE CASCADE",
        "AUTO_INCREMENT=1000000",
        "-- view customer_order_summary",
        "-- sequence invoice_seq",
        "-- trigger trg_orders_status_audit",
        "-- function customer_tier",
        "-- procedure cancel_stale_orders",
        "-- event purge_old_audit (DISABLED",
    ] {
        assert!(
            fingerprint.schema.contains(ddl),
            "schema lacks `{ddl}`:\n{}",
            fingerprint.schema
        );
    }
}

#[tokio::test]
async fn mysql_fingerprint_is_stable_and_sees_every_kind_of_change() {
    let db = mysql::TempDb::create("selftest_my_mutate").await;
    mysql::load_rich_fixture(db.name()).await;
    let before = mysql::fingerprint(db.name()).await;
    let again = mysql::fingerprint(db.name()).await;
    before.assert_same(&again, "the same MariaDB database fingerprinted twice");

    mysql::mutate(db.name()).await;
    let after = mysql::fingerprint(db.name()).await;
    assert_ne!(before.tables, after.tables, "row changes not seen");
    assert_ne!(
        before.row_counts, after.row_counts,
        "inserts/deletes not seen"
    );
    assert_ne!(
        before.sequences, after.sequences,
        "sequence advance not seen"
    );
    assert_ne!(before.schema, after.schema, "schema changes not seen");
    assert!(after.tables.contains_key("wishlist"));
    assert!(after.schema.contains("-- view active_customers"));
    assert!(after.schema.contains("-- procedure touch_customer"));
    assert!(after.schema.contains("`discount` decimal(5,2)"));
}

#[tokio::test]
async fn mysql_fingerprint_sees_a_single_byte() {
    let db = mysql::TempDb::create("selftest_my_byte").await;
    mysql::load_rich_fixture(db.name()).await;
    let before = mysql::fingerprint(db.name()).await;

    let mut conn = sqlx::MySqlConnection::connect(&db.url()).await.unwrap();
    // 0xfc -> 0xfd in the last byte of a non-UTF-8 payload.
    sqlx::query("UPDATE text_samples SET payload = X'FFFEFDFD' WHERE label = 'rtl'")
        .execute(&mut conn)
        .await
        .unwrap();
    let after = mysql::fingerprint(db.name()).await;
    let differences = before.differences(&after);
    assert_eq!(
        differences.len(),
        1,
        "exactly the one table should differ: {differences:#?}"
    );
    assert!(differences[0].contains("text_samples"));

    // Trailing spaces are data in VARCHAR; a text comparison could miss them.
    sqlx::query("UPDATE text_samples SET body = CONCAT(body, ' ') WHERE label = 'quotes'")
        .execute(&mut conn)
        .await
        .unwrap();
    let spaced = mysql::fingerprint(db.name()).await;
    assert_ne!(after.tables["text_samples"], spaced.tables["text_samples"]);
    conn.close().await.ok();
}

#[tokio::test]
async fn mariadb_dump_round_trip_keeps_the_fingerprint() {
    let original = mysql::TempDb::create("selftest_my_orig").await;
    mysql::load_rich_fixture(original.name()).await;
    let expected = mysql::fingerprint(original.name()).await;
    let started = Instant::now();
    mysql::reload_with_mariadb_dump(original.name()).await;
    eprintln!("mysql: mariadb-dump | mariadb {:?}", started.elapsed());
    let actual = mysql::fingerprint(original.name()).await;
    expected.assert_same(&actual, "mariadb-dump --databases, dropped, reloaded");
}
