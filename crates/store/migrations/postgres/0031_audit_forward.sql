-- A member node hands the events of its own log that name data subjects over to the central log, so
-- Min profil shows them. The node keeps here how far it has handed over (the first index not yet
-- accepted); the central log recognises a repeat by the leaf's object (`<origin>#<index>`), so a batch
-- sent again after a lost answer is not taken twice.
CREATE TABLE audit_forward_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next BIGINT NOT NULL
);
