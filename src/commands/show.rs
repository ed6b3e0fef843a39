//! `blobtrail show FINDING_ID`: one finding in full: the upload, the storage requests it is
//! made of (file and line), every candidate with its reasons, and the failed sign-ins from the
//! caller's address in the window.

use std::io::Write;

use anyhow::{bail, Result};
use duckdb::{params, Connection};
use serde::Serialize;

use super::Report;
use crate::case::Case;
use crate::cli::{ShowArgs, ShowFormat};
use crate::annotations::{self, Annotation};
use crate::exclusions::{self, Rule};
use crate::findings::{self, Finding};
use crate::import::record::Position;
use crate::output::{self, terminal_safe};
use crate::parse::time::format_iso;

#[derive(Serialize)]
struct Request {
    time: String,
    operation: Option<String>,
    status_text: Option<String>,
    caller: Option<String>,
    /// The caller's address without port, in the form sign-in logs are compared in.
    caller_ip: Option<String>,
    bytes: Option<i64>,
    source_file: String,
    position: String,
    authentication_type: Option<String>,
    /// The OAuth requester's UPN, else its object ID, else the Windows user or its SID.
    requester: Option<String>,
}

#[derive(Serialize)]
struct FailedSignin {
    time: String,
    account: Option<String>,
    result_type: Option<String>,
    result_description: Option<String>,
    source_table: String,
    user_agent: Option<String>,
}

#[derive(Serialize)]
struct Shown<'a> {
    finding: &'a Finding,
    requests: Vec<Request>,
    failed_signins: Vec<FailedSignin>,
    annotations: Vec<Annotation>,
    excluded_by: Vec<Rule>,
}

pub fn run(case: &Case, args: ShowArgs) -> Result<Report> {
    let finding = load_one(&case.conn, &args.finding_id, args.hunt)?;
    let requests = requests(&case.conn, &finding)?;
    let failed_signins = failed_signins(&case.conn, &finding)?;
    let annotations = annotations::load_states(&case.conn)?.remove(&finding.finding_id).map(|s| s.history).unwrap_or_default();
    let excluded_by = exclusions::load(&case.conn)?.into_iter().filter(|r| finding.excluded_by.contains(&r.rule_id)).collect();
    let shown = Shown { finding: &finding, requests, failed_signins, annotations, excluded_by };
    output::to_stdout(|out| match args.format {
        ShowFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &shown).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        ShowFormat::Text => print_text(out, &shown),
    })?;
    Ok(Report::success(serde_json::json!({ "finding_id": args.finding_id })))
}

/// Loads one finding from a hunt: `hunt`, else the latest hunt that has it.
pub fn load_one(conn: &Connection, finding_id: &str, hunt: Option<i64>) -> Result<Finding> {
    let hunt_id = match hunt {
        Some(id) => id,
        None => {
            let found: Option<i64> = conn.query_row(
                "SELECT max(hunt_id) FROM findings WHERE finding_id = ?",
                params![finding_id],
                |r| r.get(0),
            )?;
            match found {
                Some(id) => id,
                None => return Err(findings::not_found(conn, finding_id)),
            }
        }
    };
    // Only this finding's rows are read: reading every finding took seconds in large cases.
    let mut found = None;
    findings::for_each_of(conn, hunt_id, Some(&[finding_id.to_string()]), |finding| {
        found = Some(finding);
        Ok(())
    })?;
    match found {
        Some(finding) => Ok(finding),
        None => bail!("finding `{}` is not in hunt {hunt_id}", terminal_safe(finding_id)),
    }
}

