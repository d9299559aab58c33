-- People and tokens. Their secrets live here, beside the ledger and never in it: argon2id hashes
-- of passwords (principal = a user id) and sha256 hashes of API tokens (principal = a token id).
CREATE TABLE credentials
(
    principal_id text PRIMARY KEY,
    hash         text NOT NULL,
    -- Unix seconds of the last request made with it (tokens), NULL when never used.
    last_used_at bigint
);
-- UI sessions: the sha256 of the cookie's secret, the user, the CSRF token the session's writes
-- must send back, and when it began and was last used (unix seconds, for the absolute and idle
-- expiries).
CREATE TABLE sessions
(
    id_hash      text PRIMARY KEY,
    user_id      text NOT NULL,
    csrf         text NOT NULL,
    created_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
-- Read models of users and tokens.
CREATE TABLE rm_users
(
    id       text PRIMARY KEY,
    username text NOT NULL,
    body     text NOT NULL
);
CREATE TABLE rm_tokens
(
    id   text PRIMARY KEY,
    body text NOT NULL
);
-- The timeline filters by actor: rebuild it (and every read model sharing its checkpoint).
ALTER TABLE rm_timeline ADD COLUMN actor text;
CREATE INDEX rm_timeline_by_actor ON rm_timeline (actor, position);
DELETE FROM rm_timeline;
DELETE FROM rm_databases;
DELETE FROM rm_backups;
DELETE FROM rm_restores;
DELETE FROM rm_alerts;
DELETE FROM rm_channels;
UPDATE rm_checkpoints SET position = 0;
