//! Importing log exports into a case.
//!
//! Each file is hashed while it is read, its shape is recognised from its first bytes, its
//! records are read by the reader for that shape, recognised as storage or sign-in records by
//! their columns, normalised, and written by the sink inside one transaction per file. A file
//! that fails leaves the case as it was; records that cannot be read are kept in `rejects`.

pub mod csv_reader;
pub mod header;
pub mod json_reader;
pub mod normalize;
pub mod record;
pub mod sink;
pub mod tables;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use duckdb::Connection;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};

use header::Header;
use normalize::{Mapped, Mapper, Reject, Settings};
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
}

/// What happened to one file.
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
    pub shape: Option<Shape>,
    pub tables: Vec<LogTable>,
    pub outcome: Outcome,
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
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else {
            found.push(path);
        }
    }
    Ok(())
}

/// Imports each file in its own transaction and reports on every one, failed ones included.
pub fn import_files(conn: &Connection, files: &[PathBuf], plan: &ImportPlan, progress: &ProgressBar) -> Vec<FileReport> {
    files
        .iter()
        .map(|path| {
            let mut report = FileReport {
                path: path.clone(),
                sha256: None,
                size: 0,
                shape: None,
                tables: Vec::new(),
                outcome: Outcome::Failed(String::new()),
            };
            if let Err(err) = import_file(conn, path, plan, progress, &mut report) {
                report.outcome = Outcome::Failed(format!("{err:#}"));
            }
            report
        })
        .collect()
}

fn import_file(
    conn: &Connection,
    path: &Path,
    plan: &ImportPlan,
    progress: &ProgressBar,
    report: &mut FileReport,
) -> Result<()> {
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if !metadata.is_file() {
        bail!("`{}` is not a regular file", path.display());
    }
    report.size = metadata.len();
    let display_path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());

    // A file of a size already seen is hashed first, so a repeated import costs one read.
    if size_seen(conn, report.size)? {
        let sha = hash_file(path)?;
        if let Some(earlier_path) = earlier_import(conn, &sha)? {
            progress.inc(report.size);
            report.sha256 = Some(sha);
            report.outcome = Outcome::Skipped { earlier_path };
            return Ok(());
        }
    }

    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, HashingReader::new(file, progress.clone()));
    let mut sink = Sink::begin(conn)?;
    let mut state = FileState::new(&mut sink, plan);
    let shape = read_records(&mut input, &mut |item| state.accept(item))
        .with_context(|| format!("`{}`", path.display()))?;
    let tables = std::mem::take(&mut state.tables);
    drop(state);
    report.shape = Some(shape);
    report.tables = tables.into_iter().collect();

    let sha = input.into_inner().finish()?;
    report.sha256 = Some(sha.clone());
    if let Some(earlier_path) = earlier_import(conn, &sha)? {
        drop(sink);
        report.outcome = Outcome::Skipped { earlier_path };
        return Ok(());
    }
    let table_names: Vec<&str> = report.tables.iter().map(|t| t.name()).collect();
    let counts = sink.finish(&SourceRecord {
        path: &display_path.to_string_lossy(),
        sha256: &sha,
        size_bytes: report.size,
        shape: shape.as_str(),
        tables: &table_names.join(","),
        examiner: plan.examiner.as_deref(),
        options: &plan.options_text,
    })?;
    report.outcome = Outcome::Imported(counts);
    Ok(())
}

fn size_seen(conn: &Connection, size: u64) -> Result<bool> {
    let count: i64 =
        conn.query_row("SELECT count(*) FROM sources WHERE size_bytes = ?", [size as i64], |r| r.get(0))?;
    Ok(count > 0)
}

fn earlier_import(conn: &Connection, sha: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare("SELECT path FROM sources WHERE sha256 = ?")?;
    let mut rows = stmt.query([sha])?;
    Ok(match rows.next()? {
        Some(row) => Some(row.get(0)?),
        None => None,
    })
}

/// Hashes a whole file with SHA-256.
pub fn hash_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(crate::sql::hex(&hasher.finalize()))
}