/// Loads the storage requests of the upload: the one that completed it and, for uploads made
/// of several requests, the parts before it on the same object. A request that starts a series
/// (PutBlob, CreateFile) comes first among requests of the same time, as in the hunt's SQL.
fn requests(conn: &Connection, finding: &Finding) -> Result<Vec<Request>> {
    let mut stmt = conn.prepare(
        "SELECT epoch_us(e.time_generated), e.operation_name, e.status_text, e.caller_ip_raw,
                e.request_body_size, s.path, e.record_no, e.line, e.authentication_type,
                coalesce(e.requester_upn, e.requester_object_id, e.requester_user_name, e.smb_primary_sid), e.caller_ip
         FROM storage_events e JOIN sources s USING (source_id)
         JOIN findings f ON f.hunt_id = ? AND f.finding_id = ?
         WHERE e.event_key = f.upload_event_key
            -- A block or Data Lake upload counts its parts without the commit request.
            OR ((f.part_count > 1 OR (f.part_count = 1 AND f.upload_kind IN ('block-upload', 'datalake-upload')))
                AND e.source_table = f.source_table
                AND e.object_path = f.object_path
                AND e.time_generated BETWEEN f.first_time AND f.upload_time
                AND (e.caller_ip IS NOT DISTINCT FROM f.caller_ip OR f.upload_kind IN ('block-upload', 'datalake-upload'))
                AND (lower(e.operation_name) IN ('putblock', 'putblockfromurl', 'createpathfile', 'appendfile',
                                                 'createfile', 'putrange', 'putrangefromurl', 'write', 'nfs4write')
                     OR (f.upload_kind IN ('put-page', 'append-block')
                         AND lower(e.operation_name) IN ('putpage', 'putpagefromurl', 'appendblock', 'appendblockfromurl', 'putblob')))
                -- A series is one requester's, as the hunt groups it: the requester of the
                -- request that completed the upload.
                AND (f.upload_kind IN ('block-upload', 'datalake-upload')
                     OR storage_requester_key_v5(e.requester_object_id, e.requester_upn, e.smb_primary_sid, e.requester_user_name)
                        = (SELECT storage_requester_key_v5(u.requester_object_id, u.requester_upn, u.smb_primary_sid, u.requester_user_name)
                           FROM storage_events u WHERE u.event_key = f.upload_event_key LIMIT 1)))
         ORDER BY e.time_generated, lower(e.operation_name) NOT IN ('putblob', 'createfile'), e.source_id, e.record_no",
    )?;
    let rows = stmt.query_map(params![finding.hunt_id, finding.finding_id], |r| {
        let record: i64 = r.get(6)?;
        let line: Option<i64> = r.get(7)?;
        Ok(Request {
            time: format_iso(r.get(0)?),
            operation: r.get(1)?,
            status_text: r.get(2)?,
            caller: r.get(3)?,
            bytes: r.get(4)?,
            source_file: r.get(5)?,
            position: Position::stored(record, line).describe(),
            authentication_type: r.get(8)?,
            requester: r.get(9)?,
            caller_ip: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Warns when the requests of one upload came from more than one caller address or were made
/// with more than one OAuth requester or authentication type. The finding's caller and
/// requester are those of the request that completed the upload, so the others may point to
/// another account.
fn mixed_requests(requests: &[Request]) -> Vec<String> {
    let distinct = |values: Vec<Option<String>>| {
        let mut values: Vec<String> = values.into_iter().flatten().collect();
        values.sort_by_key(|value| value.to_lowercase());
        values.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        values
    };
    let callers = distinct(requests.iter().map(|r| r.caller_ip.clone().or_else(|| r.caller.clone())).collect());
    let requesters = distinct(requests.iter().map(|r| r.requester.clone()).collect());
    let methods = distinct(requests.iter().map(|r| r.authentication_type.clone()).collect());
    let mut warnings = Vec::new();
    for (values, what) in [(callers, "caller addresses"), (requesters, "requesters"), (methods, "authentication types")] {
        if values.len() > 1 {
            let listed: Vec<String> = values.iter().map(|v| terminal_safe(v)).collect();
            warnings.push(format!(
                "the requests of this upload name {} {what} ({}); the finding's are those of the request that completed it",
                values.len(),
                listed.join(", ")
            ));
        }
    }
    warnings
}

fn failed_signins(conn: &Connection, finding: &Finding) -> Result<Vec<FailedSignin>> {
    let mut stmt = conn.prepare(
        "SELECT epoch_us(coalesce(e.created_time, e.time_generated)),
                coalesce(e.user_principal_name, e.service_principal_name, e.user_id),
                e.result_type, e.result_description, e.source_table, e.user_agent
         FROM signin_events e
         JOIN findings f ON f.hunt_id = ? AND f.finding_id = ?
         WHERE e.ip = f.caller_ip
           AND coalesce(e.result_type, '0') <> '0'
           AND coalesce(e.created_time, e.time_generated) BETWEEN f.window_start AND f.window_end
         -- The file and record break ties, because the table's row order is not the files'.
         ORDER BY 1, e.source_id, e.record_no",
    )?;
    let rows = stmt.query_map(params![finding.hunt_id, finding.finding_id], |r| {
        Ok(FailedSignin {
            time: format_iso(r.get(0)?),
            account: r.get(1)?,
            result_type: r.get(2)?,
            result_description: r.get(3)?,
            source_table: r.get(4)?,
            user_agent: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn field(out: &mut dyn Write, label: &str, value: Option<&str>) -> std::io::Result<()> {
    writeln!(out, "  {label:<20} {}", terminal_safe(value.unwrap_or("-")))
}

fn print_text(out: &mut dyn Write, shown: &Shown) -> std::io::Result<()> {
    let f = shown.finding;
    writeln!(out, "finding {} (hunt {}, {} mode)", f.finding_id, f.hunt_id, f.mode)?;
    field(out, "upload time (UTC)", Some(&f.upload_time))?;
    // A block or Data Lake upload counts the parts before its commit request.
    let requests = if matches!(f.upload_kind.as_str(), "block-upload" | "datalake-upload") {
        format!("{} and the commit request", output::count(f.part_count, "part", "parts"))
    } else {
        output::count(f.part_count, "request", "requests")
    };
    field(out, "kind", Some(&format!("{} ({requests})", f.upload_kind)))?;
    field(out, "storage account", f.storage_account.as_deref())?;
    field(out, "object", f.object_path.as_deref())?;
    field(out, "caller address", f.caller_ip_raw.as_deref())?;
    field(out, "user agent", f.upload_user_agent.as_deref())?;
    field(out, "authentication", f.authentication_type.as_deref())?;
    // An SMB request names a Windows user, or only its SID, where an OAuth request names its
    // account. The request that completed the upload comes last.
    let oauth = f.requester_upn.as_deref().or(f.requester_object_id.as_deref());
    match (oauth, shown.requests.last().and_then(|request| request.requester.as_deref())) {
        (None, Some(user)) => field(out, "requester (Windows)", Some(user))?,
        _ => field(out, "requester (OAuth)", oauth)?,
    }
    field(out, "confidence", f.confidence.as_deref())?;
    field(out, "attributed account", f.attributed_account.as_deref())?;
    field(out, "reason", f.reason.as_deref())?;
    field(out, "window (UTC)", Some(&format!("{} to {}", f.window_start, f.window_end)))?;

    writeln!(out, "\nstorage requests ({}):", shown.requests.len())?;
    for r in &shown.requests {
        let requester = r.requester.as_deref().map(|who| format!(" as {}", terminal_safe(who))).unwrap_or_default();
        writeln!(
            out,
            "  {} {} {} from {} by {}{requester} ({}, {})",
            r.time,
            terminal_safe(r.operation.as_deref().unwrap_or("-")),
            terminal_safe(r.status_text.as_deref().unwrap_or("-")),
            terminal_safe(r.caller.as_deref().unwrap_or("-")),
            terminal_safe(r.authentication_type.as_deref().unwrap_or("-")),
            terminal_safe(&r.source_file),
            r.position
        )?;
    }
    for warning in mixed_requests(&shown.requests) {
        writeln!(out, "  note: {warning}")?;
    }

    writeln!(out, "\ncandidates ({}):", f.candidates.len())?;
    for c in &f.candidates {
        let score = c.score.map(|s| format!(", score {s}")).unwrap_or_default();
        let verb = match c.failure() {
            Some(result) => format!("FAILED to sign in (result {})", terminal_safe(result)),
            None => "signed in".to_string(),
        };
        writeln!(
            out,
            "  {}. {}{score}: {verb} {} from {} ({}, {} {})",
            c.rank,
            terminal_safe(c.account.as_deref().unwrap_or("(no account)")),
            c.signin_time,
            terminal_safe(&c.ip),
            c.source_table,
            terminal_safe(&c.source_file),
            Position::stored(c.source_record, c.source_line).describe()
        )?;
        for reason in &c.reasons {
            writeln!(out, "       - {}", terminal_safe(reason))?;
        }
    }

    writeln!(out, "\nfailed sign-ins from this address in the window ({}):", shown.failed_signins.len())?;
    for s in &shown.failed_signins {
        writeln!(
            out,
            "  {} {} result {} {} ({})",
            s.time,
            terminal_safe(s.account.as_deref().unwrap_or("-")),
            terminal_safe(s.result_type.as_deref().unwrap_or("-")),
            terminal_safe(s.result_description.as_deref().unwrap_or("")),
            s.source_table
        )?;
    }

    writeln!(out, "\nannotations ({}):", shown.annotations.len())?;
    for a in &shown.annotations {
        let mut parts = Vec::new();
        parts.extend(a.status.as_ref().map(|s| format!("status {s}")));
        if !a.tags_added.is_empty() {
            parts.push(format!("tags +{}", a.tags_added.join(" +")));
        }
        if !a.tags_removed.is_empty() {
            parts.push(format!("tags -{}", a.tags_removed.join(" -")));
        }
        parts.extend(a.note.as_ref().map(|n| format!("note: {n}")));
        writeln!(
            out,
            "  {} {}: {}",
            a.created_at,
            terminal_safe(a.examiner.as_deref().unwrap_or("(no examiner)")),
            terminal_safe(&parts.join("; "))
        )?;
    }

    writeln!(out, "\nexcluded by ({}):", shown.excluded_by.len())?;
    for rule in &shown.excluded_by {
        writeln!(
            out,
            "  rule {} by {} on {}: {} ({})",
            rule.rule_id,
            terminal_safe(rule.examiner.as_deref().unwrap_or("-")),
            rule.created_at,
            terminal_safe(&rule.reason),
            terminal_safe(&rule.conditions.describe())
        )?;
    }
    Ok(())
}
