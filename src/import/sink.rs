//! The one writer of imported records: it owns the file's transaction.
//!
//! Rows are appended straight to the case tables inside the transaction, in Arrow batches. Once
//! the file is read, one statement per table deletes the file's records that the case already
//! contained (the same record from an overlapping export) or that repeat within the file. The
//! source row with its counts is written last. Nothing reaches the case unless `finish`
//! commits; dropping the sink rolls back.

use anyhow::{bail, Context, Result};
use duckdb::{params, Appender, Connection};

use super::header::CsvHeader;
use super::normalize::{Reject, SigninRow, StorageRow};
use super::record::Position;
use super::tables::Family;
use super::row_batch::{RowBatch, RowWriter, REJECT_COLUMNS, SIGNIN_COLUMNS, STORAGE_COLUMNS};

/// Record counts of one imported file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub imported: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Duplicates found by request ID whose copy in this file states a value that the copy
    /// the case keeps lacks, such as the user agent.
    pub fuller_duplicates: u64,
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
    pub csv_header: Option<&'a CsvHeader>,
    /// The SHA-256 of the zip archive that held the file.
    pub container_sha256: Option<&'a str>,
}

pub struct Sink<'c> {
    conn: &'c Connection,
    source_id: i32,
    appenders: Option<Appenders<'c>>,
    appended: u64,
    rejected: u64,
    committed: bool,
}

/// An appender with the rows not yet handed to it.
struct TableAppender<'c> {
    appender: Appender<'c>,
    batch: RowBatch,
}

impl TableAppender<'_> {
    /// Appends the pending rows once a DuckDB vector's worth has gathered.
    fn after_row(&mut self) -> Result<()> {
        if self.batch.rows() >= ROWS_PER_APPEND {
            self.append()?;
        }
        Ok(())
    }

    fn append(&mut self) -> Result<()> {
        if self.batch.rows() > 0 {
            self.appender.append_record_batch(self.batch.finish()?)?;
        }
        Ok(())
    }
}

/// Rows per Arrow batch handed to an appender: one DuckDB vector.
const ROWS_PER_APPEND: usize = 2048;

struct Appenders<'c> {
    storage: TableAppender<'c>,
    signin: TableAppender<'c>,
    rejects: TableAppender<'c>,
}

impl Appenders<'_> {
    /// Appends the pending rows and flushes every appender, checking the result:
    /// `Appender::drop` would flush too, but it discards errors.
    fn flush(&mut self) -> Result<()> {
        for (table, what) in
            [(&mut self.storage, "storage"), (&mut self.signin, "sign-in"), (&mut self.rejects, "rejected")]
        {
            table.append().with_context(|| format!("cannot write {what} records"))?;
            table.appender.flush().with_context(|| format!("cannot write {what} records"))?;
        }
        Ok(())
    }
}

/// Keeps the rows of the log tables that file `$1` has rows in, within the case table
/// `$table`. An event key contains its log table, and request IDs are compared within one
/// table, so rows of other log tables can never match. Without this filter, a StorageFileLogs
/// export that covers the months of a StorageBlobLogs export already in the case joins every
/// row of it.
macro_rules! same_tables {
    ($table:literal) => {
        concat!("source_table IN (SELECT source_table FROM ", $table, " WHERE source_id = $1)")
    };
}

impl<'c> Sink<'c> {
    /// Opens the transaction and the appenders. The file's rows carry `source_id` when given
    /// (the ID of a rolled-back try at the same file), else the sequence's next value.
    pub fn begin(conn: &'c Connection, source_id: Option<i32>) -> Result<Sink<'c>> {
        conn.execute_batch("BEGIN TRANSACTION")?;
        let opened = (|| -> Result<Sink<'c>> {
            let source_id: i32 = match source_id {
                Some(id) => id,
                None => conn.query_row("SELECT nextval('source_id_seq')::INTEGER", [], |r| r.get(0))?,
            };
            let appenders = Appenders {
                storage: TableAppender {
                    appender: conn.appender("storage_events")?,
                    batch: RowBatch::new(STORAGE_COLUMNS),
                },
                signin: TableAppender {
                    appender: conn.appender("signin_events")?,
                    batch: RowBatch::new(SIGNIN_COLUMNS),
                },
                rejects: TableAppender { appender: conn.appender("rejects")?, batch: RowBatch::new(REJECT_COLUMNS) },
            };
            Ok(Sink { conn, source_id, appenders: Some(appenders), appended: 0, rejected: 0, committed: false })
        })();
        if opened.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        opened
    }

