//! `blobtrail case new` and `blobtrail case info`.

use anyhow::Result;
use serde_json::json;

use super::{Global, Report};
use crate::case::Case;
use crate::case::{self, NewCase};
use crate::cli::{CaseNewArgs, FormatArgs, OutputFormat};
use crate::exit::Exit;
use crate::output;

/// `case new`: creates the case and records the command as the first audit entry.
pub fn new(global: &Global, args: CaseNewArgs) -> Result<Exit> {
    let started = super::now_iso();
    // A name with a folder in it is the path of the new case folder, and `--cases-dir` is ignored.
    let path = std::path::Path::new(&args.name);
    let (cases_dir, name) = match (path.parent(), path.file_name().and_then(|name| name.to_str())) {
        (Some(parent), Some(name)) if path.components().count() > 1 => {
            let parent = if parent.as_os_str().is_empty() { std::path::Path::new(".") } else { parent };
            (parent.to_path_buf(), name.to_string())
        }
        _ => (global.cases_dir.clone(), args.name.clone()),
    };
    let new = NewCase { name: &name, title: args.title.as_deref(), examiner: global.examiner.as_deref() };
    let case = case::create(&cases_dir, &new, &global.engine)?;
    if !global.quiet {
        print_stderr!("created case `{}`", case.dir.display());
    }
    if global.examiner.is_none() {
        print_note!(
            "note: no examiner given, so the case's work is recorded without a name unless each command gets \
             `--examiner NAME`; set BLOBTRAIL_EXAMINER for the shell session"
        );
    }
    output::to_stdout(|out| writeln!(out, "{}", case.dir.display()))?;
    let report = Report::success(json!({ "case": case.name }));
    super::record_audit(global, &case, "case new", &started, &Ok(&report))?;
    Ok(Exit::Success)
}

/// `case info`.
pub fn info(case: &Case, args: FormatArgs) -> Result<Report> {
    let (name, title, examiner, created, created_by, duckdb_at_creation): (
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
    ) = case.conn.query_row(
        "SELECT name, title, examiner, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ'), blobtrail_version, duckdb_version
         FROM case_info LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    let details = json!({
        "name": name,
        "path": case.dir.display().to_string(),
        "title": title,
        "examiner": examiner,
        "created_at": created,
        "created_by_blobtrail": created_by,
        "duckdb_version_at_creation": duckdb_at_creation,
        "duckdb_version": case::duckdb_version(&case.conn)?,
        "schema_version": case::schema_version(&case.conn)?,
        "blobtrail_version": crate::VERSION,
    });
    output::to_stdout(|out| match args.format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&details).unwrap_or_default()),
        OutputFormat::Table | OutputFormat::Csv => {
            let serde_json::Value::Object(fields) = &details else { return Ok(()) };
            let rows: Vec<Vec<String>> = fields
                .iter()
                .map(|(key, value)| {
                    // A detail that was never set reads as empty, not as JSON's `null`.
                    let text = if value.is_null() { String::new() } else { value.as_str().map_or_else(|| value.to_string(), str::to_string) };
                    vec![key.clone(), text]
                })
                .collect();
            if args.format == OutputFormat::Csv {
                output::write_csv(out, &["field", "value"], &rows)
            } else {
                writeln!(out, "{}", output::table(&["field", "value"], rows))
            }
        }
    })?;
    Ok(Report::success(json!({})))
}
