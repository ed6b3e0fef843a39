//! Findings as flat rows, and the file formats they are exported in.
//!
//! One row per finding and candidate (a finding without candidates gets one row with empty
//! candidate columns), so that a spreadsheet or another tool sees every candidate. The column
//! names and types are part of blobtrail's interface; `docs/export-columns.md` documents them.

use std::io::Write;
use std::path::Path;

use std::sync::Arc;

use anyhow::{Context, Result};
use duckdb::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;
use serde_json::json;

use crate::findings::{self, Finding};
use crate::output::spreadsheet_safe;

/// The type of an export column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Real,
    /// ISO 8601 UTC text in CSV and JSON; TIMESTAMP in Parquet.
    Time,
}

/// The export columns, in order.
pub const COLUMNS: &[(&str, Kind)] = &[
    ("finding_id", Kind::Text),
    ("hunt_id", Kind::Integer),
    ("mode", Kind::Text),
    ("upload_time", Kind::Time),
    ("upload_kind", Kind::Text),
    ("operation", Kind::Text),
    ("part_count", Kind::Integer),
    ("bytes", Kind::Integer),
    ("storage_account", Kind::Text),
    ("object_path", Kind::Text),
    ("file_name", Kind::Text),
    ("caller_ip", Kind::Text),
    ("caller_ip_raw", Kind::Text),
    ("upload_user_agent", Kind::Text),
    ("authentication_type", Kind::Text),
    ("requester_upn", Kind::Text),
    ("confidence", Kind::Text),
    ("attributed_account", Kind::Text),
    ("reason", Kind::Text),
    ("status", Kind::Text),
    ("tags", Kind::Text),
    ("notes", Kind::Text),
    ("excluded_by_rules", Kind::Text),
    ("source_table", Kind::Text),
    ("source_file", Kind::Text),
    ("source_line", Kind::Integer),
    ("source_record", Kind::Integer),
    ("candidate_rank", Kind::Integer),
    ("candidate_account", Kind::Text),
    ("candidate_score", Kind::Real),
    ("candidate_delta_seconds", Kind::Real),
    ("candidate_signin_time", Kind::Time),
    ("candidate_ip", Kind::Text),
    ("candidate_user_agent", Kind::Text),
    ("candidate_source_table", Kind::Text),
    ("candidate_reasons", Kind::Text),
    ("candidate_source_file", Kind::Text),
    ("candidate_source_line", Kind::Integer),
];

/// One cell; None is an empty cell.
#[derive(Clone, Debug)]
pub enum Cell {
    Text(Option<String>),
    Integer(Option<i64>),
    Real(Option<f64>),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Text(value) => value.clone().unwrap_or_default(),
            Cell::Integer(value) => value.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Real(value) => value.map(|v| v.to_string()).unwrap_or_default(),
        }
    }
}

fn text(value: &Option<String>) -> Cell {
    Cell::Text(value.clone())
}

fn owned(value: &str) -> Cell {
    Cell::Text(Some(value.to_string()))
}

/// Flattens a finding into rows of `COLUMNS`: one per candidate, or one without candidates.
pub fn rows_of(f: &Finding) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    let base = vec![
        owned(&f.finding_id),
        Cell::Integer(Some(f.hunt_id)),
        owned(&f.mode),
        owned(&f.upload_time),
        owned(&f.upload_kind),
        text(&f.operation),
        Cell::Integer(Some(f.part_count)),
        Cell::Integer(f.bytes),
        text(&f.storage_account),
        text(&f.object_path),
        text(&f.file_name),
        text(&f.caller_ip),
        text(&f.caller_ip_raw),
        text(&f.upload_user_agent),
        text(&f.authentication_type),
        text(&f.requester_upn),
        text(&f.confidence),
        text(&f.attributed_account),
        text(&f.reason),
        Cell::Text(Some(findings::status_or_open(f.status.as_deref()).to_string())),
        Cell::Text(Some(f.tags.join("; "))),
        Cell::Text(Some(joined_notes(&f.notes))),
        Cell::Text(Some(f.excluded_by.iter().map(|id| id.to_string()).collect::<Vec<_>>().join("; "))),
        owned(&f.source_table),
        owned(&f.source_file),
        Cell::Integer(f.source_line),
        Cell::Integer(Some(f.source_record)),
    ];
    if f.candidates.is_empty() {
        let mut row = base.clone();
        row.extend([
            Cell::Integer(None),
            Cell::Text(None),
            Cell::Real(None),
            Cell::Real(None),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Integer(None),
        ]);
        rows.push(row);
    }
    for c in &f.candidates {
        let mut row = base.clone();
        row.extend([
            Cell::Integer(Some(c.rank)),
            text(&c.account),
            Cell::Real(c.score),
            Cell::Real(Some(c.delta_seconds)),
            owned(&c.signin_time),
            owned(&c.ip),
            text(&c.user_agent),
            owned(&c.source_table),
            Cell::Text(Some(c.reasons.join("; "))),
            owned(&c.source_file),
            Cell::Integer(c.source_line.or(Some(c.source_record))),
        ]);
        rows.push(row);
    }
    rows
}

