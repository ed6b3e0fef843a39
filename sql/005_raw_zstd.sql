-- 005_raw_zstd.sql: store the original records with zstd compression.
--
-- Purpose: `raw` keeps each record's original text as a JSON object, about twice the size of a
-- CSV line. DuckDB 2.0.0's default string compression (FSST) spent about 2.5 s writing the `raw`
-- column of a 187,628-row StorageBlobLogs export and stored 169 MB. zstd took 0.8 s and 25 MB
-- (measured with the Python duckdb package 2.0.0 on a 2-core Xeon). The other columns keep the
-- default, which compresses short repeated values better.
-- Inputs: the tables from 001_case_schema.sql. DuckDB cannot change a column's compression in
-- place, so each table is renamed, created again with the same columns in the same order, and
-- filled from the old one; rows keep their order and values. Views read the tables by name and
-- need no change.
-- Assumptions: runs in one transaction, like every migration, so a case is either migrated whole
-- or left as it was. A large case is copied once, on the first command after an upgrade.

ALTER TABLE storage_events RENAME TO storage_events_fsst;
CREATE TABLE storage_events (
    source_id            INTEGER NOT NULL,
    record_no            BIGINT NOT NULL,
    line                 BIGINT,
    event_key            VARCHAR NOT NULL,
    source_table         VARCHAR NOT NULL,
    time_generated       TIMESTAMP NOT NULL,
    time_raw             VARCHAR USING COMPRESSION zstd NOT NULL,
    account_name         VARCHAR,
    operation_name       VARCHAR,
    status_text          VARCHAR,
    status_code          VARCHAR,
    authentication_type  VARCHAR,
    authentication_hash  VARCHAR,
    uri                  VARCHAR,
    object_key           VARCHAR,
    object_path          VARCHAR,
    container            VARCHAR,
    file_name            VARCHAR,
    caller_ip_raw        VARCHAR,
    caller_ip            VARCHAR,
    caller_port          INTEGER,
    ip_family            VARCHAR,
    ip_scope             VARCHAR,
    address_problem      VARCHAR,
    user_agent           VARCHAR,
    referrer             VARCHAR,
    requester_upn        VARCHAR,
    requester_object_id  VARCHAR,
    requester_app_id     VARCHAR,
    requester_tenant_id  VARCHAR,
    service_type         VARCHAR,
    protocol             VARCHAR,
    correlation_id       VARCHAR,
    request_body_size    BIGINT,
    raw                  VARCHAR USING COMPRESSION zstd NOT NULL
);
INSERT INTO storage_events SELECT * FROM storage_events_fsst;
DROP TABLE storage_events_fsst;

ALTER TABLE signin_events RENAME TO signin_events_fsst;
CREATE TABLE signin_events (
    source_id               INTEGER NOT NULL,
    record_no               BIGINT NOT NULL,
    line                    BIGINT,
    event_key               VARCHAR NOT NULL,
    source_table            VARCHAR NOT NULL,
    time_generated          TIMESTAMP,
    created_time            TIMESTAMP,
    time_raw                VARCHAR USING COMPRESSION zstd NOT NULL,
    user_principal_name     VARCHAR,
    user_id                 VARCHAR,
    user_display_name       VARCHAR,
    app_id                  VARCHAR,
    app_display_name        VARCHAR,
    service_principal_id    VARCHAR,
    service_principal_name  VARCHAR,
    ip_raw                  VARCHAR,
    ip                      VARCHAR,
    ip_family               VARCHAR,
    ip_scope                VARCHAR,
    address_problem         VARCHAR,
    user_agent              VARCHAR,
    result_type             VARCHAR,
    result_description      VARCHAR,
    is_interactive          BOOLEAN,
    client_app_used         VARCHAR,
    correlation_id          VARCHAR,
    signin_id               VARCHAR,
    raw                     VARCHAR USING COMPRESSION zstd NOT NULL
);
INSERT INTO signin_events SELECT * FROM signin_events_fsst;
DROP TABLE signin_events_fsst;
