//! One file per subcommand. Each `run` takes resolved settings (and the open case where it
//! needs one); commands that need no case return before a case is opened.

mod case_cmd;
mod demo;
mod findings;
mod hunt;
mod import;
mod sources;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::case::{self, Case, EngineSettings};
use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// Settings every command shares, resolved from global flags and the environment.
pub struct Global {
    pub case: Option<PathBuf>,
    pub examiner: Option<String>,
    pub quiet: bool,
    pub engine: EngineSettings,
}

impl Global {
    /// Opens the case named by `--case` or `$BLOBTRAIL_CASE`.
    pub fn open_case(&self) -> Result<Case> {
        let path = self
            .case
            .as_ref()
            .context("no case selected; pass `--case PATH` or set `BLOBTRAIL_CASE` (create one with `blobtrail case new NAME`)")?;
        case::open(path, &self.engine)
    }

    /// The examiner for records this command writes: the flag, else the case's examiner.
    pub fn examiner_for(&self, case: &Case) -> Option<String> {
        self.examiner.clone().or_else(|| {
            case.conn.query_row("SELECT examiner FROM case_info LIMIT 1", [], |r| r.get(0)).ok().flatten()
        })
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Exit> {
    let global = Global {
        case: cli.case,
        examiner: cli.examiner.filter(|e| !e.trim().is_empty()),
        quiet: cli.quiet,
        engine: EngineSettings { memory_limit: cli.memory_limit, threads: cli.threads },
    };
    match cli.command {
        Command::Case(action) => case_cmd::run(&global, action),
        Command::Import(args) => import::run(&global, args),
        Command::Hunt(args) => hunt::run(&global, args),
        Command::Findings(args) => findings::run(&global, args),
        Command::Sources(args) => sources::run(&global, args),
        Command::Demo(args) => demo::run(&global, args),
    }
}