/// Writes the CSV header: UTF-8, after a byte order mark when `bom` is set, which Excel needs
/// to read UTF-8.
pub fn write_csv_header(out: &mut dyn Write, bom: bool) -> std::io::Result<()> {
    if bom {
        out.write_all(b"\xef\xbb\xbf")?;
    }
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS.iter().map(|(name, _)| *name))?;
    writer.flush()
}

/// Appends the CSV rows of one finding, every cell spreadsheet-safe, and returns how many.
pub fn write_csv_rows(out: &mut dyn Write, finding: &Finding) -> std::io::Result<usize> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    let rows = rows_of(finding);
    for row in &rows {
        writer.write_record(row.iter().map(|cell| spreadsheet_safe(&cell.text()).into_owned()))?;
    }
    writer.flush()?;
    Ok(rows.len())
}

/// Writes Parquet through DuckDB's writer, with typed columns. `produce` passes runs of rows
/// to the sink it is given, so that the rows of all findings are never held at once. The
/// staging table is a temporary one, which a read-only case also allows. It is created
/// outside any transaction: DuckDB 2.0.0 returned no rows from column scans of a temporary
/// table created inside one once it held more than one row group.
/// Returns the number of rows.
pub fn write_parquet(
    conn: &Connection,
    path: &Path,
    produce: impl FnOnce(&mut dyn FnMut(Vec<Vec<Cell>>) -> Result<()>) -> Result<()>,
) -> Result<usize> {
    let columns: Vec<String> = COLUMNS.iter().map(|(name, kind)| format!("{name} {}", kind.sql_type())).collect();
    let schema = Arc::new(Schema::new(
        COLUMNS.iter().map(|(name, kind)| Field::new(*name, kind.arrow_type(), true)).collect::<Vec<_>>(),
    ));
    let result = (|| -> Result<usize> {
        conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE export_stage ({})", columns.join(", ")))?;
        let mut appender = conn.appender_to_catalog_and_db("export_stage", "temp", "main")?;
        let mut count = 0;
        produce(&mut |rows| {
            count += rows.len();
            appender.append_record_batch(record_batch(&schema, &rows)?)?;
            Ok(())
        })?;
        appender.flush()?;
        drop(appender);
        let target = crate::sql::quote_literal(&path.to_string_lossy());
        conn.execute_batch(&format!("COPY temp.export_stage TO {target} (FORMAT parquet)"))
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(count)
    })();
    let _ = conn.execute_batch("DROP TABLE IF EXISTS temp.export_stage");
    result
}

/// Joins notes with ` | ` for one cell. A `\` or `|` inside a note is written `\\` or `\|`, so
/// an unescaped ` | ` in the cell always separates two notes.
pub fn joined_notes(notes: &[String]) -> String {
    let escaped: Vec<String> = notes.iter().map(|note| note.replace('\\', "\\\\").replace('|', "\\|")).collect();
    escaped.join(" | ")
}

impl Kind {
    fn sql_type(self) -> &'static str {
        match self {
            Kind::Text => "VARCHAR",
            Kind::Integer => "BIGINT",
            Kind::Real => "DOUBLE",
            Kind::Time => "TIMESTAMP",
        }
    }

    fn arrow_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Integer => DataType::Int64,
            Kind::Real => DataType::Float64,
            Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }
}

