//! Reading stored findings back, in the shape `findings --format json` prints.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use anyhow::{bail, Context, Result};
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{params, Connection};
use serde::Serialize;

use crate::parse::time::format_iso;
use crate::annotations::{self, State};
use crate::exclusions::{self, Rule};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Candidate {
    pub rank: i64,
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    pub delta_seconds: f64,
    pub signin_count: i64,
    pub account: Option<String>,
    pub user_id: Option<String>,
    pub signin_time: String,
    pub ip: String,
    pub user_agent: Option<String>,
    pub source_table: String,
    pub result_type: Option<String>,
    pub app_display_name: Option<String>,
    pub source_file: String,
    pub source_record: i64,
    pub source_line: Option<i64>,
}

impl Candidate {
    /// Returns the result of a sign-in that failed: its `ResultType` when that is not `0`. A
    /// sign-in without a result is taken as successful, as the hunts take it. Only a sentinel
    /// hunt keeps failed sign-ins as candidates, as the reference query does.
    pub fn failure(&self) -> Option<&str> {
        self.result_type.as_deref().filter(|result| result.trim() != "0")
    }

    /// Returns the candidate's account as outputs name it, marked when its sign-in failed.
    pub fn label(&self) -> String {
        let account = self.account.as_deref().unwrap_or("(no account)");
        match self.failure() {
            Some(result) => format!("{account} (failed sign-in, result {result})"),
            None => account.to_string(),
        }
    }
}

/// Returns a finding's status as every output writes it: `open` until annotated.
pub fn status_or_open(status: Option<&str>) -> &str {
    status.unwrap_or("open")
}

/// Writes a finding's status with `status_or_open`.
fn serialize_status<S: serde::Serializer>(status: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(status_or_open(status.as_deref()))
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Finding {
    pub finding_id: String,
    pub hunt_id: i64,
    pub mode: String,
    pub upload_time: String,
    pub upload_kind: String,
    pub part_count: i64,
    pub bytes: Option<i64>,
    pub first_time: String,
    pub confidence: Option<String>,
    pub attributed_account: Option<String>,
    pub reason: Option<String>,
    pub operation: Option<String>,
    pub status_text: Option<String>,
    pub storage_account: Option<String>,
    pub object_path: Option<String>,
    pub file_name: Option<String>,
    pub caller_ip: Option<String>,
    pub caller_ip_raw: Option<String>,
    pub address_problem: Option<String>,
    pub upload_user_agent: Option<String>,
    pub authentication_type: Option<String>,
    pub requester_upn: Option<String>,
    pub requester_object_id: Option<String>,
    pub requester_app_id: Option<String>,
    pub source_table: String,
    pub source_file: String,
    pub source_record: i64,
    pub source_line: Option<i64>,
    pub window_start: String,
    pub window_end: String,
    pub candidate_count: i64,
    pub candidates: Vec<Candidate>,
    /// The examiner's current status; None until annotated, written as `open`.
    #[serde(serialize_with = "serialize_status")]
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub notes: Vec<String>,
    /// IDs of the enabled exclusion rules that match this finding.
    pub excluded_by: Vec<i64>,
}

/// Returns the error for a finding ID that no hunt has, naming up to three stored IDs that
/// contain what was typed (with or without its `F-`), so that a cut or mistyped ID finds its
/// finding.
pub fn not_found(conn: &Connection, finding_id: &str) -> anyhow::Error {
    let typed = finding_id.trim();
    let core = typed.get(..2).filter(|p| p.eq_ignore_ascii_case("F-")).map_or(typed, |_| &typed[2..]);
    let mut similar: Vec<String> = Vec::new();
    if core.len() >= 4 {
        if let Ok(mut stmt) = conn.prepare(
            "SELECT DISTINCT finding_id FROM findings WHERE contains(lower(finding_id), lower(?)) ORDER BY finding_id LIMIT 4",
        ) {
            if let Ok(rows) = stmt.query_map([core], |r| r.get::<_, String>(0)) {
                similar = rows.flatten().collect();
            }
        }
    }
    let hint = match similar.len() {
        0 => "list them with `blobtrail findings`".to_string(),
        1..=3 => format!("did you mean {}?", similar.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(" or ")),
        _ => format!("several contain `{}`; give more of the ID", crate::output::terminal_safe(core)),
    };
    anyhow::anyhow!("finding `{}` not found in any hunt; {hint}", crate::output::terminal_safe(typed))
}

/// Returns the latest finished hunt, or fails with what to run first.
pub fn latest_hunt(conn: &Connection) -> Result<i64> {
    let hunt: Option<i64> =
        conn.query_row("SELECT max(hunt_id) FROM hunts WHERE finished_at IS NOT NULL", [], |r| r.get(0))?;
    match hunt {
        Some(id) => Ok(id),
        None => bail!("the case has no hunt yet; run `blobtrail hunt` first"),
    }
}

/// Loads every finding of a hunt with its candidates, ordered by upload time.
pub fn load(conn: &Connection, hunt_id: i64) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for_each(conn, hunt_id, |finding| {
        findings.push(finding);
        Ok(())
    })?;
    Ok(findings)
}

