//! A case: one folder holding one DuckDB database file.
//!
//! This module owns creating a case, opening it (with clear errors for a missing, foreign,
//! locked or newer case), and bringing its schema up to date with the embedded SQL files.
//! A case file is never deleted or recreated here: an old schema is upgraded in place, and
//! anything that cannot be upgraded is rejected with the reason.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use duckdb::{params, Config, Connection};

use crate::sql;

/// The database file inside a case folder.
pub const DB_FILE: &str = "case.duckdb";

/// Engine settings for a case connection.
#[derive(Clone, Debug, Default)]
pub struct EngineSettings {
    /// DuckDB `memory_limit`, such as `4GB`; DuckDB's default when None.
    pub memory_limit: Option<String>,
    /// Worker threads; DuckDB's default (all cores) when None.
    pub threads: Option<i64>,
}

/// An open case.
pub struct Case {
    pub conn: Connection,
    pub dir: PathBuf,
    pub name: String,
    /// Opened read-only because the case file or its folder cannot be written (a copy on
    /// write-protected media): reading commands work, and nothing is recorded.
    pub read_only: bool,
}

impl Case {
    /// Fails when `out` names the case's database, its write-ahead log, or an imported file
    /// still at its recorded path: an output written there would destroy the case or evidence.
    pub fn guard_output(&self, out: &Path) -> Result<()> {
        let Some(target) = resolve(out) else { return Ok(()) };
        let db = self.dir.join(DB_FILE);
        for protected in [db.clone(), db.with_extension("duckdb.wal")] {
            if resolve(&protected).as_ref() == Some(&target) {
                bail!("`{}` is the case's database; name another file for the output", out.display());
            }
        }
        let mut stmt = self.conn.prepare("SELECT path FROM sources")?;
        for path in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let path = path?;
            let on_disk = path.split_once("!/").map_or(path.as_str(), |(archive, _)| archive);
            if resolve(Path::new(on_disk)).as_ref() == Some(&target) {
                bail!("`{}` is the imported evidence file `{path}`; name another file for the output", out.display());
            }
        }
        Ok(())
    }
}

/// Returns the absolute path that `path` names, links followed: the file's own when it exists,
/// else its folder's joined with its name; None when the folder does not exist either.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(resolved) = path.canonicalize() {
        return Some(resolved);
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(folder.canonicalize().ok()?.join(path.file_name()?))
}

/// The details `case new` records about a case.
pub struct NewCase<'a> {
    pub name: &'a str,
    pub title: Option<&'a str>,
    pub examiner: Option<&'a str>,
}

/// Creates `cases_dir/NAME/` with a fresh database. Fails if anything already exists there.
pub fn create(cases_dir: &Path, new: &NewCase, engine: &EngineSettings) -> Result<Case> {
    check_case_name(new.name)?;
    check_openable(&cases_dir.join(new.name))?;
    std::fs::create_dir_all(cases_dir)
        .with_context(|| format!("cannot create the cases folder `{}`", cases_dir.display()))?;
    let dir = cases_dir.join(new.name);
    let exists = || {
        if dir.join(DB_FILE).exists() {
            anyhow::anyhow!("case `{}` already exists; choose another name or open it with `--case {}`", dir.display(), dir.display())
        } else if dir.is_dir() {
            anyhow::anyhow!("the folder `{}` exists and is not empty, so no case is made in it; choose another name", dir.display())
        } else {
            anyhow::anyhow!("`{}` exists and is not a folder; choose another name", dir.display())
        }
    };
    // An empty folder contains nothing, so a case may be made in it. Any other is never touched.
    let empty_folder = std::fs::read_dir(&dir).map(|mut entries| entries.next().is_none());
    if matches!(empty_folder, Ok(false)) || (empty_folder.is_err() && dir.symlink_metadata().is_ok()) {
        return Err(exists());
    }
    // The case is built in a hidden folder beside it and renamed into place once complete, so
    // a run stopped part way leaves no half-made case under the name.
    let building = cases_dir.join(format!(".{}.creating-{}", new.name, std::process::id()));
    remove_stopped_builds(cases_dir);
    std::fs::create_dir(&building).with_context(|| format!("cannot create case folder `{}`", building.display()))?;
    let built = initialise(&building, new, engine).and_then(|case| {
        drop(case);
        let moved = if empty_folder.is_ok() {
            // The examiner's empty folder stays, with its permissions; the case's files move in.
            // Another run that made a case there first leaves the database file in place.
            move_entries(&building, &dir)
        } else {
            // rename fails when another run made the folder first.
            std::fs::rename(&building, &dir)
        };
        moved.map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => exists(),
            _ => anyhow::Error::new(err).context(format!("cannot move the new case into `{}`", dir.display())),
        })
    });
    if let Err(err) = built {
        // The folder is ours and new, so removing it loses nothing.
        let _ = std::fs::remove_dir_all(&building);
        return Err(err);
    }
    open(&dir, engine)
}

