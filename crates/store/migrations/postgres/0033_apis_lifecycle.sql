-- A published version's end: deprecated with a sunset date (and the version that succeeds it), then retired.
ALTER TABLE apis_versions ADD COLUMN deprecated_at BIGINT;
ALTER TABLE apis_versions ADD COLUMN sunset_at BIGINT;
ALTER TABLE apis_versions ADD COLUMN successor TEXT;
ALTER TABLE apis_versions ADD COLUMN retired_at BIGINT;
