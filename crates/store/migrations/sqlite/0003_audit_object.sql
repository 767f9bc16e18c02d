-- Audit events by object (e.g. everything the federation said about one entity: /federation/v1/history).
ALTER TABLE audit_leaves ADD COLUMN object_id TEXT;
CREATE INDEX audit_leaves_object ON audit_leaves (object_id, idx);
