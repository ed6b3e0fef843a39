//! `blobtrail query "SQL"`: read-only SQL against the case.
//!
//! DuckDB's own parser decides what is read-only: `json_serialize_sql` serialises SELECT
//! statements only and reports an error for anything else, so a write is rejected before it
//! runs. The statement then runs inside a transaction that is always rolled back.

use anyhow::{bail, Context, Result};
use duckdb::types::{TimeUnit, Value};
use serde_json::json;

use super::Report;
use crate::case::Case;
use crate::cli::{OutputFormat, QueryArgs};
use crate::output;
use crate::parse::time::format_iso;

pub fn run(case: &Case, args: QueryArgs) -> Result<Report> {
    let sql = args.sql.trim().trim_end_matches(';').trim();
    ensure_read_only(case, sql)?;

    // Queries read the case only: no files on the host. The setting cannot be turned back on
    // in this connection, which closes when the command ends.
    case.conn.execute_batch("SET enable_external_access = false")?;
    // DuckDB 2.0.0's `projection_pullup` optimizer drops a LIMIT whose query filters on a
    // scalar subquery (`WHERE hunt_id = (SELECT max(hunt_id) FROM hunts) LIMIT 5` returns
    // every row), so `query` turns it off.
    case.conn.execute_batch("SET disabled_optimizers = 'projection_pullup'")?;
    case.conn.execute_batch("BEGIN TRANSACTION")?;
    let result = fetch(case, sql);
    let _ = case.conn.execute_batch("ROLLBACK");
    let (columns, rows) = result.map_err(|err| {
        if format!("{err:#}").contains("disabled by configuration") {
            anyhow::anyhow!(
                "`query` reads only the case, never files on this computer, so functions such as read_csv, read_parquet \
                 and glob are turned off; import the file into a case instead"
            )
        } else {
            err
        }
    })?;

    output::to_stdout(|out| match args.format {
        OutputFormat::Json => {
            let objects: Vec<serde_json::Map<String, serde_json::Value>> = rows
                .iter()
                .map(|row| columns.iter().cloned().zip(row.iter().map(to_json)).collect())
                .collect();
            serde_json::to_writer_pretty(&mut *out, &objects).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        OutputFormat::Csv => {
            let header: Vec<&str> = columns.iter().map(String::as_str).collect();
            let text: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(to_text).collect()).collect();
            output::write_csv(out, &header, &text)
        }
        OutputFormat::Table => {
            let header: Vec<&str> = columns.iter().map(String::as_str).collect();
            let text: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(to_text).collect()).collect();
            output::write_table(out, &header, text)?;
            writeln!(out, "{}", output::count(rows.len() as i64, "row", "rows"))
        }
    })?;
    Ok(Report::success(json!({ "rows": rows.len() })))
}

/// Functions that change the case although they appear in a SELECT: sequences advance even
/// when the transaction rolls back, and a checkpoint rewrites the file. The functions that run
/// SQL given as text (`query`, `query_table`, `json_execute_serialized_sql`) are here too,
/// because the check cannot see into that text.
const CHANGING_FUNCTIONS: &[&str] =
    &["nextval", "setval", "checkpoint", "force_checkpoint", "query", "query_table", "json_execute_serialized_sql"];

fn ensure_read_only(case: &Case, sql: &str) -> Result<()> {
    let serialised: String = case
        .conn
        .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
        .context("cannot parse the query")?;
    let parsed: serde_json::Value = serde_json::from_str(&serialised)?;
    if parsed.get("error").and_then(|e| e.as_bool()) == Some(true) {
        let message = parsed.get("error_message").and_then(|m| m.as_str()).unwrap_or("not a query");
        if message.contains("Only SELECT") || message.contains("SELECT statements") {
            bail!("only read-only queries run here (SELECT, WITH ... SELECT, FROM ...); the case is changed by blobtrail commands, never by `query`");
        }
        bail!("invalid SQL: {message}");
    }
    let statements = parsed.get("statements").and_then(|s| s.as_array()).map_or(0, Vec::len);
    if statements != 1 {
        bail!("give exactly one SQL statement (found {statements})");
    }
    // The parsed statement names every function however it was written: quoted, in capitals,
    // with a comment before its parenthesis.
    if let Some(name) = changing_function(&parsed) {
        bail!("`{name}` can change the case, so `query` does not run it; write the SQL itself instead");
    }
    Ok(())
}

