-- Indexering: which holder (an organisation) keeps information of which category about which object.
-- The object is only its keyed hash (HMAC-SHA256 under the deployment's pseudonym key: 32 bytes); the
-- table alone does not say whom or what it is about. Finds read one object's rows: the key leads.
-- Times are unix seconds.
CREATE TABLE index_engagements (
    object_key BYTEA NOT NULL,
    category TEXT NOT NULL,
    holder TEXT NOT NULL,
    address TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    source TEXT,
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (object_key, category, holder)
);
CREATE INDEX index_engagements_holder ON index_engagements (holder, category);
