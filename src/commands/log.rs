//! `blobtrail log`: print the case's audit trail.

use anyhow::Result;
use serde_json::json;

use super::Report;
use crate::audit;
use crate::case::Case;
use crate::cli::{LogArgs, OutputFormat};
use crate::output;

/// The longest `counts` cell of the table; `--format json` and `csv` give the whole value.
const TABLE_COUNTS_CHARS: usize = 300;

pub fn run(case: &Case, args: LogArgs) -> Result<Report> {
    // The whole trail is read and its records chosen here: `verify` checks the chain, not `log`.
    let mut records: Vec<audit::Stored> = audit::read_all(&case.conn)?
        .into_iter()
        .filter(|r| args.commands.is_empty() || args.commands.iter().any(|c| r.command.eq_ignore_ascii_case(c.trim())))
        .collect();
    if let Some(last) = args.last {
        records.drain(..records.len().saturating_sub(last));
    }
    let table = args.format == OutputFormat::Table;
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
                cut(r.error.clone().map_or_else(|| r.counts.to_string(), |e| format!("error: {e}")), table),
                r.arguments.iter().map(|argument| output::shell_quoted(argument)).collect::<Vec<_>>().join(" "),
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

/// Cuts a table's counts cell to `TABLE_COUNTS_CHARS`: an import's counts list every file.
fn cut(text: String, table: bool) -> String {
    if !table || text.chars().nth(TABLE_COUNTS_CHARS).is_none() {
        return text;
    }
    format!("{} (`blobtrail log --format json` gives all)", output::truncated(&text, TABLE_COUNTS_CHARS))
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_for_a_shell() {
        assert_eq!(output::shell_quoted("--examiner"), "--examiner");
        assert_eq!(output::shell_quoted("J. Smith"), "'J. Smith'");
        assert_eq!(output::shell_quoted("it's"), "'it'\\''s'");
        assert_eq!(output::shell_quoted(""), "''");
        assert_eq!(output::shell_quoted("it's\nnew"), "$'it\\'s\\nnew'");
    }

    #[test]
    fn table_counts_are_cut() {
        let long = "x".repeat(400);
        assert!(cut(long.clone(), true).ends_with("... (`blobtrail log --format json` gives all)"));
        assert_eq!(cut(long.clone(), false), long);
    }
}
