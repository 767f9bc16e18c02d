-- Adressregister: message types with their JSON Schemas, addresses with the node that serves them,
-- what they accept and their encryption keys, and the change feed (one row per change, in order).
CREATE TABLE addr_message_types (
    id TEXT NOT NULL,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    owner TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    confidentiality BIGINT NOT NULL,
    integrity BIGINT NOT NULL,
    availability BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE addr_addresses (
    address TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identifier TEXT NOT NULL,
    function_name TEXT,
    organisation TEXT NOT NULL,
    name TEXT NOT NULL,
    node TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX addr_addresses_identifier ON addr_addresses (identifier);
CREATE INDEX addr_addresses_node ON addr_addresses (node);

-- Which address accepts which message type (for lookup by capability).
CREATE TABLE addr_capabilities (
    address TEXT NOT NULL REFERENCES addr_addresses (address) ON DELETE CASCADE,
    message_type TEXT NOT NULL,
    PRIMARY KEY (message_type, address)
);

CREATE TABLE addr_changes (
    seq BIGSERIAL PRIMARY KEY,
    address TEXT NOT NULL,
    change TEXT NOT NULL,
    revision BIGINT NOT NULL,
    at TEXT NOT NULL
);
