//! `blobtrail verify`: check the audit trail's hash chain and the recorded SHA-256 of every
//! imported file that is still on disk. Exits with status 1 on any mismatch.

use anyhow::Result;
use serde_json::json;

use super::Report;
use crate::audit;
use crate::case::Case;
use crate::exit::Exit;
use crate::import::hash_reader;
use crate::output;
use crate::parse::time::parse_timestamp;

/// The result of re-hashing an imported file.
enum Rehash {
    Hashed(String),
    /// The file on disk has another size than the one imported, so it was not read.
    Resized(u64),
    /// Not checked, with the reason.
    NotChecked(String),
    /// The file is there and could be opened, but reading it failed.
    Failed(String),
}

/// Re-hashes an imported file at its recorded path. A path that names no file, but has a file
/// before one of its `!/`, is a zip member as the import recorded it (`archive.zip!/member`).
/// A path that names a file is that file, even under a folder whose name ends in `!`. A file
/// whose size differs from `recorded_size` has changed, and is not read, since it may be huge.
fn rehash(path: &str, recorded_size: u64) -> Rehash {
    let whole = std::path::Path::new(path);
    if whole.is_file() {
        if let Some(size) = whole.metadata().ok().map(|metadata| metadata.len()).filter(|&size| size != recorded_size) {
            return Rehash::Resized(size);
        }
        return match std::fs::File::open(whole) {
            Err(err) => Rehash::NotChecked(format!("cannot be opened: {err}")),
            Ok(mut file) => match hash_reader(&mut file) {
                Ok(hash) => Rehash::Hashed(hash),
                Err(err) => Rehash::Failed(err.to_string()),
            },
        };
    }
    match zip_member(path) {
        Some((archive, member)) => hash_zip_member(archive, member),
        None => Rehash::NotChecked("no longer at its recorded path".to_string()),
    }
}

/// Splits a path recorded as `archive.zip!/member` at the first `!/` before which a file is on
/// disk, into that archive's path and the member's name.
fn zip_member(path: &str) -> Option<(&str, &str)> {
    path.match_indices("!/")
        .map(|(index, _)| (&path[..index], &path[index + 2..]))
        .find(|(archive, _)| std::path::Path::new(archive).is_file())
}

/// Hashes one member of a zip archive, as the import recorded it.
fn hash_zip_member(archive: &str, member: &str) -> Rehash {
    let file = match std::fs::File::open(archive) {
        Ok(file) => file,
        Err(err) => return Rehash::NotChecked(format!("the zip file cannot be opened: {err}")),
    };
    let mut zip = match zip::ZipArchive::new(file) {
        Ok(zip) => zip,
        Err(err) => return Rehash::Failed(format!("the file at the zip's path is not a readable zip: {err}")),
    };
    let mut entry = match zip.by_name(member) {
        Ok(entry) => entry,
        Err(_) => return Rehash::Failed("the zip at its path has no member of this name".to_string()),
    };
    match hash_reader(&mut entry) {
        Ok(hash) => Rehash::Hashed(hash),
        Err(err) => Rehash::Failed(format!("{err:#}")),
    }
}

/// Describes each command that started and never finished (an import or hunt stopped by a
/// signal): what it may have committed, and, for an import, the files it committed.
fn unfinished_notes(case: &Case, records: &[audit::Stored]) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (record, next_start) in audit::unfinished(records) {
        let committed = if record.command == "import" {
            // Record times are ISO 8601 UTC as blobtrail writes them; an unreadable one bounds nothing.
            let micros = |text: &str| parse_timestamp(text, 0, None).ok();
            let from = micros(&record.started_at).unwrap_or(i64::MIN);
            let until = next_start.and_then(micros).unwrap_or(i64::MAX);
            let mut stmt = case.conn.prepare(
                "SELECT path FROM sources WHERE epoch_us(imported_at) BETWEEN ? AND ? - 1 ORDER BY source_id",
            )?;
            let paths =
                stmt.query_map(duckdb::params![from, until], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            format!(" Files it imported: {}.", if paths.is_empty() { "none".to_string() } else { paths.join(", ") })
        } else {
            String::new()
        };
        let part = audit::changed_part(&record.command).unwrap_or("record");
        notes.push(format!(
            "record {} ({}, started {}) has no record of its end: it was stopped before it finished.{committed} \
             It may have changed the case's {part} after that record, so those are not compared with the next record; \
             everything else is",
            record.seq, record.command, record.started_at
        ));
    }
    Ok(notes)
}

