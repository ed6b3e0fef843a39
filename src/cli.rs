//! Command-line arguments, as clap parses them. Nothing here does work: `commands` resolves
//! these raw values into plans and runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure: an error message says what went wrong; a file that failed to import left the case unchanged
  2  invalid command line
  3  finished, but some records were rejected (kept in the case's `rejects` table); for `verify`,
     nothing checked has changed but some imported files were not at their recorded path";

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

    /// Folder that contains cases: `case new NAME` and `demo` make theirs there, and `--case NAME`
    /// finds a case there by its name
    #[arg(long, global = true, env = "BLOBTRAIL_CASES", default_value = "cases", value_name = "DIR")]
    pub cases_dir: PathBuf,

    /// Examiner name recorded with what this command writes
    #[arg(long, global = true, env = "BLOBTRAIL_EXAMINER", value_name = "NAME")]
    pub examiner: Option<String>,

    /// Hide progress bars and notes on stderr
    #[arg(long, global = true)]
    pub quiet: bool,

    /// DuckDB memory limit for this command, such as 4GB; larger work spills to the case's tmp/ folder
    #[arg(long, global = true, env = "BLOBTRAIL_MEMORY_LIMIT", value_name = "SIZE")]
    pub memory_limit: Option<String>,

    /// DuckDB worker threads, 1 to 256 (default: all cores)
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=256))]
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
    /// List the case's hunts: mode, times, parameters and counts, and which one is the latest
    Hunts(FormatArgs),
    /// Show one finding in full: requests, candidates with reasons, failed sign-ins
    Show(ShowArgs),
    /// Explain which step of the reference Sentinel query keeps or drops a finding's upload and candidates
    Explain(ShowArgs),
    /// List the imported files with their hashes and counts, and the time each table covers
    Sources(SourcesArgs),
    /// Record a status, tags or a note on a finding (append-only)
    Annotate(AnnotateArgs),
    /// Add, list or disable exclusion rules
    #[command(subcommand)]
    Exclude(ExcludeCommand),
    /// Print the case's audit trail
    Log(LogArgs),
    /// Check the audit trail's hash chain and the hashes of imported files still on disk
    Verify,
    /// Run read-only SQL against the case
    Query(QueryArgs),
    /// Export the findings with candidates, annotations and exclusion marks to a file
    Export(ExportArgs),
    /// Write an evidence bundle (folder, or zip when the path ends in .zip) with a report and a manifest
    Bundle(BundleArgs),
    /// Write the hunt as KQL for Sentinel or Azure Data Explorer (with --case: the case's hunt and exclusions)
    Kql(KqlArgs),
    /// Write a synthetic case in the real export shapes with the ground truth (truth.csv); needs no case
    Generate(GenerateArgs),
    /// Compare the latest hunt's results with a truth.csv written by `generate`
    Score(ScoreArgs),
    /// Check an evidence bundle against its manifest; needs no case
    VerifyBundle {
        /// Bundle folder or zip file
        path: PathBuf,
    },
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
    /// Case name: letters, digits, `-`, `_` and `.`; or a path whose last part is such a name
    pub name: String,
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
    /// Character encoding of files without a byte order mark: `windows-1252` for CSV files that
    /// Excel saved as "CSV (Comma delimited)" on a Western European Windows
    #[arg(long, value_enum, default_value_t = EncodingArg::Utf8, value_name = "ENCODING")]
    pub encoding: EncodingArg,
    /// Stop at the first bad record instead of keeping it in `rejects`; the file is then not imported
    #[arg(long)]
    pub strict: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
    /// The reader for CSV and JSON lines files: `auto` lets DuckDB read well-formed ones on all cores,
    /// `streaming` reads every file record by record
    #[arg(long, value_enum, default_value_t = ReaderArg::Auto)]
    pub reader: ReaderArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    /// UTF-8, as Log Analytics, the Entra admin center and Graph write (UTF-16 files are
    /// recognised by their byte order mark whatever the option)
    #[value(name = "utf-8")]
    Utf8,
    /// Windows-1252, the ANSI code page of Western European Windows
    #[value(name = "windows-1252")]
    Windows1252,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReaderArg {
    /// DuckDB's parallel reader for well-formed CSV and JSON lines files on disk, the streaming reader otherwise
    Auto,
    /// The streaming reader for every file
    Streaming,
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
    #[arg(long, value_enum, default_value_t = HuntMode::Full)]
    pub mode: HuntMode,
    /// Full mode: window before each upload in which sign-ins count, such as 90s, 5min or 2h [default: 90min]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub before: Option<String>,
    /// Full mode: window after each upload, for clock skew and logging delay [default: 5min]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub after: Option<String>,
    /// Sentinel mode: window before each upload, such as 90s, 5min or 2h [default: 1min]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub lookback: Option<String>,
    /// Only uploads of this file name, ignoring case (as the reference query's TargetFile)
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// Sentinel mode: keep sign-ins whose user agent differs from the upload's
    #[arg(long)]
    pub no_ua_match: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HuntMode {
    /// Every upload, every sign-in source, ranked candidates with reasons
    Full,
    /// The reference Sentinel hunting query, with its defects fixed
    Sentinel,
}

#[derive(Args, Debug)]
pub struct FindingsArgs {
    /// Output format: a table to read, or CSV (the layout of `export --format csv`) or JSON for scripts
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Only findings with this status (a finding without one is `open`)
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Only findings with this tag (repeatable: all must be present)
    #[arg(long, value_name = "T")]
    pub tag: Vec<String>,
    /// Also show findings that exclusion rules set aside (confirmed-malicious ones are always shown)
    #[arg(long)]
    pub include_excluded: bool,
    /// A hunt ID other than the latest
    #[arg(long, value_name = "ID")]
    pub hunt: Option<i64>,
    /// Only findings with this confidence: direct, strong, probable, ambiguous or none (repeatable)
    #[arg(long, value_name = "LEVEL")]
    pub confidence: Vec<String>,
    #[command(flatten)]
    pub conditions: ConditionArgs,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Finding ID, as `findings` prints it (F-...)
    #[arg(value_parser = finding_id)]
    pub finding_id: String,
    /// A hunt ID other than the latest that has the finding
    #[arg(long, value_name = "ID")]
    pub hunt: Option<i64>,
    /// Output format: text to read, or JSON for scripts
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// Finding ID, as `findings` prints it (F-...)
    #[arg(value_parser = finding_id)]
    pub finding_id: String,
    /// New status: open, needs-review, confirmed-malicious, benign or false-positive
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Add a tag (repeatable)
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// Remove a tag added earlier (repeatable)
    #[arg(long = "untag", value_name = "T")]
    pub untags: Vec<String>,
    /// A note in free text
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

// Parsed once per run, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ExcludeCommand {
    /// Add a rule: findings matching every given condition are excluded, with the reason
    Add(ExcludeAddArgs),
    /// List every rule, disabled ones included, with how many findings of the latest hunt each matches
    List(FormatArgs),
    /// Disable a rule; it stays on record
    Disable {
        /// Rule ID, as `exclude list` prints it
        rule_id: i64,
        /// Reason the rule no longer applies, recorded in the audit trail (`log`)
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct ExcludeAddArgs {
    /// Reason these findings are set aside (required)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Start from a false-positive scenario of the reference query: backup-jobs, portal-document-uploads, ci-artifacts, log-shipping, azure-file-sync
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    #[command(flatten)]
    pub conditions: ConditionArgs,
}

/// Conditions on a finding, for `exclude add` and `findings`. Each option may be repeated, and
/// a finding must meet one value of every option given.
#[derive(Args, Debug, Default)]
pub struct ConditionArgs {
    /// Account (UPN) attributed to the upload or named as its OAuth requester; in a sentinel hunt, its only candidate
    #[arg(long, value_name = "UPN")]
    pub account: Vec<String>,
    /// Text the file name contains, ignoring case
    #[arg(long, value_name = "TEXT")]
    pub file_contains: Vec<String>,
    /// File extension, such as docx
    #[arg(long, value_name = "EXT")]
    pub extension: Vec<String>,
    /// Caller address or CIDR network
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Vec<String>,
    /// Text the upload's user agent contains, ignoring case
    #[arg(long, value_name = "TEXT")]
    pub user_agent_contains: Vec<String>,
    /// Storage operation, such as PutBlob
    #[arg(long, value_name = "NAME")]
    pub operation: Vec<String>,
    /// Container or share name
    #[arg(long, value_name = "NAME")]
    pub container: Vec<String>,
    /// Object path prefix, with or without the account: /account/container/dir or /container/dir
    #[arg(long, value_name = "PATH")]
    pub path_prefix: Vec<String>,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// One read-only SQL statement (SELECT, or a query starting with WITH, FROM, DESCRIBE...)
    pub sql: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Output format; without it, the `--out` name's extension gives it (.csv, .jsonl,
    /// .json, .parquet, .xlsx)
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Output file
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite an existing output file
    #[arg(long)]
    pub force: bool,
    /// Start CSV output with a UTF-8 byte order mark, which Excel needs to read UTF-8
    #[arg(long)]
    pub excel_bom: bool,
    /// A hunt ID other than the latest
    #[arg(long, value_name = "ID")]
    pub hunt: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
    Json,
    Parquet,
    Xlsx,
    /// JSON lines that Timesketch imports: one event per upload and per candidate sign-in
    Timesketch,
}

#[derive(Args, Debug)]
pub struct BundleArgs {
    /// Output folder, or zip file when the name ends in .zip; must not exist
    #[arg(long, value_name = "DIR_OR_ZIP")]
    pub out: PathBuf,
    /// A hunt ID other than the latest
    #[arg(long, value_name = "ID")]
    pub hunt: Option<i64>,
}

#[derive(Args, Debug)]
pub struct KqlArgs {
    /// Hunt to write
    #[arg(long, value_enum, default_value_t = HuntMode::Full)]
    pub mode: HuntMode,
    /// Wrap the query as a Sentinel analytics rule (YAML) with entity mappings
    #[arg(long)]
    pub as_rule: bool,
    /// Output file (default: stdout)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite an existing output file
    #[arg(long)]
    pub force: bool,
    /// Start of the time bounds, ISO 8601 date or time in UTC (default: the case's first day, or 7 days before today)
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End of the time bounds, ISO 8601 date or time in UTC (default: the day after the case's last, or today)
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// Only uploads of this file name, ignoring case
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Output folder; created, and must be empty if it exists
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Simulated days; row counts grow in proportion (1000 is about 10 million storage rows)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub scale: u32,
    /// Seed of the pseudo-random generator: the same scale, seed and skew write the same bytes
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Route about a third of all sign-ins and uploads through one NAT address
    #[arg(long)]
    pub skew: bool,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// truth.csv written by `blobtrail generate`
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// A hunt ID other than the latest
    #[arg(long, value_name = "ID")]
    pub hunt: Option<i64>,
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

#[derive(Args, Debug)]
pub struct SourcesArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Print only the time each table covers and its gaps, not the files (the table format shows both without it)
    #[arg(long)]
    pub coverage: bool,
}

#[derive(Args, Debug)]
pub struct FormatArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct LogArgs {
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Only the records of this command, such as import, hunt, annotate or bundle; repeat for several
    #[arg(long = "command", value_name = "NAME")]
    pub commands: Vec<String>,
    /// Only the last N records (of those `--command` keeps)
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
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

/// Reads a finding ID as typed: `f-4ED0...` and `F-4ed0...` name the same finding, so the
/// prefix is written upper case and the hexadecimal digits lower case, as blobtrail prints them.
fn finding_id(text: &str) -> Result<String, String> {
    let text = text.trim();
    match text.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("f-") => Ok(format!("F-{}", text[2..].to_ascii_lowercase())),
        _ => Ok(text.to_string()),
    }
}
