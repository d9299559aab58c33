-- Backline benchmark: mixed-data generator for MariaDB (>= 10.10: RANDOM_BYTES,
-- UUID type, SEQUENCE engine).
--
-- Run once against an EMPTY database (bench/backup_throughput.sh does this):
--   mariadb backline_bench < bench/gen_mysql.sql
-- then, until the database reaches the wanted size (two sessions in parallel):
--   CALL bench_unit(<scale>);         -- scale 1.0 adds ~10 MiB
-- and at the end:
--   CALL bench_finalize('<marker>');  -- FKs, view, function, trigger, event, marker
--   then DROP the bench_* helper routines and the _bench_vocabulary table.
--
-- Same data model and mix as gen_pg.sql: Zipf-distributed words from an
-- 8000-entry pseudo vocabulary, random numerics/dates/uuids, JSON documents
-- with varied keys, and BLOBs (~65% random bytes, ~35% text-like).
--
-- Speed notes: a random word is ELT(k, 'w1', ..., 'w8000') (O(1)); a per-row
-- text of random length is a GROUP_CONCAT over a join with
-- a SEQUENCE table seq_1_to_<max words>. The 110 KB ELT
-- expression is built once per session into @bench_wexpr and used through
-- PREPARE.

SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

CREATE TABLE _bench_vocabulary (id INT PRIMARY KEY, word VARCHAR(32) NOT NULL) ENGINE=InnoDB;

INSERT INTO _bench_vocabulary
SELECT w.seq,
  CONCAT(
    ELT(1 + CONV(SUBSTR(h, 1, 2), 16, 10) % 30, 'b','c','d','f','g','h','j','k','l','m','n','p','r','s','t','v','w','y','z','st','tr','ch','sh','th','pl','br','cr','gr','fl','sp'),
    ELT(1 + CONV(SUBSTR(h, 3, 2), 16, 10) % 20, 'a','e','i','o','u','a','e','i','o','ai','ea','ou','ie','y','er','an','en','in','on','ar'),
    IF(n >= 1, CONCAT(
      ELT(1 + CONV(SUBSTR(h, 5, 2), 16, 10) % 30, 'b','c','d','f','g','h','j','k','l','m','n','p','r','s','t','v','w','y','z','st','tr','ch','sh','th','pl','br','cr','gr','fl','sp'),
      ELT(1 + CONV(SUBSTR(h, 7, 2), 16, 10) % 20, 'a','e','i','o','u','a','e','i','o','ai','ea','ou','ie','y','er','an','en','in','on','ar')), ''),
    IF(n >= 2, CONCAT(
      ELT(1 + CONV(SUBSTR(h, 9, 2), 16, 10) % 30, 'b','c','d','f','g','h','j','k','l','m','n','p','r','s','t','v','w','y','z','st','tr','ch','sh','th','pl','br','cr','gr','fl','sp'),
      ELT(1 + CONV(SUBSTR(h, 11, 2), 16, 10) % 20, 'a','e','i','o','u','a','e','i','o','ai','ea','ou','ie','y','er','an','en','in','on','ar')), ''),
    IF(n >= 3, CONCAT(
      ELT(1 + CONV(SUBSTR(h, 13, 2), 16, 10) % 30, 'b','c','d','f','g','h','j','k','l','m','n','p','r','s','t','v','w','y','z','st','tr','ch','sh','th','pl','br','cr','gr','fl','sp'),
      ELT(1 + CONV(SUBSTR(h, 15, 2), 16, 10) % 20, 'a','e','i','o','u','a','e','i','o','ai','ea','ou','ie','y','er','an','en','in','on','ar')), ''),
    ELT(1 + CONV(SUBSTR(h, 17, 2), 16, 10) % 12, '','','','s','n','r','t','l','d','ng','ck','x'))
FROM (SELECT seq, MD5(CONCAT('w', seq)) AS h,
             LEAST(3, (seq > 30) + (seq > 400) + CONV(SUBSTR(MD5(CONCAT('w', seq)), 21, 1), 16, 10) % 2) AS n
      FROM seq_1_to_8000) AS w;

