//! `blobtrail hunts`: list the case's hunts, so that `--hunt ID` can be chosen and the hunt
//! that `findings`, `export` and `bundle` read by default is known.

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};

use super::Report;
use crate::case::Case;
use crate::cli::{FormatArgs, OutputFormat};
use crate::output;

/// One hunt as `hunts --format json` prints it.
#[derive(Serialize)]
struct HuntListing {
    hunt_id: i64,
    mode: String,
    view_name: String,
    view_version: i64,
    /// The stored parameters as JSON, or as text if they do not parse.
    parameters: Value,
    started_at: String,
    finished_at: Option<String>,
    uploads: Option<i64>,
    with_candidates: Option<i64>,
    candidates: Option<i64>,
    examiner: Option<String>,
    /// True for the latest finished hunt, which other commands read by default.
    latest: bool,
}

pub fn run(case: &Case, args: FormatArgs) -> Result<Report> {
    let mut stmt = case.conn.prepare(
        "SELECT hunt_id, mode, view_name, view_version, parameters,
                strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'), strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ'),
                uploads, with_candidates, candidates, examiner,
                hunt_id = (SELECT max(hunt_id) FROM hunts WHERE finished_at IS NOT NULL)
         FROM hunts ORDER BY hunt_id",
    )?;
    let hunts: Vec<HuntListing> = stmt
        .query_map([], |r| {
            let parameters: String = r.get(4)?;
            Ok(HuntListing {
                hunt_id: r.get(0)?,
                mode: r.get(1)?,
                view_name: r.get(2)?,
                view_version: r.get(3)?,
                parameters: serde_json::from_str(&parameters).unwrap_or(Value::String(parameters)),
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                uploads: r.get(7)?,
                with_candidates: r.get(8)?,
                candidates: r.get(9)?,
                examiner: r.get(10)?,
                latest: r.get::<_, Option<bool>>(11)?.unwrap_or(false),
            })
        })?
        .collect::<Result<_, _>>()?;

    let header = ["hunt", "mode", "started (UTC)", "finished (UTC)", "uploads", "with candidates", "examiner", "window and filters", "latest"];
    let rows: Vec<Vec<String>> = hunts.iter().map(table_row).collect();
    output::to_stdout(|out| match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &hunts).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        OutputFormat::Csv => output::write_csv(out, &header, &rows),
        OutputFormat::Table => {
            writeln!(out, "{}", output::table(&header, rows))?;
            writeln!(out, "`findings`, `export` and `bundle` read the latest hunt unless `--hunt ID` names another")
        }
    })?;
    Ok(Report::success(json!({ "hunts": hunts.len() })))
}

/// Formats one hunt of `run`'s list as a table or CSV row.
fn table_row(hunt: &HuntListing) -> Vec<String> {
    let number = |value: Option<i64>| value.map(|n| n.to_string()).unwrap_or_default();
    vec![
        hunt.hunt_id.to_string(),
        hunt.mode.clone(),
        hunt.started_at.clone(),
        hunt.finished_at.clone().unwrap_or_else(|| "not finished".to_string()),
        number(hunt.uploads),
        number(hunt.with_candidates),
        hunt.examiner.clone().unwrap_or_default(),
        parameter_summary(&hunt.parameters),
        if hunt.latest { "yes".to_string() } else { String::new() },
    ]
}

/// Returns the parameters that tell hunts apart, such as `before 90min, after 5min, file
/// x.exe`. `--format json` gives all of them.
fn parameter_summary(parameters: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["before", "after", "lookback", "file"] {
        if let Some(value) = parameters[key].as_str() {
            parts.push(format!("{key} {value}"));
        }
    }
    if parameters["ua_match"] == false {
        parts.push("no user-agent match".to_string());
    }
    parts.join(", ")
}