    pub fn storage(&mut self, position: Position, row: StorageRow, raw: String) -> Result<()> {
        let source_id = self.source_id;
        let table = &mut self.appenders()?.storage;
        push_storage(&mut table.batch, source_id, position, row, &raw);
        table.after_row()?;
        self.appended += 1;
        Ok(())
    }

    pub fn signin(&mut self, position: Position, row: SigninRow, raw: String) -> Result<()> {
        let source_id = self.source_id;
        let table = &mut self.appenders()?.signin;
        push_signin(&mut table.batch, source_id, position, row, &raw);
        table.after_row()?;
        self.appended += 1;
        Ok(())
    }

    pub fn reject(&mut self, position: Position, reject: Reject, raw: String) -> Result<()> {
        let source_id = self.source_id;
        let table = &mut self.appenders()?.rejects;
        let b = &mut table.batch;
        b.int(Some(source_id));
        b.bigint(Some(position.record_no as i64));
        b.bigint(position.line.map(|line| line as i64));
        b.text(reject.column.as_deref());
        b.text(reject.value.as_deref());
        b.text(Some(&reject.reason));
        b.text(Some(&raw));
        b.end_row();
        table.after_row()?;
        self.rejected += 1;
        Ok(())
    }

    /// Returns the `source_id` that this file's rows carry.
    pub fn source_id(&self) -> i32 {
        self.source_id
    }

    /// Counts rows that were written to the case tables by a statement of the caller's, in
    /// this transaction, rather than through the appenders.
    pub fn add_written(&mut self, rows: u64) {
        self.appended += rows;
    }

