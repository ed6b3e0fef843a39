-- 015_full_hunt_v5.sql: the full attribution hunt, version 5.
--
-- Purpose: attribute an SMB upload to the user its storage log names. With identity-based
-- access (Kerberos with Active Directory, or Microsoft Entra Kerberos) StorageFileLogs names
-- the Windows user of an SMB request (`requester_user_name`, `DOMAIN\user`, and
-- `smb_primary_sid`, from 014_smb_requester.sql). Version 4 read neither, and its reason for
-- every SMB write was that sign-in logs cannot name the caller. Version 5 takes that user as the upload's
-- requester, as it takes an OAuth requester: the finding is `direct`, and requests that name
-- several users make the upload `ambiguous`.
-- Changes from version 4 (011_full_hunt_v4.sql), which it otherwise repeats, reading
-- full_uploads_v4 in place of full_uploads_v3:
--   * full_uploads_v4 keys requests by requester_object_id, requester_upn, smb_primary_sid,
--     then requester_user_name, and lists user names and SIDs among the requesters;
--   * a `direct` finding from a user name, or from an SMB or NFS write, gives the reason
--     "the storage log names the user who made the request (...)" with the name, UPN, object
--     ID and SID it has; the attributed account is the UPN, the object's name, the user name,
--     the object ID, then the SID;
--   * an SMB or NFS write that names no user keeps the reason of version 4, reworded: a
--     Kerberos write says its row names no user, any other says the caller authenticated with
--     NTLM, an account key or a host identity.
-- Inputs: storage_events (with the columns of 014_smb_requester.sql), signin_events, and
-- full_write_requests_v1 and bt_duration_words from 003_full_hunt_v1.sql.
-- Parameters of the macros: before_us and after_us, the window before the upload's first
-- request and after its last, in microseconds.
-- Output columns:
--   full_uploads_v4:    as full_uploads_v3, with requester_user_name taken from the parts
--                       as the other requester columns are
--   full_candidates_v5: as full_candidates_v4
--   full_findings_v5:   as full_findings_v4
--   storage_requester_key_v5(object_id, upn, sid, user_name): the key by which the requests of
--                       one requester are grouped into an upload, '' for none; `show` groups by it too

-- A Windows user is keyed by its SID where the row has one, because the name may differ in
-- letter case or be missing from some rows of the same user.
CREATE MACRO storage_requester_key_v5(object_id, upn, sid, user_name) AS
    coalesce(lower(object_id), lower(upn), upper(sid), lower(user_name), '');

