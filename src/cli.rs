//! Command-line arguments, as clap parses them. Nothing here does work: `commands` resolves
//! these raw values into plans and runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure: an error message says what went wrong; a file that failed to import left the case unchanged
  2  invalid command line
  3  finished, but some records were rejected (kept in the case's `rejects` table)";

#[derive(Parser, Debug)]
#[command(
    name = "blobtrail",
    version,
    about = "Find which account uploaded a file to Azure Storage, offline, from log exports",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Case folder (or its case.duckdb) to work on
    #[arg(long, global = true, env = "BLOBTRAIL_CASE", value_name = "PATH")]
    pub case: Option<PathBuf>,

    /// Examiner name recorded with what this command writes
    #[arg(long, global = true, env = "BLOBTRAIL_EXAMINER", value_name = "NAME")]
    pub examiner: Option<String>,

    /// Hide progress bars and notes on stderr
    #[arg(long, global = true)]
    pub quiet: bool,

    /// DuckDB memory limit for this command, such as 4GB; larger work spills to the case's tmp/ folder
    #[arg(long, global = true, env = "BLOBTRAIL_MEMORY_LIMIT", value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// DuckDB worker threads (default: all cores)
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<i64>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create or describe a case
    #[command(subcommand)]
    Case(CaseCommand),
    /// Import log exports (files or folders) into the case
    Import(ImportArgs),
    /// Correlate uploads with sign-ins and store the findings
    Hunt(HuntArgs),
    /// Print the findings of the latest hunt
    Findings(FindingsArgs),
    /// List the imported files with their hashes and counts
    Sources(FormatArgs),
    /// Build the demo case from the embedded demo exports, hunt, and print the findings
    Demo(DemoArgs),
}

#[derive(Subcommand, Debug)]
pub enum CaseCommand {
    /// Create a new case folder with an empty case database
    New(CaseNewArgs),
    /// Print the case's details
    Info(FormatArgs),
}

#[derive(Args, Debug)]
pub struct CaseNewArgs {
    /// Case name: letters, digits, `-`, `_` and `.`
    pub name: String,
    /// Folder that holds cases
    #[arg(long, env = "BLOBTRAIL_CASES", default_value = "cases", value_name = "DIR")]
    pub cases_dir: PathBuf,
    /// Case title
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Export files, or folders to walk
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Offset from UTC of `[Local Time]` columns, such as +02:00 or -0500
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub utc_offset: Option<String>,
    /// Day/month order of slash dates with a 24-hour clock (`05/03/2026 14:00`)
    #[arg(long, value_enum, value_name = "ORDER")]
    pub date_order: Option<DateOrderArg>,
    /// Stop at the first bad record instead of keeping it in `rejects`; the file is then not imported
    #[arg(long)]
    pub strict: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DateOrderArg {
    /// Day first, as in 05/03/2026 for 5 March
    Dmy,
    /// Month first, as in 03/05/2026 for 5 March
    Mdy,
}

#[derive(Args, Debug)]
pub struct HuntArgs {
    /// Correlation to run
    #[arg(long, value_enum, default_value_t = HuntMode::Sentinel)]
    pub mode: HuntMode,
    /// Window before each upload in which sign-ins count, such as 90s, 5min or 2h
    #[arg(long, value_name = "DURATION", default_value = "1min")]
    pub lookback: String,
    /// Only uploads of this file name, ignoring case (as the reference query's TargetFile)
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// Keep sign-ins whose user agent differs from the upload's
    #[arg(long)]
    pub no_ua_match: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HuntMode {
    /// The reference Sentinel hunting query, with its defects fixed
    Sentinel,
}

#[derive(Args, Debug)]
pub struct FindingsArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// A hunt ID other than the latest
    #[arg(long, value_name = "ID")]
    pub hunt: Option<i64>,
}

#[derive(Args, Debug)]
pub struct FormatArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder that holds cases; the demo case is `DIR/demo`
    #[arg(long, env = "BLOBTRAIL_CASES", default_value = "cases", value_name = "DIR")]
    pub cases_dir: PathBuf,
    /// Output format of the findings
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Table,
    Json,
}
