-- Backline benchmark: mixed-data generator for PostgreSQL (>= 13).
--
-- Run once against an EMPTY database (bench/backup_throughput.sh does this):
--   psql -v ON_ERROR_STOP=1 -d backline_bench -f bench/gen_pg.sql
-- then, until the database reaches the wanted size (two sessions in parallel):
--   CALL bench_gen.unit(<scale>);         -- scale 1.0 adds ~10 MiB
-- and at the end:
--   CALL bench_gen.finalize('<marker>');  -- FKs, view, function, trigger, marker
--   DROP SCHEMA bench_gen CASCADE; VACUUM ANALYZE;
--
-- Everything is generated server-side with generate_series()/random() so that a
-- 1 GiB database takes minutes on 2 cores. The data is deliberately MIXED so
-- that `pg_dump -Fc -Z0 | zstd -1` lands around 2-4x, like real databases:
--   * free text made of words drawn (Zipf-like) from an 8000-word pseudo
--     vocabulary (~3x with zstd -1),
--   * random numerics, timestamps, uuids, inet, arrays,
--   * jsonb documents with varied / optional keys,
--   * bytea: ~65% random bytes (incompressible), ~35% text-like.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE SCHEMA bench_gen;

-- ---------------------------------------------------------------------------
-- Vocabulary: 8000 deterministic pseudo-words (1-4 syllables + coda); low ids
-- are short, like frequent words in a natural language.
-- ---------------------------------------------------------------------------
CREATE TABLE bench_gen.vocabulary (id int PRIMARY KEY, word text NOT NULL);

INSERT INTO bench_gen.vocabulary
SELECT i,
       string_agg(
         (ARRAY['b','c','d','f','g','h','j','k','l','m','n','p','r','s','t','v','w','y','z',
                'st','tr','ch','sh','th','pl','br','cr','gr','fl','sp'])[1 + get_byte(h, j) % 30]
         || (ARRAY['a','e','i','o','u','a','e','i','o','ai','ea','ou','ie','y','er','an','en',
                   'in','on','ar'])[1 + get_byte(h, j + 4) % 20], '' ORDER BY j)
       || (ARRAY['','','','s','n','r','t','l','d','ng','ck','x'])[1 + get_byte(h, 10) % 12]
FROM generate_series(1, 8000) AS i
CROSS JOIN LATERAL (SELECT decode(md5('w' || i), 'hex') AS h) AS hh
CROSS JOIN LATERAL generate_series(0, LEAST(3, (i > 30)::int + (i > 400)::int + get_byte(h, 11) % 2)) AS j
GROUP BY i, h;

-- bench_gen.words(n): n space-separated words, word rank ~ log-uniform
-- (P(rank k) ~ 1/k, i.e. Zipf). The vocabulary is embedded as a fixed-width
-- bytea constant because substr() on bytea is O(1) (array subscripting of a
-- text[] is O(index) and ~5x slower).
DO $do$
BEGIN
  EXECUTE format($f$
    CREATE FUNCTION bench_gen.words(n int) RETURNS text
    LANGUAGE sql VOLATILE AS $b$
      SELECT array_to_string(ARRAY(
        SELECT rtrim(convert_from(substr(%L::bytea,
                      floor(exp(random() * %s))::int * 20 - 19, 20), 'UTF8'))
        FROM generate_series(1, n)), ' ')
    $b$ $f$,
    (SELECT string_agg(convert_to(rpad(word, 20), 'UTF8'), ''::bytea ORDER BY id)
       FROM bench_gen.vocabulary),
    ln(8000.999));
END
$do$;

-- Random bytes (md5 of random(): 16 bytes per call).
CREATE FUNCTION bench_gen.random_bytes(n int) RETURNS bytea
LANGUAGE sql VOLATILE AS $$
  SELECT substr(decode(string_agg(md5(random()::text), ''), 'hex'), 1, n)
  FROM generate_series(1, (n + 15) / 16)
