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
    if !global.quiet {
        print_stderr!("see them with `blobtrail --case {} findings`", case.dir.display());
    }
    Ok(Report::success(serde_json::json!({
        "hunt_id": summary.hunt_id,
        "mode": mode.name(),
        "uploads": summary.uploads,
        "with_candidates": summary.with_candidates,
        "candidates": summary.candidates,
    })))
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
