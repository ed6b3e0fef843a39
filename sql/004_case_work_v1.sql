-- 004_case_work_v1.sql: the examiner's record: annotations, exclusion rules, audit trail.
--
-- Purpose: keep who decided what about which finding, and every command run against the case,
-- so the case file holds up when someone asks later.
-- Inputs: written by `annotate`, `exclude` and every command that opens the case.
-- Output columns: see each table.
-- Assumptions:
--   * Times are UTC.
--   * Annotations are append-only: a change adds a row, and the current state of a finding is the
--     latest status and the tags added and not removed since, in `annotation_id` order. Rows attach
--     to finding IDs, which stay stable across hunts, so they survive every re-run.
--   * Exclusion rules are never deleted; `exclude disable` sets `disabled_at` and `disabled_by`.
--     `conditions` is a JSON object of lists: account, file_contains, extension, ip, user_agent_contains,
--     operation, container, path_prefix. A finding matches a rule when every listed condition has
--     at least one matching value.
--   * audit_log rows are hash-chained: `record_hash` is the SHA-256 of the record's canonical JSON,
--     which includes `previous_hash`, so a changed or deleted row breaks the chain.
--   * `state_before` and `state_after` are digests of the examiner's record (sources, findings,
--     annotations, exclusion rules) when the command started and ended. A change made outside
--     blobtrail between two commands shows as a record whose `state_before` differs from the
--     previous record's `state_after`.

CREATE SEQUENCE annotation_id_seq START 1;
CREATE TABLE annotations (
    annotation_id  INTEGER PRIMARY KEY DEFAULT nextval('annotation_id_seq'),
    finding_id     VARCHAR NOT NULL,
    status         VARCHAR,
    tags_added     VARCHAR NOT NULL,
    tags_removed   VARCHAR NOT NULL,
    note           VARCHAR,
    examiner       VARCHAR,
    created_at     TIMESTAMP NOT NULL
);

CREATE SEQUENCE rule_id_seq START 1;
CREATE TABLE exclusion_rules (
    rule_id      INTEGER PRIMARY KEY DEFAULT nextval('rule_id_seq'),
    reason       VARCHAR NOT NULL,
    preset       VARCHAR,
    conditions   VARCHAR NOT NULL,
    examiner     VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    disabled_at  TIMESTAMP,
    disabled_by  VARCHAR
);

CREATE TABLE audit_log (
    seq                INTEGER PRIMARY KEY,
    started_at         VARCHAR NOT NULL,
    finished_at        VARCHAR NOT NULL,
    command            VARCHAR NOT NULL,
    arguments          VARCHAR NOT NULL,
    examiner           VARCHAR,
    blobtrail_version  VARCHAR NOT NULL,
    exit_code          INTEGER NOT NULL,
    counts             VARCHAR NOT NULL,
    error              VARCHAR,
    state_before       VARCHAR NOT NULL,
    state_after        VARCHAR NOT NULL,
    previous_hash      VARCHAR NOT NULL,
    record_hash        VARCHAR NOT NULL
);