$$;

-- ---------------------------------------------------------------------------
-- Schema. Secondary indexes exist from the start so that the size check in
-- the load loop (pg_database_size) already includes them.
-- ---------------------------------------------------------------------------
CREATE TABLE customers (
  id             bigserial PRIMARY KEY,
  public_id      uuid        NOT NULL DEFAULT gen_random_uuid(),
  full_name      text        NOT NULL,
  email          text        NOT NULL,
  country        char(2)     NOT NULL,
  city           text,
  phone          text,
  created_at     timestamptz NOT NULL,
  balance        numeric(14,2) NOT NULL,
  loyalty_points integer     NOT NULL,
  is_active      boolean     NOT NULL,
  notes          text
);
CREATE UNIQUE INDEX customers_public_id_key ON customers (public_id);
CREATE INDEX customers_email_idx ON customers (email);

CREATE TABLE orders (
  id               bigserial PRIMARY KEY,
  customer_id      bigint      NOT NULL,
  order_no         text        NOT NULL,
  status           text        NOT NULL,
  currency         char(3)     NOT NULL,
  subtotal         numeric(12,2) NOT NULL,
  tax              numeric(12,2) NOT NULL,
  total            numeric(12,2) NOT NULL,
  item_count       smallint    NOT NULL,
  created_at       timestamptz NOT NULL,
  shipped_at       timestamptz,
  shipping_address text,
  comment          text
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_created_at_idx ON orders (created_at);

CREATE TABLE events (
  id          bigserial PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  kind        text        NOT NULL,
  customer_id bigint,
  session_id  uuid        NOT NULL,
  client_ip   inet,
  payload     jsonb       NOT NULL
);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);

CREATE TABLE documents (
  id           bigserial PRIMARY KEY,
  author_id    bigint      NOT NULL,
  slug         text        NOT NULL,
  title        text        NOT NULL,
  body         text        NOT NULL,
  tags         text[]      NOT NULL,
  language     char(2)     NOT NULL,
  word_count   integer     NOT NULL,
  rating       real,
  published_at timestamptz,
  updated_at   timestamptz NOT NULL
);
CREATE INDEX documents_author_id_idx ON documents (author_id);

