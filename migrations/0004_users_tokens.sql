-- Users, sessions and API tokens for administration (issue 14).
--
-- users: ids are never reused (AUTOINCREMENT), so a session or token of a deleted user can never
-- name the next user created; users may be disabled, and a reset password must be changed at
-- the next login. SQLite cannot add AUTOINCREMENT to a table: it is rebuilt. Dropping the old
-- table would cascade to sessions, so they are kept aside and put back.
CREATE TABLE sessions_keep AS SELECT * FROM sessions;

CREATE TABLE users_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    username             TEXT    NOT NULL UNIQUE,
    password_hash        TEXT    NOT NULL,
    role                 TEXT    NOT NULL DEFAULT 'viewer'
                         CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at           INTEGER NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    last_login           INTEGER
);
INSERT INTO users_new (id, username, password_hash, role, created_at)
    SELECT id, username, password_hash, role, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- sessions: a number to name one by (list, revoke) without showing its hash, and where it
-- was opened from.
DROP TABLE sessions;
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT    NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    endpoint_id INTEGER,
    client      TEXT,
    user_agent  TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
INSERT INTO sessions (token_hash, user_id, created_at, last_seen, endpoint_id)
    SELECT token_hash, user_id, created_at, last_seen, endpoint_id FROM sessions_keep
    WHERE user_id IN (SELECT id FROM users);
DROP TABLE sessions_keep;

-- API tokens: only the SHA-256 of the token is stored; it is shown once, at creation.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used  INTEGER,
    UNIQUE (user_id, name)
);

-- The audit row of a call made with a token names the token.
ALTER TABLE audit ADD COLUMN token TEXT;
