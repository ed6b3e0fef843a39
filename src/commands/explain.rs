//! `blobtrail explain FINDING_ID`: walk the reference Sentinel query step by step for one
//! upload and each of its candidates, and say where the reference keeps or drops them. This
//! answers "why doesn't Sentinel show this?" in plain words.

use std::io::Write;

use anyhow::{Context, Result};
use duckdb::{params, Connection};
use serde::Serialize;

use super::Report;
use crate::case::Case;
use super::show::load_one;
use crate::cli::{ShowArgs, ShowFormat};
use crate::findings::Finding;
use crate::output::{self, terminal_safe};
use crate::hunt::SENTINEL_LOOKBACK;
use crate::parse::duration::{format_duration, parse_duration};
use crate::parse::uri::reference_file_name;

/// One step of the reference query and what it does to this upload or sign-in.
#[derive(Serialize)]
struct Step {
    step: &'static str,
    kept: bool,
    /// True when the query engine decides whether the step keeps the row. `kept` is then
    /// false, because the reference query cannot be relied on to keep it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    uncertain: bool,
    detail: String,
}

#[derive(Serialize)]
struct CandidateSteps {
    account: Option<String>,
    signin_time: String,
    steps: Vec<Step>,
}

/// The reference query's settings that explain applies: the query's own (lookback one minute,
/// user agents compared), or those a sentinel hunt ran with.
#[derive(Serialize)]
struct Settings {
    lookback: String,
    ua_match: bool,
    /// The origin of the settings, in words.
    from: String,
    #[serde(skip)]
    lookback_us: i64,
}

