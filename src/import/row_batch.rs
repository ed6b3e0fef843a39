//! Column-wise batches of imported rows, handed to DuckDB's appender as Arrow record batches.
//!
//! A batch fills one DuckDB vector per column at a time, which is cheaper than binding each
//! value through the appender's generic row interface.

use std::sync::Arc;

use anyhow::{Context, Result};
use duckdb::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;

/// The DuckDB type of a staged column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Integer,
    BigInt,
    Varchar,
    Timestamp,
    Boolean,
}

impl Kind {
    fn arrow_type(self) -> DataType {
        match self {
            Kind::Integer => DataType::Int32,
            Kind::BigInt => DataType::Int64,
            Kind::Varchar => DataType::Utf8,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Boolean => DataType::Boolean,
        }
    }

    /// Returns the type's name as DuckDB's `DESCRIBE` prints it.
    #[cfg(test)]
    pub fn duckdb_name(self) -> &'static str {
        match self {
            Kind::Integer => "INTEGER",
            Kind::BigInt => "BIGINT",
            Kind::Varchar => "VARCHAR",
            Kind::Timestamp => "TIMESTAMP",
            Kind::Boolean => "BOOLEAN",
        }
    }
}

/// The columns of `storage_events`, in table order.
pub const STORAGE_COLUMNS: &[(&str, Kind)] = &[
    ("source_id", Kind::Integer),
    ("record_no", Kind::BigInt),
    ("line", Kind::BigInt),
    ("event_key", Kind::Varchar),
    ("source_table", Kind::Varchar),
    ("time_generated", Kind::Timestamp),
    ("time_raw", Kind::Varchar),
    ("account_name", Kind::Varchar),
    ("operation_name", Kind::Varchar),
    ("status_text", Kind::Varchar),
    ("status_code", Kind::Varchar),
    ("authentication_type", Kind::Varchar),
    ("authentication_hash", Kind::Varchar),
    ("uri", Kind::Varchar),
    ("object_key", Kind::Varchar),
    ("object_path", Kind::Varchar),
    ("container", Kind::Varchar),
    ("file_name", Kind::Varchar),
    ("caller_ip_raw", Kind::Varchar),
    ("caller_ip", Kind::Varchar),
    ("caller_port", Kind::Integer),
    ("ip_family", Kind::Varchar),
    ("ip_scope", Kind::Varchar),
    ("address_problem", Kind::Varchar),
    ("user_agent", Kind::Varchar),
    ("referrer", Kind::Varchar),
    ("requester_upn", Kind::Varchar),
    ("requester_object_id", Kind::Varchar),
    ("requester_app_id", Kind::Varchar),
    ("requester_tenant_id", Kind::Varchar),
    ("service_type", Kind::Varchar),
    ("protocol", Kind::Varchar),
    ("correlation_id", Kind::Varchar),
    ("request_body_size", Kind::BigInt),
    ("raw", Kind::Varchar),
];

/// The columns of `signin_events`, in table order.
pub const SIGNIN_COLUMNS: &[(&str, Kind)] = &[
    ("source_id", Kind::Integer),
    ("record_no", Kind::BigInt),
    ("line", Kind::BigInt),
    ("event_key", Kind::Varchar),
    ("source_table", Kind::Varchar),
    ("time_generated", Kind::Timestamp),
    ("created_time", Kind::Timestamp),
    ("time_raw", Kind::Varchar),
    ("user_principal_name", Kind::Varchar),
    ("user_id", Kind::Varchar),
    ("user_display_name", Kind::Varchar),
    ("app_id", Kind::Varchar),
    ("app_display_name", Kind::Varchar),
    ("service_principal_id", Kind::Varchar),
    ("service_principal_name", Kind::Varchar),
    ("ip_raw", Kind::Varchar),
    ("ip", Kind::Varchar),
    ("ip_family", Kind::Varchar),
    ("ip_scope", Kind::Varchar),
    ("address_problem", Kind::Varchar),
    ("user_agent", Kind::Varchar),
    ("result_type", Kind::Varchar),
    ("result_description", Kind::Varchar),
    ("is_interactive", Kind::Boolean),
    ("client_app_used", Kind::Varchar),
    ("correlation_id", Kind::Varchar),
    ("signin_id", Kind::Varchar),
    ("raw", Kind::Varchar),
];

/// The columns of `rejects`, in table order.
pub const REJECT_COLUMNS: &[(&str, Kind)] = &[
    ("source_id", Kind::Integer),
    ("record_no", Kind::BigInt),
    ("line", Kind::BigInt),
    ("column_name", Kind::Varchar),
    ("value", Kind::Varchar),
    ("reason", Kind::Varchar),
    ("raw", Kind::Varchar),
];

