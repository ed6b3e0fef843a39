//! Reads JSON files that hold whole documents rather than one row per line: arrays of row
//! objects (also several arrays one after another, as collection tools append pages), the
//! `{"records":[...]}` shape of Event Hub captures and older diagnostic archives, Microsoft
//! Graph `{"value":[...]}` pages, and pretty-printed objects one after another.
//!
//! The arrays are read element by element, so a file cut off in the middle keeps every
//! complete record before the cut, and the cut itself is reported as a broken record.

use anyhow::{bail, Result};
use serde::de::IgnoredAny;
use serde_json::{Deserializer, Value};

use super::header::Header;
use super::json_reader::{self, ObjectColumns};
use super::record::{Broken, Item, Position, Shape};

/// A read position in the file, with the line count up to that point.
struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
    counted_to: usize,
    line: u64,
    record_no: u64,
}

impl<'b> Cursor<'b> {
    fn skip_whitespace(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Returns the 1-based line of the current position.
    fn line(&mut self) -> u64 {
        let end = self.pos.min(self.bytes.len());
        self.line += self.bytes[self.counted_to..end].iter().filter(|&&b| b == b'\n').count() as u64;
        self.counted_to = end;
        self.line + 1
    }

    fn next_position(&mut self) -> Position {
        self.record_no += 1;
        Position { record_no: self.record_no, line: Some(self.line()) }
    }

    /// Parses one JSON value at the current position and moves past it.
    fn value<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, serde_json::Error> {
        let mut stream = Deserializer::from_slice(&self.bytes[self.pos..]).into_iter::<T>();
        match stream.next() {
            Some(Ok(value)) => {
                self.pos += stream.byte_offset();
                Ok(value)
            }
            Some(Err(err)) => Err(err),
            None => Err(serde::de::Error::custom("the file ends where a value should start")),
        }
    }

    /// Moves past `byte` and the white space around it when it comes next. Returns whether it did.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return false;
        }
        self.pos += 1;
        self.skip_whitespace();
        true
    }

    /// Reads an object key and the `:` after it.
    fn key(&mut self) -> Option<String> {
        self.skip_whitespace();
        let key = self.value::<String>().ok()?;
        self.eat(b':').then_some(key)
    }

    fn rest_text(&self) -> String {
        let end = (self.pos + 200).min(self.bytes.len());
        String::from_utf8_lossy(&self.bytes[self.pos..end]).into_owned()
    }
}

/// The kinds of top-level documents read, to name the shape.
#[derive(Default)]
struct Seen {
    arrays: bool,
    records: bool,
    graph: bool,
    objects: bool,
}