impl Settings {
    fn of_hunt(conn: &Connection, hunt_id: i64) -> Result<Settings> {
        let (mode, parameters): (String, String) =
            conn.query_row("SELECT mode, parameters FROM hunts WHERE hunt_id = ?", params![hunt_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let parameters: serde_json::Value = serde_json::from_str(&parameters).unwrap_or_default();
        let lookback = parameters["lookback"].as_str().and_then(|text| parse_duration(text).ok());
        let (lookback, ua_match, from) = match (mode.as_str(), lookback) {
            ("sentinel", Some(lookback)) => {
                (lookback, parameters["ua_match"].as_bool().unwrap_or(true), format!("as sentinel hunt {hunt_id} ran it"))
            }
            _ => (SENTINEL_LOOKBACK, true, format!("the query's own settings; hunt {hunt_id} is a {mode} hunt")),
        };
        Ok(Settings {
            lookback: format_duration(lookback),
            ua_match,
            from,
            lookback_us: i64::try_from(lookback.as_micros()).unwrap_or(i64::MAX),
        })
    }
}

#[derive(Serialize)]
struct Explanation {
    finding_id: String,
    settings: Settings,
    upload_steps: Vec<Step>,
    reference_keeps_upload: bool,
    candidates: Vec<CandidateSteps>,
    notes: Vec<String>,
}

/// The stored fields of the request that completed the upload.
struct UploadRow {
    source_table: String,
    status_text: Option<String>,
    operation: Option<String>,
    uri: Option<String>,
    caller_raw: Option<String>,
    user_agent: Option<String>,
}

pub fn run(case: &Case, args: ShowArgs) -> Result<Report> {
    let finding = load_one(&case.conn, &args.finding_id, args.hunt)?;
    let explanation = explain(&case.conn, &finding)?;
    output::to_stdout(|out| match args.format {
        ShowFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &explanation).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        ShowFormat::Text => print_text(out, &explanation),
    })?;
    Ok(Report::success(serde_json::json!({ "finding_id": args.finding_id })))
}

fn load_upload(conn: &Connection, finding: &Finding) -> Result<UploadRow> {
    conn.query_row(
        "SELECT e.source_table, e.status_text, e.operation_name, e.uri, e.caller_ip_raw, e.user_agent
         FROM storage_events e JOIN findings f ON f.upload_event_key = e.event_key
         WHERE f.hunt_id = ? AND f.finding_id = ?",
        params![finding.hunt_id, finding.finding_id],
        |r| {
            Ok(UploadRow {
                source_table: r.get(0)?,
                status_text: r.get(1)?,
                operation: r.get(2)?,
                uri: r.get(3)?,
                caller_raw: r.get(4)?,
                user_agent: r.get(5)?,
            })
        },
    )
    .context("the finding's storage request is missing from the case")
}

fn explain(conn: &Connection, finding: &Finding) -> Result<Explanation> {
    let settings = Settings::of_hunt(conn, finding.hunt_id)?;
    let upload = load_upload(conn, finding)?;
    let split_ip = upload.caller_raw.as_deref().unwrap_or("").split(':').next().unwrap_or("").to_string();
    let mut steps = upload_steps(finding, &upload, &split_ip);
    let passes_filters = steps.iter().all(|s| s.kept);

    let rivals = rival_uploads(conn, finding, &split_ip)?;
    if passes_filters && rivals > 0 {
        steps.push(Step {
            step: "join (default kind innerunique)",
            kept: false,
            uncertain: true,
            detail: format!(
                "{rivals} other upload(s) passed the same filters with CallerIpAddress `{split_ip}`; KQL's default join keeps one arbitrary left row per key, so this upload may be dropped"
            ),
        });
    }
    let reference_keeps_upload = steps.iter().all(|s| s.kept);

    let mut candidates = Vec::new();
    for candidate in &finding.candidates {
        candidates.push(candidate_steps(conn, finding, &upload, &split_ip, &settings, &candidate.signin_time, candidate.account.clone())?);
    }
    let surviving = candidates.iter().filter(|c| c.steps.iter().all(|s| s.kept)).count();
    let mut notes = Vec::new();
    if surviving > 1 {
        notes.push(format!(
            "{surviving} candidates pass every step, but `make_bag` over property bags with the same keys keeps one value per key, so the reference shows one account at most, possibly mixed from several sign-ins"
        ));
    }
    if upload.user_agent.is_none() {
        notes.push("the upload has no user agent: in KQL an empty string equals an empty string, so the reference would pair it with any sign-in that also lacks one; blobtrail never matches empty user agents".into());
    }
    Ok(Explanation { finding_id: finding.finding_id.clone(), settings, upload_steps: steps, reference_keeps_upload, candidates, notes })
}

fn upload_steps(finding: &Finding, upload: &UploadRow, split_ip: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let in_union = matches!(upload.source_table.as_str(), "StorageBlobLogs" | "StorageFileLogs");
    steps.push(Step {
        step: "union StorageFileLogs, StorageBlobLogs",
        kept: in_union,
        uncertain: false,
        detail: format!("the request comes from {}", upload.source_table),
    });

    let status = upload.status_text.clone().unwrap_or_default();
    steps.push(Step {
        step: "where StatusText =~ \"Success\"",
        kept: status.eq_ignore_ascii_case("success"),
        uncertain: false,
        detail: if status.is_empty() { "StatusText is empty (SMB and NFS rows have none)".into() } else { format!("StatusText is `{status}`") },
    });

    let operation = upload.operation.clone().unwrap_or_default();
    let op_kept = operation.eq_ignore_ascii_case("PutBlob") || operation.eq_ignore_ascii_case("PutRange");
    let others = other_requests(finding);
    let op_detail = if op_kept {
        format!("OperationName is `{operation}`")
    } else if others > 0 {
        format!(
            "the upload was completed by `{operation}`, which the query does not list; its {} {} dropped as well, \
             except a PutBlob or PutRange request, which the query counts as an upload of its own",
            output::count(others, "other request", "other requests"),
            if others == 1 { "is" } else { "are" }
        )
    } else {
        format!("OperationName is `{operation}`, which the query does not list")
    };
    steps.push(Step { step: "where OperationName =~ \"PutBlob\" or =~ \"PutRange\"", kept: op_kept, uncertain: false, detail: op_detail });

    let reference_name = reference_file_name(upload.uri.as_deref().unwrap_or(""));
    let decoded = finding.file_name.clone().unwrap_or_default();
    steps.push(Step {
        step: "extend FileName = extract(@\"\\/([\\w\\-. ]+)\\?\", 1, Uri)",
        kept: true,
        uncertain: false,
        detail: if reference_name == decoded {
            format!("the regex finds `{reference_name}`, the same name blobtrail decodes")
        } else if reference_name.is_empty() {
            format!("the regex finds no name (it needs a `?` after the name and plain ASCII letters); the decoded name is `{decoded}`; a FileName filter would drop this upload")
        } else {
            format!("the regex finds `{reference_name}`, but the decoded name is `{decoded}`")
        },
    });

    let canonical = finding.caller_ip.clone().unwrap_or_default();
    steps.push(Step {
        step: "extend CallerIpAddress = split(CallerIpAddress, \":\")[0]",
        kept: !split_ip.is_empty(),
        uncertain: false,
        detail: if split_ip == canonical {
            format!("the address becomes `{split_ip}`, as blobtrail reads it")
        } else {
            format!(
                "the address `{}` becomes `{split_ip}`, while blobtrail reads `{}`; sign-ins are matched on the broken value",
                upload.caller_raw.clone().unwrap_or_default(),
                if canonical.is_empty() { "no address" } else { &canonical }
            )
        },
    });
    steps
}

/// Counts the requests of an upload other than the one that completed it. The part count of a
/// block or Data Lake upload leaves out the commit, and that of a series of appends or pages
/// includes its last request.
fn other_requests(finding: &Finding) -> i64 {
    match finding.upload_kind.as_str() {
        "block-upload" | "datalake-upload" => finding.part_count,
        _ => finding.part_count.saturating_sub(1),
    }
}

/// Counts other uploads that pass the reference filters with the same split address.
fn rival_uploads(conn: &Connection, finding: &Finding, split_ip: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM storage_events e
         WHERE lower(e.status_text) = 'success'
           AND lower(e.operation_name) IN ('putblob', 'putrange')
           AND split_part(e.caller_ip_raw, ':', 1) = ?
           AND e.event_key <> (SELECT upload_event_key FROM findings WHERE hunt_id = ? AND finding_id = ?)",
        params![split_ip, finding.hunt_id, finding.finding_id],
        |r| r.get(0),
    )?)
}

