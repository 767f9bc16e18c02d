-- Identitet: API tokens and employee service e-ID credentials. Times are unix seconds.

-- JWT ids that may be used once (client assertions, subject tokens): a second use is a replay. Rows
-- are dropped once the token they name has expired.
CREATE TABLE identity_used_jtis (
    jti_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- Employee credentials (e-tjänstelegitimation) their issuers registered, kept exactly as signed, so
-- verifiers see revocations.
CREATE TABLE identity_employee_credentials (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    person_id TEXT NOT NULL,
    name TEXT NOT NULL,
    roles TEXT NOT NULL,
    token TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revocation_reason TEXT,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX identity_employee_credentials_person ON identity_employee_credentials (person_id);