CREATE TABLE attachments (
  id          bigserial PRIMARY KEY,
  document_id bigint      NOT NULL,
  file_name   text        NOT NULL,
  mime_type   text        NOT NULL,
  byte_size   integer     NOT NULL,
  md5         text        NOT NULL,
  content     bytea       NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX attachments_document_id_idx ON attachments (document_id);

CREATE TABLE metrics (
  id          bigserial PRIMARY KEY,
  sensor_id   integer     NOT NULL,
  recorded_at timestamptz NOT NULL,
  temperature numeric(5,2) NOT NULL,
  humidity    numeric(5,2) NOT NULL,
  pressure    numeric(7,2) NOT NULL,
  battery     smallint    NOT NULL,
  status      smallint    NOT NULL
);
CREATE INDEX metrics_sensor_time_idx ON metrics (sensor_id, recorded_at);

-- ---------------------------------------------------------------------------
-- One load unit: scale 1.0 ~ 10 MiB of database size (rows + TOAST + indexes).
-- Two sessions may run units concurrently.
-- LATERAL (... OFFSET 0) subqueries keep each row's random values stable when
-- they are referenced several times.
-- ---------------------------------------------------------------------------
CREATE PROCEDURE bench_gen.unit(s numeric)
LANGUAGE plpgsql AS $$
DECLARE
  n_cust int := GREATEST(1, round(1500 * s));
  n_ord  int := GREATEST(1, round(8000 * s));
  n_evt  int := GREATEST(1, round(8000 * s));
  n_doc  int := GREATEST(1, round(1000 * s));
  n_att  int := GREATEST(1, round(300 * s));
  n_met  int := GREATEST(1, round(20000 * s));
  max_cust bigint;
  max_doc  bigint;
BEGIN
  INSERT INTO customers (full_name, email, country, city, phone, created_at, balance,
                         loyalty_points, is_active, notes)
  SELECT initcap(w[1]) || ' ' || initcap(w[2]),
         w[1] || '.' || w[2] || (g % 997) || '@' || w[3]
           || (ARRAY['.com','.net','.org','.io','.de','.fr','.co.uk'])[1 + floor(random() * 7)::int],
         (ARRAY['US','DE','FR','GB','NL','ES','IT','PL','SE','BR','IN','JP','CA','AU'])
           [1 + floor(random() * random() * 14)::int],
         initcap(w[4]),
         '+' || (1 + floor(random() * 98)) || ' ' || lpad(floor(random() * 1e9)::bigint::text, 9, '0'),
         timestamptz '2016-01-01 00:00:00+00' + random() * interval '3287 days',
         round((random() * random() * 20000 - 500)::numeric, 2),
         floor(random() * random() * 50000)::int,
         random() < 0.92,
         CASE WHEN random() < 0.35 THEN bench_gen.words(5 + floor(random() * 40)::int) END
  FROM generate_series(1, n_cust) AS g,
       LATERAL (SELECT string_to_array(bench_gen.words(4 + 0 * g), ' ') AS w OFFSET 0) AS x;

  SELECT max(id) INTO max_cust FROM customers;

  INSERT INTO orders (customer_id, order_no, status, currency, subtotal, tax, total, item_count,
                      created_at, shipped_at, shipping_address, comment)
  SELECT 1 + floor(random() * max_cust)::bigint,
         'ORD-' || to_char(ts, 'YYYYMMDD') || '-' || upper(substr(md5(random()::text), 1, 8)),
         st,
         (ARRAY['USD','EUR','EUR','GBP','USD','USD','SEK','PLN'])[1 + floor(random() * 8)::int],
         sub, round(sub * 0.19, 2), round(sub * 1.19, 2),
         items,
         ts,
         CASE WHEN st IN ('shipped', 'delivered') THEN ts + random() * interval '10 days' END,
         (1 + floor(random() * 9999)) || ' ' || initcap(w[1]) || ' '
           || (ARRAY['Street','Road','Avenue','Lane','Way','Platz','Straat'])[1 + floor(random() * 7)::int]
           || ', ' || lpad(floor(random() * 99999)::int::text, 5, '0') || ' ' || initcap(w[2]),
         CASE WHEN random() < 0.25 THEN bench_gen.words(3 + floor(random() * 25)::int) END
  FROM generate_series(1, n_ord) AS g,
       LATERAL (SELECT string_to_array(bench_gen.words(2 + 0 * g), ' ') AS w,
                       timestamptz '2016-01-01 00:00:00+00' + random() * interval '3287 days' AS ts,
                       (ARRAY['pending','paid','paid','shipped','delivered','delivered','delivered',
                              'cancelled','refunded'])[1 + floor(random() * 9)::int] AS st,
                       round((5 + random() * random() * 900)::numeric, 2) AS sub,
                       (1 + floor(random() * random() * 12))::int AS items
                OFFSET 0) AS x;

  INSERT INTO events (occurred_at, kind, customer_id, session_id, client_ip, payload)
  SELECT ts, kind,
         CASE WHEN random() < 0.8 THEN 1 + floor(random() * max_cust)::bigint END,
         gen_random_uuid(),
         CASE WHEN random() < 0.9 THEN
           ((1 + floor(random() * 222)) || '.' || floor(random() * 256) || '.'
             || floor(random() * 256) || '.' || floor(random() * 256))::inet END,
         jsonb_strip_nulls(jsonb_build_object(
           'path', '/' || w[1] || '/' || w[2],
           'referrer', CASE WHEN random() < 0.4 THEN 'https://' || w[3] || '.example/' || w[4] END,
           'duration_ms', floor(random() * random() * 8000)::int,
           'http_status', (ARRAY[200,200,200,200,200,201,204,301,302,400,401,403,404,500,503])
                            [1 + floor(random() * 15)::int],
           'user_agent', (ARRAY[
               'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
               'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
               'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
               'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
               'curl/8.5.0', 'okhttp/4.12.0', 'python-requests/2.31.0'])[1 + floor(random() * 7)::int],
           'amount', CASE WHEN kind = 'purchase' THEN round((random() * 500)::numeric, 2) END,
           'items', CASE WHEN kind IN ('purchase', 'cart_add') THEN
                      jsonb_build_array(
                        jsonb_build_object('sku', upper(substr(md5(random()::text), 1, 10)),
                                           'qty', 1 + floor(random() * 4)::int,
                                           'price', round((random() * 200)::numeric, 2)),
                        CASE WHEN random() < 0.5 THEN
                          jsonb_build_object('sku', upper(substr(md5(random()::text), 1, 10)),
                                             'qty', 1 + floor(random() * 4)::int,
                                             'price', round((random() * 200)::numeric, 2),
                                             'gift', random() < 0.1) END) END,
           'error', CASE WHEN kind = 'error' THEN
                      jsonb_build_object('code', 'E' || (1000 + floor(random() * 9000)),
                                         'message', w[5] || ' ' || w[6] || ' ' || w[7] || ' failed',
                                         'retryable', random() < 0.5) END,
           'tags', CASE WHEN random() < 0.5 THEN to_jsonb(w[3:3 + floor(random() * 4)::int]) END,
           'geo', CASE WHEN random() < 0.6 THEN
                    jsonb_build_object('lat', round((random() * 180 - 90)::numeric, 4),
                                       'lon', round((random() * 360 - 180)::numeric, 4),
                                       'city', initcap(w[8])) END,
           'experiment', CASE WHEN random() < 0.2 THEN
                           jsonb_build_object(w[9], (ARRAY['control','variant_a','variant_b'])
                                                      [1 + floor(random() * 3)::int]) END,
           w[10], CASE WHEN random() < 0.3 THEN floor(random() * 100000)::int END))
  FROM generate_series(1, n_evt) AS g,
       LATERAL (SELECT string_to_array(bench_gen.words(10 + 0 * g), ' ') AS w,
                       timestamptz '2016-01-01 00:00:00+00' + random() * interval '3287 days' AS ts,
                       (ARRAY['page_view','page_view','page_view','click','click','search','login',
                              'logout','cart_add','purchase','error','api_call'])
                         [1 + floor(random() * 12)::int] AS kind
                OFFSET 0) AS x;

  INSERT INTO documents (author_id, slug, title, body, tags, language, word_count, rating,
                         published_at, updated_at)
  SELECT 1 + floor(random() * max_cust)::bigint,
         replace(title, ' ', '-') || '-' || substr(md5(random()::text), 1, 6),
         initcap(title), body,
         string_to_array(bench_gen.words(1 + floor(random() * 5)::int), ' '),
         (ARRAY['en','en','en','de','fr','es','nl','sv'])[1 + floor(random() * 8)::int],
         nw,
         CASE WHEN random() < 0.7 THEN round((1 + random() * 4)::numeric, 1) END,
         CASE WHEN random() < 0.85 THEN ts END,
         ts + random() * interval '400 days'
  FROM generate_series(1, n_doc) AS g,
       LATERAL (SELECT bench_gen.words(3 + floor(random() * 8)::int + 0 * g) AS title,
                       (40 + floor(power(random(), 2) * 561))::int AS nw,
                       timestamptz '2016-01-01 00:00:00+00' + random() * interval '3287 days' AS ts
                OFFSET 0) AS a,
       LATERAL (SELECT bench_gen.words(a.nw) AS body OFFSET 0) AS b;

  SELECT max(id) INTO max_doc FROM documents;

  INSERT INTO attachments (document_id, file_name, mime_type, byte_size, md5, content, created_at)
  SELECT 1 + floor(random() * max_doc)::bigint,
         replace(b.fname, ' ', '_') || CASE WHEN a.bin THEN (ARRAY['.png','.jpg','.pdf','.zip'])[a.k]
                                             ELSE (ARRAY['.txt','.csv','.md','.log'])[a.k] END,
         CASE WHEN a.bin THEN (ARRAY['image/png','image/jpeg','application/pdf','application/zip'])[a.k]
              ELSE (ARRAY['text/plain','text/csv','text/markdown','text/plain'])[a.k] END,
         length(b.c), md5(b.c), b.c,
         timestamptz '2016-01-01 00:00:00+00' + random() * interval '3287 days'
  FROM generate_series(1, n_att) AS g,
       LATERAL (SELECT random() < 0.65 AS bin,
                       (512 + floor(power(random(), 2) * 12000))::int + 0 * g AS sz,
                       1 + floor(random() * 4)::int AS k
                OFFSET 0) AS a,
       LATERAL (SELECT CASE WHEN a.bin THEN bench_gen.random_bytes(a.sz)
                            ELSE convert_to(bench_gen.words(a.sz / 9), 'UTF8') END AS c,
                       bench_gen.words(2) AS fname
                OFFSET 0) AS b;

  INSERT INTO metrics (sensor_id, recorded_at, temperature, humidity, pressure, battery, status)
  SELECT 1 + floor(random() * 2000)::int,
         timestamptz '2016-01-01 00:00:00+00' + random() * interval '3287 days',
         round((12 + random() * 18)::numeric, 2),
         round((20 + random() * 70)::numeric, 2),
         round((980 + random() * 60)::numeric, 2),
         (100 - floor(random() * random() * 100))::smallint,
         (CASE WHEN random() < 0.97 THEN 0 ELSE 1 + floor(random() * 5) END)::smallint
  FROM generate_series(1, n_met) AS g;
END
$$;

-- ---------------------------------------------------------------------------
-- Finalize: constraints, a view, a function and a trigger (so dumps carry some
-- DDL) and the completion marker.
-- ---------------------------------------------------------------------------
CREATE PROCEDURE bench_gen.finalize(marker text)
LANGUAGE plpgsql AS $$
BEGIN
  ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);
  ALTER TABLE events ADD CONSTRAINT events_customer_fk
    FOREIGN KEY (customer_id) REFERENCES customers (id);
  ALTER TABLE documents ADD CONSTRAINT documents_author_fk
    FOREIGN KEY (author_id) REFERENCES customers (id);
  ALTER TABLE attachments ADD CONSTRAINT attachments_document_fk
    FOREIGN KEY (document_id) REFERENCES documents (id);

  CREATE VIEW customer_order_stats AS
    SELECT c.id, c.full_name, c.country, count(o.id) AS orders, coalesce(sum(o.total), 0) AS revenue
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
    GROUP BY c.id;

  CREATE FUNCTION customer_lifetime_value(cid bigint) RETURNS numeric
  LANGUAGE sql STABLE AS 'SELECT coalesce(sum(total), 0) FROM orders WHERE customer_id = cid AND status NOT IN (''cancelled'', ''refunded'')';

  CREATE FUNCTION documents_touch() RETURNS trigger
  LANGUAGE plpgsql AS 'BEGIN NEW.updated_at := now(); RETURN NEW; END';
  CREATE TRIGGER documents_touch BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_touch();

  CREATE TABLE backline_bench_meta (key text PRIMARY KEY, value text NOT NULL);
  INSERT INTO backline_bench_meta VALUES ('marker', marker), ('completed_at', now()::text);
  -- the caller drops schema bench_gen afterwards (not from inside its own procedure)
END
$$;
