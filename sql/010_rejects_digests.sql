-- 010_rejects_digests.sql: a stored digest of the records each imported file had rejected,
-- and the reason an exclusion rule was disabled.
--
-- Purpose: rejected records are kept whole in `rejects`, and a report counts them. The digest
-- of 008 covers the stored events only, so rows of `rejects` deleted or edited outside
-- blobtrail went unseen. Each source now also stores a digest of its rejected records when its
-- import commits, and `verify` recomputes it. `exclude disable --reason` kept its reason only in
-- the audit record; the rule now keeps it too, so that `exclude list` and the report show it.
-- Inputs: sources, rejects, exclusion_rules, audit_log.
-- Output columns:
--   source_rejects_digest(id):    the bitwise XOR of DuckDB's hash() of every column of each
--                                 row of `rejects` of source `id`, `raw` included, and the
--                                 number of rows, as `xor:count`
--   sources.rejects_digest:        that digest when the file's import committed
--   sources.rejects_digest_engine: the DuckDB version that computed it
--   exclusion_rules.disabled_reason: why the examiner disabled the rule, when given
-- Assumptions: as in 008, a digest is compared only under the DuckDB version that made it. An
-- existing case gets the digests of its rejected records as they are when this file is
-- applied. Rules disabled before this file get the reason their `exclude disable` record
-- gives in `audit_log.counts` (a JSON object with `disabled` and `reason`).

CREATE MACRO source_rejects_digest(id) AS format('{}:{}',
    (SELECT coalesce(bit_xor(hash(*COLUMNS(*))), 0) FROM rejects WHERE source_id = id),
    (SELECT count(*) FROM rejects WHERE source_id = id));

ALTER TABLE sources ADD COLUMN rejects_digest VARCHAR;
ALTER TABLE sources ADD COLUMN rejects_digest_engine VARCHAR;

-- The argument is qualified: a bare `source_id` would name the column of `rejects` inside the
-- macro's subqueries.
UPDATE sources SET rejects_digest = source_rejects_digest(sources.source_id), rejects_digest_engine = version();

ALTER TABLE exclusion_rules ADD COLUMN disabled_reason VARCHAR;

-- CASE evaluates the JSON functions only for rows whose counts are valid JSON.
UPDATE exclusion_rules r SET disabled_reason = (
    SELECT max(CASE WHEN json_valid(a.counts) THEN json_extract_string(a.counts, '$.reason') END)
    FROM audit_log a
    WHERE a.command = 'exclude' AND a.exit_code = 0
      AND CASE WHEN json_valid(a.counts) THEN json_extract_string(a.counts, '$.disabled') END = r.rule_id::VARCHAR
)
WHERE r.disabled_at IS NOT NULL;
