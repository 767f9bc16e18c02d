-- Identitet: the ID token of a session, for RP-initiated logout at its provider (id_token_hint).
ALTER TABLE identity_sessions ADD COLUMN id_token TEXT;
