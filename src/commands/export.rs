//! `blobtrail export`: write the findings of a hunt, with candidates, annotations and
//! exclusion marks, to a file in one of several formats.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::{Global, Report};
use crate::case::Case;
use crate::cli::{ExportArgs, ExportFormat};
use crate::export;
use crate::findings::{self, Finding};
use crate::output;

pub fn run(global: &Global, case: &Case, args: ExportArgs) -> Result<Report> {
    if args.out.exists() && !args.force {
        bail!("`{}` already exists; pass `--force` to overwrite it", args.out.display());
    }
    let hunt_id = match args.hunt {
        Some(id) => id,
        None => findings::latest_hunt(&case.conn)?,
    };
    let spinner = output::spinner("exporting", global.quiet);
    let list = findings::load(&case.conn, hunt_id)?;

    // Write beside the target and rename, so a failed export never leaves half a file.
    let partial = partial_path(&args.out);
    let written = write(case, &args, &list, &partial);
    let rows = match written {
        Ok(rows) => rows,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    spinner.finish_and_clear();
    std::fs::rename(&partial, &args.out).with_context(|| format!("cannot move the export into `{}`", args.out.display()))?;

    let excluded = list.iter().filter(|f| !f.excluded_by.is_empty()).count();
    eprintln!(
        "wrote {} findings ({excluded} excluded, marked), {} candidates, {rows} rows/records to `{}`",
        list.len(),
        list.iter().map(|f| f.candidates.len()).sum::<usize>(),
        args.out.display()
    );
    Ok(Report::success(json!({ "hunt_id": hunt_id, "findings": list.len(), "excluded": excluded, "rows": rows })))
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn write(case: &Case, args: &ExportArgs, list: &[Finding], path: &Path) -> Result<usize> {
    let create = || -> Result<BufWriter<File>> {
        Ok(BufWriter::new(File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?))
    };
    let rows = match args.format {
        ExportFormat::Csv => {
            let mut out = create()?;
            let rows = export::write_csv(&mut out, list, args.excel_bom)?;
            out.flush()?;
            rows
        }
        ExportFormat::Json => {
            let mut out = create()?;
            serde_json::to_writer_pretty(&mut out, list)?;
            writeln!(out)?;
            out.flush()?;
            list.len()
        }
        ExportFormat::Jsonl => {
            let mut out = create()?;
            for finding in list {
                serde_json::to_writer(&mut out, finding)?;
                writeln!(out)?;
            }
            out.flush()?;
            list.len()
        }
        ExportFormat::Timesketch => {
            let mut out = create()?;
            let lines = export::write_timesketch(&mut out, list)?;
            out.flush()?;
            lines
        }
        ExportFormat::Parquet => export::write_parquet(&case.conn, path, list)?,
        ExportFormat::Xlsx => export::write_xlsx(path, list)?,
    };
    Ok(rows)
}
