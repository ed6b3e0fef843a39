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

use crate::json_writer::{ObjectWriter, WriteJson};
use crate::parse::time::{format_iso, format_iso_into};
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
        failure(self.result_type.as_deref())
    }

    /// Returns the candidate's account as outputs name it, marked when its sign-in failed.
    pub fn label(&self) -> String {
        candidate_label(self.account.as_deref(), self.result_type.as_deref())
    }
}

/// Returns a `ResultType` that is not `0`, the result of a sign-in that failed.
fn failure(result_type: Option<&str>) -> Option<&str> {
    result_type.filter(|result| result.trim() != "0")
}

/// Returns a candidate's label (see `Candidate::label`) from its account and `ResultType`.
fn candidate_label(account: Option<&str>, result_type: Option<&str>) -> String {
    let account = account.unwrap_or("(no account)");
    match failure(result_type) {
        Some(result) => format!("{account} (failed sign-in, result {result})"),
        None => account.to_string(),
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

/// The fields of a finding that the filters of `findings` read.
pub struct Marks<'a> {
    pub status: Option<&'a str>,
    pub tags: &'a [String],
    pub confidence: Option<&'a str>,
    /// IDs of the enabled exclusion rules that match the finding.
    pub excluded_by: &'a [i64],
}

impl Finding {
    pub fn marks(&self) -> Marks<'_> {
        Marks { status: self.status.as_deref(), tags: &self.tags, confidence: self.confidence.as_deref(), excluded_by: &self.excluded_by }
    }
}

/// The fields of a finding that its row in the table of findings shows, and its marks.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub finding_id: String,
    pub upload_time: String,
    pub operation: Option<String>,
    /// The file name, else the object path.
    pub file: Option<String>,
    /// The caller address, else the address as the log wrote it.
    pub caller: Option<String>,
    pub confidence: Option<String>,
    pub attributed_account: Option<String>,
    pub reason: Option<String>,
    /// The finding's `candidate_count`, as the hunt stored it.
    pub candidate_count: i64,
    /// The candidate rows the case holds for the finding.
    pub candidates_read: i64,
    /// The labels (`Candidate::label`) of the first three candidates by rank.
    pub first_candidates: Vec<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub excluded_by: Vec<i64>,
}

/// Candidates that a summary names; `findings` shows the others as a count.
pub const SUMMARY_CANDIDATES: usize = 3;

impl Summary {
    /// Returns the summary of a finding read whole.
    pub fn of(finding: &Finding) -> Self {
        Summary {
            finding_id: finding.finding_id.clone(),
            upload_time: finding.upload_time.clone(),
            operation: finding.operation.clone(),
            file: finding.file_name.clone().or_else(|| finding.object_path.clone()),
            caller: finding.caller_ip.clone().or_else(|| finding.caller_ip_raw.clone()),
            confidence: finding.confidence.clone(),
            attributed_account: finding.attributed_account.clone(),
            reason: finding.reason.clone(),
            candidate_count: finding.candidate_count,
            candidates_read: finding.candidates.len() as i64,
            first_candidates: finding.candidates.iter().take(SUMMARY_CANDIDATES).map(Candidate::label).collect(),
            status: finding.status.clone(),
            tags: finding.tags.clone(),
            excluded_by: finding.excluded_by.clone(),
        }
    }

    pub fn marks(&self) -> Marks<'_> {
        Marks { status: self.status.as_deref(), tags: &self.tags, confidence: self.confidence.as_deref(), excluded_by: &self.excluded_by }
    }
}

impl WriteJson for Candidate {
    fn write_json(&self, out: &mut Vec<u8>, depth: Option<usize>) {
        let mut object = ObjectWriter::open(out, depth);
        object.int("rank", self.rank);
        object.opt_float("score", self.score);
        object.strs("reasons", &self.reasons);
        object.float("delta_seconds", self.delta_seconds);
        object.int("signin_count", self.signin_count);
        object.opt_str("account", self.account.as_deref());
        object.opt_str("user_id", self.user_id.as_deref());
        object.str("signin_time", &self.signin_time);
        object.str("ip", &self.ip);
        object.opt_str("user_agent", self.user_agent.as_deref());
        object.str("source_table", &self.source_table);
        object.opt_str("result_type", self.result_type.as_deref());
        object.opt_str("app_display_name", self.app_display_name.as_deref());
        object.str("source_file", &self.source_file);
        object.int("source_record", self.source_record);
        object.opt_int("source_line", self.source_line);
        object.close();
    }
}

