-- A member node's webhook events that did not get through at the first attempt: kept until they are
-- delivered or given up, so the retries outlive a restart.
CREATE TABLE node_webhook_queue (
    id TEXT PRIMARY KEY,
    webhook TEXT NOT NULL,
    body TEXT NOT NULL,
    signature TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
