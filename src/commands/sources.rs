//! `blobtrail sources`: list the imported files with their hashes, counts and time ranges, and
//! the time each table covers with its gaps, so a responder sees whether sign-in data covers
//! the uploads in question.

use anyhow::Result;
use serde::Serialize;

use super::Report;
use crate::case::Case;
use crate::cli::{OutputFormat, SourcesArgs};
use crate::output;
use crate::parse::time::format_iso;

const COVERAGE_HEADER: [&str; 5] = ["table", "records", "first", "last", "gaps"];

/// Builds the coverage rows. A table for reading (`for_reading`) lists the first five gaps of
/// each log table and how many more there are; CSV lists every gap, separated by `; `.
pub(crate) fn coverage_rows(tables: &[Coverage], for_reading: bool) -> Vec<Vec<String>> {
    const SHOWN: usize = 5;
    tables
        .iter()
        .map(|t| {
            let shown = if for_reading { SHOWN } else { t.gaps.len() };
            let mut gaps: Vec<String> =
                t.gaps.iter().take(shown).map(|g| format!("{} to {} ({} h)", g.from, g.to, g.hours)).collect();
            if t.gaps.len() > shown {
                gaps.push(format!("and {} more (see `blobtrail sources --coverage --format json`)", t.gaps.len() - shown));
            }
            let none = if for_reading { "none" } else { "" };
            vec![
                t.table.clone(),
                t.records.to_string(),
                t.first_time.clone(),
                t.last_time.clone(),
                if gaps.is_empty() { none.into() } else { gaps.join("; ") },
            ]
        })
        .collect()
}

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
    /// The SHA-256 of the zip archive that held the file.
    container_sha256: Option<String>,
}

/// The time one table's records cover, with the whole hours inside that span that have none.
#[derive(Serialize)]
pub(crate) struct Coverage {
    table: String,
    records: i64,
    first_time: String,
    last_time: String,
    gaps: Vec<Gap>,
}

#[derive(Serialize)]
struct Gap {
    from: String,
    to: String,
    hours: i64,
}

pub(crate) fn coverage(case: &Case) -> Result<Vec<Coverage>> {
    let mut stmt = case.conn.prepare(
        "WITH events AS (
             SELECT source_table, time_generated AS t FROM storage_events
             UNION ALL
             SELECT source_table, coalesce(created_time, time_generated) FROM signin_events
         )
         SELECT source_table, count(*), epoch_us(min(t)), epoch_us(max(t))
         FROM events GROUP BY source_table ORDER BY source_table",
    )?;
    let mut tables = stmt
        .query_map([], |r| {
            Ok(Coverage {
                table: r.get(0)?,
                records: r.get(1)?,
                first_time: format_iso(r.get(2)?),
                last_time: format_iso(r.get(3)?),
                gaps: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut gaps = case.conn.prepare(
        "WITH events AS (
             SELECT source_table, time_generated AS t FROM storage_events
             UNION ALL
             SELECT source_table, coalesce(created_time, time_generated) FROM signin_events
         ),
         hours AS (SELECT DISTINCT date_trunc('hour', t) AS hour FROM events WHERE source_table = ?),
         steps AS (SELECT hour, lead(hour) OVER (ORDER BY hour) AS next FROM hours)
         SELECT epoch_us(hour + INTERVAL 1 HOUR), epoch_us(next), date_diff('hour', hour, next) - 1
         FROM steps WHERE next > hour + INTERVAL 1 HOUR ORDER BY hour",
    )?;
    for table in &mut tables {
        table.gaps = gaps
            .query_map([&table.table], |r| {
                Ok(Gap { from: format_iso(r.get(0)?), to: format_iso(r.get(1)?), hours: r.get(2)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
    }
    Ok(tables)
}

pub fn run(case: &Case, args: SourcesArgs) -> Result<Report> {
    let mut stmt = case.conn.prepare(
        "SELECT source_id, path, sha256, size_bytes, shape, tables, epoch_us(imported_at), examiner,
                records_read, imported, rejected, duplicates, epoch_us(first_time), epoch_us(last_time),
                container_sha256
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
                container_sha256: r.get(14)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;

    let mut header = vec!["id", "path", "sha256", "shape", "table", "records", "imported", "rejected", "duplicates", "first", "last"];
    // Only a case with files from zip archives gets the archives' column.
    let from_archives = sources.iter().any(|s| s.container_sha256.is_some());
    if from_archives {
        header.push("archive sha256");
    }
    let rows: Vec<Vec<String>> = sources
        .iter()
        .map(|s| {
            let mut row = vec![
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
            ];
            if from_archives {
                row.push(s.container_sha256.clone().unwrap_or_default());
            }
            row
        })
        .collect();
    let tables = coverage(case)?;
    output::to_stdout(|out| match (args.format, args.coverage) {
        (OutputFormat::Json, false) => {
            serde_json::to_writer_pretty(&mut *out, &sources).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        (OutputFormat::Json, true) => {
            serde_json::to_writer_pretty(&mut *out, &tables).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        (OutputFormat::Csv, false) => output::write_csv(out, &header, &rows),
        (OutputFormat::Csv, true) => output::write_csv(out, &COVERAGE_HEADER, &coverage_rows(&tables, false)),
        (OutputFormat::Table, coverage_only) => {
            if !coverage_only {
                writeln!(out, "{}", output::table(&header, rows))?;
            }
            writeln!(out, "time covered by table (UTC); gaps are whole hours with no record:")?;
            writeln!(out, "{}", output::table(&COVERAGE_HEADER, coverage_rows(&tables, true)))
        }
    })?;
    Ok(Report::success(serde_json::json!({ "sources": sources.len() })))
}