/// Passes every finding of a hunt, with its candidates, annotations and matching exclusion
/// rules, to `visit` in upload-time order, one at a time, so that a caller that writes each
/// finding out holds only one in memory.
///
/// Rows are read as Arrow batches: at hundreds of thousands of findings, reading them value by
/// value through the row interface took several times longer than the query itself. The
/// candidates are read first, in no order, and indexed by finding: sorting them in the
/// findings' order took DuckDB three times as long as reading them.
pub fn for_each(conn: &Connection, hunt_id: i64, visit: impl FnMut(Finding) -> Result<()>) -> Result<()> {
    for_each_of(conn, hunt_id, None, visit)
}

/// Passes the findings of a hunt to `visit` as `for_each` does, but only those whose ID is in
/// `only`, when given: the stored rows of the others are not read.
pub fn for_each_of(
    conn: &Connection,
    hunt_id: i64,
    only: Option<&[String]>,
    mut visit: impl FnMut(Finding) -> Result<()>,
) -> Result<()> {
    let reader = Reader::open(conn, hunt_id, only)?;
    for batch in reader.query(conn)? {
        for row in 0..batch.num_rows() {
            visit(reader.build(&batch, row)?)?;
        }
    }
    Ok(())
}

/// Writes the findings of a hunt as `for_each_of` reads them, on two threads. `render` appends
/// one finding's output (bytes, rows) and returns whether it wrote any. `write` gets the output
/// of a run of findings, in upload-time order, with how many findings wrote some. Building and
/// rendering the findings costs more than the queries, so splitting that work nearly halves
/// the time on two cores.
///
/// The calling thread fetches the findings query's batches from DuckDB while the two threads
/// render the batches fetched before, so handing the result over to Arrow overlaps with the
/// rendering instead of coming first.
pub fn render_of<T: Send>(
    conn: &Connection,
    hunt_id: i64,
    only: Option<&[String]>,
    render: impl Fn(&Finding, &mut Vec<T>) -> Result<bool> + Sync,
    mut write: impl FnMut(Vec<T>, usize) -> Result<()>,
) -> Result<()> {
    /// Batches fetched or rendered but not yet written, so that memory stays bounded.
    const AHEAD: usize = 8;
    // The findings stream on a connection of their own, so that the caller's connection stays
    // free for the reader's queries and for `write` (an export appends to a table on it).
    let candidate_conn = conn.try_clone()?;
    let findings_conn = conn.try_clone()?;
    let mode = Reader::mode(conn, hunt_id)?;
    let mut stmt = Reader::prepare(&findings_conn, only)?;
    let shared = Mutex::new(Progress::<T> {
        fetched: VecDeque::new(),
        fetched_count: 0,
        all_fetched: false,
        rendered: BTreeMap::new(),
        stopped: false,
    });
    let changed = Condvar::new();
    let output_size = AtomicUsize::new(0);
    let lock = || shared.lock().expect("no thread panics while it holds the lock");
    std::thread::scope(|scope| {
        // DuckDB hands a result over to Arrow on the thread that fetches it, so the candidates
        // are read on a second connection while this thread fetches the findings.
        let candidates = scope.spawn(move || CandidateIndex::load(&candidate_conn, hunt_id, only));
        let mut stream = stmt.stream_arrow(params![hunt_id])?;
        // Fetches the next batch unless the writer is too far behind; returns whether it did.
        let mut fetch = |written: usize| -> Result<bool> {
            let progress = lock();
            if progress.all_fetched || progress.fetched_count >= written + AHEAD {
                return Ok(false);
            }
            drop(progress);
            let batch = stream.next().transpose()?;
            let mut progress = lock();
            match batch {
                Some(batch) => {
                    let number = progress.fetched_count;
                    progress.fetched.push_back((number, batch));
                    progress.fetched_count += 1;
                }
                None => progress.all_fetched = true,
            }
            drop(progress);
            changed.notify_all();
            Ok(true)
        };
        // The first fetch runs the query (its sort) while the candidates are read.
        fetch(0)?;
        let candidates = candidates.join().map_err(|_| anyhow::anyhow!("the thread that reads candidates panicked"))??;
        let reader = Reader::open_with(conn, hunt_id, mode, only, candidates)?;
        let work = || loop {
            let mut progress = lock();
            let (number, batch) = loop {
                if progress.stopped {
                    return;
                }
                match progress.fetched.pop_front() {
                    Some(next) => break next,
                    None if progress.all_fetched => return,
                    None => progress = changed.wait(progress).expect("no thread panics while it holds the lock"),
                }
            };
            drop(progress);
            // A panic must still deliver a result, or the writer would wait for it for ever.
            let rendered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                // Sized like the run before, so that a run of output is not copied as it grows.
                let mut output = Vec::with_capacity(output_size.load(Ordering::Relaxed));
                let mut count = 0;
                for row in 0..batch.num_rows() {
                    count += usize::from(render(&reader.build(&batch, row)?, &mut output)?);
                }
                output_size.store(output.len() + output.len() / 8, Ordering::Relaxed);
                Ok((output, count))
            }))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread that renders findings panicked; please report this as a bug")));
            lock().rendered.insert(number, rendered);
            changed.notify_all();
        };
        // The rendering threads run in a scope of their own, so that they can borrow the reader.
        std::thread::scope(|workers| {
            workers.spawn(work);
            workers.spawn(work);
            let result = (|| -> Result<()> {
                let mut written = 0;
                loop {
                    let mut progress = lock();
                    if let Some(rendered) = progress.rendered.remove(&written) {
                        drop(progress);
                        let (output, count) = rendered?;
                        write(output, count)?;
                        written += 1;
                        continue;
                    }
                    if progress.all_fetched && written == progress.fetched_count {
                        return Ok(());
                    }
                    drop(progress);
                    if !fetch(written)? {
                        let progress = lock();
                        if !progress.rendered.contains_key(&written) {
                            drop(changed.wait(progress).expect("no thread panics while it holds the lock"));
                        }
                    }
                }
            })();
            if result.is_err() {
                lock().stopped = true;
                changed.notify_all();
            }
            result
        })
    })
}