/// Moves the entries of `from` into the existing folder `to`, refusing to replace any, and
/// removes `from`.
fn move_entries(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if target.symlink_metadata().is_ok() {
            return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
        }
        std::fs::rename(entry.path(), target)?;
    }
    std::fs::remove_dir(from)
}

/// Removes the folders that earlier runs of `case new` were building when they were stopped.
/// Only where `/proc` lists the running processes, and only when a folder's process is gone.
fn remove_stopped_builds(cases_dir: &Path) {
    let processes = Path::new("/proc");
    if !processes.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(cases_dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let building = file_name.to_str().filter(|n| n.starts_with('.')).and_then(|n| n.rsplit_once(".creating-"));
        let Some((_, pid)) = building else { continue };
        if pid.parse::<u32>().is_ok() && !processes.join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Fails when DuckDB would open another file than the case folder names. DuckDB 2.0 reads `?`
/// in a database path as the start of options and `\` as a folder separator.
fn check_openable(dir: &Path) -> Result<()> {
    if dir.to_string_lossy().contains(['?', '\\']) {
        bail!(
            "DuckDB cannot open a case whose path contains `?` or `\\`: `{}`; use a folder without them",
            dir.display()
        );
    }
    Ok(())
}

fn initialise(dir: &Path, new: &NewCase, engine: &EngineSettings) -> Result<Case> {
    let conn = connect(&dir.join(DB_FILE), dir, engine, false)?;
    migrate(&conn, dir)?;
    let duckdb_version = duckdb_version(&conn)?;
    conn.execute(
        "INSERT INTO case_info VALUES (?, ?, ?, now()::TIMESTAMP, ?, ?)",
        params![new.name, new.title, new.examiner, crate::VERSION, duckdb_version],
    )
    .context("cannot record the case details")?;
    Ok(Case { conn, dir: dir.to_path_buf(), name: new.name.to_string(), read_only: false })
}

/// Opens an existing case given its folder or its database file.
pub fn open(path: &Path, engine: &EngineSettings) -> Result<Case> {
    let (dir, db) = locate(path)?;
    let read_only = !writable(&db, &dir);
    let conn = connect(&db, &dir, engine, read_only)?;
    ensure_blobtrail_case(&conn, &db)?;
    if read_only {
        print_note!(
            "note: case `{}` cannot be written, so it is open read-only: reading commands work, changes fail, and this run is not recorded in its audit trail",
            dir.display()
        );
        check_applied(&applied_migrations(&conn)?, &dir)?;
        if schema_version(&conn)? < sql::latest_version() {
            bail!("case `{}` needs an upgrade of its schema, which a read-only case cannot take; open a writable copy", dir.display());
        }
    } else {
        remove_stale_temporary_files(&dir);
        migrate(&conn, &dir)?;
    }
    let name: String = conn
        .query_row("SELECT name FROM case_info LIMIT 1", [], |row| row.get(0))
        .map_err(|_| {
            anyhow::anyhow!(
                "case `{}` has no case details: `blobtrail case new` was stopped before it finished; \
                 if the folder contains nothing else of yours, delete it and run `blobtrail case new` again",
                dir.display()
            )
        })?;
    Ok(Case { conn, dir, name, read_only })
}

/// Removes the files that DuckDB spilled to the case's `tmp/` folder, and the workbook rows of
/// an `.xlsx` export, in runs that were stopped before they could remove them. A connection
/// that may write holds DuckDB's lock on the case, so no other process is using them.
fn remove_stale_temporary_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir.join("tmp")) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if (name.starts_with("duckdb_temp") || name.starts_with(".tmp")) && entry.path().is_file() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Tells whether the case file and its folder (for DuckDB's write-ahead log) can be written.
fn writable(db: &Path, dir: &Path) -> bool {
    let file_ok = std::fs::OpenOptions::new().append(true).open(db).is_ok();
    let probe = dir.join(format!(".blobtrail-write-check-{}", std::process::id()));
    let dir_ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    file_ok && dir_ok
}

fn locate(path: &Path) -> Result<(PathBuf, PathBuf)> {
    if path.is_file() {
        let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        return Ok((dir, path.to_path_buf()));
    }
    let db = path.join(DB_FILE);
    if !path.exists() {
        bail!(
            "case `{}` not found; create it with `blobtrail case new NAME`, or check `--case` and, for a case \
             given by name, the cases folder (`--cases-dir` or BLOBTRAIL_CASES, else `cases`)",
            path.display()
        );
    }
    if db.is_dir() {
        bail!("`{}` is a folder, where a case has its database file; this is not a blobtrail case", db.display());
    }
    if !db.is_file() {
        bail!(
            "`{}` is not a blobtrail case: it has no `{DB_FILE}`; create one with `blobtrail case new NAME`",
            path.display()
        );
    }
    Ok((path.to_path_buf(), db))
}

fn connect(db: &Path, dir: &Path, engine: &EngineSettings, read_only: bool) -> Result<Connection> {
    check_openable(dir)?;
    let temp = dir.join("tmp");
    let mode = if read_only { duckdb::AccessMode::ReadOnly } else { duckdb::AccessMode::ReadWrite };
    let mut config = Config::default()
        .access_mode(mode)?
        .enable_autoload_extension(false)?
        .with("autoinstall_known_extensions", "false")?
        .with("temp_directory", temp.to_string_lossy())?;
    if let Some(limit) = &engine.memory_limit {
        config = config
            .max_memory(limit)
            .map_err(|_| anyhow::anyhow!("invalid `--memory-limit` `{limit}`: give a size such as 4GB or 512MB"))?;
    }
    if let Some(threads) = engine.threads {
        config = config.threads(threads)?;
    }
    Connection::open_with_flags(db, config).map_err(|err| explain_open_error(err, dir))
}

/// Turns DuckDB's open errors into messages that name the case and say what to do.
fn explain_open_error(err: duckdb::Error, dir: &Path) -> anyhow::Error {
    let text = err.to_string();
    if text.contains("Could not set lock") || text.contains("Conflicting lock") {
        let holder = text
            .split("(PID ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .map(|pid| format!(" (process {pid})"))
            .unwrap_or_default();
        return anyhow::anyhow!(
            "case `{}` is open in another blobtrail or DuckDB process{holder}; wait for it to finish or close it, then retry",
            dir.display()
        );
    }
    if text.contains("not a valid DuckDB database") || text.contains("Failed to read database header")
    {
        return anyhow::anyhow!(
            "`{}` is not a readable DuckDB database; the case file is damaged or not a case",
            dir.join(DB_FILE).display()
        );
    }
    anyhow::Error::new(err).context(format!("cannot open case `{}`", dir.display()))
}

fn ensure_blobtrail_case(conn: &Connection, db: &Path) -> Result<()> {
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('schema_migrations', 'case_info')",
        [],
        |row| row.get(0),
    )?;
    if tables < 2 {
        bail!("`{}` is a DuckDB database but not a blobtrail case", db.display());
    }
    Ok(())
}

/// Applies every embedded SQL file the case lacks, each in its own transaction.
fn migrate(conn: &Connection, dir: &Path) -> Result<()> {
    // The migrations table itself predates every numbered file, so it is created here.
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             name VARCHAR NOT NULL,
             checksum VARCHAR NOT NULL,
             applied_at TIMESTAMP NOT NULL,
             blobtrail_version VARCHAR NOT NULL)",
    )?;
    let applied = applied_migrations(conn)?;
    check_applied(&applied, dir)?;
    // Each file is applied after the ones before it, so the record is 1, 2, ... with no gap,
    // and a case with tables has a record. Anything else was edited outside blobtrail, and
    // applying files again would fail on objects that exist.
    let has_tables: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'sources'",
        [],
        |r| r.get(0),
    )?;
    let contiguous = applied.iter().enumerate().all(|(index, (version, _))| *version == index as i32 + 1);
    if !contiguous || (has_tables && applied.is_empty()) {
        bail!(
            "case `{}` has blobtrail's tables but its record of the SQL files applied to it (`schema_migrations`) \
             is missing entries: it was changed outside blobtrail. Work on a copy made before that change",
            dir.display()
        );
    }

    for file in sql::FILES.iter().filter(|f| !applied.iter().any(|(v, _)| *v == f.version)) {
        if !applied.is_empty() {
            print_note!("note: upgrading case `{}` with `{}`", dir.display(), file.name);
        }
        if let Err(err) = apply(conn, file) {
            if format!("{err:#}").contains("already exists") {
                bail!(
                    "case `{}` already has objects that `sql/{}` creates, but its record of the SQL files applied to it \
                     (`schema_migrations`) is missing entries: it was changed outside blobtrail. \
                     Work on a copy made before that change",
                    dir.display(),
                    file.name
                );
            }
            return Err(err.context(format!("cannot apply `sql/{}`", file.name)));
        }
    }
    Ok(())
}

