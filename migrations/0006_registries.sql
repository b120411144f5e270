-- Container registries and the credentials Berth uses with them. The secret is sealed
-- (ChaCha20-Poly1305) with a key kept in the data folder, not in this database: a copy of the
-- database alone does not give the passwords.
CREATE TABLE registries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    -- The registry's host as image references name it ("registry.example.com:5000", "docker.io").
    host        TEXT    NOT NULL UNIQUE,
    -- "https" or "http" (http only for loopback, as the engine allows).
    scheme      TEXT    NOT NULL DEFAULT 'https' CHECK (scheme IN ('https', 'http')),
    username    TEXT    NOT NULL DEFAULT '',
    secret      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
