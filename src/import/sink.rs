//! The one writer of imported records: it owns the file's transaction.
//!
//! Rows are appended to staging tables created inside the transaction, then moved into the case
//! tables with one statement that drops records the case already contains (the same record from an
//! overlapping export) and repeats within the file. The source row with its counts is written
//! last. Nothing reaches the case unless `finish` commits; dropping the sink rolls back.

use anyhow::{bail, Context, Result};
use duckdb::types::{TimeUnit, Value};
use duckdb::{appender_params_from_iter, params, Appender, Connection};

use super::normalize::{Reject, SigninRow, StorageRow};
use super::record::Position;

/// Record counts of one imported file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub imported: u64,
    pub rejected: u64,
    pub duplicates: u64,
}

/// The description of the file, written to `sources` on commit.
pub struct SourceRecord<'a> {
    pub path: &'a str,
    pub sha256: &'a str,
    pub size_bytes: u64,
    pub shape: &'a str,
    pub tables: &'a str,
    pub examiner: Option<&'a str>,
    pub options: &'a str,
}

pub struct Sink<'c> {
    conn: &'c Connection,
    source_id: i32,
    appenders: Option<Appenders<'c>>,
    staged: u64,
    rejected: u64,
    committed: bool,
}

struct Appenders<'c> {
    storage: Appender<'c>,
    signin: Appender<'c>,
    rejects: Appender<'c>,
}

impl Appenders<'_> {
    /// Flushes every appender and checks the result: `Appender::drop` would flush too, but it
    /// discards errors.
    fn flush(&mut self) -> Result<()> {
        self.storage.flush().context("cannot write storage records")?;
        self.signin.flush().context("cannot write sign-in records")?;
        self.rejects.flush().context("cannot write rejected records")?;
        Ok(())
    }
}

// The staging tables are temporary tables created outside the file's transaction. Staging
// tables created inside it lost their rows in DuckDB 2.0.0: once a file filled more than one
// row group (122,880 rows), every column scan of them came back empty although count(*) saw
// the rows, so a whole file looked like duplicates.
const STAGE_SQL: &str = "
    CREATE TEMP TABLE IF NOT EXISTS import_stage_storage AS FROM storage_events LIMIT 0;
    CREATE TEMP TABLE IF NOT EXISTS import_stage_signin AS FROM signin_events LIMIT 0;
    DELETE FROM import_stage_storage;
    DELETE FROM import_stage_signin;";

impl<'c> Sink<'c> {
    /// Opens the transaction and the staging tables.
    pub fn begin(conn: &'c Connection) -> Result<Sink<'c>> {
        conn.execute_batch(STAGE_SQL)?;
        conn.execute_batch("BEGIN TRANSACTION")?;
        let opened = (|| -> Result<Sink<'c>> {
            let source_id: i32 = conn.query_row("SELECT nextval('source_id_seq')::INTEGER", [], |r| r.get(0))?;
            let appenders = Appenders {
                storage: conn.appender_to_catalog_and_db("import_stage_storage", "temp", "main")?,
                signin: conn.appender_to_catalog_and_db("import_stage_signin", "temp", "main")?,
                rejects: conn.appender("rejects")?,
            };
            Ok(Sink { conn, source_id, appenders: Some(appenders), staged: 0, rejected: 0, committed: false })
        })();
        if opened.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        opened
    }

    pub fn storage(&mut self, position: Position, row: StorageRow, raw: String) -> Result<()> {
        let caller = row.caller;
        let values = [
            Value::Int(self.source_id),
            Value::BigInt(position.record_no as i64),
            opt_int(position.line),
            Value::Text(row.event_key),
            Value::Text(row.table.name().to_string()),
            timestamp(row.time_generated),
            Value::Text(row.time_raw),
            text(row.account_name),
            text(row.operation_name),
            text(row.status_text),
            text(row.status_code),
            text(row.authentication_type),
            text(row.authentication_hash),
            text(row.uri),
            text(row.object_key),
            text(row.object_path),
            text(row.container),
            text(row.file_name),
            text(caller.raw),
            text(caller.canonical),
            caller.port.map_or(Value::Null, Value::Int),
            text(caller.family.map(str::to_string)),
            text(caller.scope.map(str::to_string)),
            text(caller.problem.map(str::to_string)),
            text(row.user_agent),
            text(row.referrer),
            text(row.requester_upn),
            text(row.requester_object_id),
            text(row.requester_app_id),
            text(row.requester_tenant_id),
            text(row.service_type),
            text(row.protocol),
            text(row.correlation_id),
            row.request_body_size.map_or(Value::Null, Value::BigInt),
            Value::Text(raw),
        ];
        self.appenders()?.storage.append_row(appender_params_from_iter(values.iter()))?;
        self.staged += 1;
        Ok(())
    }

