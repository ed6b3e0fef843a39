//! Importing log exports into a case.
//!
//! Each file is hashed while it is read, its shape is recognised from its first bytes, its
//! records are read by the reader for that shape, recognised as storage or sign-in records by
//! their columns, normalised, and written by the sink inside one transaction per file. A file
//! that fails leaves the case as it was; records that cannot be read are kept in `rejects`.

pub mod bulk;
pub mod csv_reader;
pub mod avro;
pub mod parquet;
pub mod gzip;
pub mod header;
pub mod json_documents;
pub mod json_line;
pub mod json_reader;
pub mod normalize;
pub mod record;
pub mod row_batch;
pub mod sink;
pub mod storage_analytics;
pub mod tables;
pub mod utf16;
pub mod windows1252;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::sync::mpsc;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use duckdb::Connection;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use header::{CsvHeader, Header};
use normalize::{Mapped, Mapper, Reject, Settings, SigninRow, StorageRow};
use record::{Item, Position, Shape};
use sink::{Counts, Sink, SourceRecord};
use tables::{Family, LogTable};

/// A resolved import request.
#[derive(Clone, Debug, Default)]
pub struct ImportPlan {
    pub settings: Settings,
    /// Stop at the first bad record, leaving the case unchanged for that file.
    pub strict: bool,
    pub examiner: Option<String>,
    /// The options as the user gave them, recorded with each source.
    pub options_text: String,
    /// Read every file with the streaming reader, never with DuckDB's.
    pub streaming_only: bool,
    /// Decode files without a byte order mark as Windows-1252 instead of UTF-8.
    pub windows_1252: bool,
}

/// The result of importing one file.
#[derive(Debug)]
pub enum Outcome {
    Imported(Counts),
    /// The same bytes were imported before, from the path given.
    Skipped { earlier_path: String },
    Failed(String),
}

#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub sha256: Option<String>,
    pub size: u64,
    pub shape: Option<String>,
    pub tables: Vec<LogTable>,
    pub outcome: Outcome,
    /// The reader that read the file: `duckdb` (the fast path) or `streaming`.
    pub reader: &'static str,
    /// The reason the fast path gave the file to the streaming reader, when it tried and gave up.
    pub reader_note: Option<String>,
    /// A problem found after the file's rows were committed, such as the file growing while
    /// it was read.
    pub warning: Option<String>,
    /// Something about the imported rows that the examiner should know, which does not make
    /// the import fail.
    pub notes: Vec<String>,
    /// The SHA-256 of the zip archive that held the file, as it was handed over.
    pub container_sha256: Option<String>,
    /// The header row of a CSV file, which its records' `raw` is read by.
    pub csv_header: Option<CsvHeader>,
}

/// Expands folders into the files below them, sorted, and keeps files as given.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).with_context(|| format!("cannot list folder `{}`", path.display()))?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // A linked folder is not followed, so a link loop cannot make the walk endless.
        if entry.file_type()?.is_symlink() && path.is_dir() {
            print_note!("note: not following the linked folder `{}`", path.display());
            continue;
        }
        if path.is_dir() {
            walk(&path, found)?;
        } else if !path.is_file() {
            print_note!("note: leaving out `{}`: not a regular file (a named pipe, socket or device)", path.display());
        } else if is_system_file(&path.to_string_lossy()) {
            print_note!("note: leaving out `{}`: a file the operating system keeps, not a log", path.display());
        } else if let Some(extension) = document_extension(&path) {
            print_note!("note: leaving out `{}`: a .{extension} document, picture, script or query, not a log export", path.display());
        } else if is_duckdb_file(&path) {
            print_note!("note: leaving out `{}`: a DuckDB database or its log (such as a blobtrail case), not a log export", path.display());
        } else if crate::generate::is_truth_file(&path) {
            print_note!("note: leaving out `{}`: it is the ground-truth file of `blobtrail generate`, not a log", path.display());
        } else {
            found.push(path);
        }
    }
    Ok(())
}

/// Imports each file in its own transaction and reports on every one, failed ones included.
/// A zip file is opened and each file inside it is imported as a source of its own.
pub fn import_files(conn: &Connection, files: &[PathBuf], plan: &ImportPlan, progress: &ProgressBar) -> Vec<FileReport> {
    let mut reports = Vec::new();
    for path in files {
        if is_zip(path) {
            reports.extend(import_zip(conn, path, plan, progress));
        } else {
            reports.push(import_path(conn, path, plan, progress));
        }
    }
    reports
}

fn new_report(path: PathBuf) -> FileReport {
    FileReport {
        path,
        sha256: None,
        size: 0,
        shape: None,
        tables: Vec::new(),
        outcome: Outcome::Failed(String::new()),
        reader: STREAMING,
        reader_note: None,
        warning: None,
        notes: Vec::new(),
        container_sha256: None,
        csv_header: None,
    }
}

fn is_zip(path: &Path) -> bool {
    starts_with(path, b"PK\x03\x04")
}

/// Tells whether a file is a DuckDB database (`DUCK` after its first 8 bytes) or the
/// write-ahead log beside one.
fn is_duckdb_file(path: &Path) -> bool {
    let mut head = [0u8; 12];
    path.to_string_lossy().ends_with(".duckdb.wal")
        || File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[8..] == b"DUCK"
}

/// Tells whether a regular file starts with `magic`.
fn starts_with(path: &Path, magic: &[u8]) -> bool {
    // Opening a named pipe would wait for a writer; only regular files are read.
    let mut head = vec![0u8; magic.len()];
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
        && File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && head == magic
}

fn import_path(conn: &Connection, path: &Path, plan: &ImportPlan, progress: &ProgressBar) -> FileReport {
    let mut report = new_report(path.to_path_buf());
    let result = (|| -> Result<()> {
        let metadata = std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        if !metadata.is_file() {
            bail!("`{}` is not a regular file", path.display());
        }
        // The case records the path as text, and `verify` opens the file by it again.
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let Some(display) = absolute.to_str().map(str::to_string) else {
            bail!(
                "the path `{}` is not valid UTF-8, so the case could not record it for `verify` to find the file again; \
                 copy the file to a name in UTF-8 and import the copy",
                path.display()
            );
        };
        report.size = metadata.len();
        if crate::generate::is_truth_file(path) {
            bail!(
                "`{}` is the ground-truth file of `blobtrail generate`, not a log; give it to `blobtrail score --truth`",
                path.display()
            );
        }

        // A file of a size already seen is hashed first, so a repeated import costs one read.
        if size_seen(conn, report.size)? {
            let sha = hash_file(path)?;
            if let Some(earlier_path) = earlier_import(conn, &sha, &plan.options_text)? {
                progress.inc(report.size);
                report.sha256 = Some(sha);
                report.outcome = Outcome::Skipped { earlier_path };
                return Ok(());
            }
        }
        if starts_with(path, parquet::MAGIC) {
            // DuckDB reads the file itself, so its hash is taken first, from the bytes on disk.
            let hashed = Hashed { sha256: hash_file(path)?, size: report.size };
            let rows = parquet::JsonLines::open(path).with_context(|| format!("`{}`", path.display()))?;
            let reading = HashingReader { file_hash: Some(hashed), ..HashingReader::new(rows, ProgressBar::hidden()) };
            // Parquet keeps its text in UTF-8, and DuckDB writes the rows so: `--encoding` is for text files.
            let plan = ImportPlan { windows_1252: false, ..plan.clone() };
            import_stream(conn, &display, reading, &plan, &mut report, None, Some("parquet"))?;
            progress.inc(report.size);
        } else if let FastPath::Declined { source_id } = import_bulk(conn, &display, plan, &mut report, progress)? {
            let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
            import_stream(conn, &display, HashingReader::new(file, progress.clone()), plan, &mut report, source_id, None)?;
        }
        if matches!(report.outcome, Outcome::Imported(_)) {
            let after = std::fs::metadata(path).ok();
            if let Some(change) = file_change(&metadata, report.size, after.as_ref()) {
                // The transaction is committed by now, so the message states what to do with it.
                report.warning = Some(format!(
                    "`{}` changed while it was read ({change}): it is still being written or was edited; \
                     the rows imported match the recorded hash and size, which may not match the file on disk now, \
                     so import a finished copy into a new case",
                    path.display(),
                ));
            }
        }
        Ok(())
    })();
    if let Err(err) = result {
        report.outcome = Outcome::Failed(format!("{err:#}"));
    }
    report
}

