-- A counter every membership change raises (approve, suspend, revoke, a new entity configuration), so
-- each central instance's resolve cache knows when another instance changed the federation.
CREATE TABLE federation_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO federation_revision (id, revision) VALUES (1, 0);
