-- Mina meddelanden. FaR, the recipient registry: who receives digital mail (a person, 12 digits, or an
-- organisation, 16 + 10 digits) at which mailbox operator (a federation member's entity id); the senders
-- each recipient blocks; every change as the statement its signer signed, with the signature; a
-- company's changes waiting for more signatories. The built-in mailbox: messages delivered to this
-- installation's operator, each viewer's read mark and folder, and the receipts sent for them.
-- Times are unix seconds.
-- Keyed by the id itself (WITHOUT ROWID): reachability probes 10 000 random ids a call, each one descent
-- of one B-tree instead of the key's index and then the table.
CREATE TABLE mail_recipients (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    operator TEXT NOT NULL,
    status TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX mail_recipients_operator ON mail_recipients (operator);

CREATE TABLE mail_blocked_senders (
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    blocked_at BIGINT NOT NULL,
    PRIMARY KEY (sender, recipient)
) WITHOUT ROWID;
CREATE INDEX mail_blocked_recipient ON mail_blocked_senders (recipient);

CREATE TABLE mail_changes (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    change_key TEXT NOT NULL,
    signer TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    -- NULL while the change waits for more signatures; the time it took effect.
    applied_at BIGINT
);
CREATE INDEX mail_changes_recipient ON mail_changes (recipient, signed_at);
CREATE INDEX mail_changes_pending ON mail_changes (recipient, change_key) WHERE applied_at IS NULL;

CREATE TABLE mail_messages (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    subject TEXT NOT NULL,
    case_id TEXT,
    recipient_only BIGINT NOT NULL,
    reply_allowed BIGINT NOT NULL,
    receipt TEXT NOT NULL,
    -- JSON: body, format, language, support, objects, documents with actions, attachments, the sender's
    -- signature and the intermediary's seal.
    content TEXT NOT NULL,
    -- The id of the delivery that brought it (a repeated delivery is the same message).
    delivery_ref TEXT NOT NULL,
    in_reply_to TEXT,
    received_at BIGINT NOT NULL,
    expires_at BIGINT,
    first_opened_at BIGINT
);
CREATE UNIQUE INDEX mail_messages_delivery ON mail_messages (delivery_ref);
CREATE INDEX mail_messages_recipient ON mail_messages (recipient, received_at, id);
CREATE INDEX mail_messages_expiry ON mail_messages (expires_at);

CREATE TABLE mail_marks (
    message_id TEXT NOT NULL,
    viewer TEXT NOT NULL,
    read_at BIGINT,
    folder TEXT NOT NULL,
    PRIMARY KEY (message_id, viewer)
);

CREATE TABLE mail_receipts (
    message_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    receipt TEXT NOT NULL,
    PRIMARY KEY (message_id, kind)
);

-- On a sending node: each letter its systems sent, with where it went (the messaging outbox row that
-- carries it) or why it went on paper; a system's idempotency key makes a repeated submission the same
-- letter (the row is claimed before anything is sent).
CREATE TABLE mail_sent (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT,
    message_id TEXT,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    operator TEXT,
    read_by_representatives BIGINT NOT NULL,
    paper_reason TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_sent_created ON mail_sent (created_at, id);
CREATE UNIQUE INDEX mail_sent_idempotency ON mail_sent (idempotency_key);
