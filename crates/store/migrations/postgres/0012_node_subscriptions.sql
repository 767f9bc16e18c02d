-- A member node's webhook subscriptions (its systems' event deliveries), kept across restarts.
CREATE TABLE node_subscriptions (
    id TEXT PRIMARY KEY,
    types TEXT NOT NULL,
    webhook TEXT NOT NULL,
    created_at TEXT NOT NULL
);
