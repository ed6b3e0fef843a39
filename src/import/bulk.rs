//! The fast path for portal CSV and JSON lines files on disk.
//!
//! DuckDB reads the file's lines on all its worker threads. Inside the same `INSERT`, a scalar
//! function of ours turns each line into a row of the case table: it splits the line with the
//! streaming path's CSV or JSON parser and normalises the values with the same mapper. So every
//! worker thread parses, normalises and stores its share of the file.
//!
//! DuckDB does not tell the function which line of the file a row came from, and the rows of
//! one statement reach it in no fixed order. Before the statement, one read of the file
//! therefore indexes every line by a 96-bit hash of its bytes, and the function looks each
//! line up to learn its line number. Identical lines are interchangeable, so they take their
//! numbers in any order. The same read computes the file's SHA-256 on another thread.
//!
//! NOTE: the fast path reads lines, so a CSV whose cells run over several lines goes to the
//! streaming reader whole. Portal exports of sign-in tables do that (pretty-printed JSON in
//! `AuthenticationDetails` and other cells); storage exports do not.
//!
//! The fast path takes a file whole or not at all. A record may not be storable as it is: a
//! rejected value, another field count than the header's, bytes that are not UTF-8, a record
//! over several lines, or a blank line. Then the statement fails or the line count disagrees,
//! so the transaction is rolled back and the streaming path reads the file again. That path
//! keeps each bad record with its line and reason, so a file reads the same either way.

use std::collections::HashMap;
use std::error::Error;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};

use anyhow::{bail, Context, Result};
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::ffi::duckdb_string_t;
use duckdb::types::DuckString;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;
use duckdb::Connection;
use indicatif::ProgressBar;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::header::{CsvHeader, Header};
use super::json_line::{Columns, LineWalker};
use super::json_reader;
use super::normalize::{Mapped, Mapper};
use super::record::{Item, Position, Row, Shape};
use super::row_batch::{struct_type, Kind, VectorRows, SIGNIN_COLUMNS, STORAGE_COLUMNS};
use super::sink::{push_signin, push_storage, Sink};
use super::tables::{self, Family, LogTable};
use super::{Hashed, ImportPlan};

/// Leading white space at which a file is left to the streaming reader, which fails a file
/// that starts with a whole read buffer (1 MiB) of it.
const LEADING_WHITE_SPACE_MAX: usize = 64 << 10;

/// The longest first line the fast path looks at: DuckDB's default maximum line size in
/// `read_csv` (2,000,000 bytes in DuckDB 2.0).
const MAX_LINE_BYTES: u64 = 2_000_000;

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The hash and tables of a file that the fast path imported, and its header row for a CSV.
pub struct BulkRead {
    pub hashed: Hashed,
    pub tables: Vec<LogTable>,
    pub csv_header: Option<CsvHeader>,
}

/// A file that the fast path may read: how its lines are laid out, and the mapper of its
/// records.
pub struct Candidate {
    layout: Layout,
    family: Family,
    mapper: Mapper,
    shape: Shape,
}

/// The layout of a file's lines, which decides how a line becomes a row's values.
enum Layout {
    /// A portal CSV: a header line, then one record per line, split as the CSV reader does.
    /// `header` is the header line.
    Csv { width: usize, header: CsvHeader },
    /// JSON lines: one row object per line. `columns` are the first line's keys, flattened.
    /// A later line with another key would change the streaming reader's header, so such a
    /// line makes the fast path give up.
    JsonLines { columns: Columns },
}

impl Layout {
    /// Lines before the first record.
    fn header_lines(&self) -> u64 {
        match self {
            Layout::Csv { .. } => 1,
            Layout::JsonLines { .. } => 0,
        }
    }
}

impl Candidate {
    pub fn shape(&self) -> Shape {
        self.shape
    }
}

/// Tells whether DuckDB would read `path` as a pattern of file names: it has wildcards or braces.
pub fn is_pattern(path: &str) -> bool {
    path.contains(['*', '?', '[', ']', '{', '}'])
}

