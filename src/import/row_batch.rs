//! Column-wise rows of the case tables: Arrow record batches for DuckDB's appender (the
//! streaming path), and the output vectors of the fast path's mapping function.
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
use duckdb::core::{FlatVector, Inserter, LogicalTypeHandle, LogicalTypeId, StructVector};

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

    fn type_id(self) -> LogicalTypeId {
        match self {
            Kind::Integer => LogicalTypeId::Integer,
            Kind::BigInt => LogicalTypeId::Bigint,
            Kind::Varchar => LogicalTypeId::Varchar,
            Kind::Timestamp => LogicalTypeId::Timestamp,
            Kind::Boolean => LogicalTypeId::Boolean,
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
    ("requester_user_name", Kind::Varchar),
    ("smb_primary_sid", Kind::Varchar),
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

/// Takes a row's values in column order, then `end_row`. The streaming path's batches and the
/// fast path's output vectors both take rows this way, so one function per table fills either.
pub trait RowWriter {
    fn int(&mut self, value: Option<i32>);
    fn bigint(&mut self, value: Option<i64>);
    fn text(&mut self, value: Option<&str>);
    /// Takes a timestamp in microseconds since the Unix epoch, UTC.
    fn timestamp(&mut self, micros: Option<i64>);
    fn boolean(&mut self, value: Option<bool>);
    fn end_row(&mut self);
}

impl RowWriter for RowBatch {
    fn int(&mut self, value: Option<i32>) {
        match self.next_builder() {
            Builder::Integer(builder) => builder.append_option(value),
            _ => panic!("an INTEGER value was pushed for a column of another type"),
        }
    }

    fn bigint(&mut self, value: Option<i64>) {
        match self.next_builder() {
            Builder::BigInt(builder) => builder.append_option(value),
            _ => panic!("a BIGINT value was pushed for a column of another type"),
        }
    }

    fn text(&mut self, value: Option<&str>) {
        match self.next_builder() {
            Builder::Varchar(builder) => builder.append_option(value),
            _ => panic!("a VARCHAR value was pushed for a column of another type"),
        }
    }

    fn timestamp(&mut self, micros: Option<i64>) {
        match self.next_builder() {
            Builder::Timestamp(builder) => builder.append_option(micros),
            _ => panic!("a TIMESTAMP value was pushed for a column of another type"),
        }
    }

    fn boolean(&mut self, value: Option<bool>) {
        match self.next_builder() {
            Builder::Boolean(builder) => builder.append_option(value),
            _ => panic!("a BOOLEAN value was pushed for a column of another type"),
        }
    }

    fn end_row(&mut self) {
        assert_eq!(self.next, self.builders.len(), "a row has fewer values than columns");
        self.next = 0;
        self.rows += 1;
    }
}

/// Rows written straight into the output of a DuckDB scalar function whose result is a struct
/// with the given columns: one child vector per column, filled row by row.
pub struct VectorRows<'a> {
    columns: Vec<(Kind, FlatVector<'a>)>,
    next: usize,
    row: usize,
}

impl<'a> VectorRows<'a> {
    /// Writes into the children of `output`, which must be a struct vector of `columns` with
    /// room for `rows` rows.
    pub fn new(output: &StructVector<'a>, columns: &[(&str, Kind)], rows: usize) -> VectorRows<'a> {
        let columns = columns.iter().enumerate().map(|(index, (_, kind))| (*kind, output.child(index, rows))).collect();
        VectorRows { columns, next: 0, row: 0 }
    }

    /// Returns the vector of the next column. Panics when the values pushed do not follow the
    /// column list, as `RowBatch` does.
    fn next_vector(&mut self, kind: Kind) -> (&mut FlatVector<'a>, usize) {
        let column = self.next;
        self.next += 1;
        let count = self.columns.len();
        let (found, vector) =
            self.columns.get_mut(column).unwrap_or_else(|| panic!("a row has more values than its {count} columns"));
        assert_eq!(*found, kind, "a value of another type was pushed for column {column}");
        (vector, self.row)
    }

    /// Writes a fixed-size value, or marks the row's value NULL.
    fn fixed<T: Copy>(&mut self, kind: Kind, value: Option<T>) {
        let (vector, row) = self.next_vector(kind);
        match value {
            // SAFETY: `kind` was checked against the column list, whose kinds are the struct's
            // child types, and `row` is below the capacity the children were taken with.
            Some(value) => unsafe { vector.as_mut_slice_with_len::<T>(row + 1)[row] = value },
            None => vector.set_null(row),
        }
    }
}

impl RowWriter for VectorRows<'_> {
    fn int(&mut self, value: Option<i32>) {
        self.fixed(Kind::Integer, value);
    }

    fn bigint(&mut self, value: Option<i64>) {
        self.fixed(Kind::BigInt, value);
    }

    fn text(&mut self, value: Option<&str>) {
        let (vector, row) = self.next_vector(Kind::Varchar);
        match value {
            Some(text) => vector.insert(row, text),
            None => vector.set_null(row),
        }
    }

    fn timestamp(&mut self, micros: Option<i64>) {
        self.fixed(Kind::Timestamp, micros);
    }

    fn boolean(&mut self, value: Option<bool>) {
        self.fixed(Kind::Boolean, value);
    }

    fn end_row(&mut self) {
        assert_eq!(self.next, self.columns.len(), "a row has fewer values than columns");
        self.next = 0;
        self.row += 1;
    }
}

/// Returns the DuckDB type of a struct with the given columns.
pub fn struct_type(columns: &[(&str, Kind)]) -> LogicalTypeHandle {
    let fields: Vec<(&str, LogicalTypeHandle)> =
        columns.iter().map(|(name, kind)| (*name, LogicalTypeHandle::from(kind.type_id()))).collect();
    LogicalTypeHandle::struct_type(&fields)
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
