//! Reading stored findings back, in the shape `findings --format json` prints.

use std::collections::HashMap;

use anyhow::{bail, Result};
use duckdb::{params, Connection};
use serde::Serialize;

use crate::parse::time::format_iso;
use crate::{annotations, exclusions};

#[derive(Debug, Serialize)]
pub struct Candidate {
    pub rank: i64,
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    pub delta_seconds: f64,
    pub signin_count: i64,
    pub account: Option<String>,
    pub user_id: Option<String>,
    pub signin_time: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub source_table: String,
    pub result_type: Option<String>,
    pub app_display_name: Option<String>,
    pub source_file: String,
    pub source_record: i64,
    pub source_line: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub finding_id: String,
    pub hunt_id: i64,
    pub mode: String,
    pub upload_time: String,
    pub upload_kind: String,
    pub part_count: i64,
    pub bytes: Option<i64>,
    pub first_time: String,
    pub confidence: Option<String>,
    pub attributed_account: Option<String>,
    pub reason: Option<String>,
    pub operation: Option<String>,
    pub status_text: Option<String>,
    pub storage_account: Option<String>,
    pub object_path: Option<String>,
    pub file_name: Option<String>,
    pub caller_ip: Option<String>,
    pub caller_ip_raw: Option<String>,
    pub address_problem: Option<String>,
    pub upload_user_agent: Option<String>,
    pub authentication_type: Option<String>,
    pub requester_upn: Option<String>,
    pub requester_object_id: Option<String>,
    pub requester_app_id: Option<String>,
    pub source_table: String,
    pub source_file: String,
    pub source_record: i64,
    pub source_line: Option<i64>,
    pub window_start: String,
    pub window_end: String,
    pub candidate_count: i64,
    pub candidates: Vec<Candidate>,
    /// The examiner's current status; None until annotated (read as `open`).
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub notes: Vec<String>,
    /// IDs of the enabled exclusion rules that match this finding.
    pub excluded_by: Vec<i64>,
}

/// Returns the latest finished hunt, or fails with what to run first.
pub fn latest_hunt(conn: &Connection) -> Result<i64> {
    let hunt: Option<i64> =
        conn.query_row("SELECT max(hunt_id) FROM hunts WHERE finished_at IS NOT NULL", [], |r| r.get(0))?;
    match hunt {
        Some(id) => Ok(id),
        None => bail!("the case has no hunt yet; run `blobtrail hunt` first"),
    }
}