    fn appenders(&mut self) -> Result<&mut Appenders<'c>> {
        self.appenders.as_mut().context("the import transaction is already closed")
    }

    /// Deletes the file's duplicates, records the source and commits. On error the transaction
    /// is rolled back when the sink is dropped.
    pub fn finish(mut self, source: &SourceRecord) -> Result<Counts> {
        let mut appenders = self.appenders.take().context("the import transaction is already closed")?;
        appenders.flush()?;
        drop(appenders);

        let storage = self.appended_rows(Family::Storage)?;
        let signin = self.appended_rows(Family::Signin)?;
        // A column scan must see every appended record before anything is counted as a duplicate.
        self.check_appended(storage.rows + signin.rows)?;
        // The file's time range covers every record read, duplicates included.
        let first_time = [storage.first, signin.first].into_iter().flatten().min();
        let last_time = [storage.last, signin.last].into_iter().flatten().max();
        let mut duplicates = 0;
        if self.shares_keys(Family::Storage, &storage)? {
            // A rejected copy was read once: it moves from the appended rows to the rejected.
            let moved = self.reject_conflicting_copies(&storage, source.path)?;
            self.appended -= moved;
            self.rejected += moved;
            duplicates += self.delete_duplicates(Family::Storage, &storage)?;
        }
        if self.shares_keys(Family::Signin, &signin)? {
            duplicates += self.delete_duplicates(Family::Signin, &signin)?;
        }
        let (moved, repeated, fuller_duplicates) = self.resolve_same_request_ids(&storage, source.path)?;
        self.appended -= moved;
        self.rejected += moved;
        duplicates += repeated;
        let (moved, repeated) = self.resolve_same_signin_ids(&signin)?;
        self.appended -= moved;
        self.rejected += moved;
        duplicates += repeated;
        let counts = Counts {
            read: self.appended + self.rejected,
            imported: self.appended - duplicates,
            rejected: self.rejected,
            duplicates,
            fuller_duplicates,
        };
        self.conn.execute(
            "INSERT INTO sources (source_id, path, sha256, size_bytes, shape, tables, imported_at,
                                  examiner, options, records_read, imported, rejected, duplicates,
                                  first_time, last_time, csv_header, csv_delimiter, container_sha256)
             VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, make_timestamp(?), make_timestamp(?), ?, ?, ?)",
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
                first_time,
                last_time,
                source.csv_header.map(|header| header.text.as_str()),
                source.csv_header.map(|header| header.delimiter.to_string()),
                source.container_sha256,
            ],
        )?;
        // The digests of the rows and rejected records as committed, which `verify` recomputes
        // (sql/008_source_rows_digests.sql and sql/010_rejects_digests.sql).
        self.conn.execute(
            "UPDATE sources SET rows_digest = source_rows_digest($1), rows_digest_engine = version(),
                                rejects_digest = source_rejects_digest($1), rejects_digest_engine = version()
             WHERE source_id = $1",
            [self.source_id],
        )?;
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(counts)
    }

    /// Counts this file's rows in one case table with a column scan (`count(*)` alone can come
    /// from metadata and is not a scan), and finds the range of the times their keys contain.
    fn appended_rows(&self, table: Family) -> Result<Appended> {
        let (table_name, key_time) = key_time(table);
        let (rows, first, last) = self.conn.query_row(
            &format!(
                "SELECT count(event_key), epoch_us(min({key_time})), epoch_us(max({key_time}))
                 FROM {table_name} WHERE source_id = $1"
            ),
            [self.source_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Appended { rows, first, last })
    }

    /// Fails when the column scans found another number of this file's rows than were appended.
    fn check_appended(&self, seen: i64) -> Result<()> {
        if seen as u64 != self.appended {
            bail!(
                "consistency check failed: {} records were appended but {seen} can be read back; nothing from this file was imported",
                self.appended
            );
        }
        Ok(())
    }

    /// Deletes this file's rows whose `event_key` an earlier file of the case already holds, and
    /// every repeat within the file after the first in file order. Returns how many it deleted.
    ///
    /// An event key contains the record's time to the millisecond, so an earlier copy of a
    /// record lies within a millisecond of this file's time range, and only the earlier rows in
    /// that range are read. The range filters are plain column comparisons, which DuckDB checks
    /// against each row group's minimum and maximum, so one more day's export costs time in
    /// proportion to the rows of that day, not to the case.
    fn delete_duplicates(&self, table: Family, appended: &Appended) -> Result<u64> {
        let (Some(first), Some(last)) = (appended.first, appended.last) else { return Ok(0) };
        let (table_name, _) = key_time(table);
        let earlier = earlier_keys(table);
        let deleted = self.conn.execute(
            &format!(
                "DELETE FROM {table_name} WHERE source_id = $1 AND rowid IN (
                     SELECT rowid FROM {table_name} WHERE source_id = $1
                     EXCEPT
                     SELECT s.rowid FROM {table_name} s
                     SEMI JOIN (SELECT event_key, min(record_no) AS record_no FROM {table_name}
                                WHERE source_id = $1 GROUP BY event_key) f
                       ON f.event_key = s.event_key AND f.record_no = s.record_no
                     ANTI JOIN ({earlier}) o ON o.event_key = s.event_key
                     WHERE s.source_id = $1)"
            ),
            params![self.source_id, first - 1000, last + 1000],
        )?;
        Ok(deleted as u64)
    }

    /// Tells whether any of this file's rows repeats an event key of the file or shares one
    /// with an earlier file of the case. Most files do neither, and counting that takes one
    /// scan of the file's keys. The statements that find which rows to delete or reject took
    /// several times as long for a file of 9.3 million rows: 3.8 to 7.3 s against 1.2 s.
    fn shares_keys(&self, table: Family, appended: &Appended) -> Result<bool> {
        let (Some(first), Some(last)) = (appended.first, appended.last) else { return Ok(false) };
        let (table_name, _) = key_time(table);
        let earlier = earlier_keys(table);
        let (repeats, shared): (i64, i64) = self.conn.query_row(
            &format!(
                "SELECT count(*) - count(DISTINCT event_key), count(*) FILTER (WHERE event_key IN ({earlier}))
                 FROM {table_name} WHERE source_id = $1"
            ),
            params![self.source_id, first - 1000, last + 1000],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(repeats > 0 || shared > 0)
    }

    /// Moves to `rejects` this file's storage requests that the case (or this file, earlier)
    /// already contains under the same event key but with another requester, authentication type
    /// or body size, and returns how many it moved. The key leaves these fields out, so such a
    /// copy would otherwise be deleted as a duplicate, and with it, say, the OAuth requester
    /// that an earlier export had projected away. The first copy stays in the case; the
    /// rejected one names it and the field that differs.
    fn reject_conflicting_copies(&self, appended: &Appended, path: &str) -> Result<u64> {
        self.reject_storage_conflicts(SAME_EVENT_KEYS, 1000, appended, path)
    }

    /// Deals with this file's storage requests whose request ID an earlier file contains for
    /// the same table, operation and object less than a second away, under another event key
    /// (`SAME_REQUEST_IDS`). A copy that differs in a field `storage_differing` compares is moved
    /// to `rejects` as `reject_conflicting_copies` does; the others are deleted as duplicates.
    /// Returns how many were moved, how many deleted, and how many of those deleted stated a
    /// value that the copy kept lacks.
    fn resolve_same_request_ids(&self, appended: &Appended, path: &str) -> Result<(u64, u64, u64)> {
        let (Some(first), Some(last)) = (appended.first, appended.last) else { return Ok((0, 0, 0)) };
        // Most imports go into a case with no other requests at their times, and that takes
        // one count of the earlier rows in the range instead of a join of all of this file's.
        let earlier: i64 = self.conn.query_row(
            concat!(
                "SELECT count(*) FROM storage_events
                 WHERE source_id <> $1 AND correlation_id IS NOT NULL AND ",
                same_tables!("storage_events"),
                " AND time_generated BETWEEN make_timestamp($2) AND make_timestamp($3)"
            ),
            params![self.source_id, first - 1_000_000, last + 1_000_000],
            |r| r.get(0),
        )?;
        if earlier == 0 {
            return Ok((0, 0, 0));
        }
        let moved = self.reject_storage_conflicts(SAME_REQUEST_IDS, 1_000_000, appended, path)?;
        let params = params![self.source_id, first - 1_000_000, last + 1_000_000];
        let fuller: i64 =
            self.conn.query_row(&format!("{SAME_REQUEST_IDS} SELECT count(*) FROM pairs WHERE states_more"), params, |r| r.get(0))?;
        let deleted = self.conn.execute(
            &format!("DELETE FROM storage_events WHERE rowid IN ({SAME_REQUEST_IDS} SELECT row_id FROM pairs)"),
            params,
        )?;
        Ok((moved, deleted as u64, fuller as u64))
    }

    /// Moves the conflicting pairs that `pairs` (`SAME_EVENT_KEYS` or `SAME_REQUEST_IDS`) finds
    /// to `rejects` and deletes their rows from `storage_events`. Earlier copies are looked for
    /// up to `margin_us` microseconds outside the file's time range. Returns how many it moved.
    fn reject_storage_conflicts(&self, pairs: &str, margin_us: i64, appended: &Appended, path: &str) -> Result<u64> {
        let (Some(first), Some(last)) = (appended.first, appended.last) else { return Ok(0) };
        let params = params![self.source_id, first - margin_us, last + margin_us, path];
        let moved = self.conn.execute(
            &format!(
                "INSERT INTO rejects (source_id, record_no, line, column_name, value, reason, raw)
                 {pairs}{CONFLICTS}
                 SELECT source_id, record_no, line, field,
                        coalesce(this_value, ''),
                        format('the case already holds this request from `{{}}` {{}} with {{}} {{}}, where this copy has {{}}; \
                                the first copy is kept and this one is rejected, so that neither is lost: compare the two exports',
                               earlier_path, earlier_position, field, earlier_shown, this_shown),
                        raw
                 FROM conflicts"
            ),
            params,
        )?;
        if moved > 0 {
            self.conn.execute(
                &format!("DELETE FROM storage_events WHERE rowid IN ({pairs}{CONFLICTS} SELECT row_id FROM conflicts)"),
                params,
            )?;
        }
        Ok(moved as u64)
    }

    /// Deals with this file's sign-ins whose request ID (`Id`, the admin center's `Request ID`)
    /// an earlier file contains in the same table, less than a second apart: the same sign-in in
    /// another export shape, whose event key differs where the shapes keep the time to another
    /// precision (Log Analytics to seven decimals, the admin center's download to the second).
    /// A copy that agrees on user and address is deleted as a duplicate. One that states
    /// another user or address is moved to `rejects` with the copy it conflicts with, and one
    /// that states another result stays beside it. Returns how many were moved and how many
    /// deleted.
    fn resolve_same_signin_ids(&self, appended: &Appended) -> Result<(u64, u64)> {
        let (Some(first), Some(last)) = (appended.first, appended.last) else { return Ok((0, 0)) };
        let params = params![self.source_id, first - 1_000_000, last + 1_000_000];
        let moved = self.conn.execute(
            &format!(
                "INSERT INTO rejects (source_id, record_no, line, column_name, value, reason, raw)
                 {SAME_SIGNIN_IDS}
                 SELECT p.source_id, p.record_no, p.line, p.field, coalesce(p.this_value, ''),
                        format('the case already holds this sign-in (the same request ID, less than a second apart) from \
                                `{{}}` {{}} with {{}} `{{}}`, where this copy has `{{}}`; the first copy is kept and this one \
                                is rejected, so that neither is lost: compare the two exports',
                               src.path, coalesce('line ' || p.earlier_line, 'record ' || p.earlier_record), p.field,
                               p.earlier_value, p.this_value),
                        p.raw
                 FROM pairs p JOIN sources src ON src.source_id = p.earlier_source
                 WHERE p.field IS NOT NULL"
            ),
            params,
        )?;
        let deleted = self.conn.execute(
            &format!("DELETE FROM signin_events WHERE rowid IN ({SAME_SIGNIN_IDS} SELECT row_id FROM pairs)"),
            params,
        )?;
        Ok((moved as u64, (deleted - moved) as u64))
    }
}