-- ---------------------------------------------------------------------------
-- Schema (secondary indexes from the start, so the size check in the load
-- loop already includes them).
-- ---------------------------------------------------------------------------
CREATE TABLE customers (
  id             BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  public_id      UUID          NOT NULL,
  full_name      VARCHAR(200)  NOT NULL,
  email          VARCHAR(255)  NOT NULL,
  country        CHAR(2)       NOT NULL,
  city           VARCHAR(100),
  phone          VARCHAR(32),
  created_at     DATETIME(6)   NOT NULL,
  balance        DECIMAL(14,2) NOT NULL,
  loyalty_points INT           NOT NULL,
  is_active      BOOLEAN       NOT NULL,
  notes          TEXT,
  UNIQUE KEY customers_public_id_key (public_id),
  KEY customers_email_idx (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE orders (
  id               BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  customer_id      BIGINT UNSIGNED NOT NULL,
  order_no         VARCHAR(40)   NOT NULL,
  status           ENUM('pending','paid','shipped','delivered','cancelled','refunded') NOT NULL,
  currency         CHAR(3)       NOT NULL,
  subtotal         DECIMAL(12,2) NOT NULL,
  tax              DECIMAL(12,2) NOT NULL,
  total            DECIMAL(12,2) NOT NULL,
  item_count       SMALLINT      NOT NULL,
  created_at       DATETIME(6)   NOT NULL,
  shipped_at       DATETIME(6),
  shipping_address VARCHAR(300),
  comment          TEXT,
  KEY orders_customer_id_idx (customer_id),
  KEY orders_created_at_idx (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE events (
  id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  occurred_at DATETIME(6)     NOT NULL,
  kind        VARCHAR(20)     NOT NULL,
  customer_id BIGINT UNSIGNED,
  session_id  UUID            NOT NULL,
  client_ip   VARCHAR(45),
  payload     JSON            NOT NULL,
  KEY events_occurred_at_idx (occurred_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE documents (
  id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  author_id    BIGINT UNSIGNED NOT NULL,
  slug         VARCHAR(300)  NOT NULL,
  title        VARCHAR(300)  NOT NULL,
  body         MEDIUMTEXT    NOT NULL,
  tags         JSON          NOT NULL,
  language     CHAR(2)       NOT NULL,
  word_count   INT           NOT NULL,
  rating       FLOAT,
  published_at DATETIME(6),
  updated_at   DATETIME(6)   NOT NULL,
  KEY documents_author_id_idx (author_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE attachments (
  id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  document_id BIGINT UNSIGNED NOT NULL,
  file_name   VARCHAR(300)  NOT NULL,
  mime_type   VARCHAR(100)  NOT NULL,
  byte_size   INT           NOT NULL,
  md5         CHAR(32)      NOT NULL,
  content     MEDIUMBLOB    NOT NULL,
  created_at  DATETIME(6)   NOT NULL,
  KEY attachments_document_id_idx (document_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE metrics (
  id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  sensor_id   INT           NOT NULL,
  recorded_at DATETIME(6)   NOT NULL,
  temperature DECIMAL(5,2)  NOT NULL,
  humidity    DECIMAL(5,2)  NOT NULL,
  pressure    DECIMAL(7,2)  NOT NULL,
  battery     SMALLINT      NOT NULL,
  status      SMALLINT      NOT NULL,
  KEY metrics_sensor_time_idx (sensor_id, recorded_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DELIMITER //

-- bench_txt(c, n, minw, maxw): fill _bench_txt(c, g=1..n, txt) with texts of
-- minw + floor(RAND()^2 * (maxw-minw+1)) words each (skewed towards short).
CREATE PROCEDURE bench_txt(IN p_c INT, IN p_n INT, IN p_minw INT, IN p_maxw INT)
BEGIN
  IF @bench_wexpr IS NULL THEN
    SET SESSION group_concat_max_len = 16777216;
    SELECT CONCAT('ELT(FLOOR(EXP(RAND() * ', LN(8000.999), ')), ',
                  GROUP_CONCAT(QUOTE(word) ORDER BY id SEPARATOR ','), ')')
      INTO @bench_wexpr FROM _bench_vocabulary;
  END IF;
  -- the word-position table is exactly seq_1_to_<maxw>, so even a block
  -- nested loop join costs at most n * maxw comparisons
  SET @bench_txt_sql = CONCAT(
    'INSERT INTO _bench_txt (c, g, txt) SELECT ?, l.g, GROUP_CONCAT(', @bench_wexpr,
    ' SEPARATOR '' '') FROM _bench_len l JOIN seq_1_to_', p_maxw, ' k',
    ' ON k.seq <= l.n GROUP BY l.g');
  TRUNCATE TABLE _bench_len;
  INSERT INTO _bench_len (g, n)
    SELECT seq, p_minw + FLOOR(POW(RAND(), 2) * (p_maxw - p_minw + 1))
    FROM seq_1_to_100000000 WHERE seq <= p_n;
  SET @bench_c = p_c;
  PREPARE bench_txt_stmt FROM @bench_txt_sql;
  EXECUTE bench_txt_stmt USING @bench_c;
  DEALLOCATE PREPARE bench_txt_stmt;
END //

CREATE PROCEDURE bench_unit(IN s DOUBLE)
BEGIN
  DECLARE n_cust INT DEFAULT GREATEST(1, ROUND(1500 * s));
  DECLARE n_ord  INT DEFAULT GREATEST(1, ROUND(8000 * s));
  DECLARE n_evt  INT DEFAULT GREATEST(1, ROUND(8000 * s));
  DECLARE n_doc  INT DEFAULT GREATEST(1, ROUND(1000 * s));
  DECLARE n_att  INT DEFAULT GREATEST(1, ROUND(300 * s));
  DECLARE n_met  INT DEFAULT GREATEST(1, ROUND(20000 * s));
  DECLARE max_cust BIGINT;
  DECLARE max_doc  BIGINT;

  SET SESSION unique_checks = 0, foreign_key_checks = 0;
  CREATE TEMPORARY TABLE IF NOT EXISTS _bench_len (g INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB;
  CREATE TEMPORARY TABLE IF NOT EXISTS _bench_txt (c TINYINT, g INT, txt MEDIUMTEXT,
                                                   PRIMARY KEY (c, g)) ENGINE=InnoDB;
  TRUNCATE TABLE _bench_txt;

  -- texts: 1 customer words, 2 customer notes, 3 order words, 4 order comments,
  -- 5 event words, 6 doc titles, 7 doc bodies, 8 doc tags, 9 attachment names
  CALL bench_txt(1, n_cust, 4, 4);
  CALL bench_txt(2, n_cust, 5, 44);
  CALL bench_txt(3, n_ord, 2, 2);
  CALL bench_txt(4, n_ord, 3, 27);
  CALL bench_txt(5, n_evt, 10, 10);
  CALL bench_txt(6, n_doc, 3, 10);
  CALL bench_txt(7, n_doc, 40, 600);
  CALL bench_txt(8, n_doc, 1, 5);
  CALL bench_txt(9, n_att, 2, 2);

  START TRANSACTION;
  INSERT INTO customers (public_id, full_name, email, country, city, phone, created_at, balance,
                         loyalty_points, is_active, notes)
  SELECT UUID(),
         CONCAT(CONCAT(UPPER(LEFT(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 1), ' ', -1), 1)), SUBSTRING(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 1), ' ', -1), 2)), ' ', CONCAT(UPPER(LEFT(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 2), ' ', -1), 1)), SUBSTRING(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 2), ' ', -1), 2))),
         CONCAT(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 1), ' ', -1), '.', SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 2), ' ', -1), a.g % 997, '@', SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 3), ' ', -1),
                ELT(1 + FLOOR(RAND() * 7), '.com','.net','.org','.io','.de','.fr','.co.uk')),
         ELT(1 + FLOOR(RAND() * RAND() * 14), 'US','DE','FR','GB','NL','ES','IT','PL','SE','BR','IN','JP','CA','AU'),
         CONCAT(UPPER(LEFT(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 4), ' ', -1), 1)), SUBSTRING(SUBSTRING_INDEX(SUBSTRING_INDEX(a.txt, ' ', 4), ' ', -1), 2)),
         CONCAT('+', 1 + FLOOR(RAND() * 98), ' ', LPAD(FLOOR(RAND() * 1e9), 9, '0')),
         TIMESTAMP'2016-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 284000000000000) MICROSECOND,
         ROUND(RAND() * RAND() * 20000 - 500, 2),
         FLOOR(RAND() * RAND() * 50000),
         RAND() < 0.92,
         IF(RAND() < 0.35, b.txt, NULL)
  FROM _bench_txt a JOIN _bench_txt b ON b.c = 2 AND b.g = a.g
  WHERE a.c = 1;
  COMMIT;

  SELECT MAX(id) INTO max_cust FROM customers;

  START TRANSACTION;
  INSERT INTO orders (customer_id, order_no, status, currency, subtotal, tax, total, item_count,
                      created_at, shipped_at, shipping_address, comment)
  SELECT 1 + FLOOR(RAND() * max_cust),
         CONCAT('ORD-', DATE_FORMAT(x.ts, '%Y%m%d'), '-', UPPER(LEFT(MD5(RAND()), 8))),
         x.st,
         ELT(1 + FLOOR(RAND() * 8), 'USD','EUR','EUR','GBP','USD','USD','SEK','PLN'),
         x.sub, ROUND(x.sub * 0.19, 2), ROUND(x.sub * 1.19, 2),
         x.items,
         x.ts,
         IF(x.st IN ('shipped', 'delivered'), x.ts + INTERVAL FLOOR(RAND() * 864000000000) MICROSECOND, NULL),
         CONCAT(1 + FLOOR(RAND() * 9999), ' ', CONCAT(UPPER(LEFT(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 1), ' ', -1), 1)), SUBSTRING(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 1), ' ', -1), 2)), ' ',
                ELT(1 + FLOOR(RAND() * 7), 'Street','Road','Avenue','Lane','Way','Platz','Straat'),
                ', ', LPAD(FLOOR(RAND() * 99999), 5, '0'), ' ', CONCAT(UPPER(LEFT(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 2), ' ', -1), 1)), SUBSTRING(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 2), ' ', -1), 2))),
         IF(RAND() < 0.25, x.cm, NULL)
  FROM (SELECT a.txt AS w, b.txt AS cm,
               TIMESTAMP'2016-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 284000000000000) MICROSECOND AS ts,
               ELT(1 + FLOOR(RAND() * 9), 'pending','paid','paid','shipped','delivered','delivered',
                   'delivered','cancelled','refunded') AS st,
               ROUND(5 + RAND() * RAND() * 900, 2) AS sub,
               1 + FLOOR(RAND() * RAND() * 12) AS items
        FROM _bench_txt a JOIN _bench_txt b ON b.c = 4 AND b.g = a.g
        WHERE a.c = 3) AS x;
  COMMIT;

  START TRANSACTION;
  INSERT INTO events (occurred_at, kind, customer_id, session_id, client_ip, payload)
  SELECT x.ts, x.kind,
         IF(RAND() < 0.8, 1 + FLOOR(RAND() * max_cust), NULL),
         UUID(),
         IF(RAND() < 0.9, CONCAT(1 + FLOOR(RAND() * 222), '.', FLOOR(RAND() * 256), '.',
                                 FLOOR(RAND() * 256), '.', FLOOR(RAND() * 256)), NULL),
         JSON_MERGE_PATCH('{}', JSON_OBJECT(
           'path', CONCAT('/', SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 1), ' ', -1), '/', SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 2), ' ', -1)),
           'referrer', IF(RAND() < 0.4, CONCAT('https://', SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 3), ' ', -1), '.example/', SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 4), ' ', -1)), NULL),
           'duration_ms', FLOOR(RAND() * RAND() * 8000),
           'http_status', CAST(ELT(1 + FLOOR(RAND() * 15), 200,200,200,200,200,201,204,301,302,400,401,403,404,500,503) AS UNSIGNED),
           'user_agent', ELT(1 + FLOOR(RAND() * 7),
               'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
               'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
               'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
               'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
               'curl/8.5.0', 'okhttp/4.12.0', 'python-requests/2.31.0'),
           'amount', IF(x.kind = 'purchase', ROUND(RAND() * 500, 2), NULL),
           'items', IF(x.kind IN ('purchase', 'cart_add'),
                       IF(RAND() < 0.5,
                          JSON_ARRAY(JSON_OBJECT('sku', UPPER(LEFT(MD5(RAND()), 10)), 'qty', 1 + FLOOR(RAND() * 4),
                                                 'price', ROUND(RAND() * 200, 2))),
                          JSON_ARRAY(JSON_OBJECT('sku', UPPER(LEFT(MD5(RAND()), 10)), 'qty', 1 + FLOOR(RAND() * 4),
                                                 'price', ROUND(RAND() * 200, 2)),
                                     JSON_OBJECT('sku', UPPER(LEFT(MD5(RAND()), 10)), 'qty', 1 + FLOOR(RAND() * 4),
                                                 'price', ROUND(RAND() * 200, 2), 'gift', RAND() < 0.1))),
                       NULL),
           'error', IF(x.kind = 'error',
                       JSON_OBJECT('code', CONCAT('E', 1000 + FLOOR(RAND() * 9000)),
                                   'message', CONCAT(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 5), ' ', -1), ' ', SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 6), ' ', -1), ' ', SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 7), ' ', -1), ' failed'),
                                   'retryable', RAND() < 0.5),
                       NULL),
           'tags', IF(RAND() < 0.5,
                      JSON_ARRAY(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 3), ' ', -1), SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 4), ' ', -1), SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 5), ' ', -1)), NULL),
           'geo', IF(RAND() < 0.6,
                     JSON_OBJECT('lat', ROUND(RAND() * 180 - 90, 4), 'lon', ROUND(RAND() * 360 - 180, 4),
                                 'city', CONCAT(UPPER(LEFT(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 8), ' ', -1), 1)), SUBSTRING(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 8), ' ', -1), 2))),
                     NULL),
           'experiment', IF(RAND() < 0.2,
                            JSON_OBJECT(SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 9), ' ', -1), ELT(1 + FLOOR(RAND() * 3), 'control', 'variant_a', 'variant_b')),
                            NULL),
           SUBSTRING_INDEX(SUBSTRING_INDEX(x.w, ' ', 10), ' ', -1), IF(RAND() < 0.3, FLOOR(RAND() * 100000), NULL)))
  FROM (SELECT a.txt AS w,
               TIMESTAMP'2016-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 284000000000000) MICROSECOND AS ts,
               ELT(1 + FLOOR(RAND() * 12), 'page_view','page_view','page_view','click','click','search',
                   'login','logout','cart_add','purchase','error','api_call') AS kind
        FROM _bench_txt a WHERE a.c = 5) AS x;
  COMMIT;

  START TRANSACTION;
  INSERT INTO documents (author_id, slug, title, body, tags, language, word_count, rating,
                         published_at, updated_at)
  SELECT 1 + FLOOR(RAND() * max_cust),
         CONCAT(REPLACE(t.txt, ' ', '-'), '-', LEFT(MD5(RAND()), 6)),
         CONCAT(UPPER(LEFT(t.txt, 1)), SUBSTRING(t.txt, 2)),
         b.txt,
         CONCAT('["', REPLACE(g.txt, ' ', '","'), '"]'),
         ELT(1 + FLOOR(RAND() * 8), 'en','en','en','de','fr','es','nl','sv'),
         LENGTH(b.txt) - LENGTH(REPLACE(b.txt, ' ', '')) + 1,
         IF(RAND() < 0.7, ROUND(1 + RAND() * 4, 1), NULL),
         IF(RAND() < 0.85, x.ts, NULL),
         x.ts + INTERVAL FLOOR(RAND() * 34560000000000) MICROSECOND
  FROM _bench_txt t
  JOIN _bench_txt b ON b.c = 7 AND b.g = t.g
  JOIN _bench_txt g ON g.c = 8 AND g.g = t.g
  JOIN (SELECT seq, TIMESTAMP'2016-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 284000000000000) MICROSECOND AS ts
        FROM seq_1_to_100000000 WHERE seq <= n_doc) AS x ON x.seq = t.g
  WHERE t.c = 6;
  COMMIT;

  SELECT MAX(id) INTO max_doc FROM documents;

  -- attachment text bodies need per-row word counts: reuse bench_txt with a
  -- fixed range and cut to size (sz/9 words ~ sz bytes).
  CALL bench_txt(10, n_att, 56, 1390);

  START TRANSACTION;
  INSERT INTO attachments (document_id, file_name, mime_type, byte_size, md5, content, created_at)
  SELECT 1 + FLOOR(RAND() * max_doc),
         CONCAT(REPLACE(y.fname, ' ', '_'),
                IF(y.bin, ELT(y.k, '.png', '.jpg', '.pdf', '.zip'), ELT(y.k, '.txt', '.csv', '.md', '.log'))),
         IF(y.bin, ELT(y.k, 'image/png', 'image/jpeg', 'application/pdf', 'application/zip'),
                   ELT(y.k, 'text/plain', 'text/csv', 'text/markdown', 'text/plain')),
         LENGTH(y.c), MD5(y.c), y.c,
         TIMESTAMP'2016-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 284000000000000) MICROSECOND
  FROM (SELECT f.txt AS fname, z.bin, z.k,
               IF(z.bin,
                  LEFT(CONCAT(RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
                              RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024),
                              RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024)),
                       512 + FLOOR(POW(RAND(), 2) * 12000)),
                  CAST(tx.txt AS BINARY)) AS c
        FROM _bench_txt f
        JOIN _bench_txt tx ON tx.c = 10 AND tx.g = f.g
        JOIN (SELECT seq, RAND() < 0.65 AS bin, 1 + FLOOR(RAND() * 4) AS k
              FROM seq_1_to_100000000 WHERE seq <= n_att) AS z ON z.seq = f.g
        WHERE f.c = 9) AS y;
  COMMIT;

  START TRANSACTION;
  INSERT INTO metrics (sensor_id, recorded_at, temperature, humidity, pressure, battery, status)
  SELECT 1 + FLOOR(RAND() * 2000),
         TIMESTAMP'2016-01-01 00:00:00' + INTERVAL FLOOR(RAND() * 284000000000000) MICROSECOND,
         ROUND(12 + RAND() * 18, 2),
         ROUND(20 + RAND() * 70, 2),
         ROUND(980 + RAND() * 60, 2),
         100 - FLOOR(RAND() * RAND() * 100),
         IF(RAND() < 0.97, 0, 1 + FLOOR(RAND() * 5))
  FROM seq_1_to_100000000 WHERE seq <= n_met;
  COMMIT;
