-- 014_smb_requester.sql: the user that a file share request names besides the OAuth fields.
--
-- Purpose: an SMB request to Azure Files made with identity-based access (Kerberos with Active
-- Directory, or Microsoft Entra Kerberos) names its Windows user in StorageFileLogs'
-- `RequesterUserName` (`DOMAIN\user`) and its security identifier in `SmbPrimarySID`. Archives
-- and event hubs write `identity.requester.userName` and `identity.requester.smbPrimarySID`.
-- Files imported before this file kept the two only in `raw`.
-- Inputs: storage_events.
-- Output columns:
--   storage_events.requester_user_name: RequesterUserName as written
--   storage_events.smb_primary_sid:     SmbPrimarySID as written
--   source_rows_digest(id):             as in 008_source_rows_digests.sql, with the new columns
--                                       of each row that has one hashed in too
-- Assumptions: rows imported before this file have both new columns NULL. Such rows add
-- nothing to the second hash, so the digests stored for them still match. A row that names a
-- user adds the hash of its record number and the two columns, so an edit of the name shows.

ALTER TABLE storage_events ADD COLUMN requester_user_name VARCHAR;
ALTER TABLE storage_events ADD COLUMN smb_primary_sid VARCHAR;

-- A row's new columns are hashed with its record number into a second XOR, beside the hash of
-- the other columns: DuckDB 2.0.0 takes no other column test in a query with COLUMNS(*).
CREATE OR REPLACE MACRO source_rows_digest(id) AS format('{}:{}.{}:{}',
    xor((SELECT coalesce(bit_xor(hash(*COLUMNS(* EXCLUDE (raw, requester_user_name, smb_primary_sid)))), 0)
         FROM storage_events WHERE source_id = id),
        (SELECT coalesce(bit_xor(hash(record_no, requester_user_name, smb_primary_sid)), 0)
         FROM storage_events
         WHERE source_id = id AND (requester_user_name IS NOT NULL OR smb_primary_sid IS NOT NULL))),
    (SELECT count(*) FROM storage_events WHERE source_id = id),
    (SELECT coalesce(bit_xor(hash(*COLUMNS(* EXCLUDE (raw)))), 0) FROM signin_events WHERE source_id = id),
    (SELECT count(*) FROM signin_events WHERE source_id = id));
