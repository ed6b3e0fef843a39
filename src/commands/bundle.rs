//! `blobtrail bundle` and `blobtrail verify-bundle`: hand over the case's result as an
//! evidence bundle with a verifiable manifest.

use std::path::Path;

use anyhow::{Context, Result};
use duckdb::params;
use serde_json::json;

use super::{Global, Report};
use crate::bundle::{self, BundleWriter};
use crate::case::Case;
use crate::cli::BundleArgs;
use crate::exit::Exit;
use crate::findings::{self, Finding};
use crate::output::PrettyArray;
use crate::report::{self, Integrity, ReportFinding, ReportInput, SourceLine};
use crate::{annotations, audit, exclusions, export, sql};

pub fn run(global: &Global, case: &Case, args: BundleArgs) -> Result<Report> {
    let hunt_id = match args.hunt {
        Some(id) => id,
        None => super::default_hunt(case)?,
    };
    let spinner = crate::output::spinner("building the evidence bundle", global.quiet);
    let records = audit::read_all(&case.conn)?;
    let integrity = Integrity {
        audit_records: records.len(),
        last_record_hash: records.last().map(|r| r.record_hash.clone()),
        problems: audit::record_problems(&case.conn, &records)?,
    };
    drop(records);
    let mut writer = BundleWriter::create(&args.out)?;
    if let Err(err) = write_files(case, hunt_id, &integrity, &mut writer) {
        writer.abandon();
        return Err(err);
    }
    let count = writer.len() + 1;
    let manifest_hash = writer.finish()?;
    spinner.finish_and_clear();
    print_stdout!("bundle `{}`: {count} files, hunt {hunt_id}", args.out.display());
    print_stdout!("SHA-256 of {}: {manifest_hash}", bundle::MANIFEST);
    for problem in &integrity.problems {
        print_stderr!("warning: {}", crate::output::terminal_safe(problem));
    }
    if !integrity.problems.is_empty() {
        print_stderr!(
            "warning: the case's record was changed outside blobtrail; the bundle says so in report.html and parameters.json. Run `blobtrail verify` for details"
        );
    }
    print_stderr!(
        "record that hash in your notes; `blobtrail verify-bundle {}` checks the bundle later",
        crate::output::shell_quoted(&args.out.display().to_string())
    );
    let mut report = Report::success(json!({
        "hunt_id": hunt_id, "files": count, "manifest_sha256": manifest_hash, "integrity_problems": integrity.problems.len(),
    }));
    // The bundle is complete and states the problems, but a script must not take it for the
    // bundle of an intact case.
    if !integrity.problems.is_empty() {
        report.exit = Exit::Failure;
    }
    Ok(report)
}

/// `verify-bundle`: needs no case. With `--case`, the manifest's hash must also be one that the
/// case's audit trail recorded for a bundle it wrote: a bundle whose files and manifest were
/// both changed agrees with itself, but not with that record. A case from `BLOBTRAIL_CASE` that
/// has no such record gets a note instead.
pub fn verify(global: &Global, path: &Path) -> Result<Exit> {
    let (manifest_hash, mut problems) = bundle::verify(path)?;
    print_stdout!("SHA-256 of {}: {manifest_hash}", bundle::MANIFEST);
    if global.case.is_some() {
        let case = global.open_case()?;
        let mut stmt = case.conn.prepare(
            "SELECT seq, finished_at FROM audit_log
             WHERE command = 'bundle' AND json_extract_string(counts, '$.manifest_sha256') = ?
             ORDER BY seq LIMIT 1",
        )?;
        let recorded: Option<(i64, String)> =
            stmt.query_map([&manifest_hash], |r| Ok((r.get(0)?, r.get(1)?)))?.next().transpose()?;
        // A record is only as good as the chain it is in: one edited after it was written
        // could name any hash.
        let chain = audit::record_problems(&case.conn, &audit::read_all(&case.conn)?)?;
        match recorded {
            Some((seq, finished)) if chain.is_empty() => {
                print_stdout!("the audit trail of case `{}` records this bundle: record {seq}, {finished}", case.dir.display())
            }
            Some((seq, _)) => problems.push(format!(
                "record {seq} of the audit trail of case `{}` names this bundle, but the trail fails its own check ({}), \
                 so the record cannot vouch for the bundle; see `blobtrail verify`",
                case.dir.display(),
                chain.join("; ")
            )),
            // A case set for the shell's session (`BLOBTRAIL_CASE`) is often not the bundle's,
            // so only a case given with `--case` must have recorded it.
            None if !super::case_typed() => print_note!(
                "note: the audit trail of case `{}` (from BLOBTRAIL_CASE) records no bundle with this manifest, \
                 so the bundle comes from another case or its manifest was rewritten; give `--case` to require that record",
                case.dir.display()
            ),
            None => problems.push(format!(
                "the manifest's SHA-256 is not one the audit trail of case `{}` recorded for a bundle; \
                 check a bundle of another case without `--case` and without BLOBTRAIL_CASE",
                case.dir.display()
            )),
        }
    }
    for problem in &problems {
        print_stdout!("MISMATCH: {}", crate::output::terminal_safe(problem));
    }
    if problems.is_empty() {
        print_stdout!("verify-bundle: OK, every file matches the manifest");
        if global.case.is_none() {
            print_note!(
                "note: files and manifest agree; compare the manifest's SHA-256 with the one in your notes, \
                 or give `--case` to check it against the case's audit trail"
            );
        }
        Ok(Exit::Success)
    } else {
        print_stdout!("verify-bundle: FAILED, {}", crate::output::count(problems.len() as i64, "problem", "problems"));
        Ok(Exit::Failure)
    }
}