/// Builds one Arrow batch of `COLUMNS` from rows; a time is parsed from its ISO text.
fn record_batch(schema: &Arc<Schema>, rows: &[Vec<Cell>]) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = COLUMNS
        .iter()
        .enumerate()
        .map(|(column, (_, kind))| -> ArrayRef {
            let cells = rows.iter().map(|row| &row[column]);
            match kind {
                Kind::Text => Arc::new(cells.map(|cell| cell_text(cell)).collect::<StringArray>()),
                Kind::Integer => Arc::new(cells.map(|cell| match cell {
                    Cell::Integer(value) => *value,
                    _ => None,
                }).collect::<Int64Array>()),
                Kind::Real => Arc::new(cells.map(|cell| match cell {
                    Cell::Real(value) => *value,
                    _ => None,
                }).collect::<Float64Array>()),
                Kind::Time => Arc::new(
                    cells
                        .map(|cell| cell_text(cell).and_then(|text| crate::parse::time::parse_timestamp(text, 0, None).ok()))
                        .collect::<TimestampMicrosecondArray>(),
                ),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

fn cell_text(cell: &Cell) -> Option<&str> {
    match cell {
        Cell::Text(value) => value.as_deref(),
        _ => None,
    }
}

/// Maximum data rows of an Excel worksheet below its header row.
pub const XLSX_MAX_ROWS: u64 = 1_048_575;

/// Maximum characters in an Excel cell.
const XLSX_CELL_CHARS: usize = 32_767;

/// Cuts text that an Excel cell cannot hold and marks the cut in the cell. The JSON and CSV
/// exports keep the whole text.
fn excel_text(text: &str) -> std::borrow::Cow<'_, str> {
    const MARK: &str = " [cut at Excel's cell limit; the JSON and CSV exports have the whole text]";
    if text.chars().count() <= XLSX_CELL_CHARS {
        return std::borrow::Cow::Borrowed(text);
    }
    let keep = XLSX_CELL_CHARS - MARK.chars().count();
    std::borrow::Cow::Owned(text.chars().take(keep).chain(MARK.chars()).collect())
}

/// Writes a workbook with a findings sheet (one row per finding) and a candidates sheet (one
/// row per candidate), each with a frozen header row and filters. `produce` passes runs of
/// findings to the sink it is given. Rows go to temporary files in `temp_dir`, or the system's
/// temporary folder when that cannot be written (constant memory mode of rust_xlsxwriter),
/// instead of memory. Returns the number of findings.
pub fn write_xlsx(
    path: &Path,
    temp_dir: &Path,
    produce: impl FnOnce(&mut dyn FnMut(Vec<Finding>) -> Result<()>) -> Result<()>,
) -> Result<usize> {
    use rust_xlsxwriter::{Format, Workbook};

    const FINDING_COLUMNS: [&str; 19] = [
        "finding_id", "upload_time", "upload_kind", "operation", "storage_account", "object_path",
        "file_name", "caller_ip", "upload_user_agent", "confidence", "attributed_account", "reason",
        "status", "tags", "notes", "excluded_by_rules", "candidate_count", "source_file", "source_line",
    ];
    const CANDIDATE_COLUMNS: [&str; 12] = [
        "finding_id", "rank", "account", "score", "delta_seconds", "signin_time", "ip", "user_agent",
        "source_table", "reasons", "source_file", "source_line",
    ];
    let mut workbook = Workbook::new();
    // A case on write-protected media has no room for them, so the system's folder serves.
    if std::fs::create_dir_all(temp_dir).is_ok() {
        let _ = workbook.set_tempdir(temp_dir);
    }
    let bold = Format::new().set_bold();
    let sheet = workbook.add_worksheet_with_constant_memory()?.set_name("findings")?;
    write_header(sheet, &FINDING_COLUMNS, &bold)?;
    let sheet = workbook.add_worksheet_with_constant_memory()?.set_name("candidates")?;
    write_header(sheet, &CANDIDATE_COLUMNS, &bold)?;

    let (mut finding_row, mut candidate_row) = (0u32, 0u32);
    produce(&mut |findings| {
        let sheet = workbook.worksheet_from_index(0)?;
        for f in &findings {
            finding_row += 1;
            let cells = [
                Some(f.finding_id.clone()),
                Some(f.upload_time.clone()),
                Some(f.upload_kind.clone()),
                f.operation.clone(),
                f.storage_account.clone(),
                f.object_path.clone(),
                f.file_name.clone(),
                f.caller_ip.clone().or_else(|| f.caller_ip_raw.clone()),
                f.upload_user_agent.clone(),
                f.confidence.clone(),
                f.attributed_account.clone(),
                f.reason.clone(),
                Some(findings::status_or_open(f.status.as_deref()).to_string()),
                Some(f.tags.join("; ")),
                Some(joined_notes(&f.notes)),
                Some(f.excluded_by.iter().map(|id| id.to_string()).collect::<Vec<_>>().join("; ")),
            ];
            for (col, value) in cells.iter().enumerate() {
                // write_string stores text as text: a leading `=` is never a formula here.
                sheet.write_string(finding_row, col as u16, excel_text(value.as_deref().unwrap_or("")))?;
            }
            sheet.write_number(finding_row, 16, f.candidate_count as f64)?;
            sheet.write_string(finding_row, 17, excel_text(&f.source_file))?;
            sheet.write_number(finding_row, 18, f.source_line.unwrap_or(f.source_record) as f64)?;
        }
        let sheet = workbook.worksheet_from_index(1)?;
        for f in &findings {
            for c in &f.candidates {
                candidate_row += 1;
                let row = candidate_row;
                sheet.write_string(row, 0, &f.finding_id)?;
                sheet.write_number(row, 1, c.rank as f64)?;
                sheet.write_string(row, 2, excel_text(c.account.as_deref().unwrap_or("")))?;
                if let Some(score) = c.score {
                    sheet.write_number(row, 3, score)?;
                }
                sheet.write_number(row, 4, c.delta_seconds)?;
                sheet.write_string(row, 5, &c.signin_time)?;
                sheet.write_string(row, 6, &c.ip)?;
                sheet.write_string(row, 7, excel_text(c.user_agent.as_deref().unwrap_or("")))?;
                sheet.write_string(row, 8, &c.source_table)?;
                sheet.write_string(row, 9, excel_text(&c.reasons.join("; ")))?;
                sheet.write_string(row, 10, excel_text(&c.source_file))?;
                sheet.write_number(row, 11, c.source_line.unwrap_or(c.source_record) as f64)?;
            }
        }
        Ok(())
    })?;
    for (index, (rows, columns)) in [(finding_row, FINDING_COLUMNS.len()), (candidate_row, CANDIDATE_COLUMNS.len())].into_iter().enumerate() {
        let sheet = workbook.worksheet_from_index(index)?;
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, rows, columns as u16 - 1)?;
    }
    workbook.save(path).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(finding_row as usize)
}

fn write_header(sheet: &mut rust_xlsxwriter::Worksheet, names: &[&str], format: &rust_xlsxwriter::Format) -> Result<()> {
    for (col, name) in names.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *name, format)?;
    }
    Ok(())
}

