-- Who decided an application (the acting audit actor's id: a person's identity number, or
-- `operator-token` for the bootstrap token), so the operator's page can say who took each decision.
-- NULL for pending applications and for those decided before this column existed.
ALTER TABLE federation_applications ADD COLUMN decided_by TEXT;
