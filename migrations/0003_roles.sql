-- Roles are an allow-list: admin, operator, viewer. Until now any other word in users.role
-- read as full power and the column defaulted to 'admin'. SQLite cannot add a CHECK to a
-- column, so the table is rebuilt. A word outside the list becomes 'viewer' (the least power
-- that can still log in): an unknown word is never carried over as power. New rows default to
-- 'viewer'; the first admin is created with 'admin' explicitly.
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'viewer'
                  CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    INTEGER NOT NULL
);
INSERT INTO users_new (id, username, password_hash, role, created_at)
    SELECT id, username, password_hash,
           CASE WHEN role IN ('admin', 'operator', 'viewer') THEN role ELSE 'viewer' END,
           created_at
    FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