struct HuntRow {
    mode: String,
    view_name: String,
    view_version: i32,
    view_checksum: String,
    parameters: String,
    inputs: String,
    started: String,
    finished: String,
}

fn hunt_row(case: &Case, hunt_id: i64) -> Result<HuntRow> {
    case.conn
        .query_row(
            "SELECT mode, view_name, view_version, view_checksum, parameters, inputs,
                    strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'), coalesce(strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ'), '')
             FROM hunts WHERE hunt_id = ?",
            params![hunt_id],
            |r| {
                Ok(HuntRow {
                    mode: r.get(0)?,
                    view_name: r.get(1)?,
                    view_version: r.get(2)?,
                    view_checksum: r.get(3)?,
                    parameters: r.get(4)?,
                    inputs: r.get(5)?,
                    started: r.get(6)?,
                    finished: r.get(7)?,
                })
            },
        )
        .with_context(|| format!("hunt {hunt_id} not found; `blobtrail hunts` lists the hunts of the case"))
}

fn sources(case: &Case) -> Result<Vec<SourceLine>> {
    let mut stmt = case.conn.prepare(
        "SELECT path, sha256, tables, records_read, imported, rejected,
                strftime(first_time, '%Y-%m-%dT%H:%M:%S.%fZ'), strftime(last_time, '%Y-%m-%dT%H:%M:%S.%fZ')
         FROM sources ORDER BY source_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceLine {
            path: r.get(0)?,
            sha256: r.get(1)?,
            tables: r.get(2)?,
            records: r.get(3)?,
            imported: r.get(4)?,
            rejected: r.get(5)?,
            first_time: r.get(6)?,
            last_time: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn sources_csv(case: &Case) -> Result<Vec<u8>> {
    let mut stmt = case.conn.prepare(
        "SELECT source_id, path, sha256, size_bytes, shape, tables,
                strftime(imported_at, '%Y-%m-%dT%H:%M:%SZ'), coalesce(examiner, ''), records_read, imported,
                rejected, duplicates, coalesce(strftime(first_time, '%Y-%m-%dT%H:%M:%S.%fZ'), ''),
                coalesce(strftime(last_time, '%Y-%m-%dT%H:%M:%S.%fZ'), ''), coalesce(container_sha256, '')
         FROM sources ORDER BY source_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(vec![
            r.get::<_, i64>(0)?.to_string(),
            r.get(1)?,
            r.get(2)?,
            r.get::<_, i64>(3)?.to_string(),
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get::<_, i64>(8)?.to_string(),
            r.get::<_, i64>(9)?.to_string(),
            r.get::<_, i64>(10)?.to_string(),
            r.get::<_, i64>(11)?.to_string(),
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
        ])
    })?;
    let rows: Vec<Vec<String>> = rows.collect::<Result<_, _>>()?;
    let header = [
        "source_id", "path", "sha256", "size_bytes", "shape", "tables", "imported_at", "examiner",
        "records", "imported", "rejected", "duplicates", "first_time", "last_time", "container_sha256",
    ];
    let mut out = Vec::new();
    crate::output::write_csv(&mut out, &header, &rows)?;
    Ok(out)
}

/// Writes every file of the bundle but the manifest. The findings are written a run at a
/// time, once as JSON and once as CSV; the report keeps only what it shows of each finding.
fn write_files(case: &Case, hunt_id: i64, integrity: &Integrity, writer: &mut BundleWriter) -> Result<()> {
    let hunt = hunt_row(case, hunt_id)?;
    let rules = exclusions::load(&case.conn)?;
    let (name, title, examiner): (String, Option<String>, Option<String>) =
        case.conn.query_row("SELECT name, title, examiner FROM case_info LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let source_lines = sources(case)?;
    let coverage = super::sources::coverage_rows(&super::sources::coverage(case)?, true);
    let generated_at = super::now_iso();
    let mut states: Vec<(String, annotations::State)> = annotations::load_states(&case.conn)?.into_iter().collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    let histories: Vec<(String, Vec<annotations::Annotation>)> =
        states.iter().map(|(finding_id, state)| (finding_id.clone(), state.history.clone())).collect();

    let mut shown = Vec::new();
    writer.add_with("findings.json", |out| {
        let mut array = PrettyArray::default();
        let render = |finding: &Finding, rendered: &mut Vec<(Vec<u8>, ReportFinding)>| {
            let mut bytes = Vec::new();
            PrettyArray::element(finding, &mut bytes);
            rendered.push((bytes, ReportFinding::from(finding)));
            Ok(true)
        };
        findings::render_of(&case.conn, hunt_id, None, render, |rendered, _| {
            for (bytes, row) in rendered.drain(..) {
                array.write(out, &bytes, 1)?;
                shown.push(row);
            }
            Ok(())
        })?;
        Ok(array.finish(out)?)
    })?;
    writer.add_with("findings.csv", |out| {
        export::write_csv_header(out, false)?;
        let render = |finding: &Finding, bytes: &mut Vec<u8>| {
            export::write_csv_rows(bytes, finding)?;
            Ok(true)
        };
        findings::render_of(&case.conn, hunt_id, None, render, |bytes, _| Ok(out.write_all(bytes)?))
    })?;

    let in_hunt: std::collections::HashSet<&str> = shown.iter().map(|f| f.finding_id.as_str()).collect();
    let confirmed_elsewhere = confirmed_elsewhere(case, &states, &in_hunt)?;
    let html = report::render(&ReportInput {
        case_name: &name,
        case_title: title.as_deref(),
        examiner: examiner.as_deref(),
        generated_at: &generated_at,
        hunt_id,
        hunt_mode: &hunt.mode,
        hunt_parameters: &hunt.parameters,
        view_name: &hunt.view_name,
        view_version: hunt.view_version,
        view_checksum: &hunt.view_checksum,
        hunt_started: &hunt.started,
        sources: &source_lines,
        coverage: &coverage,
        findings: &shown,
        annotations: &histories,
        rules: &rules,
        integrity,
        full_hunt: match super::partial_hunt(case, hunt_id)?.and_then(|partial| partial.full) {
            Some(full) => Some(full_hunt_counts(case, full)?),
            None => None,
        },
        confirmed_elsewhere,
    });
    drop(shown);
    writer.add("report.html", html.as_bytes())?;

    let annotated: Vec<_> = states
        .into_iter()
        .map(|(finding_id, state)| json!({ "finding_id": finding_id, "status": state.status, "tags": state.tags, "history": state.history }))
        .collect();
    writer.add("annotations.json", &serde_json::to_vec_pretty(&annotated)?)?;
    writer.add("exclusions.json", &serde_json::to_vec_pretty(&rules)?)?;
    writer.add("audit_log.json", &serde_json::to_vec_pretty(&audit::read_all(&case.conn)?)?)?;
    writer.add("sources.csv", &sources_csv(case)?)?;
    for file in sql::FILES {
        writer.add(&format!("sql/{}", file.name), file.text.as_bytes())?;
    }
    let parameters = json!({
        "hunt_id": hunt_id,
        "mode": hunt.mode,
        "view_name": hunt.view_name,
        "view_version": hunt.view_version,
        "view_checksum": hunt.view_checksum,
        "parameters": serde_json::from_str::<serde_json::Value>(&hunt.parameters).unwrap_or_default(),
        "input_sha256": serde_json::from_str::<serde_json::Value>(&hunt.inputs).unwrap_or_default(),
        "started_at": hunt.started,
        "finished_at": hunt.finished,
        "blobtrail_version": crate::VERSION,
        "case_integrity": integrity,
    });
    writer.add("parameters.json", &serde_json::to_vec_pretty(&parameters)?)
}

/// Counts the uploads and attributed uploads of a full hunt.
fn full_hunt_counts(case: &Case, hunt_id: i64) -> Result<report::FullHunt> {
    let (uploads, attributed) = case.conn.query_row(
        "SELECT count(*), count(attributed_account) FROM findings WHERE hunt_id = ?",
        [hunt_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(report::FullHunt { hunt_id, uploads, attributed })
}

/// Describes the uploads confirmed malicious in the case that the hunt of the bundle does not
/// have: each finding with its object, upload time and the latest hunt that has it.
fn confirmed_elsewhere(
    case: &Case,
    states: &[(String, annotations::State)],
    in_hunt: &std::collections::HashSet<&str>,
) -> Result<Vec<String>> {
    let mut stmt = case.conn.prepare(
        "SELECT object_path, strftime(upload_time, '%Y-%m-%dT%H:%M:%SZ'), hunt_id FROM findings
         WHERE finding_id = ? ORDER BY hunt_id DESC LIMIT 1",
    )?;
    let mut described = Vec::new();
    for (id, state) in states {
        if state.status.as_deref() != Some("confirmed-malicious") || in_hunt.contains(id.as_str()) {
            continue;
        }
        let found = stmt
            .query_map([id], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
            .next()
            .transpose()?;
        described.push(match found {
            Some((object, time, hunt)) => format!("{id} ({}, uploaded {time}, hunt {hunt})", object.unwrap_or_default()),
            None => id.clone(),
        });
    }
    Ok(described)
}
