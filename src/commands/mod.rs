//! One file per subcommand. Commands that work on a case get it opened here and return a
//! `Report`; this module then records the run in the case's audit trail, failed runs included.
//! Commands that need no case, or that create one, return before a case is opened here.

mod annotate;
mod bundle;
mod case_cmd;
mod demo;
mod exclude;
mod explain;
mod export;
mod findings;
mod generate;
mod hunt;
mod hunts;
mod import;
mod kql;
mod log;
mod query;
mod score;
mod show;
mod sources;
mod verify;

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::audit;
use crate::case::{self, Case, EngineSettings};
use crate::cli::{CaseCommand, Cli, Command, ExcludeCommand};
use crate::exit::Exit;

/// Settings every command shares, resolved from global flags and the environment.
pub struct Global {
    pub case: Option<PathBuf>,
    /// The folder of cases that `case new` and `demo` make and `--case NAME` finds.
    pub cases_dir: PathBuf,
    pub examiner: Option<String>,
    pub quiet: bool,
    pub engine: EngineSettings,
}

impl Global {
    /// Opens the case named by `--case` or `$BLOBTRAIL_CASE`.
    pub fn open_case(&self) -> Result<Case> {
        let path = self.case.as_ref().context(
            "no case selected; pass `--case PATH` or set `BLOBTRAIL_CASE` (create one with `blobtrail case new NAME`)",
        )?;
        case::open(&case_path(path, &self.cases_dir)?, &self.engine)
    }

    /// Returns the examiner for records this command writes: the flag or `$BLOBTRAIL_EXAMINER`,
    /// else the case's examiner.
    pub fn examiner_for(&self, case: &Case) -> Option<String> {
        self.examiner.clone().or_else(|| {
            case.conn.query_row("SELECT examiner FROM case_info LIMIT 1", [], |r| r.get(0)).ok().flatten()
        })
    }
}

/// A command's result: its exit status and the counts recorded in the audit trail.
pub struct Report {
    pub exit: Exit,
    pub counts: Value,
}

impl Report {
    pub fn success(counts: Value) -> Report {
        Report { exit: Exit::Success, counts }
    }
}

