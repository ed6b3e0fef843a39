//! The case's audit trail: one hash-chained record per command run against the case.
//!
//! Each record contains the command, its arguments, the examiner, the blobtrail version, start and
//! end time, exit status and the counts it produced. `record_hash` is the SHA-256 of the
//! record's canonical JSON, which includes the previous record's hash, so a changed, inserted or
//! deleted record breaks the chain at that point and `verify` names it.

use anyhow::{Context, Result};
use duckdb::{params, Connection};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The hash that the first record chains to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record as written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub started_at: String,
    pub finished_at: String,
    pub command: String,
    pub arguments: Vec<String>,
    pub examiner: Option<String>,
    pub exit_code: i32,
    pub counts: Value,
    pub error: Option<String>,
    pub state_before: String,
}

/// A stored record with its chain fields.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    pub seq: i64,
    pub started_at: String,
    pub finished_at: String,
    pub command: String,
    pub arguments: Vec<String>,
    pub examiner: Option<String>,
    pub blobtrail_version: String,
    pub exit_code: i32,
    pub counts: Value,
    pub error: Option<String>,
    pub state_before: String,
    pub state_after: String,
    pub previous_hash: String,
    pub record_hash: String,
}

impl Stored {
    /// Returns the canonical JSON hashed for the chain: fixed key order, no whitespace.
    fn canonical(&self) -> String {
        json!([
            self.seq,
            self.started_at,
            self.finished_at,
            self.command,
            self.arguments,
            self.examiner,
            self.blobtrail_version,
            self.exit_code,
            self.counts,
            self.error,
            self.state_before,
            self.state_after,
            self.previous_hash,
        ])
        .to_string()
    }

    fn computed_hash(&self) -> String {
        crate::sql::hex(&Sha256::digest(self.canonical().as_bytes()))
    }
}

/// Appends a record to the chain.
pub fn append(conn: &Connection, entry: &Entry) -> Result<()> {
    let (seq, previous_hash): (i64, String) = conn.query_row(
        "SELECT coalesce(max(seq), 0) + 1,
                coalesce((SELECT record_hash FROM audit_log ORDER BY seq DESC LIMIT 1), ?)
         FROM audit_log",
        params![GENESIS],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut stored = Stored {
        seq,
        started_at: entry.started_at.clone(),
        finished_at: entry.finished_at.clone(),
        command: entry.command.clone(),
        arguments: entry.arguments.clone(),
        examiner: entry.examiner.clone(),
        blobtrail_version: crate::VERSION.to_string(),
        exit_code: entry.exit_code,
        counts: entry.counts.clone(),
        error: entry.error.clone(),
        state_before: entry.state_before.clone(),
        state_after: state_digest(conn)?,
        previous_hash,
        record_hash: String::new(),
    };
    stored.record_hash = stored.computed_hash();
    conn.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            stored.seq,
            stored.started_at,
            stored.finished_at,
            stored.command,
            json!(stored.arguments).to_string(),
            stored.examiner,
            stored.blobtrail_version,
            stored.exit_code,
            stored.counts.to_string(),
            stored.error,
            stored.state_before,
            stored.state_after,
            stored.previous_hash,
            stored.record_hash,
        ],
    )
    .context("cannot write the audit record")?;
    Ok(())
}