/// Looks at the first two lines of `path` and returns the file as a candidate for the fast
/// path, or `None` when it is another shape or anything about it is unusual. `None` only means
/// that the streaming path reads the file; that path also reports what is wrong with it.
pub fn candidate(path: &Path, plan: &ImportPlan, hint: Option<LogTable>) -> Option<Candidate> {
    if is_pattern(path.to_str()?) || !path.is_absolute() {
        return None;
    }
    let mut input = BufReader::new(File::open(path).ok()?);
    let mut first = Vec::new();
    // A JSON document on one line can be gigabytes long; DuckDB would reject such a line anyway.
    (&mut input).take(MAX_LINE_BYTES).read_until(b'\n', &mut first).ok()?;
    if first.len() as u64 == MAX_LINE_BYTES && !first.ends_with(b"\n") {
        return None;
    }
    let first = first.strip_suffix(b"\n").unwrap_or(&first);
    // UTF-16 files are decoded by the streaming reader.
    if super::utf16::detect(first).is_some() {
        return None;
    }
    let first = first.strip_prefix(BOM).unwrap_or(first);
    // The streaming reader fails a file that starts with more white space than its read
    // buffer, so such a file goes to it for the same error.
    if first.iter().take_while(|b| b.is_ascii_whitespace()).count() >= LEADING_WHITE_SPACE_MAX {
        return None;
    }
    match first.iter().find(|b| !b.is_ascii_whitespace())? {
        b'{' => json_lines_candidate(first, plan, hint),
        b'[' => None,
        _ => {
            let mut second = Vec::new();
            (&mut input).take(MAX_LINE_BYTES).read_until(b'\n', &mut second).ok()?;
            csv_candidate(first, second.strip_suffix(b"\n").unwrap_or(&second), plan, hint)
        }
    }
}

fn csv_candidate(first: &[u8], second: &[u8], plan: &ImportPlan, hint: Option<LogTable>) -> Option<Candidate> {
    if first.starts_with(&[0x1f, 0x8b]) || first.starts_with(b"PK") || first.starts_with(super::avro::MAGIC) {
        return None;
    }
    if super::storage_analytics::looks_like(first) || super::is_title_line(first) {
        return None;
    }
    // The fast path splits lines on commas only.
    if super::csv_reader::sniff_delimiter(first) != b',' {
        return None;
    }
    let names = line_fields(first)?;
    let header = Header::new(names.iter().map(|name| name.trim_start_matches('\u{feff}').to_string()));
    // A SIEM export's record is read from its `_raw` column by the streaming reader.
    if super::wraps_records(&header) {
        return None;
    }
    let type_value = match header.find("type").first() {
        Some(&column) => Some(line_fields(second)?.get(column)?.clone()),
        None => None,
    };
    let family = tables::recognise(&header, type_value.as_deref()).ok()?;
    let mapper = Mapper::new(&header, family, &plan.settings, hint).ok()?;
    let text = std::str::from_utf8(first.strip_suffix(b"\r").unwrap_or(first)).ok()?.to_string();
    let layout = Layout::Csv { width: header.len(), header: CsvHeader { text, delimiter: ',' } };
    Some(Candidate { layout, family, mapper, shape: Shape::PortalCsv })
}

fn json_lines_candidate(first: &[u8], plan: &ImportPlan, hint: Option<LogTable>) -> Option<Candidate> {
    let text = std::str::from_utf8(first).ok()?;
    // The streaming reader recognises JSON lines by the first line as it is, so white space
    // that JSON does not allow around it (a no-break space) is not trimmed here either.
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    // Wrapped documents (`tables`, `records`, `value`) are other shapes.
    if ["tables", "records", "value"].iter().any(|key| object.contains_key(*key)) {
        return None;
    }
    // The streaming reader's own column tracking gives the header and values, so that a key
    // that flattening repeats is one column here too.
    let (mut header, mut values) = (None, None);
    let position = Position { record_no: 1, line: Some(1) };
    json_reader::ObjectColumns::default()
        .emit_object(object, None, position, &mut |item| {
            match item {
                Item::Header(seen) => header = Some(seen),
                Item::Row(row) => values = Some(row.values),
                Item::Broken(_) => {}
            }
            Ok(())
        })
        .ok()?;
    let (header, values) = (header?, values?);
    if super::wraps_records(&header) {
        return None;
    }
    let columns = Columns::new(header.names());
    let type_value = header.find("type").first().map(|&column| values[column].clone());
    let family = tables::recognise(&header, type_value.as_deref()).ok()?;
    let mapper = Mapper::new(&header, family, &plan.settings, hint).ok()?;
    Some(Candidate { layout: Layout::JsonLines { columns }, family, mapper, shape: Shape::JsonLines })
}