enum Builder {
    Integer(Int32Builder),
    BigInt(Int64Builder),
    Varchar(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Boolean(BooleanBuilder),
}

/// Rows under construction, one builder per column. Values are pushed in column order, and
/// `end_row` closes each row.
pub struct RowBatch {
    schema: Arc<Schema>,
    builders: Vec<Builder>,
    next: usize,
    rows: usize,
}

impl RowBatch {
    pub fn new(columns: &[(&str, Kind)]) -> RowBatch {
        let fields: Vec<Field> =
            columns.iter().map(|(name, kind)| Field::new(*name, kind.arrow_type(), true)).collect();
        let builders = columns
            .iter()
            .map(|(_, kind)| match kind {
                Kind::Integer => Builder::Integer(Int32Builder::new()),
                Kind::BigInt => Builder::BigInt(Int64Builder::new()),
                Kind::Varchar => Builder::Varchar(StringBuilder::new()),
                Kind::Timestamp => Builder::Timestamp(TimestampMicrosecondBuilder::new()),
                Kind::Boolean => Builder::Boolean(BooleanBuilder::new()),
            })
            .collect();
        RowBatch { schema: Arc::new(Schema::new(fields)), builders, next: 0, rows: 0 }
    }

    pub fn schema(&self) -> Arc<Schema> {
        Arc::clone(&self.schema)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Returns the builder of the next column. Panics when the values pushed do not follow the
    /// column list: that is a mistake in the calling code, never in the input.
    fn next_builder(&mut self) -> &mut Builder {
        let column = self.next;
        self.next += 1;
        let count = self.builders.len();
        self.builders.get_mut(column).unwrap_or_else(|| panic!("a row has more values than its {count} columns"))
    }

    pub fn int(&mut self, value: Option<i32>) {
        match self.next_builder() {
            Builder::Integer(builder) => builder.append_option(value),
            _ => panic!("an INTEGER value was pushed for a column of another type"),
        }
    }

    pub fn bigint(&mut self, value: Option<i64>) {
        match self.next_builder() {
            Builder::BigInt(builder) => builder.append_option(value),
            _ => panic!("a BIGINT value was pushed for a column of another type"),
        }
    }

    pub fn text(&mut self, value: Option<&str>) {
        match self.next_builder() {
            Builder::Varchar(builder) => builder.append_option(value),
            _ => panic!("a VARCHAR value was pushed for a column of another type"),
        }
    }

    /// Appends a timestamp in microseconds since the Unix epoch, UTC.
    pub fn timestamp(&mut self, micros: Option<i64>) {
        match self.next_builder() {
            Builder::Timestamp(builder) => builder.append_option(micros),
            _ => panic!("a TIMESTAMP value was pushed for a column of another type"),
        }
    }

    pub fn boolean(&mut self, value: Option<bool>) {
        match self.next_builder() {
            Builder::Boolean(builder) => builder.append_option(value),
            _ => panic!("a BOOLEAN value was pushed for a column of another type"),
        }
    }

    pub fn end_row(&mut self) {
        assert_eq!(self.next, self.builders.len(), "a row has fewer values than columns");
        self.next = 0;
        self.rows += 1;
    }

    /// Takes the finished rows as a record batch and leaves the batch empty.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|builder| match builder {
                Builder::Integer(b) => ArrayBuilder::finish(b),
                Builder::BigInt(b) => ArrayBuilder::finish(b),
                Builder::Varchar(b) => ArrayBuilder::finish(b),
                Builder::Timestamp(b) => ArrayBuilder::finish(b),
                Builder::Boolean(b) => ArrayBuilder::finish(b),
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(&self.schema), arrays).context("cannot build a batch of staged rows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{create, EngineSettings, NewCase};

    fn table_columns(conn: &duckdb::Connection, table: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        )?;
        let rows = stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<duckdb::Result<_>>()?)
    }

    #[test]
    fn column_lists_match_case_tables() -> Result<()> {
        let root = tempfile::tempdir()?;
        let new = NewCase { name: "c1", title: None, examiner: None };
        let case = create(root.path(), &new, &EngineSettings::default())?;
        for (table, columns) in
            [("storage_events", STORAGE_COLUMNS), ("signin_events", SIGNIN_COLUMNS), ("rejects", REJECT_COLUMNS)]
        {
            let expected: Vec<(String, String)> =
                columns.iter().map(|(name, kind)| (name.to_string(), kind.duckdb_name().to_string())).collect();
            assert_eq!(table_columns(&case.conn, table)?, expected, "{table}");
        }
        Ok(())
    }

    #[test]
    #[should_panic(expected = "a VARCHAR value was pushed")]
    fn value_of_wrong_type_panics() {
        let mut batch = RowBatch::new(REJECT_COLUMNS);
        batch.text(Some("not a source id"));
    }
}
