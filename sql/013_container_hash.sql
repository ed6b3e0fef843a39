-- 013_container_hash.sql: the SHA-256 of the zip archive that held an imported file.
--
-- Purpose: a file imported from inside a zip archive is recorded as `archive.zip!/member` with
-- the member's own hash. The archive is the item that was handed over, and its hash went only
-- into the import's summary and the audit trail. `sources` and the bundle's `sources.csv` now
-- keep it beside each member, so the inventory ties every member to the archive received.
-- Inputs: sources.
-- Output columns:
--   sources.container_sha256: the archive's SHA-256 as read, for a member of a zip archive;
--                             NULL for any other file, and for members imported before this
--                             file was applied (their import records in `audit_log` have it).
-- Assumptions: the column is not part of the audit trail's state digest, whose columns are
-- fixed per scheme. The import's own record in the hash-chained trail has the same value.

ALTER TABLE sources ADD COLUMN container_sha256 VARCHAR;
