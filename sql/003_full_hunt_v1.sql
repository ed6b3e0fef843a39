-- 003_full_hunt_v1.sql: the full attribution hunt, version 1.
--
-- Purpose: give every upload exactly one finding with a defensible answer: the requester named
-- by the storage log itself (OAuth), else the accounts that signed in from the caller's address
-- around the upload, ranked with their reasons, else the reason no account can be named.
-- Inputs: storage_events, signin_events.
-- Parameters of the macros: before_us and after_us, the window before and after the upload in
-- microseconds.
-- Output columns:
--   full_write_requests_v1: storage_events columns plus upload_kind, is_commit
--   full_uploads_v1:        one row per upload: upload_event_key, part_count, bytes, first_time
--                           and the storage_events columns of the request that completed it
--   full_candidates_v1:     one row per upload and account: rank, score, reasons (list of
--                           sentences), delta_seconds, signin_count, tables, accounts_in_window
--                           and the signin_events columns of the account's closest sign-in
--   full_findings_v1:       one row per upload: confidence, attributed_account, reason and the
--                           full_uploads_v1 columns
-- Assumptions:
--   * Times are UTC. A sign-in is timed by CreatedDateTime (the event) where present, else by
--     TimeGenerated (ingestion, which can lag by minutes).
--   * A write counts when it succeeded: StatusText Success (or the SAS, anonymous and OAuth
--     variants of classic logs), or, for SMB and NFS rows that carry no StatusText, status 0 or 2xx.
--   * PutBlock and PutBlockFromURL rows are parts of the upload that the next PutBlockList on the
--     same object commits; Data Lake CreatePathFile and AppendFile rows are parts of the upload the
--     next FlushFile commits. Parts never committed are not an upload: no blob came of them.
--   * File-share REST uploads (CreateFile, PutRange) and SMB or NFS writes have no commit
--     request: requests on the same object from the same caller with gaps under 5 minutes are one
--     upload, and a CreateFile starts a new one.
--   * Only successful sign-ins (ResultType 0, or no ResultType at all) are candidates, from all
--     four sign-in tables. Failed sign-ins are context, not evidence of a session.
--   * Only public caller addresses are correlated: Entra records the address a client signs in
--     from, which for private and internal callers is a different, public egress address.
--   * The join buckets time by the window length, so a busy address (a corporate NAT) costs work
--     in proportion to its sign-ins near each upload, not to all of its sign-ins.

CREATE VIEW full_write_requests_v1 AS
SELECT *,
       CASE lower(operation_name)
           WHEN 'putblob' THEN 'put-blob'
           WHEN 'putblobfromurl' THEN 'put-blob-from-url'
           WHEN 'putblock' THEN 'block-upload'
           WHEN 'putblockfromurl' THEN 'block-upload'
           WHEN 'putblocklist' THEN 'block-upload'
           WHEN 'appendblock' THEN 'append-block'
           WHEN 'appendblockfromurl' THEN 'append-block'
           WHEN 'putpage' THEN 'put-page'
           WHEN 'putpagefromurl' THEN 'put-page'
           WHEN 'copyblob' THEN 'copy'
           WHEN 'incrementalcopyblob' THEN 'copy'
           WHEN 'copyfile' THEN 'copy'
           WHEN 'createpathfile' THEN 'datalake-upload'
           WHEN 'appendfile' THEN 'datalake-upload'
           WHEN 'flushfile' THEN 'datalake-upload'
           WHEN 'createfile' THEN 'file-upload'
           WHEN 'putrange' THEN 'file-upload'
           WHEN 'putrangefromurl' THEN 'file-upload'
           WHEN 'write' THEN 'smb-write'
           WHEN 'nfs4write' THEN 'nfs-write'
       END AS upload_kind,
       lower(operation_name) IN ('putblocklist', 'flushfile') AS is_commit
FROM storage_events
WHERE upload_kind IS NOT NULL
  AND (lower(coalesce(status_text, '')) IN ('success', 'sassuccess', 'anonymoussuccess', 'oauthsuccess')
       OR (status_text IS NULL AND status_code IN ('0', '200', '201', '202', '206')));

