-- 008_source_rows_digests.sql: a stored digest of the rows each imported file gave the case.
--
-- Purpose: `verify` re-hashes the imported files, but the hunt reads the rows stored from them.
-- An edit of those rows made outside blobtrail (an account name changed, an upload deleted)
-- would change the account the next hunt names while every file still matched its SHA-256. Each source
-- stores a digest of its rows when its import commits, and `verify` recomputes it.
-- Inputs: sources, storage_events, signin_events.
-- Output columns:
--   source_rows_digest(id): for storage_events, then signin_events: the bitwise XOR of DuckDB's
--                           hash() of every column but `raw` of each row of source `id`, and
--                           the number of rows, as `xor:count.xor:count`. XOR does not depend on
--                           the order of the rows, which DuckDB's parallel insert does not fix.
--   sources.rows_digest:    that digest when the file's import committed
--   sources.rows_digest_engine: the DuckDB version that computed it
-- Assumptions: hash() is DuckDB's 64-bit hash, which may change between DuckDB versions, so a
-- digest is compared only under the version that made it. `raw` is left out: reading it back
-- is most of the cost (1.2 s against 0.17 s per million storage rows on a 2-core Xeon), and it
-- is a copy of the record in the imported file, which `verify` re-hashes. An existing case
-- gets the digests of its rows as they are when this file is applied.

CREATE MACRO source_rows_digest(id) AS format('{}:{}.{}:{}',
    (SELECT coalesce(bit_xor(hash(*COLUMNS(* EXCLUDE (raw)))), 0) FROM storage_events WHERE source_id = id),
    (SELECT count(*) FROM storage_events WHERE source_id = id),
    (SELECT coalesce(bit_xor(hash(*COLUMNS(* EXCLUDE (raw)))), 0) FROM signin_events WHERE source_id = id),
    (SELECT count(*) FROM signin_events WHERE source_id = id));

ALTER TABLE sources ADD COLUMN rows_digest VARCHAR;
ALTER TABLE sources ADD COLUMN rows_digest_engine VARCHAR;

-- The argument is qualified: a bare `source_id` would name the column of the tables inside the
-- macro's subqueries.
UPDATE sources SET rows_digest = source_rows_digest(sources.source_id), rows_digest_engine = version();
