//! `blobtrail hunts`: list the case's hunts, so that `--hunt ID` can be chosen and the hunt
//! that `findings`, `export` and `bundle` read by default is known.

use anyhow::Result;
use serde_json::{json, Value};

use super::Report;
use crate::case::Case;
use crate::cli::{FormatArgs, OutputFormat};
use crate::output;

pub fn run(case: &Case, args: FormatArgs) -> Result<Report> {
    let mut stmt = case.conn.prepare(
        "SELECT hunt_id, mode, view_name, view_version, parameters,
                strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'), strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ'),
                uploads, with_candidates, candidates, examiner,
                hunt_id = (SELECT max(hunt_id) FROM hunts WHERE finished_at IS NOT NULL)
         FROM hunts ORDER BY hunt_id",
    )?;
    let hunts: Vec<Value> = stmt
        .query_map([], |r| {
            let parameters: String = r.get(4)?;
            Ok(json!({
                "hunt_id": r.get::<_, i64>(0)?,
                "mode": r.get::<_, String>(1)?,
                "view_name": r.get::<_, String>(2)?,
                "view_version": r.get::<_, i64>(3)?,
                "parameters": serde_json::from_str::<Value>(&parameters).unwrap_or(Value::String(parameters)),
                "started_at": r.get::<_, String>(5)?,
                "finished_at": r.get::<_, Option<String>>(6)?,
                "uploads": r.get::<_, Option<i64>>(7)?,
                "with_candidates": r.get::<_, Option<i64>>(8)?,
                "candidates": r.get::<_, Option<i64>>(9)?,
                "examiner": r.get::<_, Option<String>>(10)?,
                "latest": r.get::<_, Option<bool>>(11)?.unwrap_or(false),
            }))
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
fn table_row(hunt: &Value) -> Vec<String> {
    let text = |key: &str| match &hunt[key] {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let finished = if hunt["finished_at"].is_null() { "not finished".to_string() } else { text("finished_at") };
    vec![
        text("hunt_id"),
        text("mode"),
        text("started_at"),
        finished,
        text("uploads"),
        text("with_candidates"),
        text("examiner"),
        parameter_summary(&hunt["parameters"]),
        if hunt["latest"] == true { "yes".to_string() } else { String::new() },
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