/// Splits a line into its CSV fields as text; `None` unless it is exactly one record of UTF-8.
fn line_fields(line: &[u8]) -> Option<Vec<String>> {
    let mut parser = csv_core::Reader::new();
    let (mut fields, mut ends) = (Vec::new(), Vec::new());
    let count = split_line(&mut parser, line, &mut fields, &mut ends).ok()?;
    field_texts(&fields, &ends[..count]).map(|field| field.ok().map(str::to_string)).collect()
}

/// Returns the fields that `split_line` wrote, as text, or the UTF-8 error of a field.
fn field_texts<'a>(fields: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = Result<&'a str, std::str::Utf8Error>> {
    let starts = std::iter::once(0).chain(ends.iter().copied());
    starts.zip(ends).map(|(start, &end)| std::str::from_utf8(&fields[start..end]))
}

/// Imports a candidate file through DuckDB's reader, into the sink's transaction. An error
/// means the fast path gave up; the caller rolls back and reads the file the streaming way.
pub fn read(conn: &Connection, sink: &mut Sink, path: &Path, file: Candidate, progress: &ProgressBar) -> Result<BulkRead> {
    let Candidate { layout, family, mapper, .. } = file;
    let skip = layout.header_lines();
    let csv_header = match &layout {
        Layout::Csv { header, .. } => Some(header.clone()),
        Layout::JsonLines { .. } => None,
    };
    // The hash and the index come from one read of the file, so they describe the same
    // bytes. If DuckDB then reads other bytes, its lines do not match the index and the
    // fast path gives up.
    progress.set_message("indexing lines");
    let built = LineIndex::build(path, skip);
    progress.set_message("importing");
    let (index, hashed) = built.with_context(|| format!("cannot read `{}`", path.display()))?;

    let (table, inserted) = {
        let context = Arc::new(MapContext {
            mapper,
            layout,
            source_id: sink.source_id(),
            progress: progress.clone(),
            index,
        });
        let function = format!("blobtrail_map_{}", FUNCTION_NUMBER.fetch_add(1, Ordering::Relaxed));
        let state = MapState(Arc::new(RwLock::new(Some(Arc::clone(&context)))));
        let table = match family {
            Family::Storage => {
                conn.register_scalar_function_with_state::<MapStorage>(&function, &state)?;
                "storage_events"
            }
            Family::Signin => {
                conn.register_scalar_function_with_state::<MapSignin>(&function, &state)?;
                "signin_events"
            }
        };
        // Each line is one text value because there is no quote character and the delimiter
        // is byte 1, which log exports do not contain. A line that does fails the statement.
        let sql = format!(
            "INSERT INTO {table}
             SELECT unnest({function}(line))
             FROM read_csv($1, columns = {{'line': 'VARCHAR'}}, header = false, skip = {skip},
                           auto_detect = false, delim = chr(1), quote = '', escape = '',
                           strict_mode = true)"
        );
        // The rows need not reach the table in the file's order: each carries its line number,
        // and blobtrail never reads the table in insertion order. Without that order each worker
        // thread appends whole row groups of its own, where an ordered insert copies DuckDB's
        // small batches into row groups once more (10 to 20% of a large CSV's import time).
        conn.execute_batch("SET preserve_insertion_order = false")?;
        let executed = conn.execute(&sql, [path.to_string_lossy()]);
        let reset = conn.execute_batch("RESET preserve_insertion_order");
        // After a failed statement DuckDB rejects every statement but the rollback, so the
        // setting may stay for the streaming reader. Its appender keeps the file's order anyway.
        if executed.is_ok() {
            reset?;
        }
        let inserted = executed.map_err(|err| anyhow::anyhow!(plain_reader_error(&err.to_string()))).and_then(|rows| {
            context.mapper.check_date_order()?;
            Ok(rows)
        });
        // The function stays registered until the connection closes, so it lets go of the
        // index now.
        if let Ok(mut slot) = state.0.write() {
            *slot = None;
        }
        let inserted = inserted.context("DuckDB's reader did not take the file")? as u64;
        context.index.check_all_taken(inserted)?;
        (table, inserted)
    };
    sink.add_written(inserted);

    let mut stmt = conn.prepare(&format!("SELECT DISTINCT source_table FROM {table} WHERE source_id = ?"))?;
    let names = stmt.query_map([sink.source_id()], |r| r.get::<_, String>(0))?;
    let mut found = Vec::new();
    for name in names {
        found.extend(LogTable::from_name(&name?));
    }
    found.sort();
    Ok(BulkRead { hashed, tables: found, csv_header })
}