/// Writes the Timesketch JSON lines of one finding: one event for the upload and one per
/// candidate sign-in, each with `message`, `datetime` and `timestamp_desc`. Returns the number
/// of lines.
pub fn write_timesketch(out: &mut dyn Write, f: &Finding) -> std::io::Result<usize> {
    let mut lines = 0;
    let who = f.attributed_account.as_deref().unwrap_or("no attributed account");
    let event = json!({
        "message": format!("Upload of {} to {} from {} ({}; {})",
            f.object_path.as_deref().unwrap_or("?"), f.storage_account.as_deref().unwrap_or("?"),
            f.caller_ip_raw.as_deref().unwrap_or("?"), f.confidence.as_deref().unwrap_or("unranked"), who),
        "datetime": f.upload_time,
        "timestamp_desc": "Storage upload",
        "finding_id": f.finding_id,
        "hunt_id": f.hunt_id,
        "upload_kind": f.upload_kind,
        "operation": f.operation,
        "object_path": f.object_path,
        "file_name": f.file_name,
        "caller_ip": f.caller_ip,
        "user_agent": f.upload_user_agent,
        "confidence": f.confidence,
        "attributed_account": f.attributed_account,
        "status": findings::status_or_open(f.status.as_deref()),
        "tags": f.tags,
        "notes": f.notes,
        "excluded_by_rules": f.excluded_by,
        "source_file": f.source_file,
        "source_line": f.source_line,
    });
    writeln!(out, "{event}")?;
    lines += 1;
    for c in &f.candidates {
        let event = json!({
            "message": format!("Sign-in of {} from {} ({}), candidate {} for upload {}",
                c.account.as_deref().unwrap_or("?"), c.ip, c.source_table, c.rank, f.finding_id),
            "datetime": c.signin_time,
            "timestamp_desc": "Entra ID sign-in",
            "finding_id": f.finding_id,
            "account": c.account,
            "ip": c.ip,
            "user_agent": c.user_agent,
            "source_table": c.source_table,
            "rank": c.rank,
            "score": c.score,
            "delta_seconds": c.delta_seconds,
            "reasons": c.reasons,
            "source_file": c.source_file,
            "source_line": c.source_line,
        });
        writeln!(out, "{event}")?;
        lines += 1;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_keep_their_separator_apart() {
        let notes = ["seen on host A | B".to_string(), r"path C:\temp".to_string(), "plain".to_string()];
        assert_eq!(joined_notes(&notes), r"seen on host A \| B | path C:\\temp | plain");
        assert_eq!(joined_notes(&[]), "");
    }

    #[test]
    fn long_text_fits_an_excel_cell() {
        let short = "a".repeat(XLSX_CELL_CHARS);
        assert_eq!(excel_text(&short), short.as_str());
        let long = "é".repeat(40_000);
        let cut = excel_text(&long);
        assert_eq!(cut.chars().count(), XLSX_CELL_CHARS);
        assert!(cut.ends_with("the JSON and CSV exports have the whole text]"));
    }
}
