-- Tillitsramverk: the trust anchor's agreements, applications, members, the statements and trust marks it
-- issued, and the certificates of its CA. JSON documents are TEXT; times are RFC 3339 UTC text.
CREATE TABLE federation_agreements (
    version BIGINT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE TABLE federation_applications (
    id TEXT PRIMARY KEY,                  -- UUIDv7
    entity_id TEXT NOT NULL,
    organisation_number TEXT NOT NULL,
    name TEXT NOT NULL,
    contact TEXT NOT NULL,
    jwks TEXT NOT NULL,
    entity_types TEXT NOT NULL,           -- JSON array
    metadata TEXT NOT NULL,               -- JSON object, per entity type
    trust_marks TEXT NOT NULL,            -- JSON array of requested trust mark types
    key_request TEXT,                     -- PEM CSR or public key for the node certificate
    entity_configuration TEXT,            -- the member's own signed entity configuration
    agreement_version BIGINT NOT NULL REFERENCES federation_agreements (version),
    status TEXT NOT NULL,                 -- pending, approved, rejected
    reason TEXT,
    created_at TEXT NOT NULL,
    decided_at TEXT
);
CREATE UNIQUE INDEX federation_applications_pending ON federation_applications (entity_id) WHERE status = 'pending';
CREATE TABLE federation_members (
    entity_id TEXT PRIMARY KEY,
    organisation_number TEXT NOT NULL,
    name TEXT NOT NULL,
    contact TEXT NOT NULL,
    jwks TEXT NOT NULL,
    entity_types TEXT NOT NULL,
    metadata TEXT NOT NULL,
    entity_configuration TEXT,
    status TEXT NOT NULL,                 -- active, suspended, revoked
    application_id TEXT NOT NULL,
    agreement_version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE federation_statements (
    id TEXT PRIMARY KEY,                  -- UUIDv7
    sub TEXT NOT NULL,                    -- the entity the statement is about
    kind TEXT NOT NULL,                   -- entity-configuration, subordinate-statement, trust-mark, certificate, ...
    token TEXT NOT NULL,                  -- the JWT or PEM exactly as issued
    issued_at BIGINT NOT NULL,           -- unix seconds
    expires_at BIGINT NOT NULL,
    revoked_at TEXT,
    log_index BIGINT                     -- its event in the transparency log
);
CREATE INDEX federation_statements_sub ON federation_statements (sub, kind, issued_at);
CREATE TABLE federation_certificates (
    serial TEXT PRIMARY KEY,
    entity_id TEXT NOT NULL,
    pem TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    not_after TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX federation_certificates_entity ON federation_certificates (entity_id);