/// Pairs each sign-in of source `$1` with the first earlier sign-in (of another source, in the
/// time range `$2` to `$3`) of the same table and request ID less than a second away, unless
/// their results differ (a result on one side only counts as different). Each pair names the
/// first of user and address that both copies state and that differs.
const SAME_SIGNIN_IDS: &str = concat!(
    "
    WITH earlier AS (
        SELECT * FROM signin_events
        WHERE source_id <> $1 AND signin_id IS NOT NULL AND ",
    same_tables!("signin_events"),
    "
          AND created_time BETWEEN make_timestamp($2) AND make_timestamp($3)
        UNION ALL
        SELECT * FROM signin_events
        WHERE source_id <> $1 AND signin_id IS NOT NULL AND created_time IS NULL AND ",
    same_tables!("signin_events"),
    "
          AND time_generated BETWEEN make_timestamp($2) AND make_timestamp($3)
    ),
    matched AS (
        SELECT s.rowid AS row_id, s.source_id, s.record_no, s.line, s.raw,
               o.source_id AS earlier_source, o.record_no AS earlier_record, o.line AS earlier_line,
               list_filter([['UserId', o.user_id, s.user_id], ['UserPrincipalName', o.user_principal_name, s.user_principal_name],
                            ['IPAddress', o.ip, s.ip]],
                           lambda f: nullif(lower(trim(f[2])), '') <> nullif(lower(trim(f[3])), ''))[1] AS differing
        FROM signin_events s
        JOIN earlier o
          ON lower(o.signin_id) = lower(s.signin_id) AND o.source_table = s.source_table
         AND abs(epoch_us(coalesce(o.created_time, o.time_generated)) - epoch_us(coalesce(s.created_time, s.time_generated))) < 1000000
        -- Two rows with one request ID and two results both stay, as they do within one file,
        -- so that one result cannot hide the other from the hunt. A row without a result and
        -- one with a result are two results too. The admin center's `Success` is result 0.
        WHERE s.source_id = $1 AND s.signin_id IS NOT NULL
          AND (CASE WHEN lower(trim(o.result_type)) IN ('0', 'success') THEN '0' ELSE nullif(lower(trim(o.result_type)), '') END)
              IS NOT DISTINCT FROM
              (CASE WHEN lower(trim(s.result_type)) IN ('0', 'success') THEN '0' ELSE nullif(lower(trim(s.result_type)), '') END)
        QUALIFY row_number() OVER (PARTITION BY s.rowid ORDER BY o.source_id, o.record_no) = 1
    ),
    pairs AS (
        SELECT * EXCLUDE (differing), differing[1] AS field, differing[2] AS earlier_value, differing[3] AS this_value
        FROM matched
    )"
);