fn candidate_steps(
    conn: &Connection,
    finding: &Finding,
    upload: &UploadRow,
    split_ip: &str,
    settings: &Settings,
    signin_time: &str,
    account: Option<String>,
) -> Result<CandidateSteps> {
    let (table, ip_raw, reference_time, user_agent, in_window): (String, Option<String>, Option<i64>, Option<String>, bool) =
        conn.query_row(
            "SELECT s.source_table, s.ip_raw, epoch_us(coalesce(s.time_generated, s.created_time)), s.user_agent,
                    coalesce(s.time_generated, s.created_time) BETWEEN f.upload_time - to_microseconds(?) AND f.upload_time
             FROM finding_candidates c
             JOIN signin_events s ON s.event_key = c.signin_event_key
             JOIN findings f ON f.hunt_id = c.hunt_id AND f.finding_id = c.finding_id
             WHERE c.hunt_id = ? AND c.finding_id = ? AND c.account IS NOT DISTINCT FROM ?
             ORDER BY c.rank LIMIT 1",
            params![settings.lookback_us, finding.hunt_id, finding.finding_id, account],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
    let mut steps = vec![Step {
        step: "join SigninLogs",
        kept: table == "SigninLogs",
        uncertain: false,
        detail: if table == "SigninLogs" {
            "the sign-in is in SigninLogs".into()
        } else {
            format!("the sign-in is in {table}, which the reference never reads")
        },
    }];
    let ip_raw = ip_raw.unwrap_or_default();
    steps.push(Step {
        step: "on $left.CallerIpAddress == $right.IPAddress",
        kept: ip_raw == split_ip,
        uncertain: false,
        detail: format!("the sign-in's IPAddress is `{ip_raw}`, the upload's split address `{split_ip}`"),
    });
    let shown_time = reference_time.map(crate::parse::time::format_iso).unwrap_or_else(|| signin_time.to_string());
    steps.push(Step {
        step: "where AzureLoginTime between (upload - lookback .. upload)",
        kept: in_window,
        uncertain: false,
        detail: format!("TimeGenerated is {shown_time}, the upload {}, the lookback {}", finding.upload_time, settings.lookback),
    });
    let ua_equal = match (&user_agent, &upload.user_agent) {
        (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
        (None, None) => true,
        _ => false,
    };
    steps.push(Step {
        step: "where LoginUserAgent =~ UploadUserAgent",
        kept: ua_equal || !settings.ua_match,
        uncertain: false,
        detail: match (ua_equal, settings.ua_match) {
            (true, _) => "the user agents are equal ignoring case".into(),
            (false, true) => "the user agents differ".into(),
            (false, false) => "the user agents differ; the hunt ran without this check".into(),
        },
    });
    Ok(CandidateSteps { account, signin_time: signin_time.to_string(), steps })
}

fn print_steps(out: &mut dyn Write, steps: &[Step], indent: &str) -> std::io::Result<()> {
    for s in steps {
        let verdict = match (s.kept, s.uncertain) {
            (true, _) => "kept   ",
            (false, true) => "AT RISK",
            (false, false) => "DROPPED",
        };
        writeln!(out, "{indent}{verdict} {}: {}", s.step, terminal_safe(&s.detail))?;
    }
    Ok(())
}

fn print_text(out: &mut dyn Write, e: &Explanation) -> std::io::Result<()> {
    writeln!(
        out,
        "finding {} under the reference Sentinel query (lookback {}, user-agent check {}; {}):",
        e.finding_id,
        e.settings.lookback,
        if e.settings.ua_match { "on" } else { "off" },
        e.settings.from
    )?;
    print_steps(out, &e.upload_steps, "  ")?;
    // A step that certainly drops the upload outranks one that only puts it at risk.
    let verdict = match e.upload_steps.iter().find(|s| !s.kept && !s.uncertain) {
        _ if e.reference_keeps_upload => "keeps this upload".to_string(),
        Some(dropped) => format!("drops this upload at `{}`", dropped.step),
        None => "does not reliably show this upload".to_string(),
    };
    writeln!(out, "  => the reference {verdict}")?;
    for c in &e.candidates {
        // The hunt's sign-in time, which may be CreatedDateTime, where the steps below give
        // the TimeGenerated that the reference query compares.
        let account = terminal_safe(c.account.as_deref().unwrap_or("(no account)"));
        writeln!(out, "\ncandidate {account} (sign-in time {} in the hunt):", c.signin_time)?;
        print_steps(out, &c.steps, "  ")?;
    }
    for note in &e.notes {
        writeln!(out, "\nnote: {}", terminal_safe(note))?;
    }
    Ok(())
}