/// Finds a function of `CHANGING_FUNCTIONS` anywhere in DuckDB's JSON form of a statement.
fn changing_function(node: &serde_json::Value) -> Option<String> {
    match node {
        serde_json::Value::Object(object) => {
            if let Some(serde_json::Value::String(name)) = object.get("function_name") {
                let name = name.to_ascii_lowercase();
                if CHANGING_FUNCTIONS.contains(&name.as_str()) {
                    return Some(name);
                }
            }
            object.values().find_map(changing_function)
        }
        serde_json::Value::Array(items) => items.iter().find_map(changing_function),
        _ => None,
    }
}

fn fetch(case: &Case, sql: &str) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
    let mut stmt = case.conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut values = Vec::new();
    let mut count = 0;
    // duckdb-rs cannot read a column of DuckDB's NULL type (`SELECT NULL`): its values are null.
    let mut null_typed = Vec::new();
    while let Some(row) = rows.next()? {
        if count == 0 {
            count = row.as_ref().column_count();
            null_typed = (0..count).map(|i| row.as_ref().column_type(i) == duckdb::arrow::datatypes::DataType::Null).collect();
        }
        let row_values = (0..count).map(|i| if null_typed[i] { Ok(Value::Null) } else { row.get::<_, Value>(i) });
        values.push(row_values.collect::<Result<Vec<_>, _>>()?);
    }
    drop(rows);
    let columns = stmt.column_names();
    Ok((columns, values))
}

fn to_text(value: &Value) -> String {
    match to_json(value) {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Boolean(b) => json!(b),
        Value::TinyInt(n) => json!(n),
        Value::SmallInt(n) => json!(n),
        Value::Int(n) => json!(n),
        Value::BigInt(n) => json!(n),
        Value::HugeInt(n) => json!(n.to_string()),
        Value::UHugeInt(n) => json!(n.to_string()),
        Value::UTinyInt(n) => json!(n),
        Value::USmallInt(n) => json!(n),
        Value::UInt(n) => json!(n),
        Value::UBigInt(n) => json!(n),
        Value::Float(n) => json!(n),
        Value::Double(n) => json!(n),
        Value::Decimal(d) => json!(d.to_string()),
        Value::Timestamp(unit, v) => json!(format_iso(to_micros(*unit, *v))),
        Value::Text(text) | Value::Enum(text) => json!(text),
        Value::Blob(bytes) => json!(crate::sql::hex(bytes)),
        Value::List(items) | Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Struct(fields) => serde_json::Value::Object(fields.iter().map(|(name, value)| (name.clone(), to_json(value))).collect()),
        // Map keys can be of any type, so a map is a list of key and value pairs.
        Value::Map(entries) => {
            serde_json::Value::Array(entries.iter().map(|(key, value)| json!({ "key": to_json(key), "value": to_json(value) })).collect())
        }
        Value::Union(value) => to_json(value),
        Value::Date32(days) => json!(format_iso(i64::from(*days) * 86_400_000_000)[..10].to_string()),
        Value::Time64(unit, value) => json!(format_iso(to_micros(*unit, *value))[11..].trim_end_matches('Z').to_string()),
        Value::Interval { months, days, nanos } => json!(format!("{months} months {days} days {} microseconds", nanos / 1_000)),
        other => json!(format!("{other:?}")),
    }
}

fn to_micros(unit: TimeUnit, value: i64) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value / 1_000,
    }
}
