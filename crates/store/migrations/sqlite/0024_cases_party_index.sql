-- The party view's index: it answers "the newest cases of these parties in these services" alone (a
-- covering index scan), so a representative of a thousand parties reads index entries, not table rows
-- (docs/benchmarks.md, issue 15). It replaces the index on (party, content_updated_at, id).
CREATE INDEX cases_party_service_updated ON cases (party, service, content_updated_at, id, visible_from);
DROP INDEX cases_party_updated;
