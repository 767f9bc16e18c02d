-- Mina meddelanden, what goes back to a letter's sender.

-- In the mailbox: first openings of letters whose sender asked for a signed receipt wait here with
-- receipt '{}' until the operator's node has made and sent the receipt (then it holds what the node said).
-- A receipt the node could not make yet is asked for again after `next_at` (backing off by `attempts`).
ALTER TABLE mail_receipts ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mail_receipts ADD COLUMN next_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX mail_receipts_pending ON mail_receipts (next_at) WHERE receipt = '{}';

-- In the mailbox: replies written to letters that allow them, each handed to the operator's node once
-- (sent_message is the messaging id it went as; NULL while waiting).
CREATE TABLE mail_replies (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_message TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_replies_message ON mail_replies (message_id, created_at);
CREATE INDEX mail_replies_pending ON mail_replies (next_at) WHERE sent_message IS NULL;

-- On a mailbox operator's node: the signed receipts it made for letters it took (opened, returned), each
-- once, with the message that carried it back to the sender ('' while being made).
CREATE TABLE mail_operator_receipts (
    letter_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    receipt TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (letter_id, kind)
);

-- On a sending node: a letter's receipts and replies come back in its conversation.
CREATE INDEX msg_inbox_conversation ON msg_inbox (conversation_id, message_type);
