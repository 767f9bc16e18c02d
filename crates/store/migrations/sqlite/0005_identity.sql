-- Identitet: server-side portal sessions and logins in progress. Cookie values are never stored, only
-- their SHA-256; times are unix seconds.
CREATE TABLE identity_sessions (
    id_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    name TEXT NOT NULL,
    loa INTEGER NOT NULL,
    provider TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE TABLE identity_logins (
    state TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    provider TEXT NOT NULL,
    return_to TEXT NOT NULL,
    min_loa INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
