-- Auktorisation: the decision point's Cedar policies, one per row; `resource` is the slice key (`*`, a
-- resource type, or `type:id`).
CREATE TABLE access_policies (
    id TEXT PRIMARY KEY,
    resource TEXT NOT NULL,
    description TEXT NOT NULL,
    policy_text TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
