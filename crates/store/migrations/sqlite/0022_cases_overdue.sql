-- Mina ärenden: when a case's overdue alert was raised (once per committed date: moving the date clears
-- it), so that of several instances exactly one raises it.
ALTER TABLE cases ADD COLUMN overdue_flagged_at BIGINT;
