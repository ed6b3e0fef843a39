//! `blobtrail hunt`: correlate uploads with sign-ins and store the findings.

use anyhow::{bail, Context, Result};

use super::{Global, Report};
use crate::case::Case;
use crate::cli::{HuntArgs, HuntMode};
use crate::hunt::{self, HuntPlan, Mode};
use crate::output;
use crate::parse::duration::{format_duration, parse_duration};

pub fn run(global: &Global, case: &Case, args: HuntArgs) -> Result<Report> {
    let mode = resolve_mode(&args)?;
    if args.file.as_deref().is_some_and(|file| file.trim().is_empty()) {
        anyhow::bail!("`--file` is empty; give a file name, or leave the option out to hunt every upload");
    }
    let plan = HuntPlan {
        mode,
        file: args.file.clone(),
        examiner: global.examiner_for(case),
    };

    let spinner = output::spinner("hunting", global.quiet);
    let summary = hunt::run(&case.conn, &plan)?;
    spinner.finish_and_clear();

    output::to_stdout(|out| {
        writeln!(
            out,
            "hunt {} ({}): {}, {} with candidate sign-ins, {}",
            summary.hunt_id,
            describe(mode),
            output::count(summary.uploads, "upload", "uploads"),
            summary.with_candidates,
            output::count(summary.candidates, "candidate", "candidates")
        )
    })?;
    // A hunt run with `--file` is narrowed on purpose, so the note is for the commands after it.
    if let Some(note) = super::partial_hunt_note(case, summary.hunt_id)?.filter(|_| plan.file.is_none()) {
        print_stderr!("{note}");
    }
    if let (0, Some(file)) = (summary.uploads, &plan.file) {
        print_stderr!("{}", no_upload_note(case, file)?);
    }
    let (storage, without_result, signins): (i64, i64, i64) = case.conn.query_row(
        "SELECT count(*), count(*) FILTER (status_text IS NULL AND status_code IS NULL), (SELECT count(*) FROM signin_events)
         FROM storage_events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if without_result > 0 {
        print_stderr!("{}", no_result_note(case, without_result)?);
    }
    if storage == 0 {
        print_stderr!("note: the case contains no storage log records, so there is no upload to find; import the StorageBlobLogs or StorageFileLogs exports with `blobtrail import`");
    } else if signins == 0 {
        print_stderr!(
            "note: the case contains no sign-in records, so only uploads whose storage log names the requester (OAuth, or the Windows user of an SMB write) can be attributed; \
             import the Entra ID sign-in logs with `blobtrail import`"
        );
    }
    if !global.quiet && summary.uploads > 0 {
        print_stderr!("see them with `blobtrail --case {} findings`", crate::output::shell_quoted(&case.dir.display().to_string()));
    }
    Ok(Report::success(serde_json::json!({
        "hunt_id": summary.hunt_id,
        "mode": mode.name(),
        "uploads": summary.uploads,
        "with_candidates": summary.with_candidates,
        "candidates": summary.candidates,
    })))
}

/// Explains that storage requests without a result cannot be uploads, since the hunts count
/// only writes that succeeded, and names up to three files they came from.
fn no_result_note(case: &Case, without_result: i64) -> Result<String> {
    let mut stmt = case.conn.prepare(
        "SELECT s.path, count(*) OVER () FROM storage_events e JOIN sources s USING (source_id)
         WHERE e.status_text IS NULL AND e.status_code IS NULL
         GROUP BY s.path ORDER BY count(*) DESC, s.path LIMIT 3",
    )?;
    let rows: Vec<(String, i64)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let files = rows.first().map_or(0, |(_, files)| *files);
    let mut named: Vec<String> = rows.iter().map(|(path, _)| format!("`{}`", output::terminal_safe(path))).collect();
    if files > 3 {
        named.push(format!("{} more", files - 3));
    }
    Ok(format!(
        "note: storage requests without a result (no StatusText or StatusCode): {without_result}, so none of them can \
         be an upload; they come from {}: export those logs again with `StatusText` and `StatusCode`",
        named.join(", ")
    ))
}

/// Explains a hunt with `--file` that found no upload, with up to five stored file names that
/// contain the name given or are spelled much like it, since `--file` matches a whole file
/// name exactly. A path given in place of a name is compared by its last segment.
fn no_upload_note(case: &Case, file: &str) -> Result<String> {
    let name = file.rsplit('/').next().unwrap_or(file).trim();
    let mut stmt = case.conn.prepare(
        "SELECT file_name FROM (
             SELECT DISTINCT file_name FROM storage_events WHERE file_name IS NOT NULL)
         WHERE contains(lower(file_name), lower($1)) OR jaro_winkler_similarity(lower(file_name), lower($1)) >= 0.8
         ORDER BY jaro_winkler_similarity(lower(file_name), lower($1)) DESC, file_name LIMIT 5",
    )?;
    let similar: Vec<String> = stmt.query_map([name], |r| r.get(0))?.collect::<duckdb::Result<_>>()?;
    let mut note = format!(
        "note: no upload of a file named `{}` is in the case; `--file` matches the whole file name, ignoring case",
        shortened(file)
    );
    if file.contains('/') {
        note.push_str(" (a name, not a path)");
    }
    if similar.is_empty() {
        note.push_str(", and no file name in the storage logs is like it");
    } else {
        let names: Vec<String> = similar.iter().map(|name| format!("`{}`", shortened(name))).collect();
        note.push_str(&format!("; file names in the storage logs like it: {}", names.join(", ")));
    }
    Ok(note)
}

/// Returns text for a message, terminal-safe and cut to 200 characters.
fn shortened(text: &str) -> String {
    output::truncated(&output::terminal_safe(text), 200)
}

/// Resolves the mode and its windows, rejecting options that belong to the other mode.
fn resolve_mode(args: &HuntArgs) -> Result<Mode> {
    let duration = |text: &Option<String>, flag: &str| -> Result<Option<std::time::Duration>> {
        text.as_deref()
            .map(|t| parse_duration(t).map_err(anyhow::Error::msg).with_context(|| format!("invalid `{flag}`")))
            .transpose()
    };
    match args.mode {
        HuntMode::Full => {
            if args.lookback.is_some() || args.no_ua_match {
                bail!("`--lookback` and `--no-ua-match` belong to `--mode sentinel`; full mode takes `--before` and `--after`");
            }
            Ok(Mode::Full {
                before: duration(&args.before, "--before")?.unwrap_or(hunt::DEFAULT_BEFORE),
                after: duration(&args.after, "--after")?.unwrap_or(hunt::DEFAULT_AFTER),
            })
        }
        HuntMode::Sentinel => {
            if args.before.is_some() || args.after.is_some() {
                bail!("`--before` and `--after` belong to `--mode full`; sentinel mode takes `--lookback`");
            }
            Ok(Mode::Sentinel {
                lookback: duration(&args.lookback, "--lookback")?.unwrap_or(hunt::SENTINEL_LOOKBACK),
                ua_match: !args.no_ua_match,
            })
        }
    }
}

fn describe(mode: Mode) -> String {
    match mode {
        Mode::Full { before, after } => {
            format!("full, {} before to {} after each upload", format_duration(before), format_duration(after))
        }
        Mode::Sentinel { lookback, ua_match } => format!(
            "sentinel, lookback {}, user-agent match {}",
            format_duration(lookback),
            if ua_match { "on" } else { "off" }
        ),
    }
}
