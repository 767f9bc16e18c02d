-- Indexering: subscriptions per category, and the change feed they read. A change is recorded only for
-- a category someone subscribes to; its object is sealed (ChaCha20-Poly1305 under a key derived from the
-- pseudonym key), so the table alone does not say whom it is about. Changes are kept 30 days.
CREATE TABLE index_subscriptions (
    id TEXT PRIMARY KEY,
    member TEXT NOT NULL,
    organisation TEXT NOT NULL,
    category TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (member, category)
);
CREATE INDEX index_subscriptions_category ON index_subscriptions (category);
CREATE TABLE index_changes (
    seq BIGSERIAL PRIMARY KEY,
    category TEXT NOT NULL,
    kind TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_sealed BYTEA NOT NULL,
    holder TEXT NOT NULL,
    address TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX index_changes_category ON index_changes (category, seq);
