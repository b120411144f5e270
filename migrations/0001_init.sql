-- Berth's own state: users, sessions, settings, endpoints, audit log.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'admin',
    created_at    INTEGER NOT NULL
);

-- Only a hash of the session token is stored: a leaked database does not leak live sessions.
CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    endpoint_id INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE endpoints (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    url        TEXT    NOT NULL,
    tls_mode   TEXT    NOT NULL DEFAULT 'none',
    from_flags INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    username TEXT,
    client   TEXT,
    endpoint TEXT,
    action   TEXT    NOT NULL,
    target   TEXT,
    outcome  TEXT    NOT NULL
);
CREATE INDEX audit_at ON audit(at);