/// Reads the whole trail in order.
pub fn read_all(conn: &Connection) -> Result<Vec<Stored>> {
    let mut stmt = conn.prepare(
        "SELECT seq, started_at, finished_at, command, arguments, examiner, blobtrail_version,
                exit_code, counts, error, state_before, state_after, previous_hash, record_hash
         FROM audit_log ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        let arguments: String = r.get(4)?;
        let counts: String = r.get(8)?;
        Ok(Stored {
            seq: r.get(0)?,
            started_at: r.get(1)?,
            finished_at: r.get(2)?,
            command: r.get(3)?,
            arguments: serde_json::from_str(&arguments).unwrap_or_else(|_| vec![arguments.clone()]),
            examiner: r.get(5)?,
            blobtrail_version: r.get(6)?,
            exit_code: r.get(7)?,
            counts: serde_json::from_str(&counts).unwrap_or(Value::String(counts)),
            error: r.get(9)?,
            state_before: r.get(10)?,
            state_after: r.get(11)?,
            previous_hash: r.get(12)?,
            record_hash: r.get(13)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Digests the examiner's record as it is now: the imported sources, every hunt with its
/// findings, the annotations, the exclusion rules and the case's own details. Each part is
/// canonical JSON in a fixed order.
/// A hunt's findings enter through the digest stored with the hunt when it committed
/// (`hunts.findings_digest`), so the cost does not grow with the number of findings. `verify`
/// compares those stored digests with the findings (`changed_hunts`).
///
/// Each part is hashed on its own and the digest lists the hashes in `PARTS` order, so that the
/// state after a command that was stopped can still be compared on every part but the one
/// that command changes. The columns are named, so that a later SQL file that adds a column
/// does not change the digest of a case that it upgrades.
pub fn state_digest(conn: &Connection) -> Result<String> {
    let parts: [String; 5] = conn.query_row(
        "SELECT coalesce((SELECT string_agg(to_json(s)::VARCHAR, chr(10) ORDER BY source_id)
                          FROM (SELECT source_id, path, sha256, size_bytes, shape, tables, imported_at, examiner,
                                       options, records_read, imported, rejected, duplicates, first_time,
                                       last_time, rows_digest, rows_digest_engine, rejects_digest,
                                       rejects_digest_engine FROM sources) s), ''),
                coalesce((SELECT string_agg(to_json(h)::VARCHAR, chr(10) ORDER BY hunt_id) FROM hunts h), ''),
                coalesce((SELECT string_agg(to_json(a)::VARCHAR, chr(10) ORDER BY annotation_id) FROM annotations a), ''),
                coalesce((SELECT string_agg(to_json(r)::VARCHAR, chr(10) ORDER BY rule_id)
                          FROM (SELECT rule_id, reason, preset, conditions, examiner, created_at, disabled_at,
                                       disabled_by, disabled_reason FROM exclusion_rules) r), ''),
                coalesce((SELECT string_agg(to_json(c)::VARCHAR, chr(10) ORDER BY c.name, c.created_at)
                          FROM (SELECT name, title, examiner, created_at, blobtrail_version, duckdb_version
                                FROM case_info) c), '')",
        [],
        |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
    )?;
    let hashes: Vec<String> = parts.iter().map(|part| crate::sql::hex(&Sha256::digest(part.as_bytes()))).collect();
    Ok(format!("{STATE_SCHEME}:{}", hashes.join(".")))
}

/// The scheme of state digests: one hash per part of `PARTS`. Digests of different schemes
/// cannot be compared. Earlier schemes: `v4:` (without the rejected records' digests and the
/// reason a rule was disabled), `v3:` (the first four parts, fewer columns of `sources`), `v2:`
/// (one hash of all parts) and bare hex (every finding row).
const STATE_SCHEME: &str = "v5";

/// The parts of a state digest, in order, with the command that changes each one.
const PARTS: [(&str, Option<&str>); 5] = [
    ("sources", Some("import")),
    ("hunts", Some("hunt")),
    ("annotations", Some("annotate")),
    ("exclusion rules", Some("exclude")),
    ("case details", None),
];

/// Returns the scheme of a state digest: the text before `:`, or empty for bare hex.
fn scheme_of(state: &str) -> &str {
    state.split_once(':').map_or("", |(scheme, _)| scheme)
}

/// Returns the part hashes of a state digest of the current scheme.
fn part_hashes(state: &str) -> Option<Vec<&str>> {
    let hashes: Vec<&str> = state.strip_prefix(STATE_SCHEME)?.strip_prefix(':')?.split('.').collect();
    (hashes.len() == PARTS.len()).then_some(hashes)
}

/// Returns the name of the part of the state that `command` changes, if it changes one.
pub fn changed_part(command: &str) -> Option<&'static str> {
    PARTS.iter().find(|(_, changer)| *changer == Some(command)).map(|(name, _)| *name)
}

/// Checks the examiner's record inside the case: the audit chain, the state between and after
/// commands, and every hunt's findings against their stored digest. One message per problem;
/// empty means intact. The imported files are not re-hashed here.
pub fn record_problems(conn: &Connection, records: &[Stored]) -> Result<Vec<String>> {
    let mut problems = check_chain(records, &state_digest(conn)?);
    for hunt_id in changed_hunts(conn)? {
        problems.push(format!(
            "the case's findings of hunt {hunt_id} changed outside blobtrail: they no longer match the digest stored when the hunt finished"
        ));
    }
    for changed in changed_sources(conn)? {
        let (source_id, path) = (changed.source_id, &changed.path);
        if changed.rows {
            problems.push(format!(
                "the rows imported from source {source_id} `{path}` changed outside blobtrail: they no longer match the digest made when the file was imported"
            ));
        }
        if changed.rejects {
            problems.push(format!(
                "the rejected records of source {source_id} `{path}` changed outside blobtrail: they no longer match the digest made when the file was imported"
            ));
        }
    }
    problems.extend(orphan_rows(conn)?);
    problems.extend(changed_definitions(conn)?);
    Ok(problems)
}

/// Returns a problem for each table with rows whose source is not an imported file. The
/// digests cover each source's rows, so rows added under a source ID that no file has would
/// otherwise go unseen, though queries and hunts read them.
fn orphan_rows(conn: &Connection) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let tables = [
        ("storage_events", "storage event", "storage events"),
        ("signin_events", "sign-in event", "sign-in events"),
        ("rejects", "rejected record", "rejected records"),
    ];
    for (table, one, many) in tables {
        let orphans: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {table} WHERE source_id NOT IN (SELECT source_id FROM sources)"),
            [],
            |r| r.get(0),
        )?;
        if orphans > 0 {
            problems.push(format!(
                "the case's `{table}` table has {} of no imported file (a `source_id` that names no source): added outside blobtrail",
                crate::output::count(orphans, one, many)
            ));
        }
    }
    Ok(problems)
}

