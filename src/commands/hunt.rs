//! `blobtrail hunt`: correlate uploads with sign-ins and store the findings.

use anyhow::{Context, Result};

use super::Global;
use crate::cli::{HuntArgs, HuntMode};
use crate::exit::Exit;
use crate::hunt::{self, HuntPlan};
use crate::output;
use crate::parse::duration::{format_duration, parse_duration};

pub fn run(global: &Global, args: HuntArgs) -> Result<Exit> {
    let lookback = parse_duration(&args.lookback).map_err(anyhow::Error::msg).context("invalid `--lookback`")?;
    let case = global.open_case()?;
    let plan = HuntPlan {
        lookback,
        file: args.file.clone().filter(|f| !f.is_empty()),
        ua_match: !args.no_ua_match,
        examiner: global.examiner_for(&case),
    };

    let spinner = output::spinner("hunting", global.quiet);
    let summary = match args.mode {
        HuntMode::Sentinel => hunt::run_sentinel(&case.conn, &plan)?,
    };
    spinner.finish_and_clear();

    output::to_stdout(|out| {
        writeln!(
            out,
            "hunt {} (sentinel, lookback {}, user-agent match {}): {} uploads, {} with candidate sign-ins, {} candidates",
            summary.hunt_id,
            format_duration(plan.lookback),
            if plan.ua_match { "on" } else { "off" },
            summary.uploads,
            summary.with_candidates,
            summary.candidates
        )
    })?;
    if !global.quiet {
        eprintln!("see them with `blobtrail --case {} findings`", case.dir.display());
    }
    Ok(Exit::Success)
}
