//! Running a hunt: the SQL views correlate, this module records.
//!
//! A hunt writes one `hunts` row with the view version, the resolved parameters and the hashes
//! of every input file, then one `findings` row per upload and its `finding_candidates` rows,
//! all in one transaction. A later hunt never changes an earlier hunt's findings.

use std::time::Duration;

use anyhow::{Context, Result};
use duckdb::{params, Connection};
use serde_json::json;

use crate::parse::duration::format_duration;
use crate::sql;

/// The correlation to run, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every upload, every sign-in source, ranked candidates (`sql/015_full_hunt_v5.sql`).
    Full { before: Duration, after: Duration },
    /// The reference query's filters with its defects fixed (`sql/002_sentinel_hunt_v1.sql`).
    Sentinel { lookback: Duration, ua_match: bool },
}

/// The full hunt's window before an upload. Access tokens live 60 to 90 minutes, so an upload
/// made with a token can come up to 90 minutes after the sign-in that issued it; a refresh shows
/// up as a newer non-interactive sign-in, which the window then also catches.
pub const DEFAULT_BEFORE: Duration = Duration::from_secs(90 * 60);
/// The full hunt's window after an upload: sign-in and storage clocks are independent, and a
/// sign-in's CreatedDateTime can be stamped seconds to a few minutes after the request it served.
pub const DEFAULT_AFTER: Duration = Duration::from_secs(5 * 60);
/// The reference query's lookback.
pub const SENTINEL_LOOKBACK: Duration = Duration::from_secs(60);

/// The full hunt's findings macro and the version of the SQL file that defines it.
pub const FULL_VIEW: (&str, i32) = ("full_findings_v5", 15);
/// The sentinel hunt's candidates macro and the version of the SQL file that defines it.
pub const SENTINEL_VIEW: (&str, i32) = ("sentinel_candidates_v1", 2);

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full { .. } => "full",
            Mode::Sentinel { .. } => "sentinel",
        }
    }

    /// Returns the view (or macro) that produces the findings, and the version of its SQL file.
    pub fn view(self) -> (&'static str, i32) {
        match self {
            Mode::Full { .. } => FULL_VIEW,
            Mode::Sentinel { .. } => SENTINEL_VIEW,
        }
    }
}

/// A resolved hunt request.
#[derive(Clone, Debug)]
pub struct HuntPlan {
    pub mode: Mode,
    pub file: Option<String>,
    pub examiner: Option<String>,
}

impl HuntPlan {
    /// Returns the parameters as recorded with the hunt.
    pub fn parameters(&self) -> serde_json::Value {
        match self.mode {
            Mode::Full { before, after } => json!({
                "mode": "full",
                "before": format_duration(before),
                "after": format_duration(after),
                "window": "[first request of the upload - before, its last request + after], both ends included",
                "file": self.file,
                "signin_tables": ["SigninLogs", "AADNonInteractiveUserSignInLogs",
                                  "AADServicePrincipalSignInLogs", "AADManagedIdentitySignInLogs"],
                "signin_time": "CreatedDateTime, else TimeGenerated",
                "successful_signins_only": true,
            }),
            Mode::Sentinel { lookback, ua_match } => json!({
                "mode": "sentinel",
                "lookback": format_duration(lookback),
                "window": "[upload - lookback, upload], both ends included",
                "file": self.file,
                "ua_match": ua_match,
                "signin_tables": ["SigninLogs"],
                "signin_time": "TimeGenerated, else CreatedDateTime",
                "operations": ["PutBlob", "PutRange"],
                "status": "Success",
            }),
        }
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

/// Runs a hunt and stores its findings.
pub fn run(conn: &Connection, plan: &HuntPlan) -> Result<HuntSummary> {
    let result = compute_candidates(conn, plan.mode).and_then(|()| {
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
    });
    // The hunt's own result or error counts; a temporary table left behind ends with the
    // connection.
    let _ = conn.execute_batch("DROP TABLE IF EXISTS temp.hunt_candidates");
    result
}

/// Fills the temporary table `hunt_candidates` with the full hunt's ranked candidates, which
/// both the findings and the stored candidates are then read from. It is filled before the
/// hunt's transaction opens because DuckDB 2.0.0 returned no rows from column scans of a
/// temporary table created inside a transaction once it held more than one row group.
fn compute_candidates(conn: &Connection, mode: Mode) -> Result<()> {
    if let Mode::Full { before, after } = mode {
        // The macro's arguments are numbers produced here, never user text.
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE hunt_candidates AS
             SELECT * FROM full_candidates_v5({}, {})",
            micros(before)?,
            micros(after)?
        ))
        .context("cannot rank the candidate sign-ins")?;
    }
    Ok(())
}

