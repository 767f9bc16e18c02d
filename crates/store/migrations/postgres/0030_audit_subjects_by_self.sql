-- Who read my data: whether the data subject is the event's own actor (a person's own doings), kept with
-- the subject so a person's page of others' events is read from this index alone — paging past thousands
-- of events no longer looks up each one's leaf.
ALTER TABLE audit_subjects ADD COLUMN by_self BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE audit_subjects SET by_self = TRUE
    WHERE subject = (SELECT l.actor_id FROM audit_leaves l WHERE l.idx = audit_subjects.idx);
CREATE INDEX audit_subjects_by_others ON audit_subjects (subject, idx) WHERE by_self = FALSE;
