-- 001_case_schema.sql: the tables of a case.
--
-- Purpose: hold the imported log records in one normalised shape per log family (storage
-- requests, sign-ins), every rejected record, every imported file, and the hunts with their
-- findings.
-- Inputs: written by `blobtrail import` and `blobtrail hunt`; nothing here reads evidence files.
-- Assumptions: every TIMESTAMP column is UTC (the importer converts before it writes). Text
-- columns hold NULL, never '', for a value the source left empty. `raw` contains the original record
-- as a JSON object (column or key name to text), so every row traces back to the bytes it came
-- from through `source_id` and `record_no`/`line`.

CREATE TABLE case_info (
    name               VARCHAR NOT NULL,
    title              VARCHAR,
    examiner           VARCHAR,
    created_at         TIMESTAMP NOT NULL,
    blobtrail_version  VARCHAR NOT NULL,
    duckdb_version     VARCHAR NOT NULL
);

-- One row per imported evidence file. `sha256` is the file's hash as read, so a second import
-- of the same bytes is recognised and skipped.
CREATE SEQUENCE source_id_seq START 1;
CREATE TABLE sources (
    source_id      INTEGER PRIMARY KEY DEFAULT nextval('source_id_seq'),
    path           VARCHAR NOT NULL,
    sha256         VARCHAR NOT NULL UNIQUE,
    size_bytes     BIGINT NOT NULL,
    shape          VARCHAR NOT NULL,
    tables         VARCHAR NOT NULL,
    imported_at    TIMESTAMP NOT NULL,
    examiner       VARCHAR,
    options        VARCHAR,
    records_read   BIGINT NOT NULL,
    imported       BIGINT NOT NULL,
    rejected       BIGINT NOT NULL,
    duplicates     BIGINT NOT NULL,
    first_time     TIMESTAMP,
    last_time      TIMESTAMP
);

-- Storage requests from StorageBlobLogs and StorageFileLogs.
-- `caller_ip` is the canonical address (IPv4 dotted, IPv6 RFC 5952, no port, IPv4-mapped IPv6
-- as IPv4); NULL when `caller_ip_raw` is empty or not an address, and `address_problem` gives the reason.
-- `object_path` is `/account/container/path`, percent-decoded; `file_name` its last segment.
CREATE TABLE storage_events (
    source_id            INTEGER NOT NULL,
    record_no            BIGINT NOT NULL,
    line                 BIGINT,
    event_key            VARCHAR NOT NULL,
    source_table         VARCHAR NOT NULL,
    time_generated       TIMESTAMP NOT NULL,
    time_raw             VARCHAR NOT NULL,
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
    raw                  VARCHAR NOT NULL
);

-- Sign-ins from SigninLogs, AADNonInteractiveUserSignInLogs, AADServicePrincipalSignInLogs and
-- AADManagedIdentitySignInLogs. `time_generated` and `created_time` are kept apart because the
-- first can lag the second by minutes; either may be NULL, never both.
CREATE TABLE signin_events (
    source_id               INTEGER NOT NULL,
    record_no               BIGINT NOT NULL,
    line                    BIGINT,
    event_key               VARCHAR NOT NULL,
    source_table            VARCHAR NOT NULL,
    time_generated          TIMESTAMP,
    created_time            TIMESTAMP,
    time_raw                VARCHAR NOT NULL,
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
    raw                     VARCHAR NOT NULL
);

-- Records that could not be imported, kept whole with where they came from and why.
-- `column_name` is NULL when the record as a whole is broken (bad JSON, wrong field count).
CREATE TABLE rejects (
    source_id    INTEGER NOT NULL,
    record_no    BIGINT,
    line         BIGINT,
    column_name  VARCHAR,
    value        VARCHAR,
    reason       VARCHAR NOT NULL,
    raw          VARCHAR
);

-- One row per `blobtrail hunt`. `parameters` and `inputs` are JSON: the resolved options, and
-- the SHA-256 of every source file the hunt read.
CREATE SEQUENCE hunt_id_seq START 1;
CREATE TABLE hunts (
    hunt_id            INTEGER PRIMARY KEY DEFAULT nextval('hunt_id_seq'),
    mode               VARCHAR NOT NULL,
    view_name          VARCHAR NOT NULL,
    view_version       INTEGER NOT NULL,
    view_checksum      VARCHAR NOT NULL,
    parameters         VARCHAR NOT NULL,
    inputs             VARCHAR NOT NULL,
    started_at         TIMESTAMP NOT NULL,
    finished_at        TIMESTAMP,
    uploads            BIGINT,
    with_candidates    BIGINT,
    candidates         BIGINT,
    examiner           VARCHAR,
    blobtrail_version  VARCHAR NOT NULL
);

-- One row per upload per hunt. `finding_id` derives from the upload's `event_key` (for a
-- multi-request upload, the committing request's), so the same upload keeps its ID across hunts.
-- `confidence` is direct, strong, probable, ambiguous or none; `reason` explains why an upload
-- has no attributed account.
CREATE TABLE findings (
    hunt_id              INTEGER NOT NULL,
    finding_id           VARCHAR NOT NULL,
    upload_event_key     VARCHAR NOT NULL,
    upload_kind          VARCHAR NOT NULL,
    part_count           BIGINT NOT NULL,
    bytes                BIGINT,
    first_time           TIMESTAMP NOT NULL,
    confidence           VARCHAR,
    attributed_account   VARCHAR,
    reason               VARCHAR,
    source_table         VARCHAR NOT NULL,
    source_id            INTEGER NOT NULL,
    record_no            BIGINT NOT NULL,
    line                 BIGINT,
    upload_time          TIMESTAMP NOT NULL,
    operation            VARCHAR,
    status_text          VARCHAR,
    storage_account      VARCHAR,
    object_path          VARCHAR,
    file_name            VARCHAR,
    caller_ip_raw        VARCHAR,
    caller_ip            VARCHAR,
    address_problem      VARCHAR,
    upload_user_agent    VARCHAR,
    authentication_type  VARCHAR,
    requester_upn        VARCHAR,
    requester_object_id  VARCHAR,
    requester_app_id     VARCHAR,
    window_start         TIMESTAMP NOT NULL,
    window_end           TIMESTAMP NOT NULL,
    candidate_count      BIGINT NOT NULL,
    PRIMARY KEY (hunt_id, finding_id)
);

-- The sign-ins a hunt matched to an upload, ranked within the upload (1 = best). Sentinel mode
-- keeps every matching sign-in; full mode keeps one row per account, with the sign-in closest to
-- the upload and `signin_count` sign-ins of that account in the window. `reasons` is a JSON list
-- of sentences; `delta_seconds` is upload time minus sign-in time (negative: after the upload).
CREATE TABLE finding_candidates (
    hunt_id           INTEGER NOT NULL,
    finding_id        VARCHAR NOT NULL,
    rank              INTEGER NOT NULL,
    score             DOUBLE,
    reasons           VARCHAR,
    delta_seconds     DOUBLE NOT NULL,
    signin_count      BIGINT NOT NULL,
    account           VARCHAR,
    user_id           VARCHAR,
    signin_time       TIMESTAMP NOT NULL,
    ip                VARCHAR NOT NULL,
    user_agent        VARCHAR,
    source_table      VARCHAR NOT NULL,
    result_type       VARCHAR,
    app_display_name  VARCHAR,
    signin_event_key  VARCHAR NOT NULL,
    source_id         INTEGER NOT NULL,
    record_no         BIGINT NOT NULL,
    line              BIGINT
);