/// Returns the message of a failed fast-path statement in plain words when DuckDB's CSV reader
/// could not cut the file into lines, or the message as it is (the mapping function's own
/// messages are plain already). Texts are those of DuckDB 2.0.
fn plain_reader_error(message: &str) -> String {
    let line = message
        .split_once("CSV Error on Line: ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .filter(|digits| !digits.is_empty());
    let at_line = |what: &str| match line {
        Some(line) => format!("line {line} {what}"),
        None => format!("a line {what}"),
    };
    if message.contains("Invalid unicode") {
        at_line("is not UTF-8")
    } else if message.contains("Expected Number of Columns: 1") {
        at_line("contains byte 0x01, which DuckDB's line reader takes for a column delimiter")
    } else if message.contains("CSV Parser state machine reached an invalid state") {
        "DuckDB's line reader cannot cut the file into lines: a carriage return does not end a line (a lone CR, or CR CR LF)"
            .to_string()
    } else {
        message.to_string()
    }
}

/// Two independent hashes of a line without its line break: 96 bits in all.
#[derive(Clone, Copy)]
struct LineHash {
    key: u64,
    check: u32,
}

/// Hashers with fixed seeds, so that the index and the mapping function agree.
struct LineHasher {
    key: ahash::RandomState,
    check: ahash::RandomState,
}

impl LineHasher {
    fn new() -> Self {
        LineHasher {
            key: ahash::RandomState::with_seeds(0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a),
            check: ahash::RandomState::with_seeds(0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19),
        }
    }

    fn hash(&self, line: &[u8]) -> LineHash {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Keeping the low 32 bits of the second hash is intended.
        LineHash { key: self.key.hash_one(line), check: self.check.hash_one(line) as u32 }
    }
}

/// A map whose keys are hashes already, so it uses them as they are.
type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// Passes a `u64` key through: hashing it again would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Reads a file once: hashes every byte with SHA-256 on a thread of its own, and calls
/// `each` with every line in order, without its line break. A last line without a line break
/// counts as a line. Returns the hash and the number of bytes read.
fn scan_file(path: &Path, mut each: impl FnMut(&[u8])) -> std::io::Result<Hashed> {
    const BLOCK: usize = 4 << 20;
    let mut file = File::open(path)?;
    let (full, blocks) = mpsc::sync_channel::<Vec<u8>>(2);
    let (empty, returned) = mpsc::channel::<Vec<u8>>();
    let hashing = std::thread::spawn(move || {
        let mut hasher = Sha256::new();
        for block in blocks {
            hasher.update(&block);
            // The reader may be gone after an error; the block is then dropped.
            let _ = empty.send(block);
        }
        crate::sql::hex(&hasher.finalize())
    });

    let mut carry = Vec::new();
    let mut size = 0u64;
    let read = (|| -> std::io::Result<()> {
        loop {
            let mut block = returned.try_recv().unwrap_or_default();
            block.resize(BLOCK, 0);
            let count = file.read(&mut block)?;
            block.truncate(count);
            size += count as u64;
            if count == 0 {
                if !carry.is_empty() {
                    each(&carry);
                }
                return Ok(());
            }
            let mut start = 0;
            while let Some(length) = memchr::memchr(b'\n', &block[start..]) {
                let line = &block[start..start + length];
                if carry.is_empty() {
                    each(line);
                } else {
                    // The line began in an earlier block.
                    carry.extend_from_slice(line);
                    each(&carry);
                    carry.clear();
                }
                start += length + 1;
            }
            carry.extend_from_slice(&block[start..]);
            full.send(block).map_err(|_| std::io::Error::other("the hashing thread stopped"))?;
        }
    })();
    drop(full);
    let sha256 = hashing.join().map_err(|_| std::io::Error::other("the hashing thread panicked"))?;
    read.map(|()| Hashed { sha256, size })
}

/// Every line after the header lines, by hash: the line number it has in the file. A line whose
/// bytes occur more than once keeps the list of its line numbers, taken one at a time.
struct LineIndex {
    hasher: LineHasher,
    /// Lines that occur once: key hash to (check hash, line number).
    single: KeyMap<(u32, u32)>,
    /// Key hashes that more than one line has: (check hash, line number) of each, not yet taken.
    shared: KeyMap<Mutex<Vec<(u32, u32)>>>,
    /// One bit per line after the header lines, set when its number is taken.
    taken: Vec<AtomicU64>,
    /// Lines before the first record.
    skip: u64,
    /// Lines after the header lines.
    lines: u64,
}

impl LineIndex {
    /// Reads the file once and returns the index of its lines and the file's SHA-256.
    fn build(path: &Path, skip: u64) -> std::io::Result<(LineIndex, Hashed)> {
        let hasher = LineHasher::new();
        let mut single: KeyMap<(u32, u32)> = KeyMap::default();
        let mut shared: KeyMap<Vec<(u32, u32)>> = KeyMap::default();
        let mut number = 0u64;
        let mut too_many = false;
        let hashed = scan_file(path, |line| {
            number += 1;
            if number <= skip {
                return;
            }
            let Ok(number) = u32::try_from(number) else {
                too_many = true;
                return;
            };
            // DuckDB's reader drops a byte order mark at the start of the file.
            let line = if number == 1 { line.strip_prefix(BOM).unwrap_or(line) } else { line };
            let hash = hasher.hash(line);
            if let Some(lines) = shared.get_mut(&hash.key) {
                lines.push((hash.check, number));
            } else if let Some(first) = single.remove(&hash.key) {
                shared.insert(hash.key, vec![first, (hash.check, number)]);
            } else {
                single.insert(hash.key, (hash.check, number));
            }
        })?;
        if too_many {
            return Err(std::io::Error::other("the file has more lines than the line index takes (4,294,967,295)"));
        }
        let lines = number.saturating_sub(skip);
        let taken = (0..lines.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
        let shared = shared.into_iter().map(|(key, lines)| (key, Mutex::new(lines))).collect();
        Ok((LineIndex { hasher, single, shared, taken, skip, lines }, hashed))
    }

    /// Returns the line number of a line read by DuckDB and marks it taken.
    fn take(&self, line: &[u8]) -> Result<u64, String> {
        let hash = self.hasher.hash(line);
        let number = if let Some(lines) = self.shared.get(&hash.key) {
            let mut lines = lines.lock().map_err(|_| "a thread failed while it held the line index")?;
            let found = lines.iter().position(|&(check, _)| check == hash.check);
            found.map(|position| lines.swap_remove(position).1)
        } else {
            self.single.get(&hash.key).filter(|(check, _)| *check == hash.check).map(|&(_, number)| number)
        };
        let number = number.map(u64::from);
        let number = number.ok_or("DuckDB read a line that the index of the file does not hold")?;
        let bit = number - self.skip - 1;
        let previous = self.taken[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        if previous & (1 << (bit % 64)) != 0 {
            return Err(format!("line {number} was read twice"));
        }
        Ok(number)
    }

    /// Fails unless DuckDB read every line after the header lines exactly once. Otherwise a
    /// record spans lines or a line is blank, and line numbers would be wrong.
    fn check_all_taken(&self, rows: u64) -> Result<()> {
        let taken: u64 = self.taken.iter().map(|word| u64::from(word.load(Ordering::Relaxed).count_ones())).sum();
        if rows != self.lines || taken != self.lines {
            bail!("DuckDB read {rows} rows from {} lines of records: a record spans lines or a line is blank", self.lines);
        }
        Ok(())
    }
}

/// Numbers the mapping functions registered in this process, so that each file gets its own.
static FUNCTION_NUMBER: AtomicU64 = AtomicU64::new(0);

/// The mapping function's state: the file's mapper, the layout of its lines and the index of
/// its lines.
struct MapContext {
    mapper: Mapper,
    layout: Layout,
    source_id: i32,
    progress: ProgressBar,
    index: LineIndex,
}

#[derive(Clone, Default)]
struct MapState(Arc<RwLock<Option<Arc<MapContext>>>>);

/// Splits one line into its CSV fields, as the streaming path's parser would, and returns
/// the number of fields. `ends` receives the end of each field in `fields`. Fails when the
/// line is not exactly one record, because a quote is left open (the record goes on over the
/// next lines) or a bare carriage return ends a record inside it.
fn split_line(parser: &mut csv_core::Reader, line: &[u8], fields: &mut Vec<u8>, ends: &mut Vec<usize>) -> Result<usize, String> {
    use csv_core::ReadRecordResult;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        // The parser skips a blank line; the streaming path counts it for line numbers.
        return Err("the line is blank".into());
    }
    if line.starts_with(BOM) {
        // The parser would drop it, as at the start of a file; the streaming path keeps it.
        return Err("the line starts with a byte order mark".into());
    }
    parser.reset();
    // Fields hold a subset of the line's bytes.
    if fields.len() < line.len() + 1 {
        fields.resize(line.len() + 1, 0);
    }
    if ends.len() < 64 {
        ends.resize(64, 0);
    }
    let (mut read, mut written, mut ended) = (0, 0, 0);
    loop {
        // The line, then its line break: the record must end exactly there.
        let input: &[u8] = if read < line.len() { &line[read..] } else { b"\n" };
        let (result, bytes_in, bytes_out, ends_out) =
            parser.read_record(input, &mut fields[written..], &mut ends[ended..]);
        read += bytes_in;
        written += bytes_out;
        ended += ends_out;
        match result {
            ReadRecordResult::InputEmpty if read > line.len() => {
                return Err("the line ends inside a quoted field".into());
            }
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => fields.resize(fields.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record if read == line.len() + 1 => return Ok(ended),
            ReadRecordResult::Record | ReadRecordResult::End => {
                return Err("the line holds more than one record".into());
            }
        }
    }
}

/// Turns lines into a row's values and raw text, as the streaming reader of the file's shape
/// does, reusing its buffers from line to line.
struct LineReader<'c> {
    layout: &'c Layout,
    parser: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
    walker: LineWalker,
}

impl<'c> LineReader<'c> {
    fn new(layout: &'c Layout) -> Self {
        LineReader {
            layout,
            parser: csv_core::Reader::new(),
            fields: Vec::new(),
            ends: Vec::new(),
            walker: LineWalker::default(),
        }
    }

    /// Reads a line into `row`'s values and raw text, reusing the row's buffers.
    fn read(&mut self, line: &str, row: &mut Row) -> Result<(), String> {
        match self.layout {
            Layout::Csv { width, .. } => {
                let count = split_line(&mut self.parser, line.as_bytes(), &mut self.fields, &mut self.ends)?;
                if count != *width {
                    return Err(format!("expected {width} fields, found {count}"));
                }
                row.values.resize_with(count, String::new);
                // The line is valid UTF-8 and fields end at ASCII bytes, so each field is too.
                for (value, field) in row.values.iter_mut().zip(field_texts(&self.fields, &self.ends[..count])) {
                    value.clear();
                    value.push_str(field.map_err(|err| err.to_string())?);
                }
                // As the streaming reader does, `raw` is the line as written.
                row.raw.clear();
                row.raw.push_str(line.strip_suffix('\r').unwrap_or(line));
            }
            Layout::JsonLines { columns } => {
                let text = json_reader::line_text(line);
                row.values.resize_with(columns.len(), String::new);
                self.walker.walk(text, columns, &mut row.values)?;
                // As the streaming reader does, `raw` is the line as written.
                row.raw.clear();
                row.raw.push_str(json_reader::line_text(line));
            }
        }
        Ok(())
    }
}

/// Maps one chunk of lines to rows of the family's table, written into `output`, a struct
/// vector with the table's columns. Any line that the streaming path would read otherwise,
/// reject, or stop the file at fails the chunk and so the statement.
fn map_chunk(
    state: &MapState,
    input: &DataChunkHandle,
    output: &mut dyn WritableVector,
    columns: &[(&str, Kind)],
) -> Result<(), Box<dyn Error>> {
    let slot = state.0.read().map_err(|_| "a thread failed while it held the mapping function's state")?;
    let context = slot.as_ref().ok_or("the mapping function has no file to map")?;
    let count = input.len();
    let lines = input.flat_vector(0);
    // SAFETY: the function's one parameter is VARCHAR, and DuckDB flattens the input chunk
    // before it calls a function of the C API, so the vector contains `count` strings.
    let strings = unsafe { lines.as_slice_with_len::<duckdb_string_t>(count) };
    let output = output.struct_vector();
    let mut rows = VectorRows::new(&output, columns, count);
    let mut reader = LineReader::new(&context.layout);
    let mut bytes = 0u64;
    let mut row = Row { position: Position { record_no: 0, line: None }, values: Vec::new(), raw: String::new() };
    for (index, string) in strings.iter().enumerate() {
        let mut string = *string;
        let line = if lines.row_is_null(index as u64) { &b""[..] } else { DuckString::new(&mut string).as_bytes() };
        bytes += line.len() as u64 + 1;
        let number = context.index.take(line)?;
        let line = std::str::from_utf8(line).map_err(|err| format!("line {number}: {err}"))?;
        reader.read(line, &mut row).map_err(|reason| format!("line {number}: {reason}"))?;
        let position = Position { record_no: number - context.layout.header_lines(), line: Some(number) };
        row.position = position;
        match context.mapper.map(&row).map_err(|err| format!("line {number}: {err:#}"))? {
            Mapped::Storage(out) => push_storage(&mut rows, context.source_id, position, out, &row.raw),
            Mapped::Signin(out) => push_signin(&mut rows, context.source_id, position, out, &row.raw),
            Mapped::Rejected(reject) => return Err(format!("line {number} needs the streaming reader: {}", reject.reason).into()),
        }
    }
    context.progress.inc(bytes);
    Ok(())
}

fn signature(columns: &[(&str, Kind)]) -> Vec<ScalarFunctionSignature> {
    vec![ScalarFunctionSignature::exact(vec![LogicalTypeHandle::from(LogicalTypeId::Varchar)], struct_type(columns))]
}

/// The mapping function for storage records.
struct MapStorage;

impl VScalar for MapStorage {
    type State = MapState;

    fn invoke(state: &MapState, input: &mut DataChunkHandle, output: &mut dyn WritableVector) -> Result<(), Box<dyn Error>> {
        map_chunk(state, input, output, STORAGE_COLUMNS)
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        signature(STORAGE_COLUMNS)
    }
}

/// The mapping function for sign-in records.
struct MapSignin;

impl VScalar for MapSignin {
    type State = MapState;

    fn invoke(state: &MapState, input: &mut DataChunkHandle, output: &mut dyn WritableVector) -> Result<(), Box<dyn Error>> {
        map_chunk(state, input, output, SIGNIN_COLUMNS)
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        signature(SIGNIN_COLUMNS)
    }
}

#[cfg(test)]
mod tests {
    use super::plain_reader_error;

    #[test]
    fn reader_errors_read_plainly() {
        // Messages of DuckDB 2.0's read_csv with this module's options, from the Python package.
        let not_utf8 = "Invalid Input Error: CSV Error on Line: 3\nOriginal Line: b??\nInvalid unicode (byte sequence mismatch) detected. This file is not utf-8 encoded.";
        assert_eq!(plain_reader_error(not_utf8), "line 3 is not UTF-8");
        let delimiter = "Invalid Input Error: CSV Error on Line: 2\nOriginal Line: a\u{1}b\nExpected Number of Columns: 1 Found: 2";
        assert_eq!(
            plain_reader_error(delimiter),
            "line 2 contains byte 0x01, which DuckDB's line reader takes for a column delimiter"
        );
        let carriage_return = "Invalid Input Error: The CSV Parser state machine reached an invalid state.\nThis can happen when is not possible to parse your CSV File with the given options";
        assert!(plain_reader_error(carriage_return).ends_with("a carriage return does not end a line (a lone CR, or CR CR LF)"));
        let own = "Invalid Input Error: line 9 needs the streaming reader: the time does not parse";
        assert_eq!(plain_reader_error(own), own);
    }
}