/// The state `render_of` shares between its threads: batches fetched and not yet rendered,
/// how many were fetched and whether the query has no more, batches rendered and not yet
/// written, and whether the writer gave up.
struct Progress<T> {
    fetched: VecDeque<(usize, RecordBatch)>,
    fetched_count: usize,
    all_fetched: bool,
    rendered: BTreeMap<usize, Result<(Vec<T>, usize)>>,
    stopped: bool,
}

/// The annotations, enabled rules and candidates that turn rows of a hunt's findings query
/// into findings.
struct Reader<'o> {
    hunt_id: i64,
    mode: String,
    only: Option<&'o [String]>,
    states: HashMap<String, State>,
    rules: Vec<Rule>,
    candidates: CandidateIndex,
}

impl<'o> Reader<'o> {
    fn open(conn: &Connection, hunt_id: i64, only: Option<&'o [String]>) -> Result<Self> {
        let candidates = CandidateIndex::load(conn, hunt_id, only)?;
        Self::open_with(conn, hunt_id, Self::mode(conn, hunt_id)?, only, candidates)
    }

    fn open_with(
        conn: &Connection,
        hunt_id: i64,
        mode: String,
        only: Option<&'o [String]>,
        candidates: CandidateIndex,
    ) -> Result<Self> {
        Ok(Reader {
            hunt_id,
            mode,
            only,
            states: annotations::load_states(conn)?,
            rules: exclusions::load_enabled(conn)?,
            candidates,
        })
    }

    fn mode(conn: &Connection, hunt_id: i64) -> Result<String> {
        let mode: Option<String> =
            conn.query_row("SELECT max(mode) FROM hunts WHERE hunt_id = ?", [hunt_id], |r| r.get(0))?;
        mode.with_context(|| format!("hunt {hunt_id} not found; `blobtrail hunts` lists the hunts of the case"))
    }