/// Describes how a file changed during its import, from its metadata `before`, the number of
/// bytes `read` and hashed, and its metadata `after` (None when it is gone). Returns None when
/// nothing shows a change. A same-size edit shows only in the modification time.
fn file_change(before: &std::fs::Metadata, read: u64, after: Option<&std::fs::Metadata>) -> Option<String> {
    let Some(after) = after else {
        return Some("it is gone".to_string());
    };
    let sizes = [before.len(), read, after.len()];
    if sizes[0] != sizes[1] || sizes[1] != sizes[2] {
        return Some(format!("{} bytes before, {} bytes read, {} bytes after", sizes[0], sizes[1], sizes[2]));
    }
    match (before.modified(), after.modified()) {
        (Ok(first), Ok(last)) if first != last => Some("its modification time changed".to_string()),
        _ => None,
    }
}

/// Reads the number of members a zip file's end of central directory record lists, or None
/// when the record is not found. The zip crate keeps one member per name, so a larger count than
/// it reports means members that share a name, of which all but one would go unread.
pub fn zip_listed_members(path: &Path) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).ok()?;
    let length = file.metadata().ok()?.len();
    // The record is 22 bytes plus a comment of at most 65,535 bytes, at the end of the file.
    let tail_length = length.min(22 + 65_535);
    file.seek(SeekFrom::Start(length - tail_length)).ok()?;
    let mut tail = vec![0u8; tail_length as usize];
    file.read_exact(&mut tail).ok()?;
    let start = tail.windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let record = tail.get(start..start + 22)?;
    let entries = u16::from_le_bytes([record[10], record[11]]);
    // A zip64 archive writes 0xFFFF here and the real count elsewhere; it is not checked.
    (entries != u16::MAX).then_some(u64::from(entries))
}

/// Returns the extension of a file that a folder of exports often contains beside the logs (a
/// README, a chain-of-custody form, a screenshot, the script or query that made the exports)
/// and that no log export uses. `.txt` is not among them: PowerShell writes exports to such
/// files.
fn document_extension(path: &Path) -> Option<String> {
    const DOCUMENTS: [&str; 25] = [
        "md", "pdf", "doc", "docx", "rtf", "odt", "html", "htm", "png", "jpg", "jpeg", "gif", "msg", "py", "ps1", "psm1",
        "sh", "bat", "cmd", "kql", "sql", "js", "yml", "yaml", "toml",
    ];
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    DOCUMENTS.contains(&extension.as_str()).then_some(extension)
}

/// Tells whether a path inside a folder or zip is one that macOS or Windows keeps beside files:
/// `.DS_Store`, `._` resource forks, anything under `__MACOSX/`, `desktop.ini`, `Thumbs.db`.
fn is_system_file(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name == ".DS_Store"
        || name.starts_with("._")
        || name.eq_ignore_ascii_case("desktop.ini")
        || name.eq_ignore_ascii_case("Thumbs.db")
        || path.split(['/', '\\']).any(|part| part == "__MACOSX")
}

/// Imports every file inside a zip archive; each is recorded as `archive.zip!/member`.
fn import_zip(conn: &Connection, path: &Path, plan: &ImportPlan, progress: &ProgressBar) -> Vec<FileReport> {
    let archive = File::open(path)
        .map_err(anyhow::Error::from)
        .and_then(|file| zip::ZipArchive::new(file).map_err(anyhow::Error::from));
    let mut archive = match archive {
        Ok(archive) => archive,
        Err(err) => {
            let mut report = new_report(path.to_path_buf());
            report.outcome = Outcome::Failed(format!("`{}` is not a readable zip file: {err:#}", path.display()));
            return vec![report];
        }
    };
    if zip_listed_members(path).is_some_and(|listed| listed != archive.len() as u64) {
        let mut report = new_report(path.to_path_buf());
        report.outcome = Outcome::Failed(format!(
            "`{}` has members that share a name, which cannot be told apart; extract them and import the files",
            path.display()
        ));
        return vec![report];
    }
    // Each member is recorded with its own hash. The archive's hash ties the members to the
    // file as it was handed over, so it goes into each member's summary and the audit trail.
    let container_sha256 = match hash_file(path) {
        Ok(sha256) => sha256,
        Err(err) => {
            let mut report = new_report(path.to_path_buf());
            report.outcome = Outcome::Failed(format!("{err:#}"));
            return vec![report];
        }
    };
    let base = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).to_string_lossy().into_owned();
    let mut reports = Vec::new();
    for index in 0..archive.len() {
        let name = archive.name_for_index(index).unwrap_or_default().to_string();
        if crate::generate::is_truth_member(&name, || archive.by_index(index).ok()) {
            print_stderr!(
                "note: leaving out `{}!/{name}`: it is the ground-truth file of `blobtrail generate`, not a log",
                path.display()
            );
            continue;
        }
        let entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(err) => {
                let mut report = new_report(path.join(format!("#{index}")));
                report.outcome = Outcome::Failed(format!("`{}`: member {index} cannot be read: {err}", path.display()));
                reports.push(report);
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        if is_system_file(entry.name()) {
            print_note!("note: leaving out `{}!/{}`: a file the operating system keeps, not a log", path.display(), entry.name());
            continue;
        }
        let display = format!("{base}!/{}", entry.name());
        let mut report = new_report(PathBuf::from(&display));
        report.size = entry.size();
        report.container_sha256 = Some(container_sha256.clone());
        // DuckDB reads files on disk; a member is decompressed as it is read.
        report.reader_note = Some("a member of a zip archive, which only the streaming reader reads".into());
        if let Err(err) = import_stream(conn, &display, HashingReader::new(entry, progress.clone()), plan, &mut report, None, None) {
            report.outcome = Outcome::Failed(format!("{err:#}"));
        }
        reports.push(report);
    }
    reports
}

