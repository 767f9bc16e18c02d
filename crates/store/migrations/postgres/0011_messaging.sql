-- Meddelandehantering (on a member node): the outbox (signed envelopes with their encrypted payloads,
-- delivery state, the verified receipt) and the inbox (received messages, decrypted, with the receipt
-- this node gave). The message id is the primary key on both sides: a second delivery is a no-op.
CREATE TABLE msg_outbox (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    recipient_node TEXT NOT NULL,
    message_type TEXT NOT NULL,
    version TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    ciphertext BYTEA NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_error TEXT,
    receipt TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX msg_outbox_due ON msg_outbox (status, next_attempt_at);

CREATE TABLE msg_inbox (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    sender_node TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_type TEXT NOT NULL,
    version TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    case_id TEXT,
    envelope TEXT NOT NULL,
    payload TEXT NOT NULL,
    receipt TEXT NOT NULL,
    received_at TEXT NOT NULL,
    acked_at TEXT,
    seq BIGINT NOT NULL
);
CREATE INDEX msg_inbox_unacked ON msg_inbox (acked_at, seq);