    /// Runs the findings query; `build` reads its rows.
    fn query(&self, conn: &Connection) -> Result<Vec<RecordBatch>> {
        let mut stmt = Self::prepare(conn, self.only)?;
        Ok(stmt.stream_arrow(params![self.hunt_id])?.collect::<duckdb::Result<_>>()?)
    }

    /// Prepares the findings query, whose one parameter is the hunt ID.
    fn prepare<'c>(conn: &'c Connection, only: Option<&[String]>) -> Result<duckdb::Statement<'c>> {
        Ok(conn.prepare(&format!(
            "SELECT f.finding_id, epoch_us(f.upload_time), f.operation, f.status_text, f.storage_account,
                    f.object_path, f.file_name, f.caller_ip, f.caller_ip_raw, f.address_problem,
                    f.upload_user_agent, f.authentication_type, f.requester_upn, f.source_table,
                    s.path, f.record_no, f.line, epoch_us(f.window_start), epoch_us(f.window_end),
                    f.candidate_count, f.upload_kind, f.part_count, f.bytes, epoch_us(f.first_time),
                    f.confidence, f.attributed_account, f.reason, f.requester_object_id,
                    f.requester_app_id
             FROM findings f JOIN sources s USING (source_id)
             WHERE f.hunt_id = ? {narrow}
             ORDER BY f.upload_time, f.finding_id",
            narrow = id_filter("f.finding_id", only),
        ))?)
    }

    /// Builds the finding in one row of the findings query, with its candidates, the
    /// examiner's annotations and the enabled exclusion rules that match.
    fn build(&self, batch: &RecordBatch, row: usize) -> Result<Finding> {
        let b = Columns(batch);
        let finding_id = b.required_text(0, row)?;
        let state = self.states.get(&finding_id).cloned().unwrap_or_default();
        let mut finding = Finding {
            candidates: self.candidates.get(&finding_id)?,
            finding_id,
            hunt_id: self.hunt_id,
            mode: self.mode.clone(),
            upload_time: format_iso(b.required_int(1, row)?),
            upload_kind: b.required_text(20, row)?,
            part_count: b.required_int(21, row)?,
            bytes: b.int(22, row)?,
            first_time: format_iso(b.required_int(23, row)?),
            confidence: b.text(24, row)?,
            attributed_account: b.text(25, row)?,
            reason: b.text(26, row)?,
            operation: b.text(2, row)?,
            status_text: b.text(3, row)?,
            storage_account: b.text(4, row)?,
            object_path: b.text(5, row)?,
            file_name: b.text(6, row)?,
            caller_ip: b.text(7, row)?,
            caller_ip_raw: b.text(8, row)?,
            address_problem: b.text(9, row)?,
            upload_user_agent: b.text(10, row)?,
            authentication_type: b.text(11, row)?,
            requester_upn: b.text(12, row)?,
            requester_object_id: b.text(27, row)?,
            requester_app_id: b.text(28, row)?,
            source_table: b.required_text(13, row)?,
            source_file: b.required_text(14, row)?,
            source_record: b.required_int(15, row)?,
            source_line: b.int(16, row)?,
            window_start: format_iso(b.required_int(17, row)?),
            window_end: format_iso(b.required_int(18, row)?),
            candidate_count: b.required_int(19, row)?,
            status: state.status,
            tags: state.tags,
            notes: state.notes,
            excluded_by: Vec::new(),
        };
        finding.excluded_by =
            self.rules.iter().filter(|rule| rule.conditions.matches(&finding)).map(|rule| rule.rule_id).collect();
        Ok(finding)
    }
}

/// Returns an `AND column IN (...)` condition for the IDs in `only`, or nothing without it.
fn id_filter(column: &str, only: Option<&[String]>) -> String {
    match only {
        None => String::new(),
        Some([]) => "AND false".to_string(),
        Some(ids) => {
            let quoted: Vec<String> = ids.iter().map(|id| crate::sql::quote_literal(id)).collect();
            format!("AND {column} IN ({})", quoted.join(", "))
        }
    }
}

/// The candidate rows of a hunt as DuckDB returned them, with where each finding's rows are.
struct CandidateIndex {
    batches: Vec<RecordBatch>,
    /// Finding ID to (rank, batch, row) of each of its candidates.
    rows: HashMap<String, Vec<(i64, u32, u32)>, ahash::RandomState>,
}

