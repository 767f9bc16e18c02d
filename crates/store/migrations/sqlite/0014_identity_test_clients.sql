-- Clients of the built-in test eID registered by the operator (agencies' developers testing their own
-- e-services). The secret is kept only as its SHA-256 (base64url); redirect URIs are a JSON array,
-- matched exactly.
CREATE TABLE identity_test_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at TEXT NOT NULL
);