    pub fn signin(&mut self, position: Position, row: SigninRow, raw: String) -> Result<()> {
        let address = row.address;
        let values = [
            Value::Int(self.source_id),
            Value::BigInt(position.record_no as i64),
            opt_int(position.line),
            Value::Text(row.event_key),
            Value::Text(row.table.name().to_string()),
            row.time_generated.map_or(Value::Null, timestamp),
            row.created_time.map_or(Value::Null, timestamp),
            Value::Text(row.time_raw),
            text(row.user_principal_name),
            text(row.user_id),
            text(row.user_display_name),
            text(row.app_id),
            text(row.app_display_name),
            text(row.service_principal_id),
            text(row.service_principal_name),
            text(address.raw),
            text(address.canonical),
            text(address.family.map(str::to_string)),
            text(address.scope.map(str::to_string)),
            text(address.problem.map(str::to_string)),
            text(row.user_agent),
            text(row.result_type),
            text(row.result_description),
            row.is_interactive.map_or(Value::Null, Value::Boolean),
            text(row.client_app_used),
            text(row.correlation_id),
            text(row.signin_id),
            Value::Text(raw),
        ];
        self.appenders()?.signin.append_row(appender_params_from_iter(values.iter()))?;
        self.staged += 1;
        Ok(())
    }

    pub fn reject(&mut self, position: Position, reject: Reject, raw: String) -> Result<()> {
        let values = [
            Value::Int(self.source_id),
            Value::BigInt(position.record_no as i64),
            opt_int(position.line),
            text(reject.column),
            text(reject.value),
            Value::Text(reject.reason),
            Value::Text(raw),
        ];
        self.appenders()?.rejects.append_row(appender_params_from_iter(values.iter()))?;
        self.rejected += 1;
        Ok(())
    }

    fn appenders(&mut self) -> Result<&mut Appenders<'c>> {
        self.appenders.as_mut().context("the import transaction is already closed")
    }

    /// Moves the staged rows into the case, records the source and commits. On error the
    /// transaction is rolled back when the sink is dropped.
    pub fn finish(mut self, source: &SourceRecord) -> Result<Counts> {
        let mut appenders = self.appenders.take().context("the import transaction is already closed")?;
        appenders.flush()?;
        drop(appenders);

        // A column scan must see every staged record before anything is counted as a duplicate.
        self.check_staged()?;
        let imported = self.move_new("storage_events", "import_stage_storage")?
            + self.move_new("signin_events", "import_stage_signin")?;
        let counts = Counts {
            read: self.staged + self.rejected,
            imported,
            rejected: self.rejected,
            duplicates: self.staged - imported,
        };
        self.conn.execute(
            "INSERT INTO sources (source_id, path, sha256, size_bytes, shape, tables, imported_at,
                                  examiner, options, records_read, imported, rejected, duplicates,
                                  first_time, last_time)
             SELECT ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, min(t), max(t)
             FROM (SELECT time_generated AS t FROM import_stage_storage
                   UNION ALL
                   SELECT coalesce(created_time, time_generated) FROM import_stage_signin)",
            params![
                self.source_id,
                source.path,
                source.sha256,
                source.size_bytes as i64,
                source.shape,
                source.tables,
                source.examiner,
                source.options,
                counts.read as i64,
                counts.imported as i64,
                counts.rejected as i64,
                counts.duplicates as i64,
            ],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        self.conn.execute_batch("DELETE FROM import_stage_storage; DELETE FROM import_stage_signin;")?;
        Ok(counts)
    }

    /// Fails when a column scan of the staging tables sees another number of rows than were
    /// appended (`count(*)` alone can come from metadata and is not a scan).
    fn check_staged(&self) -> Result<()> {
        let seen: i64 = self.conn.query_row(
            "SELECT (SELECT count(event_key) FROM import_stage_storage) + (SELECT count(event_key) FROM import_stage_signin)",
            [],
            |r| r.get(0),
        )?;
        if seen as u64 != self.staged {
            bail!(
                "consistency check failed: {} records were staged but {seen} can be read back; nothing from this file was imported",
                self.staged
            );
        }
        Ok(())
    }

    /// Inserts the staged rows whose `event_key` the case does not contain yet, once each (the
    /// first in file order). Hash aggregation and hash joins keep this linear in the file.
    fn move_new(&self, target: &str, stage: &str) -> Result<u64> {
        let inserted = self.conn.execute(
            &format!(
                "INSERT INTO {target}
                 SELECT s.* FROM {stage} s
                 SEMI JOIN (SELECT event_key, min(record_no) AS record_no FROM {stage} GROUP BY event_key) f
                   ON f.event_key = s.event_key AND f.record_no = s.record_no
                 ANTI JOIN {target} t ON t.event_key = s.event_key"
            ),
            [],
        )?;
        Ok(inserted as u64)
    }
}

impl Drop for Sink<'_> {
    /// Rolls back an uncommitted file: the case is as it was before `begin`. The appenders go
    /// first, so that what they flush lands in the transaction being rolled back.
    fn drop(&mut self) {
        drop(self.appenders.take());
        if !self.committed {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn text(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::Text)
}

fn opt_int(value: Option<u64>) -> Value {
    value.map_or(Value::Null, |v| Value::BigInt(v as i64))
}

fn timestamp(micros: i64) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, micros)
}