impl CandidateIndex {
    fn load(conn: &Connection, hunt_id: i64, only: Option<&[String]>) -> Result<Self> {
        let mut stmt = conn.prepare(&format!(
            "SELECT c.finding_id, c.rank, c.account, c.user_id, epoch_us(c.signin_time), c.ip,
                    c.user_agent, c.source_table, c.result_type, c.app_display_name, s.path,
                    c.record_no, c.line, c.score, c.reasons, c.delta_seconds, c.signin_count
             FROM finding_candidates c JOIN sources s ON s.source_id = c.source_id
             WHERE c.hunt_id = ? {narrow}",
            narrow = id_filter("c.finding_id", only),
        ))?;
        let batches: Vec<RecordBatch> = stmt.stream_arrow(params![hunt_id])?.collect::<duckdb::Result<_>>()?;
        let mut rows: HashMap<String, Vec<(i64, u32, u32)>, ahash::RandomState> = HashMap::default();
        for (number, batch) in batches.iter().enumerate() {
            let b = Columns(batch);
            for row in 0..batch.num_rows() {
                let place = (b.required_int(1, row)?, number as u32, row as u32);
                rows.entry(b.required_text(0, row)?).or_default().push(place);
            }
        }
        for places in rows.values_mut() {
            places.sort_unstable();
        }
        Ok(CandidateIndex { batches, rows })
    }

    /// Builds the candidates of one finding, by rank.
    fn get(&self, finding_id: &str) -> Result<Vec<Candidate>> {
        let Some(places) = self.rows.get(finding_id) else { return Ok(Vec::new()) };
        places.iter().map(|&(_, batch, row)| candidate(&Columns(&self.batches[batch as usize]), row as usize)).collect()
    }
}

/// Builds one candidate from a row of the candidates query in `for_each`.
fn candidate(b: &Columns, row: usize) -> Result<Candidate> {
    let reasons = b.text(14, row)?;
    Ok(Candidate {
        rank: b.required_int(1, row)?,
        score: b.float(13, row)?,
        reasons: reasons.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default(),
        delta_seconds: b.float(15, row)?.context("a candidate has no delta_seconds")?,
        signin_count: b.required_int(16, row)?,
        account: b.text(2, row)?,
        user_id: b.text(3, row)?,
        signin_time: format_iso(b.required_int(4, row)?),
        ip: b.required_text(5, row)?,
        user_agent: b.text(6, row)?,
        source_table: b.required_text(7, row)?,
        result_type: b.text(8, row)?,
        app_display_name: b.text(9, row)?,
        source_file: b.required_text(10, row)?,
        source_record: b.required_int(11, row)?,
        source_line: b.int(12, row)?,
    })
}

/// Reads the values of an Arrow batch from DuckDB by column position and row.
struct Columns<'a>(&'a RecordBatch);

impl Columns<'_> {
    fn column(&self, column: usize, row: usize) -> Option<&ArrayRef> {
        let array = self.0.column(column);
        array.is_valid(row).then_some(array)
    }

    fn text(&self, column: usize, row: usize) -> Result<Option<String>> {
        let Some(array) = self.column(column, row) else { return Ok(None) };
        let value = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().value(row),
            DataType::LargeUtf8 => array.as_string::<i64>().value(row),
            DataType::Utf8View => array.as_string_view().value(row),
            other => bail!("column {column} is {other}, not text"),
        };
        Ok(Some(value.to_string()))
    }

    fn int(&self, column: usize, row: usize) -> Result<Option<i64>> {
        let Some(array) = self.column(column, row) else { return Ok(None) };
        let value = match array.data_type() {
            DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
            DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
            other => bail!("column {column} is {other}, not an integer"),
        };
        Ok(Some(value))
    }

    fn float(&self, column: usize, row: usize) -> Result<Option<f64>> {
        let Some(array) = self.column(column, row) else { return Ok(None) };
        match array.data_type() {
            DataType::Float64 => Ok(Some(array.as_primitive::<Float64Type>().value(row))),
            other => bail!("column {column} is {other}, not a double"),
        }
    }

    fn required_text(&self, column: usize, row: usize) -> Result<String> {
        self.text(column, row)?.with_context(|| format!("column {column} is NULL in a stored finding"))
    }

    fn required_int(&self, column: usize, row: usize) -> Result<i64> {
        self.int(column, row)?.with_context(|| format!("column {column} is NULL in a stored finding"))
    }
}