/// Names the sources whose stored rows or rejected records `verify` cannot compare with a
/// digest made at import: imported before digests were stored, or digested under another
/// DuckDB version.
fn uncompared_rows_notes(case: &Case) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (what, digest, engine) in [
        ("the rows imported from", "rows_digest", "rows_digest_engine"),
        ("the rejected records of", "rejects_digest", "rejects_digest_engine"),
    ] {
        let mut stmt = case.conn.prepare(&format!(
            "SELECT source_id, path, {engine} FROM sources
             WHERE {digest} IS NULL OR {engine} IS DISTINCT FROM version()
             ORDER BY source_id"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))?;
        for row in rows {
            let (source_id, path, engine) = row?;
            let reason = match engine {
                Some(engine) => format!("its digest was made by DuckDB {engine}, whose hash may differ from this build's"),
                None => "it has no digest".to_string(),
            };
            notes.push(format!("{what} source {source_id} `{path}` were not compared: {reason}"));
        }
    }
    Ok(notes)
}

pub fn run(case: &Case) -> Result<Report> {
    let records = audit::read_all(&case.conn)?;
    let mut problems = audit::record_problems(&case.conn, &records)?;
    // Problems with the records themselves name a record first; the others are changes of the
    // case that the intact chain shows. Changed evidence files, found below, are neither.
    let chain_broken = problems.iter().any(|p| p.starts_with("record"));
    let case_changed = !problems.is_empty();

    let mut stmt = case.conn.prepare("SELECT source_id, path, sha256, size_bytes FROM sources ORDER BY source_id")?;
    let sources = stmt
        .query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let (mut checked, mut missing) = (0, Vec::new());
    for (source_id, path, recorded, recorded_size) in &sources {
        match rehash(path, *recorded_size as u64) {
            Rehash::NotChecked(reason) => missing.push(format!("{path}: {reason}")),
            Rehash::Resized(size) => {
                checked += 1;
                problems.push(format!(
                    "source {source_id} `{path}` has changed since import: {size} bytes, recorded {recorded_size}"
                ));
            }
            Rehash::Hashed(actual) if &actual == recorded => checked += 1,
            Rehash::Hashed(actual) => {
                checked += 1;
                problems.push(format!("source {source_id} `{path}` has changed since import: SHA-256 {actual}, recorded {recorded}"));
            }
            Rehash::Failed(reason) => {
                checked += 1;
                problems.push(format!("source {source_id} `{path}` cannot be read whole: {reason}"));
            }
        }
    }

    // A zip archive is re-hashed whole too, once, so a member added to or removed from the
    // archive that was handed over shows even when every imported member is unchanged.
    let mut stmt = case.conn.prepare(
        "SELECT path, any_value(container_sha256) FROM sources WHERE container_sha256 IS NOT NULL GROUP BY path ORDER BY path",
    )?;
    let members = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?.collect::<Result<Vec<_>, _>>()?;
    let mut archives = std::collections::BTreeMap::new();
    for (path, recorded) in members {
        if let Some((archive, _)) = zip_member(&path) {
            archives.entry(archive.to_string()).or_insert(recorded);
        }
    }
    for (archive, recorded) in &archives {
        match crate::import::hash_file(std::path::Path::new(archive)) {
            Ok(actual) if &actual == recorded => {}
            Ok(actual) => problems.push(format!(
                "the zip archive `{archive}` has changed since its members were imported: SHA-256 {actual}, recorded {recorded}"
            )),
            Err(err) => problems.push(format!("the zip archive `{archive}` cannot be read whole: {err:#}")),
        }
    }

    let mut notes = unfinished_notes(case, &records)?;
    notes.extend(uncompared_rows_notes(case)?);

    output::to_stdout(|out| {
        let state = match (chain_broken, case_changed) {
            (true, _) => "BROKEN",
            (false, false) => "chain intact",
            (false, true) => "chain intact, but the case was changed outside blobtrail (MISMATCH below)",
        };
        writeln!(out, "audit trail: {} records, {state}", records.len())?;
        if let Some(last) = records.last() {
            writeln!(out, "last record: {} ({}), hash {}; note it: a trail cut back to before this record no longer contains it", last.seq, last.command, last.record_hash)?;
        }
        writeln!(out, "imported files: {checked} checked, {} not checked", missing.len())?;
        for path_and_reason in &missing {
            writeln!(out, "  not checked: {}", output::terminal_safe(path_and_reason))?;
        }
        for note in &notes {
            writeln!(out, "note: {}", output::terminal_safe(note))?;
        }
        for problem in &problems {
            writeln!(out, "MISMATCH: {}", output::terminal_safe(problem))?;
        }
        if !problems.is_empty() {
            writeln!(out, "verify: FAILED")
        } else if !missing.is_empty() {
            writeln!(
                out,
                "verify: INCOMPLETE, {} imported file(s) not checked because they are no longer at their recorded path \
                 or cannot be opened; nothing that was checked has changed. Put them back or make them readable, \
                 or verify the copies where they are now with sha256sum",
                missing.len()
            )
        } else {
            writeln!(out, "verify: OK")
        }
    })?;
    let exit = match (problems.is_empty(), missing.is_empty()) {
        (false, _) => Exit::Failure,
        (true, false) => Exit::Rejects,
        (true, true) => Exit::Success,
    };
    Ok(Report {
        exit,
        counts: json!({ "records": records.len(), "files_checked": checked, "files_missing": missing.len(), "problems": problems.len(), "unfinished": notes.len() }),
    })
}