/// The same text as the `Serialize` derive gives, which a test checks, written without serde's
/// generic path.
impl WriteJson for Finding {
    fn write_json(&self, out: &mut Vec<u8>, depth: Option<usize>) {
        let mut object = ObjectWriter::open(out, depth);
        object.str("finding_id", &self.finding_id);
        object.int("hunt_id", self.hunt_id);
        object.str("mode", &self.mode);
        object.str("upload_time", &self.upload_time);
        object.str("upload_kind", &self.upload_kind);
        object.int("part_count", self.part_count);
        object.opt_int("bytes", self.bytes);
        object.str("first_time", &self.first_time);
        object.opt_str("confidence", self.confidence.as_deref());
        object.opt_str("attributed_account", self.attributed_account.as_deref());
        object.opt_str("reason", self.reason.as_deref());
        object.opt_str("operation", self.operation.as_deref());
        object.opt_str("status_text", self.status_text.as_deref());
        object.opt_str("storage_account", self.storage_account.as_deref());
        object.opt_str("object_path", self.object_path.as_deref());
        object.opt_str("file_name", self.file_name.as_deref());
        object.opt_str("caller_ip", self.caller_ip.as_deref());
        object.opt_str("caller_ip_raw", self.caller_ip_raw.as_deref());
        object.opt_str("address_problem", self.address_problem.as_deref());
        object.opt_str("upload_user_agent", self.upload_user_agent.as_deref());
        object.opt_str("authentication_type", self.authentication_type.as_deref());
        object.opt_str("requester_upn", self.requester_upn.as_deref());
        object.opt_str("requester_object_id", self.requester_object_id.as_deref());
        object.opt_str("requester_app_id", self.requester_app_id.as_deref());
        object.str("source_table", &self.source_table);
        object.str("source_file", &self.source_file);
        object.int("source_record", self.source_record);
        object.opt_int("source_line", self.source_line);
        object.str("window_start", &self.window_start);
        object.str("window_end", &self.window_end);
        object.int("candidate_count", self.candidate_count);
        object.values("candidates", &self.candidates);
        object.str("status", status_or_open(self.status.as_deref()));
        object.strs("tags", &self.tags);
        object.strs("notes", &self.notes);
        object.ints("excluded_by", &self.excluded_by);
        object.close();
    }
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
    mut write: impl FnMut(&mut Vec<T>, usize) -> Result<()>,
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
    // Runs of output already written, kept for the next batches, so that the kernel does not
    // hand out and clear several fresh megabytes for every batch.
    let spare: Mutex<Vec<Vec<T>>> = Mutex::new(Vec::new());
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
        let work = || {
            // One finding is rebuilt for each row, so that its buffers are reused.
            let mut finding = Finding::default();
            loop {
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
                    // A new buffer is sized like the run before, so that it is not copied as it grows.
                    let spare_buffer = spare.lock().expect("no thread panics while it holds the lock").pop();
                    let mut output = spare_buffer.unwrap_or_else(|| Vec::with_capacity(output_size.load(Ordering::Relaxed)));
                    let mut count = 0;
                    for row in 0..batch.num_rows() {
                        reader.build_into(&batch, row, &mut finding)?;
                        count += usize::from(render(&finding, &mut output)?);
                    }
                    output_size.store(output.len() + output.len() / 8, Ordering::Relaxed);
                    Ok((output, count))
                }))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread that renders findings panicked; please report this as a bug")));
                lock().rendered.insert(number, rendered);
                changed.notify_all();
            }
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
                        let (mut output, count) = rendered?;
                        write(&mut output, count)?;
                        output.clear();
                        spare.lock().expect("no thread panics while it holds the lock").push(output);
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

