-- `attempts` is read as a 64-bit integer, like every other count; INTEGER is 32 bits on PostgreSQL.
-- Found when the node tests first really ran on PostgreSQL.
ALTER TABLE node_webhook_queue ALTER COLUMN attempts TYPE BIGINT;