/// Returns the event keys that files other than `$1` contain in a family's table between the
/// times `$2` and `$3`. The plain column comparisons, not the key time's coalesce, let DuckDB
/// prune by row group.
fn earlier_keys(table: Family) -> &'static str {
    match table {
        Family::Storage => concat!(
            "SELECT event_key FROM storage_events
             WHERE source_id <> $1 AND ",
            same_tables!("storage_events"),
            " AND time_generated BETWEEN make_timestamp($2) AND make_timestamp($3)"
        ),
        Family::Signin => concat!(
            "SELECT event_key FROM signin_events
             WHERE source_id <> $1 AND ",
            same_tables!("signin_events"),
            " AND created_time BETWEEN make_timestamp($2) AND make_timestamp($3)
             UNION ALL
             SELECT event_key FROM signin_events
             WHERE source_id <> $1 AND created_time IS NULL AND ",
            same_tables!("signin_events"),
            " AND time_generated BETWEEN make_timestamp($2) AND make_timestamp($3)"
        ),
    }
}

/// The first of the fields that two copies of one storage request must agree on, as
/// `[name, earlier value, this value]`, where `o` is the earlier copy and `s` this file's, or
/// NULL when they agree. A value on one side only counts as different: the other export left
/// the field out.
macro_rules! storage_differing {
    () => {
        "list_filter([['RequesterUpn', o.requester_upn, s.requester_upn],
                      ['RequesterObjectId', o.requester_object_id, s.requester_object_id],
                      ['RequesterAppId', o.requester_app_id, s.requester_app_id],
                      ['RequesterUserName', o.requester_user_name, s.requester_user_name],
                      ['AuthenticationType', o.authentication_type, s.authentication_type],
                      ['RequestBodySize', o.request_body_size::VARCHAR, s.request_body_size::VARCHAR]],
                     lambda f: nullif(lower(trim(f[2])), '') IS DISTINCT FROM nullif(lower(trim(f[3])), ''))[1]"
    };
}

