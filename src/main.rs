//! blobtrail: which account uploaded this file to Azure Storage? An offline forensic workbench
//! that imports storage and Entra ID sign-in log exports into a case (one DuckDB file) and
//! correlates uploads with sign-ins through versioned SQL views.

mod annotations;
mod audit;
mod bundle;
mod case;
mod cli;
mod commands;
mod exclusions;
mod exit;
mod export;
mod findings;
mod generate;
mod hunt;
mod import;
mod kql;
mod output;
mod parse;
mod report;
mod sql;

use std::process::ExitCode;

use clap::Parser;

/// This build's version, recorded in everything a case stores.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("error: {}", output::terminal_safe(&format!("{err:#}")));
            exit::Exit::Failure.into()
        }
    }
}