fn applied_migrations(conn: &Connection) -> Result<Vec<(i32, String)>> {
    let mut stmt = conn.prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn check_applied(applied: &[(i32, String)], dir: &Path) -> Result<()> {
    for (version, checksum) in applied {
        let Some(file) = sql::file(*version) else {
            bail!(
                "case `{}` has schema version {version}, newer than this blobtrail {} knows (up to {}); open it with a newer blobtrail",
                dir.display(),
                crate::VERSION,
                sql::latest_version()
            );
        };
        if &file.checksum() != checksum {
            bail!(
                "case `{}` was built with a different `sql/{}` than this blobtrail embeds; its findings would not be comparable, so it is not opened",
                dir.display(),
                file.name
            );
        }
    }
    Ok(())
}

fn apply(conn: &Connection, file: &sql::SqlFile) -> Result<()> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = conn.execute_batch(file.text).and_then(|()| {
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, ?, now()::TIMESTAMP, ?)",
            params![file.version, file.name, file.checksum(), crate::VERSION],
        )
        .map(|_| ())
    });
    match result {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err.into())
        }
    }
}

/// Returns the version string of the DuckDB library compiled into this binary.
pub fn duckdb_version(conn: &Connection) -> Result<String> {
    Ok(conn.query_row("SELECT version()", [], |row| row.get(0))?)
}