/// The columns of a pair of storage rows that `CONFLICTS` reads: this file's row, the earlier
/// copy it repeats and the field in which they differ.
macro_rules! storage_pair_columns {
    () => {
        concat!(
            "s.rowid AS row_id, s.source_id, s.record_no, s.line, o.row_ref AS earlier_row,
             o.source_id AS earlier_source, o.record_no AS earlier_record, o.line AS earlier_line, ",
            storage_differing!(),
            " AS differing"
        )
    };
}

/// Pairs the rows of source `$1` with the first earlier row of the same event key (of another
/// source, in the time range `$2` to `$3`, or of this source with a lower record number).
const SAME_EVENT_KEYS: &str = concat!(
    "WITH earlier AS (
        SELECT *, rowid AS row_ref FROM storage_events
        WHERE source_id <> $1 AND ",
    same_tables!("storage_events"),
    " AND time_generated BETWEEN make_timestamp($2) AND make_timestamp($3)
        UNION ALL
        SELECT *, rowid AS row_ref FROM storage_events WHERE source_id = $1
    ),
    pairs AS (
        SELECT ",
    storage_pair_columns!(),
    "
        FROM storage_events s
        JOIN earlier o ON o.event_key = s.event_key AND (o.source_id <> $1 OR o.record_no < s.record_no)
        WHERE s.source_id = $1
        QUALIFY row_number() OVER (PARTITION BY s.rowid ORDER BY o.source_id <> $1 DESC, o.source_id, o.record_no) = 1
    )"
);

