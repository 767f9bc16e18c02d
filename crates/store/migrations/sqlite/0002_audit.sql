-- Spårbarhet: the transparency log. Leaves hold the canonical event bytes; nodes hold the hash of every
-- perfect subtree (level 0 = leaf hashes); checkpoints are the signed notes, one per appended batch.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL            -- compare-and-set by every appending transaction
);
CREATE TABLE audit_leaves (
    idx INTEGER PRIMARY KEY,
    data BLOB NOT NULL,              -- RFC 8785 canonical JSON of the event: the leaf bytes
    time TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    result TEXT NOT NULL,
    correlation_id TEXT
);
CREATE INDEX audit_leaves_correlation ON audit_leaves (correlation_id);
CREATE INDEX audit_leaves_actor ON audit_leaves (actor_id, idx);
CREATE INDEX audit_leaves_action ON audit_leaves (action, idx);
CREATE INDEX audit_leaves_time ON audit_leaves (time);
-- WITHOUT ROWID: these tables are their primary keys, so one clustered B-tree serves each lookup
-- (half the page reads of a rowid table plus index, and no second copy of the key).
CREATE TABLE audit_subjects (
    subject TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (subject, idx)
) WITHOUT ROWID;
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
-- Witnessing: the latest checkpoint this node cosigned for each other log (origin).
CREATE TABLE audit_witnessed (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    vkey TEXT NOT NULL
);
