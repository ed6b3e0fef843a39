-- 002_sentinel_hunt_v1.sql: the reference hunting query, ported with its defects fixed.
--
-- Purpose: reproduce the filters of the Sentinel hunting query "User Account Linked to Storage
-- Account File Upload" (T1528) over a case, keeping every upload and every candidate sign-in.
-- Inputs: storage_events, signin_events.
-- Parameters of sentinel_candidates_v1:
--   lookback_us  BIGINT   window length before the upload, in microseconds
--   ua_match     BOOLEAN  keep only sign-ins whose user agent equals the upload's, ignoring case
-- Output columns:
--   sentinel_uploads_v1:    the storage_events columns of every upload the query considers
--   sentinel_candidates_v1: upload_event_key, window_start, window_end, and the signin_events
--                           columns of each sign-in in the window, ranked by `rank`
-- Assumptions:
--   * Times are UTC. The window is [upload - lookback, upload], both ends included, as KQL's
--     `between` is.
--   * An upload is a successful PutBlob or PutRange from either storage table; `=~` in KQL
--     compares ignoring case, so both tests use lower().
--   * Sign-ins come from SigninLogs only, timed by TimeGenerated, or by CreatedDateTime when the
--     export lacks TimeGenerated. Failed sign-ins are not filtered out: the reference does not.
--   * Addresses are compared in canonical form; a NULL address (empty or not an address) never
--     matches, and an empty user agent never equals anything.
--   * Every matching pair is kept: no innerunique join, no make_bag.

CREATE VIEW sentinel_uploads_v1 AS
SELECT *
FROM storage_events
WHERE lower(status_text) = 'success'
  AND lower(operation_name) IN ('putblob', 'putrange');

CREATE MACRO sentinel_candidates_v1(lookback_us, ua_match) AS TABLE
WITH uploads AS (
    SELECT event_key AS upload_event_key,
           time_generated AS upload_time,
           time_generated - to_microseconds(lookback_us) AS window_start,
           caller_ip,
           user_agent AS upload_user_agent
    FROM sentinel_uploads_v1
    WHERE caller_ip IS NOT NULL
),
signins AS (
    SELECT coalesce(time_generated, created_time) AS signin_time, *
    FROM signin_events
    WHERE source_table = 'SigninLogs'
      AND ip IS NOT NULL
),
pairs AS (
    SELECT u.upload_event_key, u.window_start, u.upload_time AS window_end, s.*
    FROM uploads u
    JOIN signins s
      ON s.ip = u.caller_ip
     AND s.signin_time BETWEEN u.window_start AND u.upload_time
    WHERE NOT ua_match
       OR (u.upload_user_agent IS NOT NULL
           AND s.user_agent IS NOT NULL
           AND lower(s.user_agent) = lower(u.upload_user_agent))
)
SELECT row_number() OVER (
           PARTITION BY upload_event_key
           ORDER BY signin_time DESC, user_principal_name, event_key
       ) AS rank,
       *
FROM pairs;