fn micros(duration: Duration) -> Result<i64> {
    i64::try_from(duration.as_micros()).context("the window is too long")
}

fn record_hunt(conn: &Connection, plan: &HuntPlan) -> Result<HuntSummary> {
    let (view_name, view_version) = plan.mode.view();
    let view = sql::file(view_version).context("the hunt's SQL file is not embedded")?;
    let inputs: String = conn.query_row(
        "SELECT coalesce(to_json(list(sha256 ORDER BY source_id))::VARCHAR, '[]') FROM sources",
        [],
        |row| row.get(0),
    )?;
    let hunt_id: i64 = conn.query_row(
        "INSERT INTO hunts (mode, view_name, view_version, view_checksum, parameters, inputs,
                            started_at, examiner, blobtrail_version)
         VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)
         RETURNING hunt_id",
        params![
            plan.mode.name(),
            view_name,
            view.version,
            view.checksum(),
            plan.parameters().to_string(),
            inputs,
            plan.examiner,
            crate::VERSION
        ],
        |row| row.get(0),
    )?;

    match plan.mode {
        Mode::Full { before, after } => insert_full(conn, hunt_id, micros(before)?, micros(after)?, plan)?,
        Mode::Sentinel { lookback, ua_match } => insert_sentinel(conn, hunt_id, micros(lookback)?, ua_match, plan)?,
    }

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
        "UPDATE hunts SET finished_at = now()::TIMESTAMP, uploads = ?, with_candidates = ?, candidates = ?,
                          findings_digest = (SELECT digest FROM hunt_findings_digests WHERE hunt_id = ?)
         WHERE hunt_id = ?",
        params![summary.uploads, summary.with_candidates, summary.candidates, hunt_id, hunt_id],
    )?;
    Ok(summary)
}

/// The columns of `findings` in the order both modes insert them.
const FINDING_COLUMNS: &str = "hunt_id, finding_id, upload_event_key, upload_kind, part_count, bytes,
    first_time, confidence, attributed_account, reason, source_table, source_id, record_no, line,
    upload_time, operation, status_text, storage_account, object_path, file_name, caller_ip_raw,
    caller_ip, address_problem, upload_user_agent, authentication_type, requester_upn,
    requester_object_id, requester_app_id, window_start, window_end, candidate_count";

/// The columns of `finding_candidates` in the order both modes insert them.
const CANDIDATE_COLUMNS: &str = "hunt_id, finding_id, rank, score, reasons, delta_seconds,
    signin_count, account, user_id, signin_time, ip, user_agent, source_table, result_type,
    app_display_name, signin_event_key, source_id, record_no, line";