/// Recognises the shape from the first bytes and runs the matching reader.
fn read_records(input: &mut BufReader<HashingReader<File>>, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<Shape> {
    skip_bom(input)?;
    let first = first_significant_byte(input)?;
    match first {
        None => bail!("the file is empty"),
        Some(b'{') => {
            let mut first_line = Vec::new();
            input.read_until(b'\n', &mut first_line)?;
            match serde_json::from_slice::<serde_json::Value>(&first_line) {
                Ok(serde_json::Value::Object(object)) if !object.contains_key("tables") => {
                    json_reader::read_lines(Cursor::new(first_line).chain(input), emit)?;
                    Ok(Shape::JsonLines)
                }
                _ => {
                    let mut whole = first_line;
                    input.read_to_end(&mut whole)?;
                    let document = parse_document(&whole)?;
                    if document.get("tables").is_none() {
                        bail!("a JSON object without a `tables` array: not a Log Analytics query API response, JSON array or JSON lines of rows");
                    }
                    json_reader::read_query_api(document, emit)?;
                    Ok(Shape::QueryApiJson)
                }
            }
        }
        Some(b'[') => {
            let mut whole = Vec::new();
            input.read_to_end(&mut whole)?;
            json_reader::read_array(parse_document(&whole)?, emit)?;
            Ok(Shape::JsonArray)
        }
        Some(_) => {
            csv_reader::read(input, emit)?;
            Ok(Shape::PortalCsv)
        }
    }
}

fn parse_document(bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|err| {
        let hint = if err.is_eof() { "; the file ends early, as a truncated download or copy does" } else { "" };
        anyhow!("invalid JSON at line {} column {}: {err}{hint}", err.line(), err.column())
    })
}

fn skip_bom(input: &mut impl BufRead) -> Result<()> {
    if input.fill_buf()?.starts_with(b"\xef\xbb\xbf") {
        input.consume(3);
    }
    Ok(())
}

/// Returns the first byte that is not white space, without consuming it.
fn first_significant_byte(input: &mut impl BufRead) -> Result<Option<u8>> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(None);
        }
        if let Some(position) = buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            return Ok(Some(buffer[position]));
        }
        let length = buffer.len();
        input.consume(length);
    }
}

/// Routes reader items through recognition and normalisation into the sink.
struct FileState<'s, 'c> {
    sink: &'s mut Sink<'c>,
    plan: &'s ImportPlan,
    header: Option<Header>,
    mapper: Option<Mapper>,
    tables: BTreeSet<LogTable>,
}

impl<'s, 'c> FileState<'s, 'c> {
    fn new(sink: &'s mut Sink<'c>, plan: &'s ImportPlan) -> Self {
        FileState { sink, plan, header: None, mapper: None, tables: BTreeSet::new() }
    }

    fn accept(&mut self, item: Item) -> Result<()> {
        match item {
            Item::Header(header) => {
                self.header = Some(header);
                self.mapper = None;
                Ok(())
            }
            Item::Row(row) => {
                let position = row.position;
                let mapped = self.mapper_for(&row)?.map(&row).with_context(|| position.describe())?;
                match mapped {
                    Mapped::Storage(out) => {
                        self.tables.insert(out.table);
                        self.sink.storage(position, out, row.raw)
                    }
                    Mapped::Signin(out) => {
                        self.tables.insert(out.table);
                        self.sink.signin(position, out, row.raw)
                    }
                    Mapped::Rejected(reject) => self.reject(position, reject, row.raw),
                }
            }
            Item::Broken(broken) => {
                let reject = Reject { column: None, value: None, reason: broken.reason };
                self.reject(broken.position, reject, broken.raw)
            }
        }
    }

    fn mapper_for(&mut self, row: &record::Row) -> Result<&Mapper> {
        if self.mapper.is_none() {
            let header = self.header.as_ref().context("a record came before any header")?;
            let type_value = header.find("type").first().map(|&column| row.get(column));
            let family: Family = tables::recognise(header, type_value)?;
            self.mapper = Some(Mapper::new(header, family, &self.plan.settings)?);
        }
        Ok(self.mapper.as_ref().expect("set above"))
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
        self.sink.reject(position, reject, raw)
    }
}

/// Hashes and counts the bytes that pass through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    progress: ProgressBar,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, progress: ProgressBar) -> Self {
        HashingReader { inner, hasher: Sha256::new(), progress }
    }

    /// Reads what the parser left unread, so that the hash covers the whole file.
    fn finish(mut self) -> Result<String> {
        std::io::copy(&mut self.inner, &mut self.hasher)?;
        Ok(crate::sql::hex(&self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.hasher.update(&buf[..count]);
        self.progress.inc(count as u64);
        Ok(count)
    }
}
