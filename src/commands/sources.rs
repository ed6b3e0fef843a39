//! `blobtrail sources`: list the imported files with their hashes, counts and time ranges.

use anyhow::Result;
use serde::Serialize;

use super::Report;
use crate::case::Case;
use crate::cli::{FormatArgs, OutputFormat};
use crate::output;
use crate::parse::time::format_iso;

#[derive(Serialize)]
struct Source {
    source_id: i32,
    path: String,
    sha256: String,
    size: i64,
    shape: String,
    table: String,
    imported_at: String,
    examiner: Option<String>,
    records: i64,
    imported: i64,
    rejected: i64,
    duplicates: i64,
    first_time: Option<String>,
    last_time: Option<String>,
}

pub fn run(case: &Case, args: FormatArgs) -> Result<Report> {
    let mut stmt = case.conn.prepare(
        "SELECT source_id, path, sha256, size_bytes, shape, tables, epoch_us(imported_at), examiner,
                records_read, imported, rejected, duplicates, epoch_us(first_time), epoch_us(last_time)
         FROM sources ORDER BY source_id",
    )?;
    let sources = stmt
        .query_map([], |r| {
            Ok(Source {
                source_id: r.get(0)?,
                path: r.get(1)?,
                sha256: r.get(2)?,
                size: r.get(3)?,
                shape: r.get(4)?,
                table: r.get(5)?,
                imported_at: format_iso(r.get(6)?),
                examiner: r.get(7)?,
                records: r.get(8)?,
                imported: r.get(9)?,
                rejected: r.get(10)?,
                duplicates: r.get(11)?,
                first_time: r.get::<_, Option<i64>>(12)?.map(format_iso),
                last_time: r.get::<_, Option<i64>>(13)?.map(format_iso),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;

    let header = ["id", "path", "sha256", "shape", "table", "records", "imported", "rejected", "duplicates", "first", "last"];
    let rows: Vec<Vec<String>> = sources
        .iter()
        .map(|s| {
            vec![
                s.source_id.to_string(),
                s.path.clone(),
                s.sha256.clone(),
                s.shape.clone(),
                s.table.clone(),
                s.records.to_string(),
                s.imported.to_string(),
                s.rejected.to_string(),
                s.duplicates.to_string(),
                s.first_time.clone().unwrap_or_default(),
                s.last_time.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::to_stdout(|out| match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &sources).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        OutputFormat::Csv => output::write_csv(out, &header, &rows),
        OutputFormat::Table => writeln!(out, "{}", output::table(&header, rows)),
    })?;
    Ok(Report::success(serde_json::json!({ "sources": sources.len() })))
}