/// Loads every finding of a hunt with its candidates, ordered by upload time.
pub fn load(conn: &Connection, hunt_id: i64) -> Result<Vec<Finding>> {
    let mode: Option<String> =
        conn.query_row("SELECT max(mode) FROM hunts WHERE hunt_id = ?", [hunt_id], |r| r.get(0))?;
    let Some(mode) = mode else { bail!("hunt {hunt_id} not found") };
    let mut candidates = load_candidates(conn, hunt_id)?;

    let mut stmt = conn.prepare(
        "SELECT f.finding_id, epoch_us(f.upload_time), f.operation, f.status_text, f.storage_account,
                f.object_path, f.file_name, f.caller_ip, f.caller_ip_raw, f.address_problem,
                f.upload_user_agent, f.authentication_type, f.requester_upn, f.source_table,
                s.path, f.record_no, f.line, epoch_us(f.window_start), epoch_us(f.window_end),
                f.candidate_count, f.upload_kind, f.part_count, f.bytes, epoch_us(f.first_time),
                f.confidence, f.attributed_account, f.reason, f.requester_object_id,
                f.requester_app_id
         FROM findings f JOIN sources s USING (source_id)
         WHERE f.hunt_id = ?
         ORDER BY f.upload_time, f.finding_id",
    )?;
    let rows = stmt.query_map(params![hunt_id], |row| {
        Ok(Finding {
            finding_id: row.get(0)?,
            hunt_id,
            mode: mode.clone(),
            upload_time: format_iso(row.get(1)?),
            upload_kind: row.get(20)?,
            part_count: row.get(21)?,
            bytes: row.get(22)?,
            first_time: format_iso(row.get(23)?),
            confidence: row.get(24)?,
            attributed_account: row.get(25)?,
            reason: row.get(26)?,
            operation: row.get(2)?,
            status_text: row.get(3)?,
            storage_account: row.get(4)?,
            object_path: row.get(5)?,
            file_name: row.get(6)?,
            caller_ip: row.get(7)?,
            caller_ip_raw: row.get(8)?,
            address_problem: row.get(9)?,
            upload_user_agent: row.get(10)?,
            authentication_type: row.get(11)?,
            requester_upn: row.get(12)?,
            requester_object_id: row.get(27)?,
            requester_app_id: row.get(28)?,
            source_table: row.get(13)?,
            source_file: row.get(14)?,
            source_record: row.get(15)?,
            source_line: row.get(16)?,
            window_start: format_iso(row.get(17)?),
            window_end: format_iso(row.get(18)?),
            candidate_count: row.get(19)?,
            candidates: Vec::new(),
            status: None,
            tags: Vec::new(),
            notes: Vec::new(),
            excluded_by: Vec::new(),
        })
    })?;
    let mut findings = rows.collect::<Result<Vec<_>, _>>()?;
    for finding in &mut findings {
        finding.candidates = candidates.remove(&finding.finding_id).unwrap_or_default();
    }
    decorate(conn, &mut findings)?;
    Ok(findings)
}

/// Adds the examiner's annotations and the matching exclusion rules to each finding.
fn decorate(conn: &Connection, findings: &mut [Finding]) -> Result<()> {
    let mut states = annotations::load_states(conn)?;
    let rules: Vec<_> = exclusions::load(conn)?.into_iter().filter(|r| r.disabled_at.is_none()).collect();
    for finding in findings {
        if let Some(state) = states.remove(&finding.finding_id) {
            finding.status = state.status;
            finding.tags = state.tags;
            finding.notes = state.notes;
        }
        finding.excluded_by =
            rules.iter().filter(|rule| rule.conditions.matches(finding)).map(|rule| rule.rule_id).collect();
    }
    Ok(())
}

fn load_candidates(conn: &Connection, hunt_id: i64) -> Result<HashMap<String, Vec<Candidate>>> {
    let mut stmt = conn.prepare(
        "SELECT c.finding_id, c.rank, c.account, c.user_id, epoch_us(c.signin_time), c.ip,
                c.user_agent, c.source_table, c.result_type, c.app_display_name, s.path,
                c.record_no, c.line, c.score, c.reasons, c.delta_seconds, c.signin_count
         FROM finding_candidates c JOIN sources s USING (source_id)
         WHERE c.hunt_id = ?
         ORDER BY c.finding_id, c.rank",
    )?;
    let rows = stmt.query_map(params![hunt_id], |row| {
        let finding_id: String = row.get(0)?;
        let reasons: Option<String> = row.get(14)?;
        Ok((
            finding_id,
            Candidate {
                rank: row.get(1)?,
                score: row.get(13)?,
                reasons: reasons.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default(),
                delta_seconds: row.get(15)?,
                signin_count: row.get(16)?,
                account: row.get(2)?,
                user_id: row.get(3)?,
                signin_time: format_iso(row.get(4)?),
                ip: row.get(5)?,
                user_agent: row.get(6)?,
                source_table: row.get(7)?,
                result_type: row.get(8)?,
                app_display_name: row.get(9)?,
                source_file: row.get(10)?,
                source_record: row.get(11)?,
                source_line: row.get(12)?,
            },
        ))
    })?;
    let mut by_finding: HashMap<String, Vec<Candidate>> = HashMap::new();
    for row in rows {
        let (finding_id, candidate) = row?;
        by_finding.entry(finding_id).or_default().push(candidate);
    }
    Ok(by_finding)
}
