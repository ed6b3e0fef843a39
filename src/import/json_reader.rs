//! Reads the JSON shapes of Log Analytics exports.
//!
//! - The query API response: `{"tables":[{"name":..,"columns":[{"name","type"}],"rows":[[..]]}]}`.
//!   Dynamic values arrive as JSON text inside a string; datetimes as ISO 8601 strings.
//! - JSON lines: one row object per line, read as a stream so that a large file never has to
//!   fit in memory, and a broken line is kept as a broken record instead of failing the file.
//!
//! Every value is passed on as text: strings as they are, numbers and booleans in their JSON
//! spelling, nested objects and arrays as compact JSON, null as empty.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;

use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Value};

use super::header::Header;
use super::record::{Broken, Item, Position, Row};

/// Reads a query API response held in `value`.
pub fn read_query_api(value: Value, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<()> {
    let Value::Object(mut document) = value else { bail!("expected a JSON object") };
    let Some(Value::Array(tables)) = document.remove("tables") else {
        bail!("the JSON object has no `tables` array");
    };
    let mut record_no = 0;
    // Log Analytics responds to a query it could not finish with the rows it has and an `error`
    // object beside them: the export is incomplete, which must show in the counts.
    if let Some(error) = document.remove("error") {
        record_no += 1;
        emit(Item::Broken(Broken {
            position: Position { record_no, line: None },
            reason: "the query API response reports an error, so its rows are incomplete; run the query again with a smaller time range".into(),
            raw: error.to_string(),
        }))?;
    }
    for (table_index, table) in tables.into_iter().enumerate() {
        let (names, rows) = split_table(table)
            .map_err(|err| anyhow!("table {} of the response: {err}", table_index + 1))?;
        let header = Header::new(names.iter().cloned());
        emit(Item::Header(header))?;
        for row in rows {
            record_no += 1;
            let position = Position { record_no, line: None };
            emit(api_row(&names, row, position))?;
        }
    }
    Ok(())
}

fn split_table(table: Value) -> Result<(Vec<String>, Vec<Value>)> {
    let Value::Object(mut table) = table else { bail!("not a JSON object") };
    let Some(Value::Array(columns)) = table.remove("columns") else { bail!("no `columns` array") };
    let Some(Value::Array(rows)) = table.remove("rows") else { bail!("no `rows` array") };
    Ok((column_names(&columns)?, rows))
}

/// Returns the names of a response table's `columns`.
pub(super) fn column_names(columns: &[Value]) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|column| match column.get("name").or_else(|| column.get("ColumnName")) {
            Some(Value::String(name)) => Ok(name.clone()),
            _ => Err(anyhow!("a column has no `name`: {column}")),
        })
        .collect()
}

pub(super) fn api_row(names: &[String], row: Value, position: Position) -> Item {
    let Value::Array(cells) = row else {
        return Item::Broken(Broken { position, reason: "the row is not a JSON array".into(), raw: row.to_string() });
    };
    if cells.len() != names.len() {
        return Item::Broken(Broken {
            position,
            reason: format!("expected {} values, found {}", names.len(), cells.len()),
            raw: Value::Array(cells).to_string(),
        });
    }
    let values = cells.iter().map(text_of).collect();
    let object: Map<String, Value> = names.iter().cloned().zip(cells).collect();
    Item::Row(Row { position, values, raw: Value::Object(object).to_string() })
}

/// Replaces each `\uXXXX` escape of a lone UTF-16 surrogate with `\uFFFD`, the replacement
/// character, so that one such value cannot make the JSON unreadable (the sender of a request
/// chooses its user agent). The escapes have the same length, so lines and columns stay where they were.
pub(super) fn repair_surrogate_escapes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let hex = |at: usize| -> Option<u16> { u16::from_str_radix(std::str::from_utf8(bytes.get(at..at + 4)?).ok()?, 16).ok() };
    let mut repaired: Option<Vec<u8>> = None;
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'\\' {
            index += 1;
            continue;
        }
        // An escape: `\uXXXX`, or a backslash and one character.
        let Some(unit) = (bytes.get(index + 1) == Some(&b'u')).then(|| hex(index + 2)).flatten() else {
            index += 2;
            continue;
        };
        let paired = match unit {
            0xd800..=0xdbff => {
                let low = (bytes.get(index + 6..index + 8) == Some(b"\\u")).then(|| hex(index + 8)).flatten();
                matches!(low, Some(0xdc00..=0xdfff))
            }
            0xdc00..=0xdfff => false,
            _ => true,
        };
        if paired {
            index += if (0xd800..=0xdbff).contains(&unit) { 12 } else { 6 };
        } else {
            repaired.get_or_insert_with(|| bytes.to_vec())[index + 2..index + 6].copy_from_slice(b"FFFD");
            index += 6;
        }
    }
    repaired.map_or(Cow::Borrowed(bytes), Cow::Owned)
}