/// Pairs the rows of source `$1` with the first row of another source (in the time range `$2`
/// to `$3`) with the same request ID (`CorrelationId`), table, operation and object. The two
/// are less than a second apart and state no other caller address or status. Such a row is the same request
/// in another export, whose event key differs because one export left out a column that the
/// key contains, such as the user agent. `states_more` is true where this file's copy states a
/// value that the earlier one lacks.
const SAME_REQUEST_IDS: &str = concat!(
    "WITH earlier AS (
        SELECT *, rowid AS row_ref FROM storage_events
        WHERE source_id <> $1 AND correlation_id IS NOT NULL AND ",
    same_tables!("storage_events"),
    "
          AND time_generated BETWEEN make_timestamp($2) AND make_timestamp($3)
    ),
    pairs AS (
        SELECT ",
    storage_pair_columns!(),
    ",
               -- Whether this file's copy states a value that the earlier one lacks.
               (s.user_agent IS NOT NULL AND o.user_agent IS NULL) OR (s.referrer IS NOT NULL AND o.referrer IS NULL)
               OR (s.status_code IS NOT NULL AND o.status_code IS NULL) OR (s.status_text IS NOT NULL AND o.status_text IS NULL)
               OR (s.caller_ip_raw IS NOT NULL AND o.caller_ip_raw IS NULL) OR (s.uri IS NOT NULL AND o.uri IS NULL)
               OR (s.authentication_hash IS NOT NULL AND o.authentication_hash IS NULL)
               OR (s.requester_tenant_id IS NOT NULL AND o.requester_tenant_id IS NULL) AS states_more
        FROM storage_events s
        JOIN earlier o
          ON lower(o.correlation_id) = lower(s.correlation_id) AND o.source_table = s.source_table
         AND lower(o.operation_name) IS NOT DISTINCT FROM lower(s.operation_name)
         AND o.object_path IS NOT DISTINCT FROM s.object_path
         AND abs(epoch_us(o.time_generated) - epoch_us(s.time_generated)) < 1000000
         -- Copies that state another address or result are two requests, whatever their IDs
         -- say, and both stay, as they would in one file.
         AND NOT coalesce(o.caller_ip <> s.caller_ip, false)
         AND NOT coalesce(lower(o.status_text) <> lower(s.status_text), false)
         AND NOT coalesce(o.status_code <> s.status_code, false)
        WHERE s.source_id = $1 AND s.correlation_id IS NOT NULL AND o.event_key <> s.event_key
          -- An ID of zeros is a placeholder, not a request's.
          AND trim(s.correlation_id, '0-') <> ''
        QUALIFY row_number() OVER (PARTITION BY s.rowid ORDER BY o.source_id, o.record_no) = 1
    )"
);

/// Follows `SAME_EVENT_KEYS` or `SAME_REQUEST_IDS`: the pairs whose copies differ in a field
/// that `storage_differing` compares, each naming the earlier copy, with this file's record
/// as written. The pairs leave `raw` out, so only the rows that conflict read it.
const CONFLICTS: &str = ",
    differing_pairs AS (
        SELECT * FROM pairs WHERE differing IS NOT NULL
    ),
    conflicts AS (
        -- This file is not in `sources` until it commits; `$4` is its path.
        SELECT p.* EXCLUDE (differing), r.raw, differing[1] AS field, differing[3] AS this_value,
               coalesce(src.path, $4) AS earlier_path,
               coalesce('line ' || p.earlier_line, 'record ' || p.earlier_record) AS earlier_position,
               coalesce('`' || differing[2] || '`', 'none') AS earlier_shown,
               coalesce('`' || differing[3] || '`', 'none') AS this_shown
        FROM differing_pairs p
        -- The `IN` is a semi join on the conflicting rows, so `raw` is read for them, not for
        -- every row of the file.
        JOIN (SELECT rowid AS row_id, raw FROM storage_events
              WHERE source_id = $1 AND rowid IN (SELECT row_id FROM differing_pairs)) r ON r.row_id = p.row_id
        LEFT JOIN sources src ON src.source_id = p.earlier_source
    )";

