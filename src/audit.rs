//! The case's audit trail: one hash-chained record per command run against the case.
//!
//! Each record holds the command, its arguments, the examiner, the blobtrail version, start and
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
    pub previous_hash: String,
    pub record_hash: String,
}

impl Stored {
    /// The canonical JSON hashed for the chain: fixed key order, no whitespace.
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
        previous_hash,
        record_hash: String::new(),
    };
    stored.record_hash = stored.computed_hash();
    conn.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                exit_code, counts, error, previous_hash, record_hash
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
            previous_hash: r.get(10)?,
            record_hash: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks the chain and returns one message per broken link; empty means intact.
pub fn check_chain(records: &[Stored]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected_previous = GENESIS.to_string();
    for (index, record) in records.iter().enumerate() {
        let expected_seq = index as i64 + 1;
        if record.seq != expected_seq {
            problems.push(format!("record {expected_seq} is missing: the next record is number {}", record.seq));
        }
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
    problems
}

#[cfg(test)]
mod tests {
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
        }
    }

    fn conn_with_log() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../sql/004_case_work_v1.sql")).unwrap();
        conn
    }

    #[test]
    fn intact_chain_has_no_problems() {
        let conn = conn_with_log();
        for command in ["import", "hunt", "findings"] {
            append(&conn, &entry(command)).unwrap();
        }
        let records = read_all(&conn).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].previous_hash, GENESIS);
        assert_eq!(records[1].previous_hash, records[0].record_hash);
        assert!(check_chain(&records).is_empty());
    }

    #[test]
    fn changed_record_is_detected() {
        let conn = conn_with_log();
        for command in ["import", "hunt"] {
            append(&conn, &entry(command)).unwrap();
        }
        conn.execute("UPDATE audit_log SET examiner = 'mallory' WHERE seq = 1", []).unwrap();
        let problems = check_chain(&read_all(&conn).unwrap());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("record 1 (import) was changed"), "{problems:?}");
    }

    #[test]
    fn deleted_record_is_detected() {
        let conn = conn_with_log();
        for command in ["import", "hunt", "findings"] {
            append(&conn, &entry(command)).unwrap();
        }
        conn.execute("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
        let problems = check_chain(&read_all(&conn).unwrap());
        assert!(problems.iter().any(|p| p.contains("record 2 is missing")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("record 3 does not chain")), "{problems:?}");
    }
}
