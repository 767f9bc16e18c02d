-- Mina ärenden: cases an organisation (an agency) keeps for a party (a person or an organisation), the
-- history of the decision date it committed to, immutable transmissions, the activity history, the
-- seen-log, and each viewing person's own labels and read marks. Times are unix seconds.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    party TEXT NOT NULL,
    party_kind TEXT NOT NULL,
    organisation TEXT NOT NULL,
    service TEXT NOT NULL,
    status TEXT NOT NULL,
    life_event TEXT,
    process TEXT,
    external_ref TEXT,
    idempotency_key TEXT,
    visible_from BIGINT,
    due_at BIGINT,
    expires_at BIGINT,
    expected_decision_at BIGINT,
    decided_at BIGINT,
    search_text TEXT NOT NULL,
    body TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    content_updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_idempotency ON cases (organisation, idempotency_key);
CREATE INDEX cases_party_updated ON cases (party, content_updated_at, id);
CREATE INDEX cases_organisation_status ON cases (organisation, status);
CREATE INDEX cases_overdue ON cases (expected_decision_at) WHERE decided_at IS NULL;

CREATE TABLE case_decision_dates (
    case_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    expected_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    set_at BIGINT NOT NULL,
    set_by TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

CREATE TABLE case_transmissions (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    related_id TEXT,
    message_id TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX case_transmissions_case ON case_transmissions (case_id, created_at);
CREATE UNIQUE INDEX case_transmissions_message ON case_transmissions (case_id, message_id);

CREATE TABLE case_activities (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX case_activities_case ON case_activities (case_id, at);

CREATE TABLE case_seen (
    case_id TEXT NOT NULL,
    person TEXT NOT NULL,
    on_behalf_of TEXT,
    revision BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (case_id, person)
);

CREATE TABLE case_labels (
    case_id TEXT NOT NULL,
    person TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (case_id, person, label)
);
CREATE INDEX case_labels_person ON case_labels (person, label);