/// Resolves `--case NAME`, a bare name, to the case of that name in the cases folder
/// (`--cases-dir`, `BLOBTRAIL_CASES`, else `cases`) where `case new NAME` made it, unless a case
/// of that name is in the current folder instead. Fails when both folders have a different
/// case of that name. Any other path is taken as given.
fn case_path(given: &std::path::Path, cases: &std::path::Path) -> Result<PathBuf> {
    // `NAME/` is a path to a folder, as a shell completes it.
    let trailing_separator = given.as_os_str().to_string_lossy().ends_with(['/', '\\']);
    let bare_name = given.components().count() == 1 && !given.is_absolute() && !trailing_separator;
    if !bare_name {
        return Ok(given.to_path_buf());
    }
    let named = cases.join(given);
    let is_case = |path: &std::path::Path| path.is_file() || path.join(case::DB_FILE).is_file();
    match (is_case(given), is_case(&named)) {
        (true, true) if std::fs::canonicalize(given).ok() != std::fs::canonicalize(&named).ok() => anyhow::bail!(
            "`{}` is a case in the current folder and `{}` another in the cases folder; give the path of the one you mean",
            given.display(),
            named.display()
        ),
        (false, true) => Ok(named),
        _ => Ok(given.to_path_buf()),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Exit> {
    crate::output::set_quiet(cli.quiet);
    let global = Global {
        case: cli.case,
        cases_dir: cli.cases_dir,
        examiner: cli.examiner.filter(|e| !e.trim().is_empty()),
        quiet: cli.quiet,
        engine: EngineSettings { memory_limit: cli.memory_limit, threads: cli.threads },
    };
    let ignores_case = match &cli.command {
        Command::Case(CaseCommand::New(_)) => Some("case new"),
        Command::Demo(_) => Some("demo"),
        Command::Generate(_) => Some("generate"),
        _ => None,
    };
    if let Some(name) = ignores_case.filter(|_| case_typed()) {
        print_note!("note: `{name}` does not use `--case`; it is ignored");
    }
    match cli.command {
        Command::Case(CaseCommand::New(args)) => case_cmd::new(&global, args),
        Command::Demo(args) => demo::run(&global, args),
        Command::VerifyBundle { path } => bundle::verify(&global, &path),
        Command::Generate(args) => generate::run(&global, args),
        Command::Kql(args) => kql::run(&global, args),
        command => with_case(&global, command),
    }
}

/// Tells whether `--case` was typed on the command line, rather than set by `BLOBTRAIL_CASE`.
pub fn case_typed() -> bool {
    std::env::args_os().any(|arg| arg == "--case" || arg.to_string_lossy().starts_with("--case="))
}

fn with_case(global: &Global, command: Command) -> Result<Exit> {
    let case = global.open_case()?;
    let started = now_iso();
    let state_before = audit::state_digest(&case.conn)?;
    let name = command_name(&command);
    let changes_case = matches!(
        command,
        Command::Import(_)
            | Command::Hunt(_)
            | Command::Annotate(_)
            | Command::Exclude(ExcludeCommand::Add(_) | ExcludeCommand::Disable { .. })
    );
    if changes_case && case.read_only {
        anyhow::bail!(
            "`{name}` changes the case, but `{}` cannot be written, so it is open read-only; \
             copy the case folder to writable storage to work on it there",
            case.dir.display()
        );
    }
    if changes_case {
        // A command commits its change before its own record is written (an import commits
        // file by file). A run stopped by a signal in between still changed the case, so a
        // record written first keeps such a run on the trail.
        // Its exit code is -1: the command had not finished when it was written.
        let entry = audit::Entry {
            finished_at: started.clone(),
            exit_code: -1,
            counts: serde_json::json!({ "status": "started" }),
            ..audit_entry(global, &case, name, &started, state_before.clone())
        };
        audit::append(&case.conn, &entry)?;
    }
    let result = match command {
        Command::Case(CaseCommand::Info(args)) => case_cmd::info(&case, args),
        Command::Import(args) => import::run(global, &case, args),
        Command::Hunt(args) => hunt::run(global, &case, args),
        Command::Findings(args) => findings::run(&case, args),
        Command::Show(args) => show::run(&case, args),
        Command::Explain(args) => explain::run(&case, args),
        Command::Sources(args) => sources::run(&case, args),
        Command::Annotate(args) => annotate::run(global, &case, args),
        Command::Exclude(action) => exclude::run(global, &case, action),
        Command::Log(args) => log::run(&case, args),
        Command::Hunts(args) => hunts::run(&case, args),
        Command::Verify => verify::run(&case),
        Command::Query(args) => query::run(&case, args),
        Command::Export(args) => export::run(global, &case, args),
        Command::Bundle(args) => bundle::run(global, &case, args),
        Command::Score(args) => score::run(&case, args),
        Command::Case(CaseCommand::New(_)) | Command::Demo(_) | Command::VerifyBundle { .. } | Command::Generate(_) | Command::Kql(_) => {
            unreachable!("handled before a case is opened")
        }
    };
    let audited = record_audit_from(global, &case, name, &started, state_before, &result.as_ref());
    match (result, audited) {
        (Ok(report), Ok(())) => Ok(report.exit),
        (Ok(_), Err(audit)) => Err(audit),
        // The command's own error comes first; the audit failure is added, not swapped in.
        (Err(err), Err(audit)) => Err(err.context(format!("the audit record of this failed run could not be written either: {audit:#}"))),
        (Err(err), Ok(())) => Err(err),
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Case(CaseCommand::New(_)) => "case new",
        Command::Case(CaseCommand::Info(_)) => "case info",
        Command::Import(_) => "import",
        Command::Hunt(_) => "hunt",
        Command::Findings(_) => "findings",
        Command::Show(_) => "show",
        Command::Explain(_) => "explain",
        Command::Sources(_) => "sources",
        Command::Annotate(_) => "annotate",
        Command::Exclude(_) => "exclude",
        Command::Log(_) => "log",
        Command::Hunts(_) => "hunts",
        Command::Verify => "verify",
        Command::Query(_) => "query",
        Command::Export(_) => "export",
        Command::Bundle(_) => "bundle",
        Command::Demo(_) => "demo",
        Command::VerifyBundle { .. } => "verify-bundle",
        Command::Generate(_) => "generate",
        Command::Kql(_) => "kql",
        Command::Score(_) => "score",
    }
}

/// Appends the audit record of a command that ran on a case it created (`case new`) or opened
/// itself (`kql`). The state before is the state the previous record left.
pub fn record_audit(global: &Global, case: &Case, command: &str, started: &str, result: &Result<&Report, &anyhow::Error>) -> Result<()> {
    let before: Option<String> =
        case.conn.query_row("SELECT max_by(state_after, seq) FROM audit_log", [], |r| r.get(0))?;
    let before = match before {
        Some(state) => state,
        None => audit::state_digest(&case.conn)?,
    };
    record_audit_from(global, case, command, started, before, result)
}

/// Appends the audit record of one command run, given the state digest when it started.
pub fn record_audit_from(
    global: &Global,
    case: &Case,
    command: &str,
    started: &str,
    state_before: String,
    result: &Result<&Report, &anyhow::Error>,
) -> Result<()> {
    if case.read_only {
        return Ok(());
    }
    let (exit_code, counts, error) = match result {
        Ok(report) => (exit_code(report.exit), report.counts.clone(), None),
        Err(err) => (1, Value::Null, Some(format!("{err:#}"))),
    };
    let entry = audit::Entry { exit_code, counts, error, ..audit_entry(global, case, command, started, state_before) };
    audit::append(&case.conn, &entry)
}

/// Builds the audit record of this run as it stands now: finished, exit code 0, no counts.
fn audit_entry(global: &Global, case: &Case, command: &str, started: &str, state_before: String) -> audit::Entry {
    audit::Entry {
        started_at: started.to_string(),
        finished_at: now_iso(),
        command: command.to_string(),
        arguments: std::env::args_os().map(|argument| argument.to_string_lossy().into_owned()).collect(),
        examiner: global.examiner_for(case),
        exit_code: 0,
        counts: Value::Null,
        error: None,
        state_before,
    }
}

fn exit_code(exit: Exit) -> i32 {
    match exit {
        Exit::Success => 0,
        Exit::Failure => 1,
        Exit::Rejects => 3,
    }
}

/// Returns the current UTC time in ISO 8601 with microseconds.
/// Returns the hunt that `findings`, `export` and `bundle` read when none is given: the latest.
/// Notes on stderr when that is a sentinel hunt while the case also has a full hunt, because a
/// sentinel hunt run for comparison would otherwise replace the attribution handed over.
pub fn default_hunt(case: &Case) -> Result<i64> {
    let hunt_id = crate::findings::latest_hunt(&case.conn)?;
    if let Some(note) = partial_hunt_note(case, hunt_id)? {
        print_stderr!("{note}");
    }
    Ok(hunt_id)
}

/// A hunt that covers less than a full hunt of every upload: a sentinel hunt, or one narrowed
/// with `--file`.
pub struct PartialHunt {
    /// What the hunt is, as a note completes "hunt N is ...".
    pub description: String,
    /// The latest full hunt of every upload in the case, when there is one.
    pub full: Option<i64>,
}

/// Returns what hunt `hunt_id` leaves out and the full hunt beside it; None when the hunt is a
/// full hunt of every upload.
pub fn partial_hunt(case: &Case, hunt_id: i64) -> Result<Option<PartialHunt>> {
    let (mode, file, full): (Option<String>, Option<String>, Option<i64>) = case.conn.query_row(
        "SELECT (SELECT mode FROM hunts WHERE hunt_id = $1),
                (SELECT json_extract_string(parameters, '$.file') FROM hunts WHERE hunt_id = $1),
                (SELECT max(hunt_id) FROM hunts
                 WHERE mode = 'full' AND finished_at IS NOT NULL AND json_extract_string(parameters, '$.file') IS NULL)",
        [hunt_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let description = match (mode.as_deref(), file) {
        (Some("sentinel"), _) => {
            "a sentinel hunt: it lists the reference query's candidates, failed sign-ins included, and attributes no account"
                .to_string()
        }
        (_, Some(file)) => format!("narrowed to uploads of `{}`", crate::output::terminal_safe(&file)),
        _ => return Ok(None),
    };
    Ok(Some(PartialHunt { description, full: full.filter(|&full| full != hunt_id) }))
}

/// Describes a hunt `hunt_id` that covers less than a full hunt of the case does while a full
/// hunt of every upload exists, naming that hunt; None otherwise.
pub fn partial_hunt_note(case: &Case, hunt_id: i64) -> Result<Option<String>> {
    Ok(partial_hunt(case, hunt_id)?.and_then(|partial| {
        let full = partial.full?;
        Some(format!(
            "note: hunt {hunt_id}, the latest, is {}; full hunt {full} of every upload is in the case too, read it with `--hunt {full}`",
            partial.description
        ))
    }))
}

pub fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