/// Passes the summary of every finding of a hunt, or of those whose ID is in `only`, to
/// `visit` in upload-time order. Only the columns of a summary and the first candidates of each
/// finding are read, which takes a fraction of the time of reading whole findings.
/// Annotations are applied, but exclusion rules are not: `excluded_by` stays empty.
pub fn for_each_summary(
    conn: &Connection,
    hunt_id: i64,
    only: Option<&[String]>,
    mut visit: impl FnMut(Summary) -> Result<()>,
) -> Result<()> {
    // Fails for a hunt that the case does not have.
    Reader::mode(conn, hunt_id)?;
    let states = annotations::load_states(conn)?;
    // One column per position, where `list(... ORDER BY rank)` took twice as long. Positions
    // are counted here rather than read from `rank`, so that a case edited by hand, with a
    // rank missing, shows the same candidates as its whole findings.
    let pivot: Vec<String> = (1..=SUMMARY_CANDIDATES)
        .map(|at| format!("max(account) FILTER (position = {at}), max(result_type) FILTER (position = {at})"))
        .collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT f.finding_id, epoch_us(f.upload_time), f.operation, coalesce(f.file_name, f.object_path),
                coalesce(f.caller_ip, f.caller_ip_raw), f.confidence, f.attributed_account, f.reason,
                f.candidate_count, c.* EXCLUDE (finding_id)
         FROM findings f
         LEFT JOIN (SELECT finding_id, count(*), {pivot}
                    FROM (SELECT finding_id, account, result_type,
                                 row_number() OVER (PARTITION BY finding_id ORDER BY rank) AS position
                          FROM finding_candidates
                          WHERE hunt_id = ? {narrow_candidates})
                    GROUP BY finding_id) c USING (finding_id)
         WHERE f.hunt_id = ? {narrow_findings}
         ORDER BY f.upload_time, f.finding_id",
        pivot = pivot.join(", "),
        narrow_candidates = id_filter("finding_id", only),
        narrow_findings = id_filter("f.finding_id", only),
    ))?;
    for batch in stmt.stream_arrow(params![hunt_id, hunt_id])? {
        let batch = batch?;
        let b = Columns(&batch);
        for row in 0..batch.num_rows() {
            let finding_id = b.required_str(0, row)?.to_string();
            // An account may be NULL, so the count of candidates gives the positions to read.
            let candidates_read = b.int(9, row)?.unwrap_or(0);
            let positions = usize::try_from(candidates_read).unwrap_or(0).min(SUMMARY_CANDIDATES);
            let first_candidates = (0..positions)
                .map(|number| Ok(candidate_label(b.str(10 + 2 * number, row)?, b.str(11 + 2 * number, row)?)))
                .collect::<Result<_>>()?;
            let state = states.get(&finding_id);
            visit(Summary {
                upload_time: format_iso(b.required_int(1, row)?),
                operation: b.str(2, row)?.map(str::to_string),
                file: b.str(3, row)?.map(str::to_string),
                caller: b.str(4, row)?.map(str::to_string),
                confidence: b.str(5, row)?.map(str::to_string),
                attributed_account: b.str(6, row)?.map(str::to_string),
                reason: b.str(7, row)?.map(str::to_string),
                candidate_count: b.required_int(8, row)?,
                candidates_read,
                first_candidates,
                status: state.and_then(|state| state.status.clone()),
                tags: state.map(|state| state.tags.clone()).unwrap_or_default(),
                excluded_by: Vec::new(),
                finding_id,
            })?;
        }
    }
    Ok(())
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
    sources: SourcePaths,
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
            sources: SourcePaths::load(conn)?,
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
                    f.source_id, f.record_no, f.line, epoch_us(f.window_start), epoch_us(f.window_end),
                    f.candidate_count, f.upload_kind, f.part_count, f.bytes, epoch_us(f.first_time),
                    f.confidence, f.attributed_account, f.reason, f.requester_object_id,
                    f.requester_app_id
             FROM findings f
             WHERE f.hunt_id = ? {narrow}
             ORDER BY f.upload_time, f.finding_id",
            narrow = id_filter("f.finding_id", only),
        ))?)
    }

    /// Builds the finding in one row of the findings query, with its candidates, the
    /// examiner's annotations and the enabled exclusion rules that match.
    fn build(&self, batch: &RecordBatch, row: usize) -> Result<Finding> {
        let mut finding = Finding::default();
        self.build_into(batch, row, &mut finding)?;
        Ok(finding)
    }

    /// Builds a finding as `build` does, into `finding` in place of the one it held, so that a
    /// caller that renders findings one after another reuses their buffers.
    fn build_into(&self, batch: &RecordBatch, row: usize, finding: &mut Finding) -> Result<()> {
        let b = Columns(batch);
        set(&mut finding.finding_id, b.required_str(0, row)?);
        self.candidates.get_into(&finding.finding_id, &self.sources, &mut finding.candidates)?;
        finding.hunt_id = self.hunt_id;
        set(&mut finding.mode, &self.mode);
        format_iso_into(&mut finding.upload_time, b.required_int(1, row)?);
        set(&mut finding.upload_kind, b.required_str(20, row)?);
        finding.part_count = b.required_int(21, row)?;
        finding.bytes = b.int(22, row)?;
        format_iso_into(&mut finding.first_time, b.required_int(23, row)?);
        set_opt(&mut finding.confidence, b.str(24, row)?);
        set_opt(&mut finding.attributed_account, b.str(25, row)?);
        set_opt(&mut finding.reason, b.str(26, row)?);
        set_opt(&mut finding.operation, b.str(2, row)?);
        set_opt(&mut finding.status_text, b.str(3, row)?);
        set_opt(&mut finding.storage_account, b.str(4, row)?);
        set_opt(&mut finding.object_path, b.str(5, row)?);
        set_opt(&mut finding.file_name, b.str(6, row)?);
        set_opt(&mut finding.caller_ip, b.str(7, row)?);
        set_opt(&mut finding.caller_ip_raw, b.str(8, row)?);
        set_opt(&mut finding.address_problem, b.str(9, row)?);
        set_opt(&mut finding.upload_user_agent, b.str(10, row)?);
        set_opt(&mut finding.authentication_type, b.str(11, row)?);
        set_opt(&mut finding.requester_upn, b.str(12, row)?);
        set_opt(&mut finding.requester_object_id, b.str(27, row)?);
        set_opt(&mut finding.requester_app_id, b.str(28, row)?);
        set(&mut finding.source_table, b.required_str(13, row)?);
        set(&mut finding.source_file, self.sources.path(b.required_int(14, row)?)?);
        finding.source_record = b.required_int(15, row)?;
        finding.source_line = b.int(16, row)?;
        format_iso_into(&mut finding.window_start, b.required_int(17, row)?);
        format_iso_into(&mut finding.window_end, b.required_int(18, row)?);
        finding.candidate_count = b.required_int(19, row)?;
        match self.states.get(&finding.finding_id) {
            Some(state) => {
                finding.status.clone_from(&state.status);
                finding.tags.clone_from(&state.tags);
                finding.notes.clone_from(&state.notes);
            }
            None => {
                finding.status = None;
                finding.tags.clear();
                finding.notes.clear();
            }
        }
        let mut excluded_by = std::mem::take(&mut finding.excluded_by);
        excluded_by.clear();
        excluded_by.extend(self.rules.iter().filter(|rule| rule.conditions.matches(finding)).map(|rule| rule.rule_id));
        finding.excluded_by = excluded_by;
        Ok(())
    }
}