/// Reads, normalises and stores one file's records in one transaction.
///
/// A reading thread parses and normalises the records and hands them over in batches, while
/// this thread appends them to the sink: DuckDB's appender and the parser each keep one core
/// busy. The connection stays on this thread.
fn import_stream<R: Read + Send>(
    conn: &Connection,
    display_path: &str,
    reader: HashingReader<R>,
    plan: &ImportPlan,
    report: &mut FileReport,
    source_id: Option<i32>,
    shape_prefix: Option<&str>,
) -> Result<()> {
    let file_name = display_path.rsplit(['/', '\\']).next().unwrap_or(display_path);
    let hint = LogTable::from_download_name(file_name);
    let in_file = || format!("`{display_path}`");
    let mut sink = Sink::begin(conn, source_id).with_context(in_file)?;
    let (sender, receiver) = mpsc::sync_channel::<Vec<Staged>>(BATCHES_IN_FLIGHT);

    let (read, stored) = std::thread::scope(|scope| {
        let reading = scope.spawn(move || read_stream(reader, plan, hint, sender));
        let stored = store_batches(&mut sink, &receiver);
        // The reader stops at its next batch once the receiver is gone, if storing failed.
        drop(receiver);
        let read = reading.join().unwrap_or_else(|_| Err(anyhow!("the reading thread panicked")));
        (read, stored)
    });
    // Report a storage error first: the reader may then have failed only because the receiver
    // was gone.
    stored.with_context(in_file)?;
    let (shape, tables, csv_header, hashing) = read.with_context(in_file)?;
    report.csv_header = csv_header;
    report.shape = Some(shape_prefix.map_or_else(|| shape.clone(), |prefix| format!("{prefix} {shape}")));
    report.tables = tables.into_iter().collect();
    let hashed = hashing.finish()?;
    finish_file(conn, sink, display_path, hashed, plan, report)
}

/// Records the file and commits its transaction, or rolls back when the same bytes were
/// imported before.
fn finish_file(
    conn: &Connection,
    sink: Sink,
    display_path: &str,
    hashed: Hashed,
    plan: &ImportPlan,
    report: &mut FileReport,
) -> Result<()> {
    let sha = hashed.sha256;
    report.sha256 = Some(sha.clone());
    report.size = hashed.size;
    if let Some(earlier_path) = earlier_import(conn, &sha, &plan.options_text)? {
        drop(sink);
        report.outcome = Outcome::Skipped { earlier_path };
        return Ok(());
    }
    let table_names: Vec<&str> = report.tables.iter().map(|t| t.name()).collect();
    let counts = sink
        .finish(&SourceRecord {
            path: display_path,
            sha256: &sha,
            size_bytes: report.size,
            shape: report.shape.as_deref().unwrap_or_default(),
            tables: &table_names.join(","),
            examiner: plan.examiner.as_deref(),
            options: &plan.options_text,
            csv_header: report.csv_header.as_ref(),
            container_sha256: report.container_sha256.as_deref(),
        })
        .with_context(|| format!("`{display_path}`"))?;
    let fuller_duplicates = counts.fuller_duplicates;
    report.outcome = Outcome::Imported(counts);
    report.notes = file_notes(conn, &sha, &report.tables)?;
    if fuller_duplicates > 0 {
        report.notes.push(format!(
            "duplicates with more than the copy kept: {fuller_duplicates}, requests the case already held from another \
             export under the same request ID, where this file's copy states a value the kept copy lacks (such as the \
             user agent); the hunt reads the kept copy, so to use this file's values, import it first, into a new case"
        ));
    }
    Ok(())
}

/// Checks the committed rows of one file for what the examiner should know about them: times
/// without seconds, requests and sign-ins that state no result, and records rejected as not UTF-8.
fn file_notes(conn: &Connection, sha: &str, tables: &[LogTable]) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let source = "(SELECT source_id FROM sources WHERE sha256 = ?)";
    // A time with seconds has `:MM:SS` somewhere; a zone offset such as `+02:00` does not. A
    // .NET date (`/Date(1773495600100)/`) counts milliseconds.
    let without_seconds = "count(*) FILTER (time_raw NOT LIKE '%:__:__%' AND time_raw NOT LIKE '%/Date(%')";
    let has_family = |family: Family| tables.iter().any(|table| table.family() == family);
    let mut times_without_seconds = 0i64;
    if has_family(Family::Storage) {
        let sql = format!(
            "SELECT {without_seconds}, count(*) FILTER (status_text IS NULL AND status_code IS NULL)
             FROM storage_events WHERE source_id = {source}"
        );
        let (times, without_result) =
            conn.query_row(&sql, [sha], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?;
        times_without_seconds += times;
        if without_result > 0 {
            notes.push(format!(
                "storage requests without a result: {without_result} (no StatusText or StatusCode value); the hunt \
                 counts only writes that succeeded, so none of them can be an upload: export again with `StatusText` \
                 and `StatusCode`"
            ));
        }
    }
    if has_family(Family::Signin) {
        let sql = format!(
            "SELECT {without_seconds}, count(*) FILTER (result_type IS NULL) FROM signin_events WHERE source_id = {source}"
        );
        let (times, without_result) =
            conn.query_row(&sql, [sha], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))?;
        times_without_seconds += times;
        if without_result > 0 {
            notes.push(format!(
                "sign-ins without a result: {without_result} (no ResultType, error code or Status value that reads as \
                 one); the hunt takes them as successful, so if the export left out those columns, export again with `ResultType`"
            ));
        }
    }
    let rejected_as = |pattern: &str| -> Result<i64> {
        let sql = format!("SELECT count(*) FROM rejects WHERE source_id = {source} AND reason LIKE ?");
        Ok(conn.query_row(&sql, duckdb::params![sha, pattern], |row| row.get(0))?)
    };
    let invalid_utf8 = rejected_as("%not valid UTF-8%")?;
    if invalid_utf8 > 0 {
        notes.push(format!(
            "records with bytes that are not valid UTF-8: {invalid_utf8}, kept in `rejects`; a CSV that Excel saved as \
             \"CSV (Comma delimited)\" is in the Windows code page: save it again as \"CSV UTF-8\" and import that file \
             (its records already in the case count as duplicates), or import this file into a new case with \
             `--encoding windows-1252`"
        ));
    }
    let conflicting = rejected_as("the case already holds this %")?;
    if conflicting > 0 {
        notes.push(format!(
            "records that the case already holds with another requester, authentication, size, user or address: \
             {conflicting}, kept in `rejects` with the copy kept and the field that differs; the first copy imported is \
             the one the hunt reads, so if this file is the fuller export (an earlier one left out the requester, or is a \
             classic $logs version 1.0 file), import it first, into a new case"
        ));
    }
    if times_without_seconds > 0 {
        notes.push(format!(
            "times without seconds: {times_without_seconds}, such as Excel writes when it saves a CSV export again; \
             they are read as the start of their minute, so each can be up to 59 seconds early; \
             export again from Log Analytics for full precision"
        ));
    }
    Ok(notes)
}

