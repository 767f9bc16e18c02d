-- Spårbarhet: the transparency log. Leaves hold the canonical event bytes; nodes hold the hash of every
-- perfect subtree (level 0 = leaf hashes); checkpoints are the signed notes, one per appended batch.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL            -- compare-and-set by every appending transaction
);
CREATE TABLE audit_leaves (
    idx BIGINT PRIMARY KEY,
    data BYTEA NOT NULL,              -- RFC 8785 canonical JSON of the event: the leaf bytes
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
CREATE TABLE audit_subjects (
    subject TEXT NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (subject, idx)
);
CREATE TABLE audit_nodes (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);
-- Witnessing: the latest checkpoint this node cosigned for each other log (origin).
CREATE TABLE audit_witnessed (
    origin TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    vkey TEXT NOT NULL
);
