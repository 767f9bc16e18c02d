-- A counter every policy change raises, so each central instance recompiles its policy slices when
-- another instance changed a policy (checked before every decision).
CREATE TABLE access_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO access_revision (id, revision) VALUES (1, 0);