/// Pushes one row of `storage_events`, in table order.
pub fn push_storage(b: &mut impl RowWriter, source_id: i32, position: Position, row: StorageRow, raw: &str) {
    let caller = row.caller;
    b.int(Some(source_id));
    b.bigint(Some(position.record_no as i64));
    b.bigint(position.line.map(|line| line as i64));
    b.text(Some(&row.event_key));
    b.text(Some(row.table.name()));
    b.timestamp(Some(row.time_generated));
    b.text(Some(&row.time_raw));
    b.text(row.account_name.as_deref());
    b.text(row.operation_name.as_deref());
    b.text(row.status_text.as_deref());
    b.text(row.status_code.as_deref());
    b.text(row.authentication_type.as_deref());
    b.text(row.authentication_hash.as_deref());
    b.text(row.uri.as_deref());
    b.text(row.object_key.as_deref());
    b.text(row.object_path.as_deref());
    b.text(row.container.as_deref());
    b.text(row.file_name.as_deref());
    b.text(caller.raw.as_deref());
    b.text(caller.canonical.as_deref());
    b.int(caller.port);
    b.text(caller.family);
    b.text(caller.scope);
    b.text(caller.problem);
    b.text(row.user_agent.as_deref());
    b.text(row.referrer.as_deref());
    b.text(row.requester_upn.as_deref());
    b.text(row.requester_object_id.as_deref());
    b.text(row.requester_app_id.as_deref());
    b.text(row.requester_tenant_id.as_deref());
    b.text(row.service_type.as_deref());
    b.text(row.protocol.as_deref());
    b.text(row.correlation_id.as_deref());
    b.bigint(row.request_body_size);
    b.text(Some(raw));
    // Added by sql/014_smb_requester.sql, after `raw`.
    b.text(row.requester_user_name.as_deref());
    b.text(row.smb_primary_sid.as_deref());
    b.end_row();
}

/// Pushes one row of `signin_events`, in table order.
pub fn push_signin(b: &mut impl RowWriter, source_id: i32, position: Position, row: SigninRow, raw: &str) {
    let address = row.address;
    b.int(Some(source_id));
    b.bigint(Some(position.record_no as i64));
    b.bigint(position.line.map(|line| line as i64));
    b.text(Some(&row.event_key));
    b.text(Some(row.table.name()));
    b.timestamp(row.time_generated);
    b.timestamp(row.created_time);
    b.text(Some(&row.time_raw));
    b.text(row.user_principal_name.as_deref());
    b.text(row.user_id.as_deref());
    b.text(row.user_display_name.as_deref());
    b.text(row.app_id.as_deref());
    b.text(row.app_display_name.as_deref());
    b.text(row.service_principal_id.as_deref());
    b.text(row.service_principal_name.as_deref());
    b.text(address.raw.as_deref());
    b.text(address.canonical.as_deref());
    b.text(address.family);
    b.text(address.scope);
    b.text(address.problem);
    b.text(row.user_agent.as_deref());
    b.text(row.result_type.as_deref());
    b.text(row.result_description.as_deref());
    b.boolean(row.is_interactive);
    b.text(row.client_app_used.as_deref());
    b.text(row.correlation_id.as_deref());
    b.text(row.signin_id.as_deref());
    b.text(Some(raw));
    b.end_row();
}

/// This file's rows in one case table: how many a column scan found, and the range of the
/// times their event keys contain (microseconds since the Unix epoch).
struct Appended {
    rows: i64,
    first: Option<i64>,
    last: Option<i64>,
}

/// Returns a family's case table and the time its event keys contain: a sign-in's key takes
/// CreatedDateTime, else TimeGenerated.
fn key_time(table: Family) -> (&'static str, &'static str) {
    match table {
        Family::Storage => ("storage_events", "time_generated"),
        Family::Signin => ("signin_events", "coalesce(created_time, time_generated)"),
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
