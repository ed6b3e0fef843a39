//! `blobtrail import FILE...`: import log exports, then print one summary row per file.

use anyhow::{Context, Result};
use serde_json::json;

use super::{Global, Report};
use crate::case::Case;
use crate::cli::{DateOrderArg, EncodingArg, ImportArgs, ReaderArg, SummaryFormat};
use crate::exit::Exit;
use crate::import::{self, FileReport, ImportPlan, Outcome};
use crate::import::normalize::Settings;
use crate::output;
use crate::parse::time::{parse_offset, DateOrder};

pub fn run(global: &Global, case: &Case, args: ImportArgs) -> Result<Report> {
    let plan = plan(global, &args)?;
    let files = leave_out_case_files(case, import::expand_paths(&args.files)?);
    let plan = ImportPlan { examiner: global.examiner_for(case), ..plan };

    let total = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let progress = output::byte_progress(total, global.quiet);
    progress.set_message("importing");
    let reports = import::import_files(&case.conn, &files, &plan, &progress);
    progress.finish_and_clear();

    print_summary(&reports, args.format, global.quiet)?;
    let counts = json!({
        "files": reports.len(),
        "imported": reports.iter().filter(|r| matches!(r.outcome, Outcome::Imported(_))).count(),
        "skipped": reports.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count(),
        "failed": reports.iter().filter(|r| matches!(r.outcome, Outcome::Failed(_))).count(),
        "per_file": reports.iter().map(summary_json).collect::<Vec<_>>(),
    });
    Ok(Report { exit: exit_for(&reports), counts })
}

/// Leaves out the files inside the case's own folder (its database, write-ahead log and spill
/// files), which a folder given to `import` can contain.
fn leave_out_case_files(case: &Case, files: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    let Ok(case_dir) = case.dir.canonicalize() else { return files };
    files
        .into_iter()
        .filter(|file| {
            let inside = file.canonicalize().is_ok_and(|path| path.starts_with(&case_dir));
            if inside {
                print_note!("note: leaving out `{}`: a file of this case, not a log export", file.display());
            }
            !inside
        })
        .collect()
}

fn plan(global: &Global, args: &ImportArgs) -> Result<ImportPlan> {
    let utc_offset_minutes = args
        .utc_offset
        .as_deref()
        .map(parse_offset)
        .transpose()
        .map_err(anyhow::Error::msg)
        .context("invalid `--utc-offset`")?;
    let date_order = args.date_order.map(|order| match order {
        DateOrderArg::Dmy => DateOrder::DayFirst,
        DateOrderArg::Mdy => DateOrder::MonthFirst,
    });
    let mut options = json!({
        "utc_offset": args.utc_offset,
        "date_order": args.date_order.map(|o| format!("{o:?}").to_lowercase()),
        "strict": args.strict,
    });
    // Recorded only when not the default, so that UTF-8 imports record what they did before
    // the option existed.
    if args.encoding == EncodingArg::Windows1252 {
        options["encoding"] = json!("windows-1252");
    }
    let options_text = options.to_string();
    Ok(ImportPlan {
        settings: Settings { utc_offset_minutes, date_order },
        strict: args.strict,
        examiner: global.examiner.clone(),
        options_text,
        streaming_only: args.reader == ReaderArg::Streaming,
        windows_1252: args.encoding == EncodingArg::Windows1252,
    })
}

fn exit_for(reports: &[FileReport]) -> Exit {
    let failed = reports.iter().any(|r| matches!(r.outcome, Outcome::Failed(_)) || r.warning.is_some());
    let rejected = reports.iter().any(|r| matches!(r.outcome, Outcome::Imported(c) if c.rejected > 0));
    if failed {
        Exit::Failure
    } else if rejected {
        Exit::Rejects
    } else {
        Exit::Success
    }
}

/// Prints the summary rows, after each file's error or warning on stderr. `quiet` hides the
/// notes about skipped files.
fn print_summary(reports: &[FileReport], format: SummaryFormat, quiet: bool) -> Result<()> {
    for report in reports {
        if let Some(warning) = &report.warning {
            print_stderr!("warning: {}", output::terminal_safe(warning));
        }
        for note in &report.notes {
            print_stderr!("warning: `{}`: {}", output::terminal_safe(&report.path.display().to_string()), output::terminal_safe(note));
        }
        match &report.outcome {
            Outcome::Failed(message) => print_stderr!("error: {}", output::terminal_safe(message)),
            Outcome::Skipped { .. } if quiet => {}
            Outcome::Skipped { earlier_path } => print_stderr!(
                "note: skipped `{}`: the same bytes (SHA-256 {}) were imported before from `{}`",
                output::terminal_safe(&report.path.display().to_string()),
                report.sha256.as_deref().unwrap_or("?"),
                output::terminal_safe(earlier_path)
            ),
            Outcome::Imported(counts) if counts.rejected > 0 => print_stderr!(
                "warning: `{}`: {} rejected; see them with `blobtrail query` on the `rejects` table, or re-export the file",
                output::terminal_safe(&report.path.display().to_string()),
                output::count(counts.rejected as i64, "record", "records")
            ),
            Outcome::Imported(_) => {}
        }
    }
    match format {
        SummaryFormat::Json => {
            let rows: Vec<_> = reports.iter().map(summary_json).collect();
            output::to_stdout(|out| writeln!(out, "{}", serde_json::to_string_pretty(&rows).unwrap_or_default()))
        }
        SummaryFormat::Table => {
            let rows = reports.iter().map(summary_row).collect();
            let table = output::table(
                &["file", "status", "shape", "tables", "read", "imported", "rejected", "duplicates", "sha256"],
                rows,
            );
            output::to_stdout(|out| writeln!(out, "{table}"))
        }
    }
}

fn status(report: &FileReport) -> &'static str {
    if report.warning.is_some() {
        return "imported, but the file changed while it was read";
    }
    match &report.outcome {
        Outcome::Imported(counts) if counts.rejected > 0 => "imported with rejects",
        Outcome::Imported(_) => "imported",
        Outcome::Skipped { .. } => "skipped (already imported)",
        Outcome::Failed(_) => "failed, case unchanged",
    }
}

fn summary_row(report: &FileReport) -> Vec<String> {
    let counts = match report.outcome {
        Outcome::Imported(counts) => {
            [counts.read, counts.imported, counts.rejected, counts.duplicates].map(|n| n.to_string()).to_vec()
        }
        _ => vec![String::new(); 4],
    };
    let mut row = vec![
        report.path.display().to_string(),
        status(report).to_string(),
        report.shape.clone().unwrap_or_default(),
        report.tables.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
    ];
    row.extend(counts);
    row.push(report.sha256.as_deref().map(|s| s[..16].to_string() + "…").unwrap_or_default());
    row
}

fn summary_json(report: &FileReport) -> serde_json::Value {
    let counts = match report.outcome {
        Outcome::Imported(counts) => Some(counts),
        _ => None,
    };
    json!({
        "path": report.path.display().to_string(),
        "status": status(report),
        "sha256": report.sha256,
        "size": report.size,
        "shape": report.shape,
        "tables": report.tables.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "records": counts.map(|c| c.read),
        "imported": counts.map(|c| c.imported),
        "rejected": counts.map(|c| c.rejected),
        "duplicates": counts.map(|c| c.duplicates),
        "error": match &report.outcome { Outcome::Failed(message) => Some(message.clone()), _ => None },
        "reader": report.reader,
        "reader_note": report.reader_note,
        "warning": report.warning,
        "notes": report.notes,
        "container_sha256": report.container_sha256,
    })
}