/// Returns a problem for each view or macro of the case that differs from the definition in
/// blobtrail's embedded SQL files, is missing, or is not one of theirs. Hunts and digests run
/// these definitions, so an edited view would change every later finding, and an edited
/// digest macro could hide an edit of the rows.
pub fn changed_definitions(conn: &Connection) -> Result<Vec<String>> {
    let reference = Connection::open_in_memory()?;
    for file in crate::sql::FILES {
        reference.execute_batch(file.text).with_context(|| format!("cannot apply `sql/{}` to compare definitions", file.name))?;
    }
    let (expected, actual) = (definitions(&reference)?, definitions(conn)?);
    let mut problems = Vec::new();
    for (name, definition) in &expected {
        match actual.get(name) {
            None => problems.push(format!("{name} is missing from the case; blobtrail's `sql/` files define it")),
            Some(found) if found != definition => problems.push(format!(
                "{name} in the case differs from its definition in blobtrail's `sql/` files: it was changed outside blobtrail"
            )),
            Some(_) => {}
        }
    }
    for name in actual.keys().filter(|name| !expected.contains_key(*name)) {
        problems.push(format!("{name} in the case is not defined by blobtrail's `sql/` files: it was added outside blobtrail"));
    }
    Ok(problems)
}

/// Reads the SQL text of every view and macro of a database, by kind and name. A macro with
/// several overloads gets its definitions in order.
fn definitions(conn: &Connection) -> Result<std::collections::BTreeMap<String, String>> {
    let mut stmt = conn.prepare(
        "SELECT 'view `' || view_name || '`', sql FROM duckdb_views()
         WHERE NOT internal AND database_name = current_database()
         UNION ALL
         SELECT replace(function_type, '_', ' ') || ' `' || function_name || '`', coalesce(macro_definition, '')
         FROM duckdb_functions()
         WHERE function_type IN ('macro', 'table_macro') AND NOT internal AND database_name = current_database()
         ORDER BY 1, 2",
    )?;
    let mut found = std::collections::BTreeMap::<String, String>::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (name, definition) = row?;
        found.entry(name).or_default().push_str(&sorted_exclude_lists(&definition));
    }
    Ok(found)
}