/// Shortens the fast path's error to a note: its first line, at most 300 characters. DuckDB's
/// CSV errors go on to quote the whole line, which may be megabytes long, and duckdb-rs appends
/// the C API's error code, which adds nothing here.
fn short_note(error: &str) -> String {
    let first_line = error.lines().next().unwrap_or_default();
    let text = crate::output::without_error_code(first_line);
    crate::output::truncated(text, 300)
}

/// The reader names a report gives.
const STREAMING: &str = "streaming";
const DUCKDB: &str = "duckdb";

/// The fast path's outcome for one file.
enum FastPath {
    /// The fast path read the file: it imported it, or found the same file imported before.
    Taken,
    /// The file is not for the fast path, or the fast path gave up: its transaction was rolled
    /// back and the progress set back, so the streaming reader can read the file. `source_id`
    /// is the ID the rolled-back try took, which the streaming reader gives the file's rows,
    /// so that the sources of a case are numbered alike whichever reader took each file.
    Declined { source_id: Option<i32> },
}

/// Imports a portal CSV or JSON lines file on disk through the fast path (see `bulk`).
fn import_bulk(conn: &Connection, display_path: &str, plan: &ImportPlan, report: &mut FileReport, progress: &ProgressBar) -> Result<FastPath> {
    if plan.streaming_only {
        report.reader_note = Some("`--reader streaming` was given".into());
        return Ok(FastPath::Declined { source_id: None });
    }
    if plan.windows_1252 {
        report.reader_note = Some("`--encoding windows-1252` was given; the streaming reader decodes the file".into());
        return Ok(FastPath::Declined { source_id: None });
    }
    let file_name = display_path.rsplit(['/', '\\']).next().unwrap_or(display_path);
    let Some(candidate) = bulk::candidate(Path::new(display_path), plan, LogTable::from_download_name(file_name)) else {
        report.reader_note = Some(if bulk::is_pattern(display_path) {
            "the path has characters that DuckDB reads as a pattern of file names".into()
        } else if starts_with(Path::new(display_path), &[0x1f, 0x8b]) {
            "the file is gzip-compressed; the streaming reader decompresses it".into()
        } else {
            "the fast path takes portal CSV storage logs and JSON lines files whose first two lines it recognises; not this one".into()
        });
        return Ok(FastPath::Declined { source_id: None });
    };
    let start = progress.position();
    let shape = candidate.shape();
    let mut sink = Sink::begin(conn, None).with_context(|| format!("`{display_path}`"))?;
    match bulk::read(conn, &mut sink, Path::new(display_path), candidate, progress) {
        Ok(read) => {
            report.reader = DUCKDB;
            report.shape = Some(shape.as_str().to_string());
            report.tables = read.tables;
            report.csv_header = read.csv_header;
            finish_file(conn, sink, display_path, read.hashed, plan, report)?;
            progress.set_position(start + report.size);
            Ok(FastPath::Taken)
        }
        Err(err) => {
            let source_id = sink.source_id();
            drop(sink);
            report.reader_note = Some(short_note(&format!("{err:#}")));
            progress.set_position(start);
            Ok(FastPath::Declined { source_id: Some(source_id) })
        }
    }
}

/// Records per batch handed from the reading thread to the sink, and batches queued at most.
const BATCH_RECORDS: usize = 2048;
const BATCHES_IN_FLIGHT: usize = 4;

/// One normalised record, or a rejected one, on its way to the sink. Not boxed, as `Mapped`.
#[allow(clippy::large_enum_variant)]
enum Staged {
    Storage(Position, StorageRow, String),
    Signin(Position, SigninRow, String),
    Reject(Position, Reject, String),
}

/// The reading thread's result: the shape, the tables seen, a CSV file's header row and the
/// reader, whose hash is finished once the rest of the file is read.
type StreamRead<R> = (String, BTreeSet<LogTable>, Option<CsvHeader>, HashingReader<R>);

/// Recognises the shape, reads and normalises every record and sends them in batches. This is
/// the reading thread's work.
fn read_stream<R: Read>(
    reader: HashingReader<R>,
    plan: &ImportPlan,
    hint: Option<LogTable>,
    sender: mpsc::SyncSender<Vec<Staged>>,
) -> Result<StreamRead<R>> {
    let mut input = BufReader::with_capacity(1 << 20, reader);
    let mut state = FileState::new(Batches::new(sender), plan, hint);
    let shape = read_any(&mut input, plan.windows_1252, &mut |item| state.accept(item))?;
    state.finish()?;
    Ok((shape, state.tables, state.csv_header, input.into_inner()))
}

/// Appends every received batch to the sink, until the reading thread closes the channel.
fn store_batches(sink: &mut Sink, receiver: &mpsc::Receiver<Vec<Staged>>) -> Result<()> {
    for batch in receiver {
        for staged in batch {
            match staged {
                Staged::Storage(position, row, raw) => sink.storage(position, row, raw)?,
                Staged::Signin(position, row, raw) => sink.signin(position, row, raw)?,
                Staged::Reject(position, reject, raw) => sink.reject(position, reject, raw)?,
            }
        }
    }
    Ok(())
}

/// Collects records into batches for the channel to the sink.
struct Batches {
    sender: mpsc::SyncSender<Vec<Staged>>,
    batch: Vec<Staged>,
}

impl Batches {
    fn new(sender: mpsc::SyncSender<Vec<Staged>>) -> Self {
        Batches { sender, batch: Vec::with_capacity(BATCH_RECORDS) }
    }

    fn push(&mut self, staged: Staged) -> Result<()> {
        self.batch.push(staged);
        if self.batch.len() >= BATCH_RECORDS {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_RECORDS));
        self.sender.send(batch).map_err(|_| anyhow!("storing the records failed, so reading stopped"))
    }
}

fn size_seen(conn: &Connection, size: u64) -> Result<bool> {
    let count: i64 =
        conn.query_row("SELECT count(*) FROM sources WHERE size_bytes = ?", [size as i64], |r| r.get(0))?;
    Ok(count > 0)
}

/// Returns the path of an earlier import of the same bytes. Fails when that import read the
/// file with other options (`--utc-offset`, `--date-order`, `--encoding`): skipping would keep
/// times or text read the other way without a word.
fn earlier_import(conn: &Connection, sha: &str, options: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare("SELECT path, coalesce(options, '{}') FROM sources WHERE sha256 = ?")?;
    let mut rows = stmt.query([sha])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let (path, recorded): (String, String) = (row.get(0)?, row.get(1)?);
    let reading = |text: &str| {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let encoding = value["encoding"].as_str().unwrap_or("utf-8").to_string();
        (value["utc_offset"].clone(), value["date_order"].clone(), encoding)
    };
    if reading(&recorded) != reading(options) {
        bail!(
            "the same bytes were imported before from `{path}` with other reading options ({recorded}); \
             a case keeps one reading of a file, so import it into a new case to read it with {options}"
        );
    }
    Ok(Some(path))
}

