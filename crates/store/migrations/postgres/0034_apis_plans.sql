-- API-hantering: where an API is served and how it is classified; plans (the terms a producer offers),
-- subscriptions (a consumer organisation's application on a plan), the gateways' usage reports, and the
-- notices subscribers get of new versions and deprecations.
ALTER TABLE apis_apis ADD COLUMN node TEXT;
ALTER TABLE apis_apis ADD COLUMN service TEXT;
ALTER TABLE apis_apis ADD COLUMN classification TEXT NOT NULL DEFAULT 'public';
-- An operator's recorded exceptions: lint errors let through at publication, a retirement let through
-- while applications still call the version (JSON: what, why, who, when).
ALTER TABLE apis_versions ADD COLUMN lint_exception TEXT;
ALTER TABLE apis_versions ADD COLUMN retire_override TEXT;
CREATE TABLE apis_plans (
    api_id TEXT NOT NULL REFERENCES apis_apis (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    rate_per_second BIGINT NOT NULL,
    burst BIGINT NOT NULL,
    quota_per_day BIGINT,
    approval BIGINT NOT NULL,
    organisations TEXT NOT NULL,
    trust_marks TEXT NOT NULL,
    max_request_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (api_id, id)
);
CREATE TABLE apis_subscriptions (
    id TEXT PRIMARY KEY,
    api_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    organisation TEXT NOT NULL,
    application TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (api_id, plan_id) REFERENCES apis_plans (api_id, id)
);
-- One live subscription per application and API (a revoked one is history).
CREATE UNIQUE INDEX apis_subscriptions_live ON apis_subscriptions (api_id, application) WHERE status <> 'revoked';
CREATE INDEX apis_subscriptions_org ON apis_subscriptions (organisation, created_at);
-- What each gateway counted, per API major, application and UTC day; a node reports its own totals
-- (absolute since the node process started, `boot`, so a report sent twice changes nothing and a
-- restart starts a new row).
CREATE TABLE apis_usage (
    api_id TEXT NOT NULL,
    major BIGINT NOT NULL,
    application TEXT NOT NULL,
    node TEXT NOT NULL,
    boot TEXT NOT NULL,
    day BIGINT NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    refused BIGINT NOT NULL,
    deprecated BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (api_id, major, application, node, boot, day)
);
CREATE TABLE apis_notices (
    id TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    api_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX apis_notices_org ON apis_notices (organisation, created_at);