/// Sorts the column names of each `EXCLUDE (...)` list in a definition. DuckDB 2.0.0 writes
/// those names in no fixed order, so the same macro read from two databases can differ there.
fn sorted_exclude_lists(definition: &str) -> String {
    const KEYWORD: &str = "EXCLUDE (";
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(start) = rest.find(KEYWORD) {
        let (before, after) = rest.split_at(start + KEYWORD.len());
        out.push_str(before);
        let Some(end) = after.find(')') else {
            rest = after;
            break;
        };
        let mut names: Vec<&str> = after[..end].split(", ").collect();
        names.sort_unstable();
        out.push_str(&names.join(", "));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A source whose stored rows or rejected records no longer match the digests made at import.
pub struct ChangedSource {
    pub source_id: i64,
    pub path: String,
    /// The stored events differ from `sources.rows_digest`.
    pub rows: bool,
    /// The rows of `rejects` differ from `sources.rejects_digest`.
    pub rejects: bool,
}

/// Returns the sources whose stored rows or rejected records no longer match the digests made
/// at import.
///
/// NOTE: a digest made by another DuckDB version is not compared, because DuckDB's hash() may
/// differ between versions. Sources imported before digests were stored are not compared either.
pub fn changed_sources(conn: &Connection) -> Result<Vec<ChangedSource>> {
    let mut stmt = conn.prepare(
        // The argument is qualified: a bare `source_id` would name the column of the tables
        // inside the macros' subqueries.
        "SELECT source_id, path, rows_changed, rejects_changed FROM (
             SELECT s.source_id, s.path,
                    coalesce(s.rows_digest IS NOT NULL AND s.rows_digest_engine = version()
                             AND s.rows_digest IS DISTINCT FROM source_rows_digest(s.source_id), false) AS rows_changed,
                    coalesce(s.rejects_digest IS NOT NULL AND s.rejects_digest_engine = version()
                             AND s.rejects_digest IS DISTINCT FROM source_rejects_digest(s.source_id), false) AS rejects_changed
             FROM sources s)
         WHERE rows_changed OR rejects_changed
         ORDER BY source_id",
    )?;
    let sources = stmt
        .query_map([], |r| Ok(ChangedSource { source_id: r.get(0)?, path: r.get(1)?, rows: r.get(2)?, rejects: r.get(3)? }))?
        .collect::<Result<_, _>>()?;
    Ok(sources)
}

/// Returns the hunts whose findings no longer match the digest stored when the hunt committed.
pub fn changed_hunts(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT h.hunt_id FROM hunts h JOIN hunt_findings_digests d USING (hunt_id)
         WHERE h.findings_digest IS DISTINCT FROM d.digest ORDER BY h.hunt_id",
    )?;
    let hunts = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(hunts)
}

/// Tells whether a record's state after can be compared with the state that followed it.
///
/// NOTE: two cases are not compared whole. A command that never finished (exit code -1 with no
/// record of its end, such as an import or hunt stopped by a signal) may have committed its
/// change after its record was written. Only the other parts are then compared
/// (`stopped_command_agrees`), so an outside edit of the part it changes goes unseen. And where
/// the digest scheme changed (the first command after an upgrade), the digests were made differently.
fn comparable(record: &Stored, following_state: &str, finished_by_following: bool) -> bool {
    (record.exit_code != UNFINISHED || finished_by_following) && scheme_of(&record.state_after) == scheme_of(following_state)
}

