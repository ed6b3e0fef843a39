//! Running a hunt: the SQL views correlate, this module records.
//!
//! A hunt writes one `hunts` row with the view version, the resolved parameters and the hashes
//! of every input file, then one `findings` row per upload and one `finding_candidates` row per
//! matching sign-in, all in one transaction. Findings are never updated by a later hunt: each
//! hunt keeps its own.

use std::time::Duration;

use anyhow::{Context, Result};
use duckdb::{params, Connection};
use serde_json::json;

use crate::parse::duration::format_duration;
use crate::sql;

/// A resolved hunt request.
#[derive(Clone, Debug)]
pub struct HuntPlan {
    pub lookback: Duration,
    pub file: Option<String>,
    pub ua_match: bool,
    pub examiner: Option<String>,
}

impl HuntPlan {
    /// The parameters as recorded with the hunt.
    pub fn parameters(&self) -> serde_json::Value {
        json!({
            "mode": "sentinel",
            "lookback": format_duration(self.lookback),
            "lookback_seconds": self.lookback.as_secs_f64(),
            "window": "[upload - lookback, upload], both ends included",
            "file": self.file,
            "ua_match": self.ua_match,
            "signin_tables": ["SigninLogs"],
            "operations": ["PutBlob", "PutRange"],
            "status": "Success",
        })
    }
}

/// Counts of a finished hunt.
#[derive(Debug, Clone, Copy)]
pub struct HuntSummary {
    pub hunt_id: i64,
    pub uploads: i64,
    pub with_candidates: i64,
    pub candidates: i64,
}

const VIEW_NAME: &str = "sentinel_candidates_v1";
const VIEW_VERSION: i32 = 2;

/// Runs the sentinel-mode hunt and stores its findings.
pub fn run_sentinel(conn: &Connection, plan: &HuntPlan) -> Result<HuntSummary> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    match record_hunt(conn, plan) {
        Ok(summary) => {
            conn.execute_batch("COMMIT")?;
            Ok(summary)
        }
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}

fn record_hunt(conn: &Connection, plan: &HuntPlan) -> Result<HuntSummary> {
    let view = sql::file(VIEW_VERSION).context("the hunt's SQL file is not embedded")?;
    let inputs: String = conn.query_row(
        "SELECT coalesce(to_json(list(sha256 ORDER BY source_id))::VARCHAR, '[]') FROM sources",
        [],
        |row| row.get(0),
    )?;
    let hunt_id: i64 = conn.query_row(
        "INSERT INTO hunts (mode, view_name, view_version, view_checksum, parameters, inputs,
                            started_at, examiner, blobtrail_version)
         VALUES ('sentinel', ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)
         RETURNING hunt_id",
        params![
            VIEW_NAME,
            view.version,
            view.checksum(),
            plan.parameters().to_string(),
            inputs,
            plan.examiner,
            crate::VERSION
        ],
        |row| row.get(0),
    )?;
    let lookback_us = i64::try_from(plan.lookback.as_micros()).context("the lookback is too long")?;

    conn.execute(
        "INSERT INTO findings
         SELECT ?, 'F-' || substr(u.event_key, 1, 16), u.event_key, u.source_table, u.source_id,
                u.record_no, u.line, u.time_generated, u.operation_name, u.status_text,
                u.account_name, u.object_path, u.file_name, u.caller_ip_raw, u.caller_ip,
                u.address_problem, u.user_agent, u.authentication_type, u.requester_upn,
                u.time_generated - to_microseconds(?), u.time_generated, 0
         FROM sentinel_uploads_v1 u
         WHERE ?::VARCHAR IS NULL OR lower(u.file_name) = lower(?::VARCHAR)",
        params![hunt_id, lookback_us, plan.file, plan.file],
    )
    .context("cannot select the uploads")?;

    // The macro's arguments are numbers and booleans produced here, never user text.
    let candidates_sql = format!(
        "INSERT INTO finding_candidates
         SELECT ?, 'F-' || substr(c.upload_event_key, 1, 16), c.rank,
                coalesce(c.user_principal_name, c.service_principal_name, c.user_id), c.user_id,
                c.signin_time, c.ip, c.user_agent, c.source_table, c.result_type,
                c.app_display_name, c.event_key, c.source_id, c.record_no, c.line
         FROM {VIEW_NAME}({lookback_us}, {}) c
         WHERE c.upload_event_key IN (SELECT upload_event_key FROM findings WHERE hunt_id = ?)",
        plan.ua_match
    );
    conn.execute(&candidates_sql, params![hunt_id, hunt_id]).context("cannot match sign-ins")?;

    conn.execute(
        "UPDATE findings f SET candidate_count = c.n
         FROM (SELECT finding_id, count(*) AS n FROM finding_candidates WHERE hunt_id = ? GROUP BY finding_id) c
         WHERE f.hunt_id = ? AND f.finding_id = c.finding_id",
        params![hunt_id, hunt_id],
    )?;
    let summary: HuntSummary = conn.query_row(
        "SELECT count(*), count(*) FILTER (candidate_count > 0), coalesce(sum(candidate_count), 0)::BIGINT
         FROM findings WHERE hunt_id = ?",
        params![hunt_id],
        |row| Ok(HuntSummary { hunt_id, uploads: row.get(0)?, with_candidates: row.get(1)?, candidates: row.get(2)? }),
    )?;
    conn.execute(
        "UPDATE hunts SET finished_at = now()::TIMESTAMP, uploads = ?, with_candidates = ?, candidates = ?
         WHERE hunt_id = ?",
        params![summary.uploads, summary.with_candidates, summary.candidates, hunt_id],
    )?;
    Ok(summary)
}