/// Copies `value` into `text`, keeping its buffer.
fn set(text: &mut String, value: &str) {
    text.clear();
    text.push_str(value);
}

/// Copies `value` into `text` as `set` does; a buffer is made only where `text` was `None`.
fn set_opt(text: &mut Option<String>, value: Option<&str>) {
    match (text.as_mut(), value) {
        (Some(buffer), Some(value)) => set(buffer, value),
        (_, value) => *text = value.map(str::to_string),
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
    /// (hash of the finding ID, rank, batch, row) of every candidate, sorted, so that a
    /// finding's candidates are one run, by rank. The finding ID of each row is compared on
    /// lookup, so that IDs with the same hash are kept apart.
    places: Vec<(u64, i64, u32, u32)>,
    hasher: ahash::RandomState,
}

/// The path of each imported file by source ID. Findings and candidates are read with the
/// ID, because joining each row with its path made DuckDB copy the path into every row.
struct SourcePaths(HashMap<i64, String>);

impl SourcePaths {
    fn load(conn: &Connection) -> Result<Self> {
        let mut stmt = conn.prepare("SELECT source_id, path FROM sources")?;
        let paths = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<duckdb::Result<_>>()?;
        Ok(SourcePaths(paths))
    }

    fn path(&self, source_id: i64) -> Result<&str> {
        let path = self.0.get(&source_id).with_context(|| format!("a stored finding names source {source_id}, which the case does not have"))?;
        Ok(path)
    }
}

impl CandidateIndex {
    fn load(conn: &Connection, hunt_id: i64, only: Option<&[String]>) -> Result<Self> {
        let mut stmt = conn.prepare(&format!(
            "SELECT c.finding_id, c.rank, c.account, c.user_id, epoch_us(c.signin_time), c.ip,
                    c.user_agent, c.source_table, c.result_type, c.app_display_name, c.source_id,
                    c.record_no, c.line, c.score, c.reasons, c.delta_seconds, c.signin_count
             FROM finding_candidates c
             WHERE c.hunt_id = ? {narrow}",
            narrow = id_filter("c.finding_id", only),
        ))?;
        let batches: Vec<RecordBatch> = stmt.stream_arrow(params![hunt_id])?.collect::<duckdb::Result<_>>()?;
        let hasher = ahash::RandomState::new();
        let mut places = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for (number, batch) in batches.iter().enumerate() {
            let b = Columns(batch);
            for row in 0..batch.num_rows() {
                let key = hasher.hash_one(b.required_str(0, row)?);
                places.push((key, b.required_int(1, row)?, number as u32, row as u32));
            }
        }
        places.sort_unstable();
        Ok(CandidateIndex { batches, places, hasher })
    }

    /// Builds the candidates of one finding, by rank, into `candidates` in place of the ones
    /// it held.
    fn get_into(&self, finding_id: &str, sources: &SourcePaths, candidates: &mut Vec<Candidate>) -> Result<()> {
        let key = self.hasher.hash_one(finding_id);
        let first = self.places.partition_point(|place| place.0 < key);
        let mut count = 0;
        for &(_, _, batch, row) in self.places[first..].iter().take_while(|place| place.0 == key) {
            let b = Columns(&self.batches[batch as usize]);
            if b.required_str(0, row as usize)? != finding_id {
                continue;
            }
            if count == candidates.len() {
                candidates.push(Candidate::default());
            }
            candidate_into(&b, row as usize, sources, &mut candidates[count])?;
            count += 1;
        }
        candidates.truncate(count);
        Ok(())
    }
}

/// Builds one candidate from a row of the candidates query in `CandidateIndex::load`, into
/// `candidate` in place of the one it held.
fn candidate_into(b: &Columns, row: usize, sources: &SourcePaths, candidate: &mut Candidate) -> Result<()> {
    candidate.rank = b.required_int(1, row)?;
    candidate.score = b.float(13, row)?;
    set_reasons(&mut candidate.reasons, b.str(14, row)?);
    candidate.delta_seconds = b.float(15, row)?.context("a candidate has no delta_seconds")?;
    candidate.signin_count = b.required_int(16, row)?;
    set_opt(&mut candidate.account, b.str(2, row)?);
    set_opt(&mut candidate.user_id, b.str(3, row)?);
    format_iso_into(&mut candidate.signin_time, b.required_int(4, row)?);
    set(&mut candidate.ip, b.required_str(5, row)?);
    set_opt(&mut candidate.user_agent, b.str(6, row)?);
    set(&mut candidate.source_table, b.required_str(7, row)?);
    set_opt(&mut candidate.result_type, b.str(8, row)?);
    set_opt(&mut candidate.app_display_name, b.str(9, row)?);
    set(&mut candidate.source_file, sources.path(b.required_int(10, row)?)?);
    candidate.source_record = b.required_int(11, row)?;
    candidate.source_line = b.int(12, row)?;
    Ok(())
}

/// Reads a candidate's reasons, stored as a JSON array of strings, into `reasons`, keeping
/// its buffers. A missing or unreadable array gives no reasons.
fn set_reasons(reasons: &mut Vec<String>, text: Option<&str>) {
    let Some(text) = text else { return reasons.clear() };
    // A reason without escapes, the usual case, is borrowed from the text.
    let parsed: Vec<std::borrow::Cow<str>> = match serde_json::from_str::<Vec<&str>>(text) {
        Ok(borrowed) => borrowed.into_iter().map(Into::into).collect(),
        Err(_) => serde_json::from_str::<Vec<String>>(text).unwrap_or_default().into_iter().map(Into::into).collect(),
    };
    reasons.truncate(parsed.len());
    for (number, reason) in parsed.iter().enumerate() {
        match reasons.get_mut(number) {
            Some(buffer) => set(buffer, reason),
            None => reasons.push(reason.to_string()),
        }
    }
}

/// Returns the text at `index` of an Arrow array of text, or `None` where it is NULL.
fn text_at(array: &dyn Array, index: usize) -> Result<Option<&str>> {
    if !array.is_valid(index) {
        return Ok(None);
    }
    let value = match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(index),
        DataType::LargeUtf8 => array.as_string::<i64>().value(index),
        DataType::Utf8View => array.as_string_view().value(index),
        other => bail!("the array is {other}"),
    };
    Ok(Some(value))
}

