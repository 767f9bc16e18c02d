-- Mina ärenden's events (an outbox written in the same transaction as the change it tells of; an event
-- waits until its case's visibleFrom), the subscriptions of organisations' systems for a party, and one
-- delivery per subscription and event, in the order the single dispatcher (who holds the lease) made them.
CREATE TABLE case_events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    type TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    visible_at BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX case_events_due ON case_events (visible_at) WHERE dispatched_at IS NULL;

CREATE TABLE case_subscriptions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    party TEXT NOT NULL,
    party_kind TEXT NOT NULL,
    types TEXT NOT NULL,
    delivery TEXT NOT NULL,
    webhook TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_subscriptions_party ON case_subscriptions (party);
CREATE INDEX case_subscriptions_owner ON case_subscriptions (owner, created_at, id);

CREATE TABLE case_deliveries (
    seq BIGSERIAL PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    delivery TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    delivered_at BIGINT,
    failure TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX case_deliveries_due ON case_deliveries (next_at) WHERE delivered_at IS NULL;
CREATE INDEX case_deliveries_stream ON case_deliveries (subscription_id, seq);

CREATE TABLE case_dispatch_lease (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_at BIGINT NOT NULL
);
INSERT INTO case_dispatch_lease (name, holder, until_at) VALUES ('events', '', 0);