/// Hashes a whole file with SHA-256.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    hash_reader(&mut file).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Hashes everything a reader yields with SHA-256.
pub fn hash_reader(reader: &mut impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(reader, &mut hasher)?;
    Ok(crate::sql::hex(&hasher.finalize()))
}

/// Unpacks gzip, then recognises the shape and runs the matching reader. Returns the shape's
/// name, such as `json-lines` or `gzip portal-csv`.
fn read_any<R: BufRead>(input: &mut R, windows_1252: bool, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<String> {
    let head = input.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut decoded = BufReader::with_capacity(1 << 20, gzip::GzipMembers::new(input));
        let shape = read_avro_or_records(&mut decoded, windows_1252, emit).context("inside the gzip stream")?;
        if decoded.get_ref().was_cut_off() {
            // Kept as a rejected record, so the count and the exit code show the loss even
            // when the cut fell between two records.
            emit(Item::Broken(record::Broken {
                position: Position { record_no: 0, line: None },
                reason: "the gzip data ends inside a compressed block: the file was cut off, so the records \
                         after the last complete one are missing; import a complete copy if there is one"
                    .into(),
                raw: String::new(),
            }))?;
        }
        return Ok(format!("gzip {shape}"));
    }
    if head.starts_with(b"PK\x03\x04") {
        bail!("a zip archive inside a zip archive or gzip stream: extract the inner archive and import its files");
    }
    read_avro_or_records(input, windows_1252, emit)
}

