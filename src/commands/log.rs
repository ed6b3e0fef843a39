//! `blobtrail log`: print the case's audit trail.

use anyhow::Result;
use serde_json::json;

use super::Report;
use crate::audit;
use crate::case::Case;
use crate::cli::{FormatArgs, OutputFormat};
use crate::output;

pub fn run(case: &Case, args: FormatArgs) -> Result<Report> {
    let records = audit::read_all(&case.conn)?;
    let header = ["seq", "started (UTC)", "finished (UTC)", "command", "examiner", "exit", "counts", "arguments"];
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                r.started_at.clone(),
                r.finished_at.clone(),
                r.command.clone(),
                r.examiner.clone().unwrap_or_default(),
                r.exit_code.to_string(),
                r.error.clone().map_or_else(|| r.counts.to_string(), |e| format!("error: {e}")),
                r.arguments.join(" "),
            ]
        })
        .collect();
    output::to_stdout(|out| match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &records).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        OutputFormat::Csv => output::write_csv(out, &header, &rows),
        OutputFormat::Table => writeln!(out, "{}", output::table(&header, rows)),
    })?;
    Ok(Report::success(json!({ "records": records.len() })))
}