/// Compares the state a stopped command left (its record's state after, taken when it
/// started) with the state that followed, on every part the command does not change. Returns
/// false when they differ; true when they agree or cannot be compared (an earlier digest scheme).
fn stopped_command_agrees(record: &Stored, following_state: &str) -> bool {
    let changed = changed_part(&record.command);
    match (part_hashes(&record.state_after), part_hashes(following_state)) {
        (Some(before), Some(after)) => {
            PARTS.iter().zip(before.iter().zip(&after)).all(|((name, _), (b, a))| Some(*name) == changed || b == a)
        }
        _ => true,
    }
}

/// The exit code of a record written when a command started, which it never replaced.
pub const UNFINISHED: i32 = -1;

/// Tells whether `next` is the record that finishes the command `started` began: the record
/// of a finished import follows its started record with the same start time.
fn finishes(started: &Stored, next: &Stored) -> bool {
    next.started_at == started.started_at && next.command == started.command
}

/// Returns the records of commands that started and never finished, with the start of the
/// next record (None for the last), so a caller can tell what the command committed.
pub fn unfinished(records: &[Stored]) -> Vec<(&Stored, Option<&str>)> {
    let mut found = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let next = records.get(index + 1);
        if record.exit_code == UNFINISHED && !next.is_some_and(|n| finishes(record, n)) {
            found.push((record, next.map(|n| n.started_at.as_str())));
        }
    }
    found
}

/// Checks the chain and returns one message per broken link; empty means intact. `current_state`
/// is the state digest now, which must equal the last record's `state_after`.
pub fn check_chain(records: &[Stored], current_state: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected_previous = GENESIS.to_string();
    let mut expected_seq = 1;
    for (index, record) in records.iter().enumerate() {
        let previous = index.checked_sub(1).map(|previous| &records[previous]);
        let finishes_previous = previous.is_some_and(|p| finishes(p, record));
        if let Some(previous) = previous {
            if comparable(previous, &record.state_before, finishes_previous) {
                if previous.state_after != record.state_before {
                    problems.push(format!(
                        "the case's {} changed outside blobtrail between record {} and record {}",
                        differing_parts(&previous.state_after, &record.state_before),
                        previous.seq,
                        record.seq
                    ));
                }
            } else if previous.exit_code == UNFINISHED && !finishes_previous && !stopped_command_agrees(previous, &record.state_before) {
                problems.push(stopped_edit(previous, &format!("before record {}", record.seq)));
            }
        }
        if record.seq != expected_seq {
            let missing = if record.seq == expected_seq + 1 { format!("record {expected_seq} is") } else { format!("records {expected_seq} to {} are", record.seq - 1) };
            problems.push(format!("{missing} missing: the next record is number {}", record.seq));
        }
        expected_seq = record.seq + 1;
        if record.previous_hash != expected_previous {
            problems.push(format!(
                "record {} does not chain to the record before it: a record was changed, inserted or deleted",
                record.seq
            ));
        }
        if record.computed_hash() != record.record_hash {
            problems.push(format!("record {} ({}) was changed after it was written: its hash does not match", record.seq, record.command));
        }
        expected_previous = record.record_hash.clone();
    }
    if let Some(last) = records.last() {
        if comparable(last, current_state, false) {
            if last.state_after != current_state {
                problems.push(format!(
                    "the case's {} changed outside blobtrail after record {}",
                    differing_parts(&last.state_after, current_state),
                    last.seq
                ));
            }
        } else if last.exit_code == UNFINISHED && !stopped_command_agrees(last, current_state) {
            problems.push(stopped_edit(last, "since"));
        }
    }
    problems
}

/// Names the parts in which two state digests differ, or every part when the digests are of an
/// earlier scheme that cannot tell them apart.
fn differing_parts(before: &str, after: &str) -> String {
    let names: Vec<&str> = match (part_hashes(before), part_hashes(after)) {
        (Some(before), Some(after)) => {
            PARTS.iter().zip(before.iter().zip(&after)).filter(|(_, (b, a))| b != a).map(|((name, _), _)| *name).collect()
        }
        _ => Vec::new(),
    };
    if names.is_empty() {
        PARTS.map(|(name, _)| name).join(", ")
    } else {
        names.join(", ")
    }
}

