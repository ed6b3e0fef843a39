//! `blobtrail export`: write the findings of a hunt, with candidates, annotations and
//! exclusion marks, to a file in one of several formats.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::{Global, Report};
use crate::case::Case;
use crate::cli::{ExportArgs, ExportFormat};
use crate::export;
use crate::findings::{self, Finding};
use crate::json_writer::WriteJson;
use crate::output::{self, PrettyArray};

use super::findings::write_findings;

pub fn run(global: &Global, case: &Case, args: ExportArgs) -> Result<Report> {
    let format = match args.format {
        Some(format) => format,
        None => format_of(&args.out)?,
    };
    case.guard_output(&args.out)?;
    if let Ok(existing) = std::fs::symlink_metadata(&args.out) {
        // The export is renamed into place, which would replace a link or a device, not write through it.
        if !existing.file_type().is_file() {
            bail!("`{}` exists and is not a regular file; name a new file for the export", args.out.display());
        }
        if !args.force {
            bail!("`{}` already exists; pass `--force` to overwrite it", args.out.display());
        }
    }
    let hunt_id = match args.hunt {
        Some(id) => id,
        None => super::default_hunt(case)?,
    };
    let spinner = output::spinner("exporting", global.quiet);

    // Write beside the target and rename, so a failed export never leaves half a file.
    let partial = output::partial_path(&args.out)?;
    // Created here without following a link, so that the format's writer opens this file.
    std::fs::File::create_new(&partial).with_context(|| format!("cannot create `{}`", partial.display()))?;
    let totals = Totals::default();
    let rows = match write(case, &args, format, hunt_id, &totals, &partial) {
        Ok(rows) => rows,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    spinner.finish_and_clear();
    std::fs::rename(&partial, &args.out).with_context(|| format!("cannot move the export into `{}`", args.out.display()))?;

    let [findings, excluded, candidates] =
        [&totals.findings, &totals.excluded, &totals.candidates].map(|n| n.load(Ordering::Relaxed));
    let mode: String = case.conn.query_row("SELECT mode FROM hunts WHERE hunt_id = ?", [hunt_id], |r| r.get(0))?;
    print_stderr!(
        "wrote {} of hunt {hunt_id} ({mode} mode; {excluded} excluded, marked), {}, {rows} rows/records to `{}`",
        output::count(findings as i64, "finding", "findings"),
        output::count(candidates as i64, "candidate", "candidates"),
        args.out.display()
    );
    Ok(Report::success(json!({ "hunt_id": hunt_id, "findings": findings, "excluded": excluded, "rows": rows })))
}

/// Reads the export format from the output file's extension, for an `export` without
/// `--format`.
fn format_of(out: &Path) -> Result<ExportFormat> {
    let extension = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    Ok(match extension.as_deref() {
        Some("csv") => ExportFormat::Csv,
        Some("jsonl" | "ndjson") => ExportFormat::Jsonl,
        Some("json") => ExportFormat::Json,
        Some("parquet") => ExportFormat::Parquet,
        Some("xlsx") => ExportFormat::Xlsx,
        _ => bail!(
            "give `--format` (csv, jsonl, json, parquet, xlsx or timesketch): the name `{}` does not say which",
            out.display()
        ),
    })
}

/// Counts of the findings written, those excluded by a rule, and their candidates.
#[derive(Default)]
struct Totals {
    findings: AtomicUsize,
    excluded: AtomicUsize,
    candidates: AtomicUsize,
}

impl Totals {
    fn add(&self, finding: &Finding) {
        self.findings.fetch_add(1, Ordering::Relaxed);
        self.excluded.fetch_add(usize::from(!finding.excluded_by.is_empty()), Ordering::Relaxed);
        self.candidates.fetch_add(finding.candidates.len(), Ordering::Relaxed);
    }
}

/// Fails before any work when a sheet of the workbook would need more rows than Excel allows.
fn check_xlsx_rows(case: &Case, hunt_id: i64) -> Result<()> {
    for (what, table) in [("findings", "findings"), ("candidates", "finding_candidates")] {
        let rows: i64 =
            case.conn.query_row(&format!("SELECT count(*) FROM {table} WHERE hunt_id = ?"), [hunt_id], |r| r.get(0))?;
        if rows as u64 > export::XLSX_MAX_ROWS {
            bail!(
                "hunt {hunt_id} has {rows} {what}, more than the {} rows an Excel worksheet holds; \
                 export them with `--format csv` or `--format parquet` instead",
                export::XLSX_MAX_ROWS
            );
        }
    }
    Ok(())
}

/// Writes the export to `path` and returns the number of rows or records. Every format is
/// written a run of findings at a time, so the whole list is never held in memory.
fn write(case: &Case, args: &ExportArgs, format: ExportFormat, hunt_id: i64, totals: &Totals, path: &Path) -> Result<usize> {
    let rows = AtomicUsize::new(0);
    let to_file = |start: &[u8], render: &(dyn Fn(&Finding, &mut Vec<u8>) -> Result<usize> + Sync), json_array: bool| {
        let mut out = BufWriter::new(File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?);
        out.write_all(start)?;
        let render = |finding: &Finding, bytes: &mut Vec<u8>| {
            totals.add(finding);
            rows.fetch_add(render(finding, bytes)?, Ordering::Relaxed);
            Ok(true)
        };
        let array = RefCell::new(PrettyArray::default());
        let write = |out: &mut dyn Write, bytes: &[u8], count: usize| {
            if json_array { array.borrow_mut().write(out, bytes, count) } else { out.write_all(bytes) }
        };
        let finish = |out: &mut dyn Write| if json_array { array.borrow().finish(out) } else { Ok(()) };
        write_findings(case, hunt_id, None, &mut out, render, write, finish)?;
        out.flush()?;
        anyhow::Ok(rows.load(Ordering::Relaxed))
    };
    match format {
        ExportFormat::Csv => {
            let mut header = Vec::new();
            export::write_csv_header(&mut header, args.excel_bom)?;
            to_file(&header, &|finding, bytes| Ok(export::write_csv_rows(bytes, finding)?), false)
        }
        ExportFormat::Json => to_file(b"", &|finding, bytes| {
            PrettyArray::element(finding, bytes);
            Ok(1)
        }, true),
        ExportFormat::Jsonl => to_file(b"", &|finding, bytes| {
            finding.write_json(bytes, None);
            bytes.push(b'\n');
            Ok(1)
        }, false),
        ExportFormat::Timesketch => to_file(b"", &|finding, bytes| Ok(export::write_timesketch(bytes, finding)?), false),
        ExportFormat::Parquet => export::write_parquet(&case.conn, path, |sink| {
            let render = |finding: &Finding, rows: &mut Vec<Vec<export::Cell>>| {
                totals.add(finding);
                rows.extend(export::rows_of(finding));
                Ok(true)
            };
            findings::render_of(&case.conn, hunt_id, None, render, |rows, _| sink(std::mem::take(rows)))
        }),
        ExportFormat::Xlsx => {
            check_xlsx_rows(case, hunt_id)?;
            let write = || {
                export::write_xlsx(path, &case.dir.join("tmp"), |sink| {
                    let render = |finding: &Finding, findings: &mut Vec<Finding>| {
                        totals.add(finding);
                        findings.push(finding.clone());
                        Ok(true)
                    };
                    findings::render_of(&case.conn, hunt_id, None, render, |findings, _| sink(std::mem::take(findings)))
                })
            };
            // In its constant-memory mode rust_xlsxwriter panics on some write errors, such as a
            // full disk. The panic becomes an error, so the audit record is still written.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(write)).unwrap_or_else(|_| {
                bail!("writing the workbook failed (the disk may be full or the file size limit reached); no file was written")
            })
        }
    }
}
