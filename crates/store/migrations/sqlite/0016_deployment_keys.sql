-- The deployment's keys, shared by all its central instances (ena-keys' vault): each version sealed
-- with ChaCha20-Poly1305 under the key-encryption key named by kek_id (nonce || ciphertext || tag).
CREATE TABLE deployment_keys (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created INTEGER NOT NULL,
    kek_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (name, version)
);