/// Describes an outside edit found after a command that was stopped; `when` ends the sentence.
fn stopped_edit(stopped: &Stored, when: &str) -> String {
    let others: Vec<&str> =
        PARTS.iter().map(|(name, _)| *name).filter(|name| Some(*name) != changed_part(&stopped.command)).collect();
    format!(
        "the case's {} changed outside blobtrail after record {} ({}, which was stopped) and {when}",
        others.join(", "),
        stopped.seq,
        stopped.command
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn exclude_lists_sort() {
        assert_eq!(
            sorted_exclude_lists("SELECT * EXCLUDE (b, a) FROM t, (SELECT u.* EXCLUDE (z, \"y\", x) FROM u)"),
            "SELECT * EXCLUDE (a, b) FROM t, (SELECT u.* EXCLUDE (\"y\", x, z) FROM u)"
        );
    }

    use super::*;

    fn entry(command: &str) -> Entry {
        Entry {
            started_at: "2026-12-04T10:00:00Z".into(),
            finished_at: "2026-12-04T10:00:01Z".into(),
            command: command.into(),
            arguments: vec!["blobtrail".into(), command.into()],
            examiner: Some("jo".into()),
            exit_code: 0,
            counts: json!({"n": 1}),
            error: None,
            state_before: String::new(),
        }
    }

    fn conn_with_log() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../sql/001_case_schema.sql")).unwrap();
        conn.execute_batch(include_str!("../sql/004_case_work_v1.sql")).unwrap();
        conn.execute_batch(include_str!("../sql/007_hunt_digests.sql")).unwrap();
        conn.execute_batch(include_str!("../sql/008_source_rows_digests.sql")).unwrap();
        conn.execute_batch(include_str!("../sql/010_rejects_digests.sql")).unwrap();
        conn.execute("INSERT INTO case_info VALUES ('t', 'Test case', 'tester', now()::TIMESTAMP, 'test', 'v2.0.0')", [])
            .unwrap();
        conn
    }

    /// Appends an entry whose state before is the state now, as commands/mod.rs records it.
    fn append_now(conn: &Connection, command: &str) {
        let mut e = entry(command);
        e.state_before = state_digest(conn).unwrap();
        append(conn, &e).unwrap();
    }

    #[test]
    fn intact_chain_has_no_problems() {
        let conn = conn_with_log();
        for command in ["import", "hunt", "findings"] {
            append_now(&conn, command);
        }
        let records = read_all(&conn).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].previous_hash, GENESIS);
        assert_eq!(records[1].previous_hash, records[0].record_hash);
        assert!(check_chain(&records, &state_digest(&conn).unwrap()).is_empty());
    }

    /// `score` records accuracies as floats. Reading them back must give the same numbers, or
    /// the record's hash no longer matches and `verify` reports an edit that never happened.
    #[test]
    fn float_counts_keep_their_hash() {
        let conn = conn_with_log();
        let ratios: Vec<f64> = (1..=300).flat_map(|a| (1..=300).map(move |b| f64::from(a) / f64::from(b))).collect();
        let mut e = entry("score");
        e.counts = json!({"accuracy": ratios});
        e.state_before = state_digest(&conn).unwrap();
        append(&conn, &e).unwrap();
        let problems = problems_now(&conn);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn changed_record_is_detected() {
        let conn = conn_with_log();
        for command in ["import", "hunt"] {
            append_now(&conn, command);
        }
        conn.execute("UPDATE audit_log SET examiner = 'mallory' WHERE seq = 1", []).unwrap();
        let problems = problems_now(&conn);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("record 1 (import) was changed"), "{problems:?}");
    }

    #[test]
    fn deleted_record_is_detected() {
        let conn = conn_with_log();
        for command in ["import", "hunt", "findings"] {
            append_now(&conn, command);
        }
        conn.execute("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
        let problems = problems_now(&conn);
        assert!(problems.iter().any(|p| p.contains("record 2 is missing")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("record 3 does not chain")), "{problems:?}");
    }

    #[test]
    fn digest_scheme_change_is_not_an_edit() {
        let conn = conn_with_log();
        append_now(&conn, "annotate");
        // A record written by an earlier blobtrail: bare hex state digests.
        let old_state = "ab".repeat(32);
        conn.execute("UPDATE audit_log SET state_before = ?, state_after = ?", params![old_state, old_state]).unwrap();
        let first = read_all(&conn).unwrap().remove(0);
        conn.execute("UPDATE audit_log SET record_hash = ? WHERE seq = 1", [first.computed_hash()]).unwrap();
        // The first command after the upgrade: its state is compared with the old last record.
        let problems = problems_now(&conn);
        assert!(problems.is_empty(), "{problems:?}");

        append_now(&conn, "findings");
        let problems = problems_now(&conn);
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// Adds an annotation behind blobtrail's back, as someone with the case file could.
    fn annotate_outside(conn: &Connection) {
        conn.execute(
            "INSERT INTO annotations (finding_id, status, tags_added, tags_removed, examiner, created_at)
             VALUES ('F-1', 'benign', '[]', '[]', 'mallory', now()::TIMESTAMP)",
            [],
        )
        .unwrap();
    }

    /// Checks the whole trail against the state now.
    fn problems_now(conn: &Connection) -> Vec<String> {
        check_chain(&read_all(conn).unwrap(), &state_digest(conn).unwrap())
    }

    /// Appends the record a command writes when it starts, with exit code -1.
    fn append_started(conn: &Connection, command: &str) -> Entry {
        let mut started = entry(command);
        started.exit_code = UNFINISHED;
        started.state_before = state_digest(conn).unwrap();
        append(conn, &started).unwrap();
        started
    }

    /// Returns a case whose import was stopped after it committed a file: a record with exit
    /// code -1 and the file's row in `sources`, written after that record.
    fn stopped_import() -> Connection {
        let conn = conn_with_log();
        append_started(&conn, "import");
        conn.execute(
            "INSERT INTO sources (path, sha256, size_bytes, shape, tables, imported_at, records_read, imported, rejected, duplicates)
             VALUES ('a.csv', 'aa', 1, 'portal-csv', 'SigninLogs', now()::TIMESTAMP, 1, 1, 0, 0)",
            [],
        )
        .unwrap();
        conn
    }

    /// Appends the record of a command started an hour after the others.
    fn append_later(conn: &Connection, command: &str) {
        let mut next = entry(command);
        next.started_at = "2026-12-04T11:00:00Z".into();
        next.state_before = state_digest(conn).unwrap();
        append(conn, &next).unwrap();
    }

    #[test]
    fn unfinished_import_is_not_an_edit() {
        let conn = stopped_import();
        let problems = problems_now(&conn);
        assert!(problems.is_empty(), "before the next command: {problems:?}");

        append_later(&conn, "findings");
        let records = read_all(&conn).unwrap();
        let problems = check_chain(&records, &state_digest(&conn).unwrap());
        assert!(problems.is_empty(), "after the next command: {problems:?}");
        let unfinished = unfinished(&records);
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].0.seq, 1);
        assert_eq!(unfinished[0].1, Some("2026-12-04T11:00:00Z"));
    }

    #[test]
    fn edit_after_stopped_import_is_detected() {
        let conn = stopped_import();
        assert!(problems_now(&conn).is_empty(), "the import's own file");

        // Someone deletes an examiner's annotation before the next command.
        annotate_outside(&conn);
        let problems = problems_now(&conn);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("after record 1 (import, which was stopped) and since"), "{problems:?}");

        append_later(&conn, "findings");
        let problems = problems_now(&conn);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("which was stopped) and before record 2"), "{problems:?}");
    }

    #[test]
    fn finished_import_is_compared() {
        let conn = conn_with_log();
        let started = append_started(&conn, "import");
        let mut finished = entry("import");
        finished.state_before = started.state_before.clone();
        append(&conn, &finished).unwrap();
        // An edit after the finished import is caught at the next command.
        annotate_outside(&conn);
        append_later(&conn, "findings");

        let records = read_all(&conn).unwrap();
        assert!(unfinished(&records).is_empty());
        let problems = check_chain(&records, &state_digest(&conn).unwrap());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("between record 2 and record 3"), "{problems:?}");
    }

    #[test]
    fn edited_finding_changes_its_hunt() {
        let conn = conn_with_log();
        conn.execute_batch(
            "INSERT INTO hunts (mode, view_name, view_version, view_checksum, parameters, inputs, started_at, blobtrail_version)
             VALUES ('full', 'v', 1, 'c', '{}', '[]', now()::TIMESTAMP, 'test'),
                    ('full', 'v', 1, 'c', '{}', '[]', now()::TIMESTAMP, 'test');
             INSERT INTO findings (hunt_id, finding_id, upload_event_key, upload_kind, part_count, first_time,
                                   source_table, source_id, record_no, upload_time, window_start, window_end,
                                   candidate_count, confidence)
             SELECT h, 'F-' || i, 'k' || i, 'put-blob', 1, now()::TIMESTAMP, 'StorageBlobLogs', 1, i,
                    now()::TIMESTAMP, now()::TIMESTAMP, now()::TIMESTAMP, 0, 'none'
             FROM range(1, 3) t(h), range(3) r(i);
             UPDATE hunts SET findings_digest = d.digest FROM hunt_findings_digests d WHERE d.hunt_id = hunts.hunt_id;",
        )
        .unwrap();
        assert_eq!(changed_hunts(&conn).unwrap(), Vec::<i64>::new());
        let before = state_digest(&conn).unwrap();

        conn.execute("UPDATE findings SET confidence = 'strong' WHERE hunt_id = 2 AND finding_id = 'F-1'", []).unwrap();
        assert_eq!(changed_hunts(&conn).unwrap(), vec![2]);
        assert_eq!(state_digest(&conn).unwrap(), before, "the state reads the stored digests only");
    }

    /// An annotate stopped after it committed: the annotations part may differ from the
    /// started record, every other part may not.
    #[test]
    fn stopped_annotate_leaves_only_annotations_open() {
        let conn = conn_with_log();
        append_started(&conn, "annotate");
        annotate_outside(&conn);
        assert!(problems_now(&conn).is_empty(), "the annotation the stopped command may have made");

        conn.execute("UPDATE case_info SET title = 'another case'", []).unwrap();
        let problems = problems_now(&conn);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("the case's sources, hunts, exclusion rules, case details changed outside blobtrail after record 1 (annotate, which was stopped)"),
            "{problems:?}"
        );
    }

    /// A problem names the parts that changed: here the case's details and sources, which
    /// the report shows but no command after `case new` changes.
    #[test]
    fn outside_edit_names_the_parts() {
        let conn = conn_with_log();
        append_now(&conn, "findings");
        conn.execute_batch(
            "UPDATE case_info SET examiner = 'mallory';
             INSERT INTO sources (path, sha256, size_bytes, shape, tables, imported_at, records_read, imported, rejected, duplicates)
             VALUES ('a.csv', 'aa', 1, 'portal-csv', 'SigninLogs', now()::TIMESTAMP, 1, 1, 0, 0)",
        )
        .unwrap();
        let problems = problems_now(&conn);
        assert_eq!(problems, ["the case's sources, case details changed outside blobtrail after record 1"]);
    }

    #[test]
    fn outside_edit_between_commands_is_detected() {
        let conn = conn_with_log();
        append_now(&conn, "annotate");
        annotate_outside(&conn);
        let problems = problems_now(&conn);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("after record 1"), "{problems:?}");

        append_now(&conn, "findings");
        let problems = problems_now(&conn);
        assert_eq!(problems.len(), 1, "a later command does not hide it: {problems:?}");
        assert!(problems[0].contains("between record 1 and record 2"), "{problems:?}");
    }
}