/// Reads JSON lines from `input`, one object per non-blank line.
pub fn read_lines(input: impl BufRead, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<()> {
    let mut columns = ObjectColumns::default();
    let mut record_no = 0;
    for (index, line) in input.split(b'\n').enumerate() {
        let line = line?;
        let line_no = index as u64 + 1;
        let text = String::from_utf8_lossy(&line);
        let text = line_text(&text);
        if text.is_empty() {
            continue;
        }
        record_no += 1;
        let position = Position { record_no, line: Some(line_no) };
        if std::str::from_utf8(&line).is_err() {
            // The rejected line keeps every byte, the invalid ones as `\xNN`.
            let escaped = super::record::escaped_text(&line);
            emit(broken(position, "the line holds bytes that are not valid UTF-8 (kept in `raw` as \\xNN)".into(), line_text(&escaped)))?;
            continue;
        }
        match serde_json::from_slice::<Value>(&repair_surrogate_escapes(text.as_bytes())) {
            Ok(Value::Object(object)) => columns.emit_object(object, Some(text), position, emit)?,
            Ok(_) => emit(broken(position, "the line is JSON but not an object".into(), text))?,
            Err(err) => emit(broken(position, format!("invalid JSON: {err}"), text))?,
        }
    }
    columns.finish()
}

/// Returns the part of a JSON line that is read: without a byte order mark and surrounding
/// spaces.
pub fn line_text(line: &str) -> &str {
    line.trim_start_matches('\u{feff}').trim()
}

fn broken(position: Position, reason: String, text: &str) -> Item {
    Item::Broken(Broken { position, reason, raw: text.to_string() })
}

/// The columns seen so far in a stream of row objects. A key seen for the first time extends
/// the header, which is emitted again before the row that introduced it.
#[derive(Default)]
pub struct ObjectColumns {
    header: Header,
    by_name: HashMap<String, usize>,
    emitted: bool,
}

impl ObjectColumns {
    pub fn is_empty(&self) -> bool {
        !self.emitted
    }

    /// Emits a row object, after a header when it brings new keys. `raw` is `text`, the
    /// record as the file wrote it on one line, or else the object written as compact JSON.
    pub fn emit_object(
        &mut self,
        object: Map<String, Value>,
        text: Option<&str>,
        position: Position,
        emit: &mut dyn FnMut(Item) -> Result<()>,
    ) -> Result<()> {
        let flat = flat_values(&object);
        let grew = self.learn_keys(&flat);
        if grew || !self.emitted {
            emit(Item::Header(self.header.clone()))?;
            self.emitted = true;
        }
        let mut values = vec![String::new(); self.header.len()];
        for (key, value) in flat {
            values[self.by_name[&key]] = value;
        }
        let raw = match text {
            Some(text) => text.to_string(),
            None => Value::Object(object).to_string(),
        };
        emit(Item::Row(Row { position, values, raw }))
    }

    fn learn_keys(&mut self, flat: &[(String, String)]) -> bool {
        let mut grew = false;
        for (key, _) in flat {
            if !self.by_name.contains_key(key) {
                let index = self.header.push(key.clone());
                self.by_name.insert(key.clone(), index);
                grew = true;
            }
        }
        grew
    }

    pub fn finish(&self) -> Result<()> {
        if !self.emitted {
            bail!("the file contains no JSON row objects");
        }
        Ok(())
    }
}

/// Returns a row object's values as (key, text) pairs, nested objects flattened.
pub fn flat_values(object: &Map<String, Value>) -> Vec<(String, String)> {
    let mut flat = Vec::with_capacity(object.len());
    flatten("", object, &mut flat);
    if object.contains_key("TableName") {
        clear_none_values(flat.iter_mut().map(|(_, value)| value));
    }
    flat
}

/// Returns the values of a nested object under the key `prefix`, flattened as `flat_values`
/// flattens them.
pub fn flat_values_under(prefix: &str, object: &Map<String, Value>) -> Vec<(String, String)> {
    let mut flat = Vec::with_capacity(object.len());
    flatten(prefix, object, &mut flat);
    flat
}

/// Empties the values that read `None` in a row with a top-level `TableName` key:
/// `az monitor log-analytics query` writes every null as the text `None` and marks its rows
/// with `TableName`. In such a row `None` is a missing value, never a name.
pub fn clear_none_values<'v>(values: impl Iterator<Item = &'v mut String>) {
    for value in values {
        if value == "None" {
            value.clear();
        }
    }
}