CREATE VIEW full_uploads_v1 AS
WITH committed AS (
    SELECT *,
           coalesce(sum(is_commit::INTEGER) OVER (
               PARTITION BY source_table, object_path, upload_kind
               ORDER BY time_generated, is_commit, record_no, event_key
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp
    FROM full_write_requests_v1
    WHERE upload_kind IN ('block-upload', 'datalake-upload')
),
committed_groups AS (
    SELECT any_value(event_key) FILTER (WHERE is_commit) AS upload_event_key,
           count(*) FILTER (WHERE NOT is_commit) AS part_count,
           sum(request_body_size) AS bytes,
           min(time_generated) AS first_time
    FROM committed
    GROUP BY source_table, object_path, upload_kind, grp
    HAVING count(*) FILTER (WHERE is_commit) = 1
),
island_rows AS (
    SELECT *,
           lag(time_generated) OVER caller_order AS previous_time,
           coalesce(caller_ip, caller_ip_raw, '') AS caller_key
    FROM full_write_requests_v1
    WHERE upload_kind IN ('file-upload', 'smb-write', 'nfs-write')
    WINDOW caller_order AS (
        PARTITION BY source_table, object_path, upload_kind, coalesce(caller_ip, caller_ip_raw, '')
        ORDER BY time_generated, record_no, event_key)
),
islands AS (
    SELECT *,
           sum((previous_time IS NULL
                OR time_generated - previous_time > INTERVAL 5 MINUTE
                OR lower(operation_name) = 'createfile')::INTEGER) OVER (
               PARTITION BY source_table, object_path, upload_kind, caller_key
               ORDER BY time_generated, record_no, event_key
               ROWS UNBOUNDED PRECEDING) AS grp
    FROM island_rows
),
island_groups AS (
    SELECT arg_max(event_key, time_generated) AS upload_event_key,
           count(*) AS part_count,
           sum(request_body_size) AS bytes,
           min(time_generated) AS first_time
    FROM islands
    GROUP BY source_table, object_path, upload_kind, caller_key, grp
),
singles AS (
    SELECT event_key AS upload_event_key,
           1::BIGINT AS part_count,
           request_body_size AS bytes,
           time_generated AS first_time
    FROM full_write_requests_v1
    WHERE upload_kind NOT IN ('block-upload', 'datalake-upload', 'file-upload', 'smb-write', 'nfs-write')
),
uploads AS (
    SELECT * FROM committed_groups
    UNION ALL SELECT * FROM island_groups
    UNION ALL SELECT * FROM singles
)
SELECT u.upload_event_key, u.part_count, u.bytes, u.first_time, w.*
FROM uploads u
JOIN full_write_requests_v1 w ON w.event_key = u.upload_event_key;

-- Formats a number of seconds for a reason sentence.
CREATE MACRO bt_duration_words(seconds) AS
    CASE
        WHEN seconds < 120 THEN format('{} s', round(seconds)::BIGINT)
        WHEN seconds < 7200 THEN format('{} min', round(seconds / 60)::BIGINT)
        ELSE format('{} h', round(seconds / 3600, 1))
    END;

CREATE MACRO full_candidates_v1(before_us, after_us) AS TABLE
WITH uploads AS (
    SELECT upload_event_key,
           time_generated AS upload_time,
           caller_ip,
           user_agent AS upload_user_agent
    FROM full_uploads_v1
    WHERE caller_ip IS NOT NULL
      AND ip_scope = 'public'
      AND upload_kind NOT IN ('smb-write', 'nfs-write')
),
signins AS (
    SELECT *,
           coalesce(created_time, time_generated) AS signin_time,
           coalesce(lower(user_principal_name), lower(service_principal_name), lower(user_id),
                    lower(service_principal_id), lower(app_id)) AS account_key,
           coalesce(user_principal_name, service_principal_name, user_id, service_principal_id,
                    app_id) AS account
    FROM signin_events
    WHERE ip IS NOT NULL
      AND coalesce(result_type, '0') = '0'
),
upload_buckets AS (
    SELECT *,
           unnest(range((epoch_us(upload_time) - before_us) // greatest(before_us + after_us, 1000000),
                        (epoch_us(upload_time) + after_us) // greatest(before_us + after_us, 1000000) + 1)) AS bucket
    FROM uploads
),
signin_buckets AS (
    SELECT *, epoch_us(signin_time) // greatest(before_us + after_us, 1000000) AS bucket
    FROM signins
),
pairs AS (
    SELECT u.upload_event_key, u.upload_time, u.upload_user_agent,
           date_diff('millisecond', s.signin_time, u.upload_time) / 1000.0 AS delta_seconds,
           coalesce(lower(s.user_agent) = lower(u.upload_user_agent), false) AS ua_equal,
           s.* EXCLUDE (bucket)
    FROM upload_buckets u
    JOIN signin_buckets s ON s.ip = u.caller_ip AND s.bucket = u.bucket
    WHERE s.account_key IS NOT NULL
      AND s.signin_time BETWEEN u.upload_time - to_microseconds(before_us)
                            AND u.upload_time + to_microseconds(after_us)
),
closest AS (
    SELECT *,
           row_number() OVER (
               PARTITION BY upload_event_key, account_key
               ORDER BY delta_seconds < 0, abs(delta_seconds), ua_equal DESC, event_key) AS closeness
    FROM pairs
),
account_stats AS (
    SELECT upload_event_key, account_key,
           count(*) AS signin_count,
           bool_or(ua_equal) AS any_ua_equal,
           list(DISTINCT source_table ORDER BY source_table) AS tables
    FROM pairs
    GROUP BY upload_event_key, account_key
),
upload_stats AS (
    SELECT upload_event_key, count(DISTINCT account_key) AS accounts_in_window
    FROM pairs
    GROUP BY upload_event_key
),
scored AS (
    SELECT c.* EXCLUDE (closeness),
           a.signin_count, a.any_ua_equal, a.tables, s.accounts_in_window,
           CASE WHEN c.delta_seconds >= 0 THEN 40.0 * exp(-c.delta_seconds / 900.0)
                ELSE 30.0 * exp(c.delta_seconds / 120.0) END
         + CASE WHEN a.any_ua_equal THEN 15.0 ELSE 0.0 END
         + CASE WHEN s.accounts_in_window = 1 THEN 25.0
                WHEN s.accounts_in_window <= 3 THEN 10.0 ELSE 0.0 END
         + CASE c.source_table WHEN 'SigninLogs' THEN 10.0
                WHEN 'AADNonInteractiveUserSignInLogs' THEN 8.0 ELSE 5.0 END
         + 5.0 AS raw_score
    FROM closest c
    JOIN account_stats a USING (upload_event_key, account_key)
    JOIN upload_stats s USING (upload_event_key)
    WHERE c.closeness = 1
)
SELECT row_number() OVER (
           PARTITION BY upload_event_key
           ORDER BY raw_score DESC, abs(delta_seconds), account_key) AS rank,
       round(raw_score, 1) AS score,
       [
           CASE WHEN delta_seconds >= 0
                THEN format('signed in {} before the upload', bt_duration_words(delta_seconds))
                ELSE format('signed in {} after the upload, within the allowance for clock skew and logging delay',
                            bt_duration_words(-delta_seconds)) END,
           CASE WHEN accounts_in_window = 1
                THEN 'the only account that signed in from this address in the window'
                ELSE format('one of {} accounts that signed in from this address in the window',
                            accounts_in_window) END,
           CASE WHEN any_ua_equal THEN 'same user agent as the upload'
                WHEN upload_user_agent IS NULL THEN 'the upload carries no user agent to compare'
                ELSE 'user agent differs from the upload''s, as it does for SDK, AzCopy and Storage Explorer uploads after a browser sign-in' END,
           format('closest sign-in from {} ({} sign-ins of this account in the window)',
                  source_table, signin_count),
           'public address: the sign-in and the upload left through the same network egress'
       ] AS reasons,
       * EXCLUDE (raw_score)
FROM scored;

CREATE MACRO full_findings_v1(before_us, after_us) AS TABLE
WITH candidates AS (
    SELECT * FROM full_candidates_v1(before_us, after_us)
),
leaders AS (
    SELECT c1.upload_event_key, c1.account, c1.score, c1.delta_seconds, c1.any_ua_equal,
           c1.accounts_in_window, c2.score AS runner_up_score
    FROM candidates c1
    LEFT JOIN candidates c2 ON c2.upload_event_key = c1.upload_event_key AND c2.rank = 2
    WHERE c1.rank = 1
),
-- Names for the IDs an OAuth request carries, learned from the sign-ins: a user's object ID
-- (UserId), a service principal's object ID and its application ID.
identity_names AS (
    SELECT lower(user_id) AS id, min(user_principal_name) AS name
    FROM signin_events WHERE user_id IS NOT NULL AND user_principal_name IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT lower(service_principal_id), min(service_principal_name)
    FROM signin_events WHERE service_principal_id IS NOT NULL AND service_principal_name IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT lower(app_id), min(service_principal_name)
    FROM signin_events
    WHERE source_table IN ('AADServicePrincipalSignInLogs', 'AADManagedIdentitySignInLogs')
      AND app_id IS NOT NULL AND service_principal_name IS NOT NULL
    GROUP BY 1
),
signin_hours AS (
    SELECT DISTINCT ip_family, date_trunc('hour', coalesce(created_time, time_generated)) AS hour
    FROM signin_events
),
uploads AS (
    SELECT u.*,
           EXISTS (SELECT 1 FROM signin_hours h
                   WHERE h.hour BETWEEN date_trunc('hour', u.time_generated - to_microseconds(before_us))
                                    AND date_trunc('hour', u.time_generated + to_microseconds(after_us)))
               AS signins_near,
           EXISTS (SELECT 1 FROM signin_hours h
                   WHERE h.ip_family = u.ip_family
                     AND h.hour BETWEEN date_trunc('hour', u.time_generated - to_microseconds(before_us))
                                    AND date_trunc('hour', u.time_generated + to_microseconds(after_us)))
               AS same_family_near
    FROM full_uploads_v1 u
),
decided AS (
    SELECT u.*, t.account AS top_account, t.score AS top_score, t.runner_up_score,
           CASE
               WHEN u.requester_upn IS NOT NULL OR u.requester_object_id IS NOT NULL THEN 'direct'
               WHEN t.account IS NULL THEN 'none'
               WHEN t.accounts_in_window = 1
                    AND (t.delta_seconds BETWEEN -300 AND 1800 OR t.any_ua_equal) THEN 'strong'
               WHEN t.accounts_in_window = 1 THEN 'probable'
               WHEN t.score >= coalesce(t.runner_up_score, 0) + 15 THEN 'probable'
               ELSE 'ambiguous'
           END AS confidence
    FROM uploads u
    LEFT JOIN leaders t USING (upload_event_key)
)
SELECT confidence,
       CASE confidence
           WHEN 'direct' THEN coalesce(
               requester_upn,
               (SELECT min(n.name) FROM identity_names n WHERE n.id = lower(requester_object_id)),
               (SELECT min(n.name) FROM identity_names n WHERE n.id = lower(requester_app_id)),
               requester_object_id)
           WHEN 'strong' THEN top_account
           WHEN 'probable' THEN top_account
       END AS attributed_account,
       CASE
           WHEN confidence = 'direct' THEN format('the storage log names the OAuth requester ({})',
               concat_ws(', ', requester_upn, 'object ' || requester_object_id, 'app ' || requester_app_id))
           WHEN confidence = 'ambiguous' THEN 'several accounts signed in from this address in the window with no clear leader; see the candidates'
           WHEN confidence <> 'none' THEN NULL
           WHEN upload_kind IN ('smb-write', 'nfs-write') THEN
               'SMB or NFS write: the caller authenticated with Kerberos, NTLM or a host identity, not Entra ID, so sign-in logs cannot name it'
           WHEN caller_ip IS NULL THEN
               format('caller address unusable ({}): `{}`', coalesce(address_problem, 'not an address'), coalesce(caller_ip_raw, ''))
           WHEN ip_scope <> 'public' THEN
               format('{} address: Entra ID records the public address a client signs in from, so a {} caller cannot be matched',
                      ip_scope, ip_scope)
           WHEN NOT signins_near THEN 'no sign-in data covers this time: the imported sign-in logs have no record near the upload'
           WHEN NOT same_family_near THEN
               format('address family differs: the caller used {} and no sign-in near the upload did', ip_family)
           ELSE 'no successful sign-in from this address in the window'
       END AS reason,
       * EXCLUDE (confidence, signins_near, same_family_near)
FROM decided;
