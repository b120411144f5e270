-- Stacks Berth holds the file of: one row per (endpoint, project), and every deployed version
-- of its file for the diff and the one-click rollback.
CREATE TABLE stacks (
    id          INTEGER PRIMARY KEY,
    endpoint_id INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (endpoint_id, name)
);

CREATE TABLE stack_versions (
    id          INTEGER PRIMARY KEY,
    stack_id    INTEGER NOT NULL REFERENCES stacks(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    compose     TEXT    NOT NULL,
    env         TEXT    NOT NULL DEFAULT '',
    deployed_by TEXT,
    deployed_at INTEGER NOT NULL,
    UNIQUE (stack_id, version)
);