fn check_case_name(name: &str) -> Result<()> {
    // A name may not start with `.`: such folders are hidden, and `case new` builds in them.
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        bail!(
            "invalid case name `{}`: use letters, digits, `-`, `_` and `.` only, not starting with `.`",
            name.escape_debug()
        );
    }
    Ok(())
}

/// Returns the schema version recorded in a case.
pub fn schema_version(conn: &Connection) -> Result<i32> {
    Ok(conn.query_row("SELECT max(version) FROM schema_migrations", [], |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_name_rejects_separators() {
        assert!(check_case_name("incident-2026.03_a").is_ok());
        assert!(check_case_name("../x").is_err());
        assert!(check_case_name("a/b").is_err());
        assert!(check_case_name("").is_err());
        assert!(check_case_name("..").is_err());
    }

    #[test]
    fn new_case_records_details_and_schema() -> Result<()> {
        let root = tempfile::tempdir()?;
        let new = NewCase { name: "c1", title: Some("Test"), examiner: Some("jo") };
        let case = create(root.path(), &new, &EngineSettings::default())?;
        let (title, examiner): (String, String) =
            case.conn.query_row("SELECT title, examiner FROM case_info", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
        assert_eq!(title, "Test");
        assert_eq!(examiner, "jo");
        assert_eq!(schema_version(&case.conn)?, sql::latest_version());
        Ok(())
    }

    #[test]
    fn raw_column_is_stored_with_zstd() -> Result<()> {
        let root = tempfile::tempdir()?;
        let new = NewCase { name: "c1", title: None, examiner: None };
        let case = create(root.path(), &new, &EngineSettings::default())?;
        case.conn.execute_batch(
            "INSERT INTO storage_events (source_id, record_no, event_key, source_table, time_generated, time_raw, raw)
             SELECT 1, i, 'k' || i, 'StorageBlobLogs', TIMESTAMP '2026-01-01', '2026-01-01', '{\"i\":\"' || i || '\"}'
             FROM range(5000) t(i);
             CHECKPOINT;",
        )?;
        let compression: Vec<String> = case
            .conn
            .prepare("SELECT DISTINCT compression FROM pragma_storage_info('storage_events') WHERE column_name = 'raw' AND segment_type = 'VARCHAR'")?
            .query_map([], |r| r.get(0))?
            .collect::<duckdb::Result<_>>()?;
        assert_eq!(compression, ["ZSTD"]);
        Ok(())
    }

    #[test]
    fn existing_case_is_not_overwritten() -> Result<()> {
        let root = tempfile::tempdir()?;
        let new = NewCase { name: "c1", title: None, examiner: None };
        drop(create(root.path(), &new, &EngineSettings::default())?);
        let err = create(root.path(), &new, &EngineSettings::default()).err().unwrap();
        assert!(err.to_string().contains("already exists"), "{err}");
        Ok(())
    }

    #[test]
    fn edited_sql_file_is_detected() -> Result<()> {
        let root = tempfile::tempdir()?;
        let new = NewCase { name: "c1", title: None, examiner: None };
        let case = create(root.path(), &new, &EngineSettings::default())?;
        case.conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1", [])?;
        drop(case);
        let err = open(&root.path().join("c1"), &EngineSettings::default()).err().unwrap();
        assert!(err.to_string().contains("different `sql/001_case_schema.sql`"), "{err}");
        Ok(())
    }

    #[test]
    fn newer_case_is_rejected() -> Result<()> {
        let root = tempfile::tempdir()?;
        let new = NewCase { name: "c1", title: None, examiner: None };
        let case = create(root.path(), &new, &EngineSettings::default())?;
        case.conn.execute("INSERT INTO schema_migrations VALUES (999, 'x', 'y', now()::TIMESTAMP, '9')", [])?;
        drop(case);
        let err = open(&root.path().join("c1"), &EngineSettings::default()).err().unwrap();
        assert!(err.to_string().contains("newer than this blobtrail"), "{err}");
        Ok(())
    }
}