/// Reads every document in `bytes` and returns the shape found. Returns `Ok(None)` when the
/// first document is a query API response (`tables`), which has its own reader.
/// `lines_before` is the number of lines of the file before `bytes`, for line numbers.
pub fn read(bytes: &[u8], lines_before: u64, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<Option<Shape>> {
    let mut cursor = Cursor { bytes, pos: 0, counted_to: 0, line: lines_before, record_no: 0 };
    let mut columns = ObjectColumns::default();
    let mut seen = Seen::default();

    loop {
        cursor.skip_whitespace();
        match cursor.peek() {
            None => break,
            Some(b'[') => {
                seen.arrays = true;
                if !stream_array(&mut cursor, &mut columns, emit)? {
                    break;
                }
            }
            Some(b'{') => {
                let start = cursor.pos;
                match wrapper_key(&mut cursor)? {
                    Wrapper::Tables if start == 0 && columns.is_empty() => return Ok(None),
                    Wrapper::Array(name) => {
                        if name == "records" { seen.records = true } else { seen.graph = true }
                        if !stream_array(&mut cursor, &mut columns, emit)? || !finish_object(&mut cursor, emit)? {
                            break;
                        }
                    }
                    Wrapper::Tables | Wrapper::None => {
                        cursor.pos = start;
                        seen.objects = true;
                        if !read_one_object(&mut cursor, &mut columns, emit)? {
                            break;
                        }
                    }
                }
            }
            Some(_) => return Err(invalid_json(&mut cursor, "unexpected text after a JSON document")),
        }
    }
    // An empty array (`[]`, `{"value": []}`, `{"records": []}`) is a valid export of a period
    // with no records, such as the last page of a Graph listing, so it imports no rows.
    Ok(Some(match seen {
        Seen { records: true, .. } => Shape::ResourceLogRecords,
        Seen { graph: true, .. } => Shape::GraphPages,
        Seen { arrays: true, .. } => Shape::JsonArray,
        _ => Shape::JsonObjects,
    }))
}

enum Wrapper {
    /// The object has a `records` or `value` array; the cursor is at its `[`.
    Array(String),
    /// The object is a query API response.
    Tables,
    /// A plain record object.
    None,
}

/// Scans the keys of the object at the cursor for a wrapper array, skipping other values.
fn wrapper_key(cursor: &mut Cursor) -> Result<Wrapper> {
    let start = cursor.pos;
    cursor.pos += 1;
    loop {
        cursor.skip_whitespace();
        if cursor.peek() != Some(b'"') {
            cursor.pos = start;
            return Ok(Wrapper::None);
        }
        let Ok(key) = cursor.value::<String>() else {
            cursor.pos = start;
            return Ok(Wrapper::None);
        };
        cursor.skip_whitespace();
        if cursor.peek() != Some(b':') {
            cursor.pos = start;
            return Ok(Wrapper::None);
        }
        cursor.pos += 1;
        cursor.skip_whitespace();
        match (key.as_str(), cursor.peek()) {
            ("tables", _) => return Ok(Wrapper::Tables),
            ("records" | "value", Some(b'[')) => return Ok(Wrapper::Array(key)),
            _ => {}
        }
        if cursor.value::<IgnoredAny>().is_err() {
            cursor.pos = start;
            return Ok(Wrapper::None);
        }
        cursor.skip_whitespace();
        match cursor.peek() {
            Some(b',') => cursor.pos += 1,
            _ => {
                cursor.pos = start;
                return Ok(Wrapper::None);
            }
        }
    }
}

/// Skips the keys after a wrapper array up to the closing `}`.
fn finish_object(cursor: &mut Cursor, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<bool> {
    loop {
        cursor.skip_whitespace();
        match cursor.peek() {
            Some(b'}') => {
                cursor.pos += 1;
                return Ok(true);
            }
            Some(b',') => {
                cursor.pos += 1;
                cursor.skip_whitespace();
                let ok = cursor.value::<String>().is_ok() && {
                    cursor.skip_whitespace();
                    cursor.peek() == Some(b':')
                } && {
                    cursor.pos += 1;
                    cursor.value::<IgnoredAny>().is_ok()
                };
                if !ok {
                    return cut_off(cursor, emit, "the file ends inside the object that wraps the records");
                }
            }
            _ => return cut_off(cursor, emit, "the file ends inside the object that wraps the records"),
        }
    }
}

/// Reads the array at the cursor element by element. Returns false when the rest of the file
/// cannot be read.
fn stream_array(cursor: &mut Cursor, columns: &mut ObjectColumns, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<bool> {
    cursor.pos += 1;
    loop {
        cursor.skip_whitespace();
        match cursor.peek() {
            None => return cut_off(cursor, emit, "the file ends inside an array: it was cut off after the last complete record"),
            Some(b']') => {
                cursor.pos += 1;
                return Ok(true);
            }
            Some(_) => {}
        }
        let position = cursor.next_position();
        let element_start = cursor.pos;
        match cursor.value::<Value>() {
            Ok(Value::Object(object)) => columns.emit_object(object, None, position, emit)?,
            Ok(other) => emit(Item::Broken(Broken { position, reason: "the array element is not a JSON object".into(), raw: other.to_string() }))?,
            Err(err) if err.is_eof() => {
                let reason = "the file ends in the middle of this record: it was cut off".to_string();
                let raw = super::record::escaped_text(&cursor.bytes[element_start..(element_start + 2000).min(cursor.bytes.len())]);
                emit(Item::Broken(Broken { position, reason, raw }))?;
                return Ok(false);
            }
            Err(err) => return Err(invalid_json_value(cursor, &err)),
        }
        cursor.skip_whitespace();
        match cursor.peek() {
            Some(b',') => cursor.pos += 1,
            Some(b']') => {}
            None => return cut_off(cursor, emit, "the file ends inside an array: it was cut off after the last complete record"),
            Some(_) => return Err(invalid_json(cursor, "expected `,` or `]` after an array element")),
        }
    }
}

/// Reads one pretty-printed record object.
fn read_one_object(cursor: &mut Cursor, columns: &mut ObjectColumns, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<bool> {
    let position = cursor.next_position();
    let start = cursor.pos;
    match cursor.value::<Value>() {
        Ok(Value::Object(object)) => {
            columns.emit_object(object, None, position, emit)?;
            Ok(true)
        }
        Ok(_) => unreachable!("the value starts with `{{`"),
        Err(err) if err.is_eof() => {
            let reason = "the file ends in the middle of this record: it was cut off".to_string();
            let raw = super::record::escaped_text(&cursor.bytes[start..(start + 2000).min(cursor.bytes.len())]);
            emit(Item::Broken(Broken { position, reason, raw }))?;
            Ok(false)
        }
        Err(err) => Err(invalid_json_value(cursor, &err)),
    }
}

/// Reads a query API response that ends early, as a truncated download or copy does, row by
/// row: every complete row before the cut is kept and the cut is reported as a broken record.
/// A response that is whole goes to `json_reader::read_query_api` instead.
pub fn read_cut_query_api(bytes: &[u8], emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<()> {
    const CUT: &str = "the query API response ends here: the file was cut off after the last complete row";
    const AFTER_ROWS: &str = "the query API response ends after its rows: the file was cut off, so whatever came after \
                              them is missing, such as an `error` object saying that the rows are incomplete";
    let mut cursor = Cursor { bytes, pos: 0, counted_to: 0, line: 0, record_no: 0 };
    cursor.skip_whitespace();
    if cursor.peek() != Some(b'{') {
        bail!("expected a JSON object");
    }
    let Wrapper::Tables = wrapper_key(&mut cursor)? else { bail!("the JSON object has no `tables` array") };
    if !cursor.eat(b'[') {
        cut_off(&mut cursor, emit, CUT)?;
        return Ok(());
    }
    loop {
        // One table object: its columns, then its rows.
        if !cursor.eat(b'{') {
            cut_off(&mut cursor, emit, CUT)?;
            return Ok(());
        }
        let mut names: Option<Vec<String>> = None;
        loop {
            let Some(key) = cursor.key() else {
                cut_off(&mut cursor, emit, CUT)?;
                return Ok(());
            };
            let whole = match key.as_str() {
                "columns" => match cursor.value::<Vec<Value>>() {
                    Ok(columns) => {
                        names = Some(json_reader::column_names(&columns)?);
                        true
                    }
                    Err(_) => false,
                },
                "rows" => {
                    let Some(names) = names.as_deref() else { bail!("a table of the response lists its rows before its columns") };
                    emit(Item::Header(Header::new(names.iter().cloned())))?;
                    read_api_rows(&mut cursor, names, emit)?
                }
                _ => cursor.value::<IgnoredAny>().is_ok(),
            };
            if !whole {
                cut_off(&mut cursor, emit, CUT)?;
                return Ok(());
            }
            if !cursor.eat(b',') {
                break;
            }
        }
        if !cursor.eat(b'}') {
            cut_off(&mut cursor, emit, CUT)?;
            return Ok(());
        }
        if cursor.eat(b',') {
            continue;
        }
        // Every row was read, and the cut comes after them.
        let reason = if cursor.peek() == Some(b']') { AFTER_ROWS } else { CUT };
        cut_off(&mut cursor, emit, reason)?;
        return Ok(());
    }
}

/// Reads the `rows` array at the cursor row by row. Returns false at the cut.
fn read_api_rows(cursor: &mut Cursor, names: &[String], emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<bool> {
    if !cursor.eat(b'[') {
        return Ok(false);
    }
    if cursor.eat(b']') {
        return Ok(true);
    }
    loop {
        cursor.skip_whitespace();
        let start = cursor.pos;
        let Ok(row) = cursor.value::<Value>() else {
            cursor.pos = start;
            return Ok(false);
        };
        cursor.record_no += 1;
        emit(json_reader::api_row(names, row, Position { record_no: cursor.record_no, line: None }))?;
        if cursor.eat(b']') {
            return Ok(true);
        }
        if !cursor.eat(b',') {
            return Ok(false);
        }
    }
}

/// Stops the file at invalid JSON before its end. A file cut off at its end keeps the records
/// before the cut, but after an error in the middle no later record can be found for sure, so
/// keeping the ones before it would leave the rest out unseen.
fn invalid_json(cursor: &mut Cursor, problem: &str) -> anyhow::Error {
    let line = cursor.line();
    let line_start = cursor.bytes[..cursor.pos].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = cursor.pos - line_start + 1;
    invalid_json_at(line, column, problem)
}

/// Stops the file at the error serde_json found in the value that starts at the cursor; its
/// line and column count from the value's start.
fn invalid_json_value(cursor: &mut Cursor, err: &serde_json::Error) -> anyhow::Error {
    let start_line = cursor.line();
    let line_start = cursor.bytes[..cursor.pos].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (line, column) = if err.line() <= 1 {
        (start_line, cursor.pos - line_start + err.column())
    } else {
        (start_line + err.line() as u64 - 1, err.column())
    };
    let text = err.to_string();
    let problem = text.rsplit_once(" at line ").map_or(text.as_str(), |(problem, _)| problem);
    invalid_json_at(line, column, problem)
}

fn invalid_json_at(line: u64, column: usize, problem: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "invalid JSON at line {line}, column {column}: {problem}; the records after it cannot be found for sure, \
         so nothing from this file was imported: repair the JSON there (`jq . FILE` points at it) and import the file again"
    )
}

fn cut_off(cursor: &mut Cursor, emit: &mut dyn FnMut(Item) -> Result<()>, reason: &str) -> Result<bool> {
    let position = cursor.next_position();
    let raw = cursor.rest_text();
    emit(Item::Broken(Broken { position, reason: reason.to_string(), raw }))?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Option<Shape>, Vec<Item>) {
        let mut items = Vec::new();
        let shape = read(text.as_bytes(), 0, &mut |item| {
            items.push(item);
            Ok(())
        })
        .unwrap();
        (shape, items)
    }

    fn rows(items: &[Item]) -> usize {
        items.iter().filter(|i| matches!(i, Item::Row(_))).count()
    }

    fn broken(items: &[Item]) -> Vec<&Broken> {
        items.iter().filter_map(|i| if let Item::Broken(b) = i { Some(b) } else { None }).collect()
    }

    #[test]
    fn concatenated_arrays_are_read() {
        let (shape, items) = run("[{\"a\":1},{\"a\":2}]\n[{\"a\":3}]\n");
        assert_eq!(shape, Some(Shape::JsonArray));
        assert_eq!(rows(&items), 3);
    }

    #[test]
    fn records_wrapper_is_read() {
        let (shape, items) = run("{\"records\":[{\"time\":\"x\",\"properties\":{\"ua\":\"y\"}}]}\n{\"records\":[{\"time\":\"z\"}]}");
        assert_eq!(shape, Some(Shape::ResourceLogRecords));
        assert_eq!(rows(&items), 2);
        let Item::Header(header) = &items[0] else { panic!() };
        assert!(header.has("properties.ua"));
    }

    #[test]
    fn graph_page_skips_other_keys() {
        let (shape, items) = run("{\"@odata.context\":\"x\",\"value\":[{\"id\":\"1\"}],\"@odata.nextLink\":\"y\"}");
        assert_eq!(shape, Some(Shape::GraphPages));
        assert_eq!(rows(&items), 1);
        assert!(broken(&items).is_empty());
    }

    #[test]
    fn cut_array_keeps_complete_records() {
        let (_, items) = run("[{\"a\":1},{\"a\":2},{\"a\":");
        assert_eq!(rows(&items), 2);
        let cut = broken(&items);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].position.record_no, 3);
        assert!(cut[0].reason.contains("cut off"), "{}", cut[0].reason);
    }

    #[test]
    fn pretty_objects_one_after_another() {
        let (shape, items) = run("{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n");
        assert_eq!(shape, Some(Shape::JsonObjects));
        assert_eq!(rows(&items), 2);
        let Item::Row(second) = &items[2] else { panic!("{items:?}") };
        assert_eq!(second.position.line, Some(4));
    }

    fn run_cut(text: &str) -> Vec<Item> {
        let mut items = Vec::new();
        read_cut_query_api(text.as_bytes(), &mut |item| {
            items.push(item);
            Ok(())
        })
        .unwrap();
        items
    }

    const TWO_COLUMNS: &str = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"A","type":"string"},{"name":"B","type":"long"}],"rows":["#;

    #[test]
    fn cut_response_keeps_rows_before_the_cut() {
        let items = run_cut(&format!("{TWO_COLUMNS}[\"x\", 1], [\"y\", 2],\n  [\"z\", 3"));
        assert_eq!(rows(&items), 2);
        let cut = broken(&items);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].position.record_no, 3);
        assert!(cut[0].reason.contains("after the last complete row"), "{}", cut[0].reason);
        assert_eq!(cut[0].raw, "[\"z\", 3");
    }

    #[test]
    fn cut_after_the_rows_is_named() {
        let items = run_cut(&format!("{TWO_COLUMNS}[\"x\", 1]]}}], \"error\": {{\"code\": \"Partial"));
        assert_eq!(rows(&items), 1);
        let cut = broken(&items);
        assert_eq!(cut.len(), 1);
        assert!(cut[0].reason.contains("ends after its rows"), "{}", cut[0].reason);
    }

    #[test]
    fn cut_second_table_keeps_the_first() {
        let second = r#"{"name":"T2","columns":[{"name":"C"}],"rows":[["c1"],["c2""#;
        let items = run_cut(&format!("{TWO_COLUMNS}[\"x\", 1]]}}, {second}"));
        assert_eq!(rows(&items), 2, "one row of each table");
        assert_eq!(items.iter().filter(|i| matches!(i, Item::Header(_))).count(), 2);
        assert_eq!(broken(&items).len(), 1);
    }

    #[test]
    fn tables_document_is_left_to_its_reader() {
        let (shape, items) = run("{\"tables\":[]}");
        assert_eq!(shape, None);
        assert!(items.is_empty());
    }
}
