-- PostgreSQL widens node_webhook_queue.attempts to BIGINT here; SQLite's INTEGER is 64 bits already, so
-- this dialect has nothing to change (the file keeps the two folders numbered alike).
SELECT 1;