CREATE VIEW full_uploads_v4 AS
WITH requests AS (
    SELECT *,
           -- Requests that have no commit request and are grouped by caller and time gaps.
           CASE
               WHEN upload_kind IN ('append-block', 'put-page', 'put-blob') THEN 'blob-series'
               WHEN upload_kind IN ('file-upload', 'smb-write', 'nfs-write') THEN upload_kind
           END AS series_kind,
           lower(operation_name) IN ('putblob', 'createfile') AS starts_series,
           storage_requester_key_v5(requester_object_id, requester_upn, smb_primary_sid, requester_user_name) AS requester_key
    FROM full_write_requests_v1
),
committed AS (
    SELECT *,
           coalesce(sum(is_commit::INTEGER) OVER (
               PARTITION BY source_table, object_path, upload_kind
               ORDER BY time_generated, is_commit, record_no, event_key
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp
    FROM requests
    WHERE upload_kind IN ('block-upload', 'datalake-upload')
),
committed_groups AS (
    SELECT any_value(event_key) FILTER (WHERE is_commit) AS upload_event_key,
           count(*) FILTER (WHERE NOT is_commit) AS part_count,
           sum(request_body_size) AS bytes,
           min(time_generated) AS first_time,
           -- The parts' requester, when they name exactly one.
           CASE WHEN count(DISTINCT requester_key) FILTER (WHERE NOT is_commit AND requester_key <> '') = 1
                THEN min(requester_upn) FILTER (WHERE NOT is_commit) END AS part_requester_upn,
           CASE WHEN count(DISTINCT requester_key) FILTER (WHERE NOT is_commit AND requester_key <> '') = 1
                THEN min(requester_object_id) FILTER (WHERE NOT is_commit) END AS part_requester_object_id,
           CASE WHEN count(DISTINCT requester_key) FILTER (WHERE NOT is_commit AND requester_key <> '') = 1
                THEN min(requester_app_id) FILTER (WHERE NOT is_commit) END AS part_requester_app_id,
           CASE WHEN count(DISTINCT requester_key) FILTER (WHERE NOT is_commit AND requester_key <> '') = 1
                THEN min(requester_user_name) FILTER (WHERE NOT is_commit) END AS part_requester_user_name,
           count(DISTINCT requester_key) FILTER (WHERE requester_key <> '') AS requester_count,
           array_to_string(list_sort(list_distinct(list(coalesce(requester_upn, requester_object_id, requester_user_name, smb_primary_sid)))), ', ') AS requesters,
           count(DISTINCT coalesce(caller_ip, caller_ip_raw)) AS caller_count,
           array_to_string(list_sort(list_distinct(list(coalesce(caller_ip, caller_ip_raw)))), ', ') AS callers
    FROM committed
    GROUP BY source_table, object_path, upload_kind, grp
    HAVING count(*) FILTER (WHERE is_commit) = 1
),
series_rows AS (
    SELECT *,
           lag(time_generated) OVER caller_order AS previous_time,
           coalesce(caller_ip, caller_ip_raw, '') AS caller_key
    FROM requests
    WHERE series_kind IS NOT NULL
    WINDOW caller_order AS (
        PARTITION BY source_table, object_path, series_kind, coalesce(caller_ip, caller_ip_raw, ''), requester_key
        ORDER BY time_generated, NOT starts_series, record_no, event_key)
),
series AS (
    SELECT *,
           sum((previous_time IS NULL
                OR time_generated - previous_time > INTERVAL 5 MINUTE
                OR starts_series)::INTEGER) OVER (
               PARTITION BY source_table, object_path, series_kind, caller_key, requester_key
               ORDER BY time_generated, NOT starts_series, record_no, event_key
               ROWS UNBOUNDED PRECEDING) AS grp
    FROM series_rows
),
series_groups AS (
    SELECT arg_max(event_key, (time_generated, NOT starts_series, record_no, event_key)) AS upload_event_key,
           count(*) AS part_count,
           sum(request_body_size) AS bytes,
           min(time_generated) AS first_time,
           NULL AS part_requester_upn, NULL AS part_requester_object_id, NULL AS part_requester_app_id,
           NULL AS part_requester_user_name,
           -- A series has one caller and one requester key: they partition it.
           (requester_key <> '')::BIGINT AS requester_count,
           any_value(coalesce(requester_upn, requester_object_id, requester_user_name, smb_primary_sid)) AS requesters,
           (caller_key <> '')::BIGINT AS caller_count,
           nullif(caller_key, '') AS callers
    FROM series
    GROUP BY source_table, object_path, series_kind, caller_key, requester_key, grp
),
singles AS (
    SELECT event_key AS upload_event_key,
           1::BIGINT AS part_count,
           request_body_size AS bytes,
           time_generated AS first_time,
           NULL AS part_requester_upn, NULL AS part_requester_object_id, NULL AS part_requester_app_id,
           NULL AS part_requester_user_name,
           (requester_key <> '')::BIGINT AS requester_count,
           coalesce(requester_upn, requester_object_id, requester_user_name, smb_primary_sid) AS requesters,
           (coalesce(caller_ip, caller_ip_raw) IS NOT NULL)::BIGINT AS caller_count,
           coalesce(caller_ip, caller_ip_raw) AS callers
    FROM requests
    WHERE series_kind IS NULL
      AND upload_kind NOT IN ('block-upload', 'datalake-upload')
),
uploads AS (
    SELECT * FROM committed_groups
    UNION ALL SELECT * FROM series_groups
    UNION ALL SELECT * FROM singles
)
SELECT u.upload_event_key, u.part_count, u.bytes, u.first_time,
       u.requester_count, u.requesters, u.caller_count, u.callers,
       w.* REPLACE (
           CASE WHEN w.requester_upn IS NULL AND w.requester_object_id IS NULL AND w.requester_user_name IS NULL
                THEN u.part_requester_upn ELSE w.requester_upn END AS requester_upn,
           CASE WHEN w.requester_upn IS NULL AND w.requester_object_id IS NULL AND w.requester_user_name IS NULL
                THEN u.part_requester_object_id ELSE w.requester_object_id END AS requester_object_id,
           CASE WHEN w.requester_upn IS NULL AND w.requester_object_id IS NULL AND w.requester_user_name IS NULL
                THEN coalesce(u.part_requester_app_id, w.requester_app_id) ELSE w.requester_app_id END AS requester_app_id,
           CASE WHEN w.requester_upn IS NULL AND w.requester_object_id IS NULL AND w.requester_user_name IS NULL
                THEN u.part_requester_user_name ELSE w.requester_user_name END AS requester_user_name)
FROM uploads u
JOIN full_write_requests_v1 w ON w.event_key = u.upload_event_key;

CREATE MACRO full_candidates_v5(before_us, after_us) AS TABLE
-- Materialized, so that upload_no numbers the same rows wherever the CTE is read. The join
-- below carries upload_no instead of the 64-character upload_event_key and the user agent.
WITH uploads AS MATERIALIZED (
    SELECT row_number() OVER () AS upload_no,
           upload_event_key,
           time_generated AS upload_time,
           first_time,
           caller_ip,
           user_agent AS upload_user_agent
    FROM full_uploads_v4
    WHERE caller_ip IS NOT NULL
      AND ip_scope = 'public'
      AND upload_kind NOT IN ('smb-write', 'nfs-write')
),
-- Not materialized: the join reads a few columns of every sign-in, and the result reads all
-- columns of the few closest ones.
signins AS NOT MATERIALIZED (
    SELECT * EXCLUDE (raw),
           coalesce(created_time, time_generated) AS signin_time,
           CASE WHEN source_table IN ('AADServicePrincipalSignInLogs', 'AADManagedIdentitySignInLogs')
                THEN coalesce(lower(service_principal_name), lower(service_principal_id), lower(app_id))
                ELSE coalesce(lower(user_id), lower(user_principal_name)) END AS account_key,
           CASE WHEN source_table IN ('AADServicePrincipalSignInLogs', 'AADManagedIdentitySignInLogs')
                THEN coalesce(service_principal_name, service_principal_id, app_id)
                ELSE coalesce(user_principal_name, user_id) END AS account
    FROM signin_events
    WHERE ip IS NOT NULL
      AND coalesce(result_type, '0') = '0'
),
upload_buckets AS (
    SELECT *,
           unnest(range((epoch_us(first_time) - before_us) // greatest(before_us + after_us, 1000000),
                        (epoch_us(upload_time) + after_us) // greatest(before_us + after_us, 1000000) + 1)) AS bucket
    FROM uploads
),
signin_buckets AS (
    SELECT event_key, ip, signin_time, account_key, source_table, user_agent,
           epoch_us(signin_time) // greatest(before_us + after_us, 1000000) AS bucket
    FROM signins
),
pairs AS (
    SELECT u.upload_no,
           -- Before the first request, from it; after the last, from it (negative); between
           -- them, 0: the sign-in came while the upload was under way.
           CASE WHEN s.signin_time < u.first_time THEN date_diff('millisecond', s.signin_time, u.first_time) / 1000.0
                WHEN s.signin_time > u.upload_time THEN date_diff('millisecond', s.signin_time, u.upload_time) / 1000.0
                ELSE 0.0 END AS delta_seconds,
           s.signin_time BETWEEN u.first_time AND u.upload_time AND u.first_time < u.upload_time AS during,
           coalesce(lower(s.user_agent) = lower(u.upload_user_agent), false) AS ua_equal,
           s.event_key, s.account_key, s.source_table
    FROM upload_buckets u
    JOIN signin_buckets s ON s.ip = u.caller_ip AND s.bucket = u.bucket
    WHERE s.account_key IS NOT NULL
      AND s.signin_time BETWEEN u.first_time - to_microseconds(before_us)
                            AND u.upload_time + to_microseconds(after_us)
),
accounts AS (
    SELECT upload_no, account_key,
           arg_min({'delta_seconds': delta_seconds, 'ua_equal': ua_equal, 'event_key': event_key,
                    'source_table': source_table, 'during': during},
                   (delta_seconds < 0, abs(delta_seconds), NOT ua_equal, event_key)) AS closest,
           count(*) AS signin_count,
           bool_or(ua_equal) AS any_ua_equal,
           -- Not list(DISTINCT ...): a DISTINCT aggregate makes DuckDB materialize every pair.
           list_sort(list_distinct(list(source_table))) AS tables
    FROM pairs
    GROUP BY upload_no, account_key
),
counted AS (
    SELECT u.upload_event_key, u.upload_time, u.first_time < u.upload_time AS several_requests, u.upload_user_agent,
           a.closest.delta_seconds AS delta_seconds, a.closest.during AS during, a.closest.ua_equal AS ua_equal,
           a.closest.event_key AS event_key, a.account_key, a.closest.source_table AS source_table,
           a.signin_count, a.any_ua_equal, a.tables,
           count(*) OVER (PARTITION BY a.upload_no) AS accounts_in_window
    FROM accounts a
    JOIN uploads u ON u.upload_no = a.upload_no
),
scored AS (
    SELECT *,
           CASE WHEN delta_seconds >= 0 THEN 40.0 * exp(-delta_seconds / 900.0)
                ELSE 30.0 * exp(delta_seconds / 120.0) END
         + CASE WHEN any_ua_equal THEN 15.0 ELSE 0.0 END
         + CASE WHEN accounts_in_window = 1 THEN 25.0
                WHEN accounts_in_window <= 3 THEN 10.0 ELSE 0.0 END
         + CASE source_table WHEN 'SigninLogs' THEN 10.0
                WHEN 'AADNonInteractiveUserSignInLogs' THEN 8.0 ELSE 5.0 END
         + 5.0 AS raw_score
    FROM counted
),
ranked AS (
SELECT row_number() OVER (
           PARTITION BY upload_event_key
           ORDER BY raw_score DESC, abs(delta_seconds), account_key) AS rank,
       round(raw_score, 1) AS score,
       [
           -- delta_seconds counts whole milliseconds, so 0 is less than a millisecond either way.
           CASE WHEN during
                THEN 'signed in during the upload, between its first request and the one that completed it'
                WHEN delta_seconds = 0 AND several_requests
                THEN 'signed in within a millisecond of the upload''s first or last request'
                WHEN delta_seconds = 0
                THEN 'signed in within a millisecond of the upload'
                WHEN delta_seconds > 0 AND several_requests
                THEN format('signed in {} before the upload''s first request', bt_duration_words(delta_seconds))
                WHEN delta_seconds > 0
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
           format('closest sign-in from {} ({} of this account in the window)',
                  source_table, CASE WHEN signin_count = 1 THEN '1 sign-in' ELSE signin_count || ' sign-ins' END),
           'public address: the sign-in and the upload left through the same network egress'
       ] AS reasons,
       * EXCLUDE (raw_score, during, several_requests)
FROM scored
)
-- The sign-in's own columns are joined last, for the one closest sign-in of each account.
SELECT r.rank, r.score, r.reasons, r.upload_event_key, r.upload_time, r.upload_user_agent,
       r.delta_seconds, r.ua_equal, s.*,
       r.signin_count, r.any_ua_equal, r.tables, r.accounts_in_window
FROM ranked r
JOIN signins s ON s.event_key = r.event_key;

-- `candidates_table` names a table that contains full_candidates_v5(before_us, after_us), so that
-- the candidates are computed once per hunt and both tables are stored from them.
CREATE MACRO full_findings_v5(candidates_table, before_us, after_us) AS TABLE
WITH candidates AS (
    SELECT * FROM query_table(candidates_table)
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
-- The hours the window touches: [first_hour, last_hour].
upload_hours AS (
    SELECT *,
           date_trunc('hour', first_time - to_microseconds(before_us)) AS first_hour,
           date_trunc('hour', time_generated + to_microseconds(after_us)) AS last_hour
    FROM (SELECT * EXCLUDE (raw) FROM full_uploads_v4)
),
-- Whether any sign-in, and any sign-in of the upload's address family, falls in one of those
-- hours: the first sign-in hour at or after first_hour must not lie after last_hour. ASOF joins
-- find that hour by sorting, where a range join compared every upload with every hour.
uploads AS (
    SELECT u.* EXCLUDE (first_hour, last_hour),
           coalesce(any_hour.hour <= u.last_hour, false) AS signins_near,
           coalesce(family_hour.hour <= u.last_hour, false) AS same_family_near
    FROM upload_hours u
    ASOF LEFT JOIN (SELECT DISTINCT hour FROM signin_hours) any_hour
        ON u.first_hour <= any_hour.hour
    ASOF LEFT JOIN signin_hours family_hour
        ON u.ip_family = family_hour.ip_family AND u.first_hour <= family_hour.hour
),
decided AS (
    SELECT u.*, t.account AS top_account, t.score AS top_score, t.runner_up_score,
           t.accounts_in_window AS top_accounts_in_window, t.delta_seconds AS top_delta_seconds,
           t.any_ua_equal AS top_any_ua_equal,
           CASE
               WHEN u.requester_count > 1 THEN 'ambiguous'
               WHEN u.requester_upn IS NOT NULL OR u.requester_object_id IS NOT NULL OR u.requester_user_name IS NOT NULL
                    OR u.smb_primary_sid IS NOT NULL THEN 'direct'
               WHEN t.account IS NULL THEN 'none'
               WHEN t.accounts_in_window = 1 AND u.caller_count <= 1
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
               requester_user_name,
               requester_object_id,
               smb_primary_sid)
           WHEN 'strong' THEN top_account
           WHEN 'probable' THEN top_account
       END AS attributed_account,
       CASE
           WHEN confidence = 'direct' AND (upload_kind IN ('smb-write', 'nfs-write')
                                           OR (requester_upn IS NULL AND requester_object_id IS NULL)) THEN
               format('the storage log names the user who made the request ({})',
                      concat_ws(', ', requester_user_name, requester_upn, 'object ' || requester_object_id,
                                'SID ' || smb_primary_sid))
           WHEN confidence = 'direct' THEN format('the storage log names the OAuth requester ({})',
               concat_ws(', ', requester_upn, 'object ' || requester_object_id,
                         'app ' || requester_app_id || coalesce(' ' || (SELECT min(n.name) FROM identity_names n
                                                                         WHERE n.id = lower(requester_app_id)), '')))
           WHEN requester_count > 1 THEN format(
               'the storage log names {} requesters for the requests of this upload ({}); see them with `blobtrail show`',
               requester_count, requesters)
           WHEN confidence = 'ambiguous' THEN 'several accounts signed in from this address in the window with no clear leader; see the candidates'
           WHEN confidence IN ('strong', 'probable') THEN concat(
               CASE WHEN top_accounts_in_window = 1 AND (top_delta_seconds BETWEEN -300 AND 1800 OR top_any_ua_equal)
                    THEN 'the only account that signed in successfully from this address in the window, '
                         || CASE WHEN top_delta_seconds BETWEEN -300 AND 1800 THEN 'close in time to the upload'
                                 ELSE 'with the upload''s user agent' END
                    WHEN top_accounts_in_window = 1
                    THEN 'the only account that signed in successfully from this address in the window, but not close in time to the upload and with another user agent'
                    ELSE format('the leading candidate scores {} against {} for the next; see the candidates', top_score, runner_up_score) END,
               CASE WHEN caller_count > 1
                    THEN format('; the requests of this upload came from {} addresses ({}), and only the address of the one that completed it was compared with sign-ins',
                                caller_count, callers) END)
           WHEN confidence <> 'none' THEN NULL
           WHEN upload_kind IN ('smb-write', 'nfs-write') AND lower(authentication_type) = 'kerberos' THEN
               'Kerberos SMB write whose stored row names no user (a file imported before schema version 14 keeps `RequesterUserName` and `SmbPrimarySID` only in `raw`), and sign-in logs cannot name a Kerberos caller'
           WHEN upload_kind IN ('smb-write', 'nfs-write') THEN
               'SMB or NFS write that names no user: the caller authenticated with NTLM, an account key or a host identity, not Entra ID, so sign-in logs cannot name it'
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
       first_time - to_microseconds(before_us) AS window_start,
       time_generated + to_microseconds(after_us) AS window_end,
       * EXCLUDE (confidence, signins_near, same_family_near, top_accounts_in_window, top_delta_seconds, top_any_ua_equal)
FROM decided;
