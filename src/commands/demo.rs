//! `blobtrail demo`: build `cases/demo` from the demo exports embedded in the binary, import
//! them, run the full hunt and print the findings.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Global;
use crate::case::{self, NewCase};
use crate::cli::{DemoArgs, OutputFormat};
use crate::exit::Exit;
use crate::findings;
use crate::hunt::{self, HuntPlan, Mode};
use crate::import::{self, ImportPlan, Outcome};
use crate::output;

/// The demo exports, written for this project in the real Log Analytics shapes (`demo/`).
const DEMO_FILES: &[(&str, &[u8])] = &[
    ("StorageBlobLogs.csv", include_bytes!("../../demo/StorageBlobLogs.csv")),
    ("StorageFileLogs.json", include_bytes!("../../demo/StorageFileLogs.json")),
    ("SigninLogs.csv", include_bytes!("../../demo/SigninLogs.csv")),
    ("AADNonInteractiveUserSignInLogs.jsonl", include_bytes!("../../demo/AADNonInteractiveUserSignInLogs.jsonl")),
];

const DEMO_NAME: &str = "demo";
const DEMO_TITLE: &str = "blobtrail demo case";

/// Entries a demo case folder may contain; anything else means it is not ours to replace.
const DEMO_ENTRIES: &[&str] = &[case::DB_FILE, "case.duckdb.wal", "tmp", "exports"];

pub fn run(global: &Global, args: DemoArgs) -> Result<Exit> {
    let started = super::now_iso();
    let dir = global.cases_dir.join(DEMO_NAME);
    ensure_only_demo_work(&dir, &global.engine)?;
    remove_old_demo(&dir)?;
    let examiner = global.examiner.clone().unwrap_or_else(|| "demo".to_string());
    let new = NewCase { name: DEMO_NAME, title: Some(DEMO_TITLE), examiner: Some(&examiner) };
    let case = case::create(&global.cases_dir, &new, &global.engine)?;
    // The state of the new, empty case: the record shows what the import and hunt changed.
    let state_before = crate::audit::state_digest(&case.conn)?;

    let exports = dir.join("exports");
    std::fs::create_dir(&exports).with_context(|| format!("cannot create `{}`", exports.display()))?;
    let mut files = Vec::new();
    for (name, bytes) in DEMO_FILES {
        let path = exports.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
        files.push(path);
    }

    let plan = ImportPlan { examiner: Some(examiner.clone()), options_text: "{}".into(), ..ImportPlan::default() };
    let progress = output::spinner("importing the demo exports", global.quiet);
    let reports = import::import_files(&case.conn, &files, &plan, &progress);
    progress.finish_and_clear();
    for report in &reports {
        if let Outcome::Failed(message) = &report.outcome {
            bail!("the demo export `{}` failed to import: {message}", report.path.display());
        }
    }

    let hunt_plan = HuntPlan {
        mode: Mode::Full { before: hunt::DEFAULT_BEFORE, after: hunt::DEFAULT_AFTER },
        file: None,
        examiner: Some(examiner),
    };
    let summary = hunt::run(&case.conn, &hunt_plan)?;
    if !global.quiet {
        print_stderr!(
            "demo case `{}`: {} imported; full hunt {}: {}, {} with candidate sign-ins",
            dir.display(),
            crate::output::count(reports.len() as i64, "file", "files"),
            summary.hunt_id,
            crate::output::count(summary.uploads, "upload", "uploads"),
            summary.with_candidates
        );
    }
    let list = findings::load(&case.conn, summary.hunt_id)?;
    super::findings::print(&list, args.format)?;
    if !global.quiet && args.format == OutputFormat::Table {
        print_stderr!("next: `blobtrail --case {} findings --format json`", crate::output::shell_quoted(&dir.display().to_string()));
    }
    let report = super::Report::success(serde_json::json!({
        "files": reports.len(),
        "hunt_id": summary.hunt_id,
        "uploads": summary.uploads,
        "with_candidates": summary.with_candidates,
    }));
    super::record_audit_from(global, &case, "demo", &started, state_before, &Ok(&report))?;
    Ok(Exit::Success)
}

/// Fails when `dir` is a case that holds work beyond what `demo` records: a case someone made
/// with `case new demo`, or a demo case that was annotated, hunted again or exported.
fn ensure_only_demo_work(dir: &Path, engine: &case::EngineSettings) -> Result<()> {
    if !dir.join(case::DB_FILE).exists() {
        return Ok(());
    }
    let existing = case::open(dir, engine)?;
    let (title, other_commands): (Option<String>, i64) = existing.conn.query_row(
        // Reading commands (findings, show, query, ...) leave the case as the demo made it.
        "SELECT (SELECT title FROM case_info LIMIT 1),
                (SELECT count(*) FROM audit_log a
                 WHERE command IN ('case new', 'import', 'hunt', 'annotate', 'exclude', 'export', 'bundle')
                   -- A command that changes the case records its start too; its run counts once.
                   AND NOT (exit_code = -1 AND EXISTS (SELECT 1 FROM audit_log b
                                                       WHERE b.seq > a.seq AND b.command = a.command
                                                         AND b.started_at = a.started_at)))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if title.as_deref() != Some(DEMO_TITLE) || other_commands > 0 {
        bail!(
            "`{}` holds work beyond the demo ({} in its audit trail); the demo does not replace it: move it away or use `--cases-dir`",
            dir.display(),
            crate::output::count(other_commands, "other command that changed it", "other commands that changed it")
        );
    }
    Ok(())
}

/// Removes an earlier demo case, but only if the folder contains nothing a demo does not write.
fn remove_old_demo(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let name = entry?.file_name();
        if !DEMO_ENTRIES.iter().any(|known| name == *known) {
            bail!(
                "`{}` contains `{}`, which the demo does not write; move it away or use `--cases-dir`",
                dir.display(),
                name.to_string_lossy()
            );
        }
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove the old demo case `{}`", dir.display()))
}