/// Reads the values of an Arrow batch from DuckDB by column position and row.
struct Columns<'a>(&'a RecordBatch);

impl Columns<'_> {
    fn column(&self, column: usize, row: usize) -> Option<&ArrayRef> {
        let array = self.0.column(column);
        array.is_valid(row).then_some(array)
    }

    fn str(&self, column: usize, row: usize) -> Result<Option<&str>> {
        text_at(self.0.column(column).as_ref(), row).with_context(|| format!("column {column} is not text"))
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

    fn required_str(&self, column: usize, row: usize) -> Result<&str> {
        self.str(column, row)?.with_context(|| format!("column {column} is NULL in a stored finding"))
    }

    fn required_int(&self, column: usize, row: usize) -> Result<i64> {
        self.int(column, row)?.with_context(|| format!("column {column} is NULL in a stored finding"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::PrettyArray;

    fn candidate(rank: i64) -> Candidate {
        Candidate {
            rank,
            score: (rank == 1).then_some(0.875),
            reasons: vec!["same address".to_string(), "closest \"before\"\n".to_string()],
            delta_seconds: -95.5,
            signin_count: 3,
            account: Some("Ana.Lopez@contoso.com".to_string()),
            user_id: None,
            signin_time: "2026-03-02T00:09:03.319000Z".to_string(),
            ip: "2001:db8::1".to_string(),
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0)\t\u{1}".to_string()),
            source_table: "SigninLogs".to_string(),
            result_type: Some("50126".to_string()),
            app_display_name: None,
            source_file: "C:\\exports\\sign-ins é.csv".to_string(),
            source_record: 12,
            source_line: None,
        }
    }

    /// Findings with every kind of field: empty and full lists, nulls, escapes and non-ASCII.
    fn findings() -> Vec<Finding> {
        let full = Finding {
            finding_id: "F-3dd5bb6aae717fac".to_string(),
            hunt_id: 7,
            mode: "full".to_string(),
            upload_time: "2026-03-02T00:09:03.319000Z".to_string(),
            upload_kind: "put-blob".to_string(),
            part_count: 2,
            bytes: Some(10_520_415),
            first_time: "2026-03-02T00:08:50.663000Z".to_string(),
            confidence: Some("strong".to_string()),
            attributed_account: Some("CONTOSO\\first.last".to_string()),
            reason: Some("one \"account\" signed in\r\nfrom the address".to_string()),
            operation: Some("PutBlob".to_string()),
            object_path: Some("/contosodocs/uploads/Team photo-3961 ü.jpg".to_string()),
            caller_ip_raw: Some("[2001:db8::1]:443".to_string()),
            source_table: "StorageBlobLogs".to_string(),
            source_file: "/evidence/StorageBlobLogs.csv".to_string(),
            source_record: 53,
            source_line: Some(54),
            window_start: "2026-03-01T22:38:50.663000Z".to_string(),
            window_end: "2026-03-02T00:14:03.319000Z".to_string(),
            candidate_count: 2,
            candidates: vec![candidate(1), candidate(2)],
            status: Some("confirmed-malicious".to_string()),
            tags: vec!["exfil".to_string(), "\u{7f}".to_string()],
            notes: vec!["checked with the owner".to_string()],
            excluded_by: vec![3, 11],
            ..Finding::default()
        };
        vec![full, Finding::default()]
    }

    #[test]
    fn pretty_array_matches_serde_json() {
        let list = findings();
        let mut written = Vec::new();
        PrettyArray::write_all(&mut written, &list).unwrap();
        let expected = serde_json::to_string_pretty(&list).unwrap() + "\n";
        assert_eq!(String::from_utf8(written).unwrap(), expected);

        let mut empty = Vec::new();
        PrettyArray::write_all::<Finding>(&mut empty, &[]).unwrap();
        assert_eq!(String::from_utf8(empty).unwrap(), "[]\n");
    }

    #[test]
    fn compact_json_matches_serde_json() {
        for finding in findings() {
            let mut written = Vec::new();
            finding.write_json(&mut written, None);
            assert_eq!(String::from_utf8(written).unwrap(), serde_json::to_string(&finding).unwrap());
        }
    }

    #[test]
    fn reasons_are_read_with_and_without_escapes() {
        let mut reasons = vec!["old".to_string(), "older".to_string(), "oldest".to_string()];
        set_reasons(&mut reasons, Some(r#"["same address","a \"quoted\" word"]"#));
        assert_eq!(reasons, ["same address", "a \"quoted\" word"]);
        set_reasons(&mut reasons, Some(r#"["one"]"#));
        assert_eq!(reasons, ["one"]);
        set_reasons(&mut reasons, Some("not json"));
        assert!(reasons.is_empty());
        set_reasons(&mut reasons, Some(r#"["again"]"#));
        set_reasons(&mut reasons, None);
        assert!(reasons.is_empty());
    }
}