/// Runs the Event Hub Capture reader on an Avro file and `read_records` on anything else.
/// Returns the shape's name.
fn read_avro_or_records<R: BufRead>(input: &mut R, windows_1252: bool, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<String> {
    let head = input.fill_buf()?;
    if head.starts_with(avro::MAGIC) {
        return read_avro(input, windows_1252, emit);
    }
    if head.starts_with(parquet::MAGIC) {
        bail!("a Parquet file inside a zip archive or gzip stream, which DuckDB reads only from disk: extract it and import the file");
    }
    Ok(read_records(input, windows_1252, emit)?.as_str().to_string())
}

/// Reads the bodies of an Event Hub Capture (Avro) file, one per line, with the JSON readers.
/// Line N of a record's position is the file's event N. An event whose body is not JSON is
/// kept as a rejected record of that line.
fn read_avro<R: BufRead>(input: &mut R, windows_1252: bool, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<String> {
    let bodies = avro::AvroBodies::new(input).context("in the Event Hub Capture (Avro) file's header")?;
    let mut decoded = BufReader::with_capacity(1 << 20, bodies);
    // A capture window without events gives a file with no records, which imports none.
    let shape = if decoded.fill_buf().context("in the Event Hub Capture (Avro) file")?.is_empty() {
        "avro (no events)".to_string()
    } else {
        match read_records(&mut decoded, windows_1252, emit) {
            Ok(shape) => format!("avro {}", shape.as_str()),
            // Events without a body, or whose bodies were all rejected, leave only empty lines.
            Err(_) if decoded.get_ref().read_no_bodies() => "avro (no bodies)".to_string(),
            Err(err) => return Err(err.context("in the bodies of the Event Hub Capture (Avro) file")),
        }
    };
    for bad in decoded.get_mut().take_bad_events() {
        emit(Item::Broken(record::Broken {
            position: Position { record_no: 0, line: Some(bad.event) },
            reason: format!("event {}: {}", bad.event, bad.reason),
            raw: bad.raw,
        }))?;
    }
    if decoded.get_ref().was_cut_off() {
        emit(Item::Broken(record::Broken {
            position: Position { record_no: 0, line: None },
            reason: "the Avro file ends inside a block of events: the file was cut off, so the events after the last \
                     complete block are missing; import a complete copy if there is one"
                .into(),
            raw: String::new(),
        }))?;
    }
    Ok(shape)
}

/// Decodes UTF-16 text, or Windows-1252 text when `windows_1252` is set, to UTF-8, then
/// recognises the shape and runs the matching reader. A byte order mark decides over
/// `windows_1252`: a file that starts with UTF-8's is read as UTF-8.
fn read_records<R: BufRead>(input: &mut R, windows_1252: bool, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<Shape> {
    let head = input.fill_buf()?;
    if let Some(order) = utf16::detect(head) {
        return read_utf8_records(&mut BufReader::with_capacity(1 << 20, utf16::Utf16Reader::new(input, order)), emit);
    }
    if windows_1252 && !head.starts_with(BOM_UTF8) {
        return read_utf8_records(&mut BufReader::with_capacity(1 << 20, windows1252::Windows1252Reader::new(input)), emit);
    }
    read_utf8_records(input, emit)
}

/// UTF-8's byte order mark.
const BOM_UTF8: &[u8] = b"\xef\xbb\xbf";

/// Recognises the shape from the first bytes and runs the matching reader.
fn read_utf8_records<R: BufRead>(input: &mut R, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<Shape> {
    skip_bom(input)?;
    match first_significant_byte(input)? {
        None => bail!("the file is empty"),
        Some(b'{' | b'[') => read_json(input, 0, emit),
        Some(_) => {
            let mut first_line = Vec::new();
            input.read_until(b'\n', &mut first_line)?;
            if storage_analytics::looks_like(&first_line) {
                storage_analytics::read(Cursor::new(first_line).chain(input), emit)?;
                return Ok(Shape::StorageAnalytics);
            }
            if is_title_line(&first_line) && matches!(first_significant_byte(input)?, Some(b'{' | b'[')) {
                // Text copied from a portal can carry a caption line above the JSON. It is kept
                // as a rejected record, so the count shows it, and the JSON below is read.
                let text = String::from_utf8_lossy(&first_line).trim().to_string();
                let position = Position { record_no: 0, line: Some(1) };
                emit(Item::Broken(record::Broken {
                    position,
                    reason: "a caption line above the JSON content, not a record".into(),
                    raw: text,
                }))?;
                return read_json(input, 1, emit);
            }
            // Windows PowerShell's type line comes above the header, which names the delimiter.
            if first_line.starts_with(b"#TYPE ") {
                input.read_until(b'\n', &mut first_line)?;
            }
            let header_line = first_line.rsplit(|&b| b == b'\n').find(|line| !line.is_empty()).unwrap_or_default();
            let delimiter = csv_reader::sniff_delimiter(header_line);
            csv_reader::read(Cursor::new(first_line).chain(input), delimiter, emit)?;
            Ok(Shape::PortalCsv)
        }
    }
}

/// Tells whether a line is a lone caption: text with no field delimiter.
fn is_title_line(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    !text.is_empty() && text.len() < 200 && !text.contains([',', ';', '\t', '{', '['])
}

/// Reads the JSON shapes: JSON lines stream line by line; other documents are read whole and
/// walked record by record.
fn read_json<R: BufRead>(input: &mut R, lines_before: u64, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<Shape> {
    let mut first_line = Vec::new();
    input.read_until(b'\n', &mut first_line)?;
    let first_value = serde_json::from_slice::<serde_json::Value>(&json_reader::repair_surrogate_escapes(&first_line));
    if let Ok(serde_json::Value::Object(object)) = first_value {
        let wrapper = ["tables", "records", "value"].iter().any(|key| object.contains_key(*key));
        if !wrapper && lines_before == 0 {
            json_reader::read_lines(Cursor::new(first_line).chain(input), emit)?;
            return Ok(Shape::JsonLines);
        }
    }
    let mut whole = first_line;
    input.read_to_end(&mut whole)?;
    let whole = json_reader::repair_surrogate_escapes(&whole);
    if let Some(shape) = json_documents::read(&whole, lines_before, emit)? {
        return Ok(shape);
    }
    // A response that ends early keeps the rows before the cut; other invalid JSON fails the file.
    match serde_json::from_slice(&whole) {
        Ok(document) => json_reader::read_query_api(document, emit)?,
        Err(err) if err.is_eof() => json_documents::read_cut_query_api(&whole, emit)?,
        Err(err) => bail!("invalid JSON at line {} column {}: {err}", err.line(), err.column()),
    }
    Ok(Shape::QueryApiJson)
}

fn skip_bom(input: &mut impl BufRead) -> Result<()> {
    if input.fill_buf()?.starts_with(b"\xef\xbb\xbf") {
        input.consume(3);
    }
    Ok(())
}

/// Returns the first byte that is not white space, without consuming it, so that the readers
/// read the white space too and their line numbers count its line breaks. Fails when a whole
/// read buffer of white space comes first, because reading on would mean dropping it unread.
fn first_significant_byte(input: &mut impl BufRead) -> Result<Option<u8>> {
    let buffer = input.fill_buf()?;
    if buffer.is_empty() {
        return Ok(None);
    }
    if let Some(position) = buffer.iter().position(|b| !b.is_ascii_whitespace()) {
        return Ok(Some(buffer[position]));
    }
    let length = buffer.len();
    input.consume(length);
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    bail!(
        "the file starts with more than {length} bytes of white space before any content; \
         a log export does not, so check that this is the file you meant"
    )
}

/// Routes reader items through recognition and normalisation into batches for the sink.
struct FileState<'s> {
    out: Batches,
    plan: &'s ImportPlan,
    hint: Option<LogTable>,
    header: Option<Header>,
    /// The header row of a CSV file, as written.
    csv_header: Option<CsvHeader>,
    mapper: Option<(Family, Mapper)>,
    tables: BTreeSet<LogTable>,
    /// Set while the file's rows carry each log record as JSON text in one column.
    wrapped: Option<Wrapped>,
    /// Whether any row came, imported or rejected.
    had_rows: bool,
    /// Rows rejected as records of other logs, the first such rejection, and the other rows.
    /// Rows under a header of no log table count among them and also in `unreadable_rows`.
    foreign_rows: u64,
    unreadable_rows: u64,
    first_foreign: Option<Reject>,
    other_rows: u64,
    /// Set while the header is a SIEM export's that has no column with the log record, such as
    /// Splunk's leading `{"preview":false,"messages":[...]}` line.
    siem_without_record: bool,
}

/// The column of a SIEM export whose values are the log records as JSON text: Splunk's `_raw`
/// (in CSV, or under `result` in its JSON export) and Elastic's `event.original` (also under
/// `_source`). The records read from it get columns of their own.
struct Wrapped {
    column: usize,
    name: String,
    records: json_reader::ObjectColumns,
}

/// The number of records under headers of no log table, with no readable record before them,
/// after which a file is taken for something else and fails without being read to its end.
const UNREADABLE_ROWS_MAX: u64 = 10_000;

/// Columns that only SIEM exports have: Splunk's JSON export (`preview`, `result.*`) and
/// Elastic documents (`@timestamp`, `_index`).
const SIEM_COLUMNS: [&str; 4] = ["preview", "@timestamp", "_index", "_source.@timestamp"];

/// The columns that hold a whole log record in SIEM exports, as flattened names.
const WRAPPING_COLUMNS: [&str; 4] = ["_raw", "result._raw", "event.original", "_source.event.original"];

/// Returns a record's `Type` value and the family that its `Type`, or else its `category`,
/// names.
fn named_family<'r>(header: &Header, row: &'r record::Row) -> (Option<&'r str>, Option<Family>) {
    let type_value = header.find("type").first().map(|&column| row.get(column));
    let family = match type_value.and_then(LogTable::from_name) {
        Some(table) => Some(table.family()),
        None if type_value.is_none_or(|value| value.trim().is_empty()) => {
            let category = header.find("category").first().map(|&column| row.get(column));
            category.and_then(tables::family_of_category)
        }
        None => None,
    };
    (type_value, family)
}

/// Recognises the family of a record that starts a new header. Once records of both families
/// were read, the header has the columns of both, so the record's own category decides.
fn new_family(header: &Header, row: &record::Row) -> Result<Family> {
    match named_family(header, row) {
        (None, Some(named)) if tables::has_columns_of(header, named) => Ok(named),
        (type_value, _) => tables::recognise(header, type_value),
    }
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Takes the `records` array out of an event hub message (`{"records":[...]}`, also under
/// `body`), as a SIEM export may keep it in `_raw`. Any other object is given back.
fn take_records(mut object: JsonObject) -> Result<Vec<serde_json::Value>, JsonObject> {
    if let Some(serde_json::Value::Array(records)) = object.get_mut("records") {
        return Ok(std::mem::take(records));
    }
    if let Some(serde_json::Value::Array(records)) = object.get_mut("body").and_then(|body| body.get_mut("records")) {
        return Ok(std::mem::take(records));
    }
    Err(object)
}

/// Finds the column of a header that carries whole log records (`WRAPPING_COLUMNS`), with its
/// name.
fn wrapping_column(header: &Header) -> Option<(usize, &'static str)> {
    WRAPPING_COLUMNS.iter().find_map(|name| header.find(name).first().map(|&column| (column, *name)))
}

/// Tells whether a header has a column that carries whole log records.
fn wraps_records(header: &Header) -> bool {
    wrapping_column(header).is_some()
}

impl<'s> FileState<'s> {
    fn new(out: Batches, plan: &'s ImportPlan, hint: Option<LogTable>) -> Self {
        FileState {
            out,
            plan,
            hint,
            header: None,
            mapper: None,
            tables: BTreeSet::new(),
            csv_header: None,
            wrapped: None,
            had_rows: false,
            foreign_rows: 0,
            unreadable_rows: 0,
            first_foreign: None,
            other_rows: 0,
            siem_without_record: false,
        }
    }

    fn accept(&mut self, item: Item) -> Result<()> {
        match item {
            Item::Header(header) => {
                if self.csv_header.is_none() {
                    self.csv_header = header.csv().cloned();
                }
                // One column of a SIEM export carries the whole record, which is read in place of
                // the export's own columns, even where those (fields that Splunk extracted) look
                // like a log table's: they may leave out what the record has. Headers of the
                // records inside come from `unwrap`.
                if let Some((column, name)) = wrapping_column(&header) {
                    let records = self.wrapped.take().map(|wrapped| wrapped.records).unwrap_or_default();
                    self.wrapped = Some(Wrapped { column, name: name.to_string(), records });
                    return Ok(());
                }
                self.wrapped = None;
                let is_table = tables::has_columns_of(&header, Family::Storage) || tables::has_columns_of(&header, Family::Signin);
                self.siem_without_record = !is_table && SIEM_COLUMNS.iter().any(|name| header.has(name));
                self.check_date_order()?;
                self.header = Some(header);
                self.mapper = None;
                Ok(())
            }
            Item::Row(row) if self.wrapped.is_some() => self.unwrap(row),
            Item::Row(row) => {
                let position = row.position;
                self.had_rows = true;
                if self.siem_without_record {
                    let reason = "a row of a SIEM export without the log record: blobtrail reads the record from Splunk's `_raw` or \
                                  Elastic's `event.original` (kept when the integration preserves the original event)";
                    return self.reject(position, Reject { column: None, value: None, reason: reason.into() }, row.raw);
                }
                if self.repeats_header(&row) {
                    let reason = "the header row again, as in two exports joined into one file; the records after it are read with the first header";
                    return self.reject(position, Reject { column: None, value: None, reason: reason.into() }, row.raw);
                }
                let unreadable = self.unreadable(&row);
                if unreadable.is_some() {
                    self.unreadable_rows += 1;
                    // A file of something else entirely is not read to its end.
                    if self.other_rows == 0 && self.unreadable_rows >= UNREADABLE_ROWS_MAX {
                        bail!("{}", unreadable.map(|reject| reject.reason).unwrap_or_default());
                    }
                }
                if let Some(reject) = self.foreign_record(&row).or(unreadable) {
                    self.foreign_rows += 1;
                    self.first_foreign.get_or_insert_with(|| reject.clone());
                    return self.reject(position, reject, row.raw);
                }
                self.other_rows += 1;
                let mapped = self.mapper_for(&row)?.map(&row).with_context(|| position.describe())?;
                match mapped {
                    Mapped::Storage(out) => {
                        self.tables.insert(out.table);
                        self.out.push(Staged::Storage(position, out, row.raw))
                    }
                    Mapped::Signin(out) => {
                        self.tables.insert(out.table);
                        self.out.push(Staged::Signin(position, out, row.raw))
                    }
                    Mapped::Rejected(reject) => {
                        let reject = self.no_log_record(&row).unwrap_or(reject);
                        self.reject(position, reject, row.raw)
                    }
                }
            }
            Item::Broken(broken) => {
                let reject = Reject { column: None, value: None, reason: broken.reason };
                self.reject(broken.position, reject, broken.raw)
            }
        }
    }

    /// Tells whether a row repeats the column names of the header, cell for cell.
    fn repeats_header(&self, row: &record::Row) -> bool {
        let Some(header) = self.header.as_ref() else { return false };
        header.csv().is_some()
            && row.values.len() == header.len()
            && header.names().iter().zip(&row.values).all(|(name, value)| {
                let plain = |text: &str| text.trim_start_matches('\u{feff}').trim().to_string();
                plain(name) == plain(value)
            })
    }

    /// Returns why a record belongs to a log blobtrail does not read: its `Type` or `category`
    /// names one, or it is a metric record (`metricName`). An event hub or archive often
    /// carries Entra ID audit logs, other resources' logs and metrics beside the logs read.
    fn foreign_record(&self, row: &record::Row) -> Option<Reject> {
        let header = self.header.as_ref()?;
        let named = |column: usize| {
            let value = row.get(column).trim();
            let name = header.names().get(column).cloned();
            (!value.is_empty()).then(|| (name, value.to_string()))
        };
        if let Some(&column) = header.find("type").first() {
            if let Some((name, value)) = named(column) {
                if LogTable::from_name(&value).is_some() {
                    return None;
                }
                let reason = format!("a record of the `{value}` table, which blobtrail does not read: it reads storage and sign-in logs");
                return Some(Reject { column: name, value: Some(value), reason });
            }
        }
        if let Some((name, value)) = header.find("metricname").first().and_then(|&column| named(column)) {
            let reason = tables::metric_reason(&value);
            return Some(Reject { column: name, value: Some(value), reason });
        }
        let (name, value) = named(*header.find("category").first()?)?;
        if tables::family_of_category(&value).is_some() {
            return None;
        }
        let reason = tables::other_category_reason(&value);
        Some(Reject { column: name, value: Some(value), reason })
    }

    /// Returns why a rejected record is no log record at all, when it has no value in any
    /// column that identifies one: the reason its mapping gave (a missing time, say) would name
    /// the wrong cause.
    fn no_log_record(&self, row: &record::Row) -> Option<Reject> {
        let header = self.header.as_ref()?;
        let filled = |column: usize| !row.get(column).trim().is_empty();
        if tables::has_log_values(header, filled) {
            return None;
        }
        let names = header.names();
        let mut with_values: Vec<&str> =
            (0..names.len()).filter(|&column| filled(column)).map(|column| names[column].as_str()).collect();
        with_values.dedup();
        let found = match with_values.len() {
            0 => "it has no value at all".to_string(),
            n if n > 8 => format!("it has values only in {} and {} more", with_values[..8].join(", "), n - 8),
            _ => format!("it has values only in {}", with_values.join(", ")),
        };
        let reason = format!(
            "not a storage or sign-in log record: {found}, and none in the columns of a storage request \
             (operation, caller, object) or a sign-in (address, user, service principal)"
        );
        Some(Reject { column: None, value: None, reason })
    }

    /// Returns why a record under a header that is no log table's cannot be read, when no
    /// record read before set the family. Such a record is rejected, not the whole file, so
    /// that a file does not fail for the record that happens to come first.
    fn unreadable(&self, row: &record::Row) -> Option<Reject> {
        if self.mapper.is_some() {
            return None;
        }
        let header = self.header.as_ref()?;
        let error = new_family(header, row).err()?;
        Some(Reject { column: None, value: None, reason: format!("{error:#}") })
    }

    /// Reads the log record that a SIEM export's row carries as JSON text, and accepts it in
    /// place of the row. The record keeps the row's position and, as its raw text, the row.
    fn unwrap(&mut self, row: record::Row) -> Result<()> {
        let mut wrapped = self.wrapped.take().expect("checked by the caller");
        let text = row.get(wrapped.column).trim();
        let result = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(object)) => match take_records(object) {
                // An event hub message, as some SIEM inputs keep it: its records are read one by one.
                Ok(records) => self.unwrap_records(&mut wrapped, records, &row),
                Err(object) => wrapped.records.emit_object(object, Some(&row.raw), row.position, &mut |item| self.accept(item)),
            },
            _ => {
                let reason = format!("the `{}` column does not hold a log record as a JSON object", wrapped.name);
                self.reject(row.position, Reject { column: Some(wrapped.name.clone()), value: None, reason }, row.raw)
            }
        };
        // Headers of the records inside reset `wrapped`; the SIEM export's column stays.
        self.wrapped = Some(wrapped);
        result
    }

    /// Accepts each record of an event hub message found in a SIEM export's row.
    fn unwrap_records(&mut self, wrapped: &mut Wrapped, records: Vec<serde_json::Value>, row: &record::Row) -> Result<()> {
        for record in records {
            match record {
                serde_json::Value::Object(record) => {
                    wrapped.records.emit_object(record, Some(&row.raw), row.position, &mut |item| self.accept(item))?
                }
                other => {
                    let reason = format!("a record in the `{}` column's `records` is not a JSON object: {other}", wrapped.name);
                    self.reject(row.position, Reject { column: Some(wrapped.name.clone()), value: None, reason }, row.raw.clone())?
                }
            }
        }
        Ok(())
    }

    /// Sends the last batch. Checks a file that had a header but no rows: it must still be a
    /// table blobtrail reads, so that an unrelated file is reported instead of imported as empty.
    fn finish(&mut self) -> Result<()> {
        if let (Some(header), false) = (&self.header, self.had_rows) {
            tables::recognise(header, None)?;
        }
        // A file of another log only is reported as a whole, as a file of unknown columns is.
        match (&self.first_foreign, self.other_rows) {
            (Some(Reject { column: Some(column), reason, .. }), 0) => bail!(
                "none of the {} records is a storage or sign-in log record; the first, by its `{column}` column, is {reason}",
                self.foreign_rows
            ),
            (Some(Reject { reason, .. }), 0) => bail!("{reason}"),
            _ => {}
        }
        self.check_date_order()?;
        self.out.send()
    }

    /// Checks the day and month order of the rows read with the current mapper.
    fn check_date_order(&self) -> Result<()> {
        match &self.mapper {
            Some((_, mapper)) => mapper.check_date_order(),
            None => Ok(()),
        }
    }

    /// Returns the mapper for a row. The family is recognised from the header at the first
    /// row. A later row whose `Type` names a table of the other family gets a mapper of its
    /// own, as in an export of a `union` of storage and sign-in tables. So does a row whose
    /// `category` does, as when storage and Entra ID send diagnostics to one event hub.
    fn mapper_for(&mut self, row: &record::Row) -> Result<&Mapper> {
        let header = self.header.as_ref().context("a record came before any header")?;
        let (_, row_family) = named_family(header, row);
        let current = self.mapper.as_ref().map(|(family, _)| *family);
        let family = match (current, row_family) {
            (Some(current), Some(named)) if current != named => named,
            (Some(current), _) => current,
            (None, _) => new_family(header, row)?,
        };
        if current != Some(family) {
            self.check_date_order()?;
            let mapper = Mapper::new(header, family, &self.plan.settings, self.hint)?;
            self.mapper = Some((family, mapper));
        }
        Ok(&self.mapper.as_ref().expect("set above").1)
    }

    fn reject(&mut self, position: Position, reject: Reject, raw: String) -> Result<()> {
        if self.plan.strict {
            let column = reject.column.as_deref().map(|c| format!(" column `{c}`:")).unwrap_or_default();
            bail!(
                "{}:{column} {}; `--strict` stops at the first bad record, and this file was not imported",
                position.describe(),
                reject.reason
            );
        }
        self.out.push(Staged::Reject(position, reject, raw))
    }
}

/// Hashes and counts the bytes that pass through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
    progress: ProgressBar,
    /// The hash of the file, when the reader yields text made from it (a Parquet file's rows)
    /// rather than its bytes.
    file_hash: Option<Hashed>,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, progress: ProgressBar) -> Self {
        HashingReader { inner, hasher: Sha256::new(), size: 0, progress, file_hash: None }
    }

    /// Reads what the parser left unread, so that the hash covers the whole file.
    fn finish(mut self) -> Result<Hashed> {
        self.size += std::io::copy(&mut self.inner, &mut self.hasher)?;
        if let Some(hashed) = self.file_hash {
            return Ok(hashed);
        }
        Ok(Hashed { sha256: crate::sql::hex(&self.hasher.finalize()), size: self.size })
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.hasher.update(&buf[..count]);
        self.size += count as u64;
        self.progress.inc(count as u64);
        Ok(count)
    }
}

/// The SHA-256 of the bytes an import read, and how many they were. A file that grows or
/// shrinks while it is read has another size on disk, so the case records this one.
pub struct Hashed {
    pub sha256: String,
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::{Duration, SystemTime};

    use super::{file_change, is_system_file, short_note, HashingReader};

    #[test]
    fn hashing_reader_counts_bytes() {
        let mut reader = HashingReader::new(&b"a,b\n1,2\n"[..], indicatif::ProgressBar::hidden());
        let mut first = [0u8; 3];
        reader.read_exact(&mut first).unwrap();
        // The rest is read by `finish`; the hash is that of `sha256sum` on the same bytes.
        let hashed = reader.finish().unwrap();
        assert_eq!(hashed.size, 8);
        assert_eq!(hashed.sha256, "492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470");
    }

    #[test]
    fn file_change_sees_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        let set_time = |seconds: u64| {
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)).unwrap();
        };
        std::fs::write(&path, "a,b\n").unwrap();
        set_time(1_000);
        let before = std::fs::metadata(&path).unwrap();
        assert_eq!(file_change(&before, 4, Some(&before)), None);

        // Grown after the read, grown during the read, edited in place, deleted.
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        set_time(1_000);
        let grown = std::fs::metadata(&path).unwrap();
        assert_eq!(file_change(&before, 4, Some(&grown)).unwrap(), "4 bytes before, 4 bytes read, 8 bytes after");
        assert_eq!(file_change(&before, 8, Some(&grown)).unwrap(), "4 bytes before, 8 bytes read, 8 bytes after");
        std::fs::write(&path, "a,c\n").unwrap();
        set_time(2_000);
        let edited = std::fs::metadata(&path).unwrap();
        assert_eq!(file_change(&before, 4, Some(&edited)).unwrap(), "its modification time changed");
        assert_eq!(file_change(&before, 4, None).unwrap(), "it is gone");
    }

    #[test]
    fn short_note_keeps_first_line() {
        let error = "DuckDB's reader did not take the file: CSV Error on Line: 5\nOriginal Line: a,b,c: Error code 1";
        assert_eq!(short_note(error), "DuckDB's reader did not take the file: CSV Error on Line: 5");
    }

    #[test]
    fn system_files_are_recognised() {
        for path in ["exports/.DS_Store", "__MACOSX/exports/._SigninLogs.csv", "exports\\desktop.ini", "Thumbs.db"] {
            assert!(is_system_file(path), "{path}");
        }
        for path in ["exports/SigninLogs.csv", "exports/_log.json", "macosx/a.csv"] {
            assert!(!is_system_file(path), "{path}");
        }
    }

    #[test]
    fn short_note_drops_error_code() {
        assert_eq!(short_note("line 3 is blank: Error code 1: Unknown error code"), "line 3 is blank");
    }

    #[test]
    fn short_note_caps_length() {
        let note = short_note(&"é".repeat(1000));
        assert_eq!(note.chars().count(), 303);
        assert!(note.ends_with("..."));
    }
}
