-- Mina ombud: mandates (fullmakter), their approvals by signatories, and notices to the parties. Parties
-- are normalised identity or organisation numbers (12 digits); times are unix seconds.
CREATE TABLE repr_mandates (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    agent TEXT NOT NULL,
    -- JSON array of package ids.
    packages TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    -- NULL only when granted open-ended explicitly.
    valid_to BIGINT,
    may_delegate BIGINT NOT NULL,
    -- The mandate this one passes on (sub-delegation), and the party whose rights are passed.
    parent_id TEXT,
    grantor TEXT NOT NULL,
    -- requested, pending, active, declined, revoked
    status TEXT NOT NULL,
    required_approvals BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- An incomplete grant (pending) or an unanswered request lapses at this time.
    pending_until BIGINT,
    activated_at BIGINT,
    ended_at BIGINT,
    ended_by TEXT,
    expiry_noticed BIGINT NOT NULL DEFAULT 0
);
-- The check reads mandates between two parties; views read a party's by time; the expiry sweep reads
-- active, not yet noticed mandates by end time (a partial index, so the planner never prefers it for the
-- check — without statistics SQLite would otherwise scan every active mandate).
CREATE INDEX repr_mandates_agent ON repr_mandates (agent, principal, status);
CREATE INDEX repr_mandates_principal ON repr_mandates (principal, created_at);
CREATE INDEX repr_mandates_expiring ON repr_mandates (valid_to) WHERE status = 'active' AND expiry_noticed = 0;

CREATE TABLE repr_approvals (
    mandate_id TEXT NOT NULL,
    person TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (mandate_id, person)
);

CREATE TABLE repr_notices (
    id TEXT PRIMARY KEY,
    party TEXT NOT NULL,
    kind TEXT NOT NULL,
    mandate_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX repr_notices_party ON repr_notices (party, created_at);
