-- One time convention for every table (issue "One edge for every block"): a time is an INTEGER of
-- unix time UTC — seconds, as the identity, representation and messaging-schedule columns already
-- were, or milliseconds in a column named `…_ms` where a latency is read from it (the outbox's status
-- times). The APIs still answer RFC 3339, converted in each block (`ena_core::time`). Each RFC 3339
-- TEXT column is replaced by an integer column filled from the text. The audit log's `time` stays the
-- event's own text: it is part of the signed entry.
--
-- A time written as `@<unix seconds>` (the plan's seed did) is read as those seconds. Written the same
-- way in both dialects (add, fill, drop, rename), so the two schemas stay one.
DROP INDEX msg_inbox_unacked;
ALTER TABLE plan_settings ADD COLUMN updated_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE plan_settings SET updated_at_unix = CASE WHEN updated_at LIKE '@%' THEN CAST(substr(updated_at, 2) AS INTEGER) ELSE CAST(strftime('%s', updated_at) AS INTEGER) END WHERE updated_at IS NOT NULL;
ALTER TABLE plan_settings DROP COLUMN updated_at;
ALTER TABLE plan_settings RENAME COLUMN updated_at_unix TO updated_at;
ALTER TABLE federation_agreements ADD COLUMN published_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE federation_agreements SET published_at_unix = CASE WHEN published_at LIKE '@%' THEN CAST(substr(published_at, 2) AS INTEGER) ELSE CAST(strftime('%s', published_at) AS INTEGER) END WHERE published_at IS NOT NULL;
ALTER TABLE federation_agreements DROP COLUMN published_at;
ALTER TABLE federation_agreements RENAME COLUMN published_at_unix TO published_at;
ALTER TABLE federation_applications ADD COLUMN created_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE federation_applications SET created_at_unix = CASE WHEN created_at LIKE '@%' THEN CAST(substr(created_at, 2) AS INTEGER) ELSE CAST(strftime('%s', created_at) AS INTEGER) END WHERE created_at IS NOT NULL;
ALTER TABLE federation_applications DROP COLUMN created_at;
ALTER TABLE federation_applications RENAME COLUMN created_at_unix TO created_at;
ALTER TABLE federation_applications ADD COLUMN decided_at_unix INTEGER;
UPDATE federation_applications SET decided_at_unix = CASE WHEN decided_at LIKE '@%' THEN CAST(substr(decided_at, 2) AS INTEGER) ELSE CAST(strftime('%s', decided_at) AS INTEGER) END WHERE decided_at IS NOT NULL;
ALTER TABLE federation_applications DROP COLUMN decided_at;
ALTER TABLE federation_applications RENAME COLUMN decided_at_unix TO decided_at;
ALTER TABLE federation_members ADD COLUMN updated_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE federation_members SET updated_at_unix = CASE WHEN updated_at LIKE '@%' THEN CAST(substr(updated_at, 2) AS INTEGER) ELSE CAST(strftime('%s', updated_at) AS INTEGER) END WHERE updated_at IS NOT NULL;
ALTER TABLE federation_members DROP COLUMN updated_at;
ALTER TABLE federation_members RENAME COLUMN updated_at_unix TO updated_at;
ALTER TABLE federation_statements ADD COLUMN revoked_at_unix INTEGER;
UPDATE federation_statements SET revoked_at_unix = CASE WHEN revoked_at LIKE '@%' THEN CAST(substr(revoked_at, 2) AS INTEGER) ELSE CAST(strftime('%s', revoked_at) AS INTEGER) END WHERE revoked_at IS NOT NULL;
ALTER TABLE federation_statements DROP COLUMN revoked_at;
ALTER TABLE federation_statements RENAME COLUMN revoked_at_unix TO revoked_at;
ALTER TABLE federation_certificates ADD COLUMN not_after_unix INTEGER NOT NULL DEFAULT 0;
UPDATE federation_certificates SET not_after_unix = CASE WHEN not_after LIKE '@%' THEN CAST(substr(not_after, 2) AS INTEGER) ELSE CAST(strftime('%s', not_after) AS INTEGER) END WHERE not_after IS NOT NULL;
ALTER TABLE federation_certificates DROP COLUMN not_after;
ALTER TABLE federation_certificates RENAME COLUMN not_after_unix TO not_after;
ALTER TABLE federation_certificates ADD COLUMN revoked_at_unix INTEGER;
UPDATE federation_certificates SET revoked_at_unix = CASE WHEN revoked_at LIKE '@%' THEN CAST(substr(revoked_at, 2) AS INTEGER) ELSE CAST(strftime('%s', revoked_at) AS INTEGER) END WHERE revoked_at IS NOT NULL;
ALTER TABLE federation_certificates DROP COLUMN revoked_at;
ALTER TABLE federation_certificates RENAME COLUMN revoked_at_unix TO revoked_at;
ALTER TABLE access_policies ADD COLUMN updated_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE access_policies SET updated_at_unix = CASE WHEN updated_at LIKE '@%' THEN CAST(substr(updated_at, 2) AS INTEGER) ELSE CAST(strftime('%s', updated_at) AS INTEGER) END WHERE updated_at IS NOT NULL;
ALTER TABLE access_policies DROP COLUMN updated_at;
ALTER TABLE access_policies RENAME COLUMN updated_at_unix TO updated_at;
ALTER TABLE addr_message_types ADD COLUMN created_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE addr_message_types SET created_at_unix = CASE WHEN created_at LIKE '@%' THEN CAST(substr(created_at, 2) AS INTEGER) ELSE CAST(strftime('%s', created_at) AS INTEGER) END WHERE created_at IS NOT NULL;
ALTER TABLE addr_message_types DROP COLUMN created_at;
ALTER TABLE addr_message_types RENAME COLUMN created_at_unix TO created_at;
ALTER TABLE addr_addresses ADD COLUMN updated_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE addr_addresses SET updated_at_unix = CASE WHEN updated_at LIKE '@%' THEN CAST(substr(updated_at, 2) AS INTEGER) ELSE CAST(strftime('%s', updated_at) AS INTEGER) END WHERE updated_at IS NOT NULL;
ALTER TABLE addr_addresses DROP COLUMN updated_at;
ALTER TABLE addr_addresses RENAME COLUMN updated_at_unix TO updated_at;
ALTER TABLE addr_changes ADD COLUMN at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE addr_changes SET at_unix = CASE WHEN at LIKE '@%' THEN CAST(substr(at, 2) AS INTEGER) ELSE CAST(strftime('%s', at) AS INTEGER) END WHERE at IS NOT NULL;
ALTER TABLE addr_changes DROP COLUMN at;
ALTER TABLE addr_changes RENAME COLUMN at_unix TO at;
ALTER TABLE msg_outbox ADD COLUMN created_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE msg_outbox SET created_at_ms = CASE WHEN created_at LIKE '@%' THEN CAST(substr(created_at, 2) AS INTEGER) * 1000 ELSE CAST(round((julianday(created_at) - 2440587.5) * 86400000) AS INTEGER) END WHERE created_at IS NOT NULL;
ALTER TABLE msg_outbox DROP COLUMN created_at;
ALTER TABLE msg_outbox ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE msg_outbox SET updated_at_ms = CASE WHEN updated_at LIKE '@%' THEN CAST(substr(updated_at, 2) AS INTEGER) * 1000 ELSE CAST(round((julianday(updated_at) - 2440587.5) * 86400000) AS INTEGER) END WHERE updated_at IS NOT NULL;
ALTER TABLE msg_outbox DROP COLUMN updated_at;
ALTER TABLE msg_inbox ADD COLUMN received_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE msg_inbox SET received_at_unix = CASE WHEN received_at LIKE '@%' THEN CAST(substr(received_at, 2) AS INTEGER) ELSE CAST(strftime('%s', received_at) AS INTEGER) END WHERE received_at IS NOT NULL;
ALTER TABLE msg_inbox DROP COLUMN received_at;
ALTER TABLE msg_inbox RENAME COLUMN received_at_unix TO received_at;
ALTER TABLE msg_inbox ADD COLUMN acked_at_unix INTEGER;
UPDATE msg_inbox SET acked_at_unix = CASE WHEN acked_at LIKE '@%' THEN CAST(substr(acked_at, 2) AS INTEGER) ELSE CAST(strftime('%s', acked_at) AS INTEGER) END WHERE acked_at IS NOT NULL;
ALTER TABLE msg_inbox DROP COLUMN acked_at;
ALTER TABLE msg_inbox RENAME COLUMN acked_at_unix TO acked_at;
ALTER TABLE node_subscriptions ADD COLUMN created_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE node_subscriptions SET created_at_unix = CASE WHEN created_at LIKE '@%' THEN CAST(substr(created_at, 2) AS INTEGER) ELSE CAST(strftime('%s', created_at) AS INTEGER) END WHERE created_at IS NOT NULL;
ALTER TABLE node_subscriptions DROP COLUMN created_at;
ALTER TABLE node_subscriptions RENAME COLUMN created_at_unix TO created_at;
ALTER TABLE node_webhook_queue ADD COLUMN created_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE node_webhook_queue SET created_at_unix = CASE WHEN created_at LIKE '@%' THEN CAST(substr(created_at, 2) AS INTEGER) ELSE CAST(strftime('%s', created_at) AS INTEGER) END WHERE created_at IS NOT NULL;
ALTER TABLE node_webhook_queue DROP COLUMN created_at;
ALTER TABLE node_webhook_queue RENAME COLUMN created_at_unix TO created_at;
ALTER TABLE identity_test_clients ADD COLUMN created_at_unix INTEGER NOT NULL DEFAULT 0;
UPDATE identity_test_clients SET created_at_unix = CASE WHEN created_at LIKE '@%' THEN CAST(substr(created_at, 2) AS INTEGER) ELSE CAST(strftime('%s', created_at) AS INTEGER) END WHERE created_at IS NOT NULL;
ALTER TABLE identity_test_clients DROP COLUMN created_at;
ALTER TABLE identity_test_clients RENAME COLUMN created_at_unix TO created_at;
CREATE INDEX msg_inbox_unacked ON msg_inbox (acked_at, seq);
