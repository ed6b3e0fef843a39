//! `blobtrail verify`: check the audit trail's hash chain and the recorded SHA-256 of every
//! imported file that is still on disk. Exits with status 1 on any mismatch.

use anyhow::Result;
use serde_json::json;

use super::Report;
use crate::audit;
use crate::case::Case;
use crate::exit::Exit;
use crate::import::{hash_file, hash_reader};
use crate::output;

/// Hashes one member of a zip archive, as the import recorded it.
fn hash_zip_member(archive: &str, member: &str) -> Option<Result<String>> {
    let file = std::fs::File::open(archive).ok()?;
    let mut zip = zip::ZipArchive::new(file).ok()?;
    let mut entry = zip.by_name(member).ok()?;
    Some(hash_reader(&mut entry).map_err(anyhow::Error::from))
}

pub fn run(case: &Case) -> Result<Report> {
    let records = audit::read_all(&case.conn)?;
    let mut problems = audit::check_chain(&records, &audit::state_digest(&case.conn)?);
    for hunt_id in audit::changed_hunts(&case.conn)? {
        problems.push(format!(
            "the case's findings of hunt {hunt_id} changed outside blobtrail: they no longer match the digest stored when the hunt finished"
        ));
    }

    let mut stmt = case.conn.prepare("SELECT source_id, path, sha256 FROM sources ORDER BY source_id")?;
    let sources = stmt
        .query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut checked, mut missing) = (0, Vec::new());
    for (source_id, path, recorded) in &sources {
        let hashed = match path.split_once("!/") {
            Some((archive, member)) if std::path::Path::new(archive).is_file() => hash_zip_member(archive, member),
            Some(_) => None,
            None if std::path::Path::new(path).is_file() => Some(hash_file(std::path::Path::new(path))),
            None => None,
        };
        let Some(hashed) = hashed else {
            missing.push(path.clone());
            continue;
        };
        checked += 1;
        match hashed {
            Ok(actual) if &actual == recorded => {}
            Ok(actual) => problems.push(format!(
                "source {source_id} `{path}` has changed since import: SHA-256 {actual}, recorded {recorded}"
            )),
            Err(err) => problems.push(format!("source {source_id} `{path}` cannot be read: {err:#}")),
        }
    }

    output::to_stdout(|out| {
        writeln!(out, "audit trail: {} records, {}", records.len(), if problems.iter().any(|p| p.starts_with("record") || p.starts_with("the case")) { "BROKEN" } else { "chain intact" })?;
        if let Some(last) = records.last() {
            writeln!(out, "last record: {} ({}), hash {}; note it: a trail cut back to an earlier record no longer ends with it", last.seq, last.command, last.record_hash)?;
        }
        writeln!(out, "imported files: {checked} checked, {} no longer at their recorded path (not checked)", missing.len())?;
        for path in &missing {
            writeln!(out, "  not checked: {}", output::terminal_safe(path))?;
        }
        for problem in &problems {
            writeln!(out, "MISMATCH: {}", output::terminal_safe(problem))?;
        }
        writeln!(out, "{}", if problems.is_empty() { "verify: OK" } else { "verify: FAILED" })
    })?;
    let exit = if problems.is_empty() { Exit::Success } else { Exit::Failure };
    Ok(Report {
        exit,
        counts: json!({ "records": records.len(), "files_checked": checked, "files_missing": missing.len(), "problems": problems.len() }),
    })
}
