//! `blobtrail verify`: check the audit trail's hash chain and the recorded SHA-256 of every
//! imported file that is still on disk. Exits with status 1 on any mismatch.

use anyhow::Result;
use serde_json::json;

use super::Report;
use crate::audit;
use crate::case::Case;
use crate::exit::Exit;
use crate::import::hash_file;
use crate::output;

pub fn run(case: &Case) -> Result<Report> {
    let records = audit::read_all(&case.conn)?;
    let mut problems = audit::check_chain(&records);

    let mut stmt = case.conn.prepare("SELECT source_id, path, sha256 FROM sources ORDER BY source_id")?;
    let sources = stmt
        .query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut checked, mut missing) = (0, 0);
    for (source_id, path, recorded) in &sources {
        let on_disk = std::path::Path::new(path);
        if !on_disk.is_file() {
            missing += 1;
            continue;
        }
        checked += 1;
        match hash_file(on_disk) {
            Ok(actual) if &actual == recorded => {}
            Ok(actual) => problems.push(format!(
                "source {source_id} `{path}` has changed since import: SHA-256 {actual}, recorded {recorded}"
            )),
            Err(err) => problems.push(format!("source {source_id} `{path}` cannot be read: {err:#}")),
        }
    }

    output::to_stdout(|out| {
        writeln!(out, "audit trail: {} records, {}", records.len(), if problems.iter().any(|p| p.starts_with("record")) { "BROKEN" } else { "chain intact" })?;
        writeln!(out, "imported files: {checked} checked, {missing} no longer at their recorded path (not checked)")?;
        for problem in &problems {
            writeln!(out, "MISMATCH: {}", output::terminal_safe(problem))?;
        }
        writeln!(out, "{}", if problems.is_empty() { "verify: OK" } else { "verify: FAILED" })
    })?;
    let exit = if problems.is_empty() { Exit::Success } else { Exit::Failure };
    Ok(Report {
        exit,
        counts: json!({ "records": records.len(), "files_checked": checked, "files_missing": missing, "problems": problems.len() }),
    })
}