/// Flattens nested objects into dotted keys (`properties.userAgentHeader`), as the archived
/// resource logs and Microsoft Graph nest what Log Analytics stores in flat columns. A nested
/// object is also kept whole under its own key, because some readers want the JSON text (an
/// Entra `status` object, a storage `identity`).
fn flatten(prefix: &str, object: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in object {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        if let Value::Object(inner) = value {
            flatten(&name, inner, out);
        }
        out.push((name, text_of(value)));
    }
}

/// Spells a JSON value as the text an export cell would hold.
fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogate_escapes_are_replaced() {
        let repaired = |text: &str| String::from_utf8(repair_surrogate_escapes(text.as_bytes()).into_owned()).unwrap();
        // A pair stays, a lone high or low surrogate becomes U+FFFD, an escaped backslash is no escape.
        assert_eq!(repaired(r#"{"a":"\ud83e\udd80"}"#), r#"{"a":"\ud83e\udd80"}"#);
        assert_eq!(repaired(r#"{"a":"\ud800x","b":"\udc00"}"#), r#"{"a":"\uFFFDx","b":"\uFFFD"}"#);
        assert_eq!(repaired(r#"{"a":"\\ud800"}"#), r#"{"a":"\\ud800"}"#);
        assert_eq!(repaired(r#"{"a":"\ud800\u0041"}"#), r#"{"a":"\uFFFD\u0041"}"#);
        assert!(matches!(repair_surrogate_escapes(b"{\"a\":1}"), Cow::Borrowed(_)));
        let value: Value = serde_json::from_slice(&repair_surrogate_escapes(br#"{"ua":"Mozilla\ud800"}"#)).unwrap();
        assert_eq!(value["ua"], "Mozilla\u{fffd}");
    }

    fn collect_with(run: impl FnOnce(&mut dyn FnMut(Item) -> Result<()>) -> Result<()>) -> Vec<Item> {
        let mut items = Vec::new();
        run(&mut |item| {
            items.push(item);
            Ok(())
        })
        .unwrap();
        items
    }

    #[test]
    fn query_api_rows_become_text() {
        let doc: Value = serde_json::from_str(
            r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"N","type":"long"},{"name":"D","type":"dynamic"},{"name":"E","type":"string"}],
            "rows":[["2023-02-20T11:04:02.6371632Z",201,"{\"a\":1}",null]]}]}"#,
        )
        .unwrap();
        let items = collect_with(|emit| read_query_api(doc, emit));
        let Item::Row(row) = &items[1] else { panic!("{items:?}") };
        assert_eq!(row.values, ["2023-02-20T11:04:02.6371632Z", "201", "{\"a\":1}", ""]);
        assert_eq!(row.position, Position { record_no: 1, line: None });
    }

    #[test]
    fn query_api_short_row_is_broken() {
        let doc: Value =
            serde_json::from_str(r#"{"tables":[{"columns":[{"name":"A"},{"name":"B"}],"rows":[["x"]]}]}"#).unwrap();
        let items = collect_with(|emit| read_query_api(doc, emit));
        let Item::Broken(broken) = &items[1] else { panic!("{items:?}") };
        assert_eq!(broken.reason, "expected 2 values, found 1");
    }

    #[test]
    fn lines_extend_header_on_new_key() {
        let text = b"{\"A\":\"1\"}\n\n{\"A\":\"2\",\"B\":true}\nnot json\n";
        let items = collect_with(|emit| read_lines(&text[..], emit));
        assert!(matches!(&items[0], Item::Header(h) if h.len() == 1));
        assert!(matches!(&items[2], Item::Header(h) if h.len() == 2));
        let Item::Row(row) = &items[3] else { panic!("{items:?}") };
        assert_eq!(row.values, ["2", "true"]);
        assert_eq!(row.position, Position { record_no: 2, line: Some(3) });
        let Item::Broken(broken) = &items[4] else { panic!("{items:?}") };
        assert_eq!(broken.position.line, Some(4));
    }
}