fn insert_full(conn: &Connection, hunt_id: i64, before_us: i64, after_us: i64, plan: &HuntPlan) -> Result<()> {
    // The macros' arguments are numbers produced here, never user text.
    conn.execute(
        &format!(
            "INSERT INTO findings ({FINDING_COLUMNS})
             SELECT ?, 'F-' || substr(f.upload_event_key, 1, 16), f.upload_event_key, f.upload_kind,
                    f.part_count, f.bytes, f.first_time, f.confidence, f.attributed_account, f.reason,
                    f.source_table, f.source_id, f.record_no, f.line, f.time_generated,
                    f.operation_name, f.status_text, f.account_name, f.object_path, f.file_name,
                    f.caller_ip_raw, f.caller_ip, f.address_problem, f.user_agent,
                    f.authentication_type, f.requester_upn, f.requester_object_id, f.requester_app_id,
                    f.window_start, f.window_end, 0
             FROM full_findings_v5('hunt_candidates', {before_us}, {after_us}) f
             WHERE ?::VARCHAR IS NULL OR lower(nfc_normalize(f.file_name)) = lower(nfc_normalize(?::VARCHAR))"
        ),
        params![hunt_id, plan.file, plan.file],
    )
    .context("cannot select the uploads")?;
    conn.execute(
        &format!(
            "INSERT INTO finding_candidates ({CANDIDATE_COLUMNS})
             SELECT ?, 'F-' || substr(c.upload_event_key, 1, 16), c.rank, c.score,
                    to_json(c.reasons)::VARCHAR, c.delta_seconds, c.signin_count, c.account,
                    c.user_id, c.signin_time, c.ip, c.user_agent, c.source_table, c.result_type,
                    c.app_display_name, c.event_key, c.source_id, c.record_no, c.line
             FROM temp.hunt_candidates c
             WHERE c.upload_event_key IN (SELECT upload_event_key FROM findings WHERE hunt_id = ?)"
        ),
        params![hunt_id, hunt_id],
    )
    .context("cannot store the candidate sign-ins")?;
    Ok(())
}

fn insert_sentinel(conn: &Connection, hunt_id: i64, lookback_us: i64, ua_match: bool, plan: &HuntPlan) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO findings ({FINDING_COLUMNS})
             SELECT ?, 'F-' || substr(u.event_key, 1, 16), u.event_key, lower(u.operation_name), 1,
                    u.request_body_size, u.time_generated, NULL, NULL, NULL, u.source_table,
                    u.source_id, u.record_no, u.line, u.time_generated, u.operation_name,
                    u.status_text, u.account_name, u.object_path, u.file_name, u.caller_ip_raw,
                    u.caller_ip, u.address_problem, u.user_agent, u.authentication_type,
                    u.requester_upn, u.requester_object_id, u.requester_app_id,
                    u.time_generated - to_microseconds({lookback_us}), u.time_generated, 0
             FROM sentinel_uploads_v1 u
             WHERE ?::VARCHAR IS NULL OR lower(nfc_normalize(u.file_name)) = lower(nfc_normalize(?::VARCHAR))"
        ),
        params![hunt_id, plan.file, plan.file],
    )
    .context("cannot select the uploads")?;
    // The macro's arguments are numbers and booleans produced here, never user text.
    conn.execute(
        &format!(
            "INSERT INTO finding_candidates ({CANDIDATE_COLUMNS})
             SELECT ?, 'F-' || substr(c.upload_event_key, 1, 16), c.rank, NULL, NULL,
                    date_diff('millisecond', c.signin_time, c.window_end) / 1000.0, 1,
                    coalesce(c.user_principal_name, c.service_principal_name, c.user_id), c.user_id,
                    c.signin_time, c.ip, c.user_agent, c.source_table, c.result_type,
                    c.app_display_name, c.event_key, c.source_id, c.record_no, c.line
             FROM sentinel_candidates_v1({lookback_us}, {ua_match}) c
             WHERE c.upload_event_key IN (SELECT upload_event_key FROM findings WHERE hunt_id = ?)"
        ),
        params![hunt_id, hunt_id],
    )
    .context("cannot match sign-ins")?;
    conn.execute(
        "UPDATE findings SET confidence = 'none',
             reason = CASE WHEN caller_ip IS NULL
                           THEN format('caller address unusable ({}): `{}`', coalesce(address_problem, 'not an address'), coalesce(caller_ip_raw, ''))
                           ELSE 'no SigninLogs sign-in from this address in the lookback window matched the reference query''s filters' END
         WHERE hunt_id = ? AND NOT EXISTS (
             SELECT 1 FROM finding_candidates c WHERE c.hunt_id = findings.hunt_id AND c.finding_id = findings.finding_id)",
        params![hunt_id],
    )?;
    Ok(())
}
