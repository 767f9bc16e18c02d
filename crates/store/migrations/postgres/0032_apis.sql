-- API-hantering's catalog: APIs registered by member organisations, each with versions (an uploaded OpenAPI
-- document, its lint report, and a lifecycle: draft → published → deprecated → retired).
CREATE TABLE apis_apis (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    contact TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX apis_apis_owner ON apis_apis (owner, id);
CREATE TABLE apis_versions (
    api_id TEXT NOT NULL REFERENCES apis_apis (id),
    version TEXT NOT NULL,
    major BIGINT NOT NULL,
    status TEXT NOT NULL,
    document TEXT NOT NULL,
    errors BIGINT NOT NULL,
    warnings BIGINT NOT NULL,
    lint TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT,
    PRIMARY KEY (api_id, version)
);
