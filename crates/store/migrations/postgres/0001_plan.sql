-- Plan and portfolio (seed chapters 2-4): the plan document in relational form.
CREATE TABLE plan_settings (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL,            -- +1 on every replacement; readers cache by it
    title_sv TEXT NOT NULL,
    title_en TEXT NOT NULL,
    unit TEXT NOT NULL,
    years TEXT NOT NULL,              -- JSON array of years
    schablon_rounding BIGINT NOT NULL,
    schablon_split TEXT NOT NULL,     -- JSON array of [development, operations] percent pairs
    updated_at TEXT NOT NULL
);
CREATE TABLE plan_categories (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    name_sv TEXT NOT NULL,
    name_en TEXT NOT NULL
);
CREATE TABLE plan_blocks (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    name_sv TEXT NOT NULL,
    name_en TEXT NOT NULL,
    category_id TEXT NOT NULL REFERENCES plan_categories (id),
    agency TEXT,
    status TEXT NOT NULL,
    estimate TEXT NOT NULL,
    schablon_from BIGINT
);
CREATE TABLE plan_dependencies (
    block_id TEXT NOT NULL REFERENCES plan_blocks (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    depends_on TEXT NOT NULL REFERENCES plan_blocks (id),
    PRIMARY KEY (block_id, depends_on)
);
CREATE TABLE plan_governance (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    name_sv TEXT NOT NULL,
    name_en TEXT NOT NULL
);
CREATE TABLE plan_additional (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    name_sv TEXT NOT NULL,
    name_en TEXT NOT NULL,
    from_year BIGINT NOT NULL
);
-- One row per cost cell; owner is a block or a governance line.
CREATE TABLE plan_costs (
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('block', 'governance')),
    owner_id TEXT NOT NULL,
    line_position BIGINT NOT NULL,
    label TEXT NOT NULL,
    year BIGINT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    kind TEXT NOT NULL CHECK (kind IN ('development', 'operations')),
    PRIMARY KEY (owner_kind, owner_id, line_position, year)
);