END //

CREATE PROCEDURE bench_finalize(IN p_marker VARCHAR(100))
BEGIN
  SET SESSION foreign_key_checks = 0;
  ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);
  ALTER TABLE events ADD CONSTRAINT events_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);
  ALTER TABLE documents ADD CONSTRAINT documents_author_fk
    FOREIGN KEY (author_id) REFERENCES customers (id);
  ALTER TABLE attachments ADD CONSTRAINT attachments_document_fk
    FOREIGN KEY (document_id) REFERENCES documents (id);
  SET SESSION foreign_key_checks = 1;

  CREATE TABLE backline_bench_meta (`key` VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL)
    ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
  INSERT INTO backline_bench_meta VALUES ('marker', p_marker), ('completed_at', NOW(6));
END //

DELIMITER ;

-- Objects that make `--routines --triggers --events` dump something.
CREATE VIEW customer_order_stats AS
  SELECT c.id, c.full_name, c.country, COUNT(o.id) AS orders, COALESCE(SUM(o.total), 0) AS revenue
  FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
  GROUP BY c.id, c.full_name, c.country;

CREATE FUNCTION customer_lifetime_value(cid BIGINT UNSIGNED) RETURNS DECIMAL(14,2)
  READS SQL DATA
  RETURN (SELECT COALESCE(SUM(total), 0) FROM orders
          WHERE customer_id = cid AND status NOT IN ('cancelled', 'refunded'));

CREATE TRIGGER documents_touch BEFORE UPDATE ON documents
  FOR EACH ROW SET NEW.updated_at = NOW(6);

CREATE EVENT purge_old_metrics ON SCHEDULE EVERY 1 DAY DISABLE
  DO DELETE FROM metrics WHERE recorded_at < NOW() - INTERVAL 10 YEAR;
