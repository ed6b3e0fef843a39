//! `blobtrail [--case C] kql`: write the hunt as a KQL query (or a Sentinel rule) that does
//! what the case's hunt does, for Microsoft Sentinel or Azure Data Explorer.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Global, Report};
use crate::case::Case;
use crate::cli::{HuntMode, KqlArgs};
use crate::exit::Exit;
use crate::exclusions::{self, Rule};
use crate::hunt;
use crate::kql::{self, KqlInput};
use crate::parse::time::{format_iso, parse_timestamp};
use crate::{output, sql};

/// The window parameters of the latest hunt in `mode`, if the case has one.
struct HuntWindow {
    before: u64,
    after: u64,
    lookback: u64,
    ua_match: bool,
    file: Option<String>,
}

fn default_window() -> HuntWindow {
    HuntWindow {
        before: hunt::DEFAULT_BEFORE.as_secs(),
        after: hunt::DEFAULT_AFTER.as_secs(),
        lookback: hunt::SENTINEL_LOOKBACK.as_secs(),
        ua_match: true,
        file: None,
    }
}

fn seconds(value: &serde_json::Value) -> Option<u64> {
    crate::parse::duration::parse_duration(value.as_str()?).ok().map(|d| d.as_secs())
}

fn case_window(case: &Case, mode: HuntMode) -> Result<HuntWindow> {
    let name = if mode == HuntMode::Full { "full" } else { "sentinel" };
    let parameters: Option<String> = case
        .conn
        .query_row("SELECT max_by(parameters, hunt_id) FROM hunts WHERE mode = ? AND finished_at IS NOT NULL", [name], |r| r.get(0))?;
    let mut window = default_window();
    if let Some(text) = parameters {
        let p: serde_json::Value = serde_json::from_str(&text)?;
        window.before = seconds(&p["before"]).unwrap_or(window.before);
        window.after = seconds(&p["after"]).unwrap_or(window.after);
        window.lookback = seconds(&p["lookback"]).unwrap_or(window.lookback);
        window.ua_match = p["ua_match"].as_bool().unwrap_or(true);
        window.file = p["file"].as_str().map(str::to_string);
    }
    Ok(window)
}

/// The case's data range widened to whole days, as the default time bounds.
fn case_bounds(case: &Case) -> Result<Option<(i64, i64)>> {
    let range: (Option<i64>, Option<i64>) = case.conn.query_row(
        "SELECT epoch_us(date_trunc('day', min(time_generated))), epoch_us(date_trunc('day', max(time_generated)) + INTERVAL 1 DAY)
         FROM storage_events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(match range {
        (Some(start), Some(end)) => Some((start, end)),
        _ => None,
    })
}

/// Reads a time bound in UTC. A date alone (`2026-03-14`, ISO 8601's calendar date) is the
/// start of that day.
fn bound(text: &Option<String>, flag: &str) -> Result<Option<i64>> {
    text.as_deref()
        .map(|t| {
            let is_date = t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-';
            let full = if is_date { format!("{t}T00:00:00Z") } else { t.to_string() };
            parse_timestamp(&full, 0, None).map_err(|err| {
                anyhow::anyhow!("invalid `{flag}` `{t}`: {}; use ISO 8601 such as 2026-03-14 or 2026-03-14T00:00:00Z", err.reason())
            })
        })
        .transpose()
}

/// Runs with or without a case; with one, the run is recorded in its audit trail.
pub fn run(global: &Global, args: KqlArgs) -> Result<Exit> {
    match global.case.is_some() {
        true => {
            let case = global.open_case()?;
            let started = super::now_iso();
            let state_before = crate::audit::state_digest(&case.conn)?;
            let result = write(Some(&case), &args);
            super::record_audit_from(global, &case, "kql", &started, state_before, &result.as_ref())?;
            result.map(|r| r.exit)
        }
        false => write(None, &args).map(|r| r.exit),
    }
}

fn write(case: Option<&Case>, args: &KqlArgs) -> Result<Report> {
    let window = match case {
        Some(case) => case_window(case, args.mode)?,
        None => default_window(),
    };
    let (default_start, default_end) = match case.map(case_bounds).transpose()?.flatten() {
        Some(bounds) => bounds,
        None => {
            // Without a case: the seven days before today, written out as literal dates.
            let today = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
            let end = today.timestamp_micros();
            (end - 7 * 86_400_000_000, end)
        }
    };
    let start = bound(&args.start, "--start")?.unwrap_or(default_start);
    let end = bound(&args.end, "--end")?.unwrap_or(default_end);
    if start >= end {
        bail!("`--start` must come before `--end`");
    }
    let rules: Vec<Rule> = match case {
        Some(case) => exclusions::load_enabled(&case.conn)?,
        None => Vec::new(),
    };
    let view_version = if args.mode == HuntMode::Full { hunt::FULL_VIEW.1 } else { hunt::SENTINEL_VIEW.1 };
    let view_file = sql::file(view_version).context("the view's SQL file is not embedded")?;
    let view = format!("sql/{} (version {view_version}, SHA-256 {})", view_file.name, &view_file.checksum()[..16]);
    let start_text = format_iso(start);
    let end_text = format_iso(end);
    let target = args.file.clone().or(window.file).unwrap_or_default();
    let case_name = case.map(|c| c.name.clone());

    let query = kql::render(&KqlInput {
        full: args.mode == HuntMode::Full,
        before_seconds: window.before,
        after_seconds: window.after,
        lookback_seconds: window.lookback,
        ua_match: window.ua_match,
        start: &start_text,
        end: &end_text,
        target_file: &target,
        case_name: case_name.as_deref(),
        rule_period: args.as_rule.then_some(kql::RULE_FREQUENCY),
        view: &view,
        rules: &rules,
    });
    let text = if args.as_rule {
        let seed = format!("{}|{}|{}", case_name.as_deref().unwrap_or(""), query, crate::VERSION);
        let reach_back = if args.mode == HuntMode::Full { window.before } else { window.lookback };
        kql::as_rule(&query, &uuid_from(&seed), case_name.as_deref(), &kql::rule_query_period(reach_back))
    } else {
        query
    };

    match &args.out {
        Some(path) => {
            if let Some(case) = case {
                case.guard_output(path)?;
            }
            write_new(path, &text, args.force)?
        }
        None => output::to_stdout(|out| out.write_all(text.as_bytes()))?,
    }
    Ok(Report::success(json!({ "mode": if args.mode == HuntMode::Full { "full" } else { "sentinel" }, "exclusions": rules.len(), "as_rule": args.as_rule })))
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!("`{}` already exists; pass `--force` to overwrite it", path.display());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    print_stderr!("wrote `{}`", path.display());
    Ok(())
}

/// A UUID-shaped ID derived from the rule's content, so the same export gets the same ID.
fn uuid_from(seed: &str) -> String {
    let hex = sql::hex(&Sha256::digest(seed.as_bytes()));
    format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}
