//! The fast path's reader of one JSON lines record: it walks the line's top-level object and
//! writes each value's text straight into the row's columns, reusing their buffers.
//!
//! The streaming reader parses a line into a JSON object, flattens it (`json_reader::flat_values`)
//! and fills the columns from that list, so a later entry of the list wins. Walking the line in
//! the order it is written gives the same list in the same order, as long as no top-level key
//! repeats: the parsed object then keeps the last value at the place of the first. The walker
//! reads such a line, rare in real exports, the streaming reader's way (`Walked::KeyRepeats`).

use std::collections::HashMap;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::Value;

use super::json_reader;

/// The columns of a file's records: the first line's keys, flattened keys included.
pub struct Columns {
    numbers: HashMap<String, usize, ahash::RandomState>,
    names: Vec<String>,
}

impl Columns {
    pub fn new(names: &[String]) -> Columns {
        let numbers = names.iter().enumerate().map(|(column, name)| (name.clone(), column)).collect();
        Columns { numbers, names: names.to_vec() }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn get(&self, key: &str) -> Option<usize> {
        self.numbers.get(key).copied()
    }
}

/// The outcome of walking a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Walked {
    /// The walk put every value in its column.
    Read,
    /// A top-level key is written twice, so the line was parsed into an object and flattened,
    /// as the streaming reader does.
    KeyRepeats,
}

/// A reader of JSON lines that keeps its buffers from line to line.
#[derive(Default)]
pub struct LineWalker {
    /// For each column, the number of the line whose top-level key last named it.
    named_on: Vec<u64>,
    line: u64,
}

impl LineWalker {
    /// Reads `text`, a JSON object on one line, into `values`, one per column, as the streaming
    /// reader would. A key without a column fails, as does text that is not exactly one JSON
    /// object.
    pub fn walk(&mut self, text: &str, columns: &Columns, values: &mut [String]) -> Result<Walked, String> {
        self.line += 1;
        self.named_on.resize(values.len(), 0);
        for value in values.iter_mut() {
            value.clear();
        }
        let mut walk = Walk {
            columns,
            values,
            named_on: &mut self.named_on,
            line: self.line,
            table_name: false,
            repeats: false,
            unknown: None,
        };
        let mut parser = serde_json::Deserializer::from_str(text);
        let parsed = (&mut parser).deserialize_map(&mut walk).and_then(|()| parser.end());
        if let Err(err) = parsed {
            // The parser's position counts from the start of the line's text, so its line is 1.
            let message = err.to_string();
            return Err(match err.classify() {
                Category::Eof if text.is_empty() => "the line is blank".to_string(),
                Category::Data => strip_position(&message).to_string(),
                _ => format!("invalid JSON at column {} of the line: {}", err.column(), strip_position(&message)),
            });
        }
        if walk.repeats {
            read_parsed(text, columns, values)?;
            return Ok(Walked::KeyRepeats);
        }
        if let Some(key) = walk.unknown {
            return Err(format!("the key `{key}` is not on the first line"));
        }
        if walk.table_name {
            json_reader::clear_none_values(values.iter_mut());
        }
        Ok(Walked::Read)
    }
}

/// Reads a JSON line the streaming reader's way: parsed into an object, then flattened.
fn read_parsed(text: &str, columns: &Columns, values: &mut [String]) -> Result<(), String> {
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("the line is JSON but not an object".into()),
        Err(err) => return Err(format!("invalid JSON: {err}")),
    };
    for value in values.iter_mut() {
        value.clear();
    }
    for (key, value) in json_reader::flat_values(&object) {
        values[columns.get(&key).ok_or_else(|| format!("the key `{key}` is not on the first line"))?] = value;
    }
    Ok(())
}

/// Returns a serde_json error message without the position it appends.
fn strip_position(message: &str) -> &str {
    message.rfind(" at line ").map_or(message, |at| &message[..at])
}

/// The state of one line's walk.
struct Walk<'w> {
    columns: &'w Columns,
    values: &'w mut [String],
    named_on: &'w mut [u64],
    line: u64,
    /// The line has a top-level `TableName` key (`az monitor log-analytics query` output).
    table_name: bool,
    repeats: bool,
    /// The first key that has no column.
    unknown: Option<String>,
}

impl<'de> Visitor<'de> for &mut Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeyColumn(self.columns))? {
            let column = match key {
                Key::Column(column, kind) => {
                    self.table_name |= kind == KeyKind::TableName;
                    column
                }
                Key::Unknown(key) => {
                    self.note_unknown(key);
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if self.named_on[column] == self.line {
                self.repeats = true;
            }
            self.named_on[column] = self.line;
            // A flattened key of an earlier nested object may have filled the column.
            self.values[column].clear();
            match map.next_value_seed(Cell(&mut self.values[column]))? {
                None => {}
                // A nested object: its members go to their dotted columns first, then the
                // object itself is the key's text, as `flat_values` lists them.
                Some(Value::Object(object)) => {
                    for (inner, text) in json_reader::flat_values_under(&self.columns.names[column], &object) {
                        match self.columns.get(&inner) {
                            Some(inner) => self.values[inner] = text,
                            None => self.note_unknown(inner),
                        }
                    }
                    self.values[column] = Value::Object(object).to_string();
                }
                Some(other) => self.values[column] = other.to_string(),
            }
        }
        Ok(())
    }
}

impl Walk<'_> {
    /// Keeps the first key without a column. It fails the line only when no top-level key
    /// repeats: after a repeat, the key may belong to a value that a later one replaced.
    fn note_unknown(&mut self, key: String) {
        self.unknown.get_or_insert(key);
    }
}

#[derive(PartialEq, Eq)]
enum KeyKind {
    TableName,
    Other,
}

/// A top-level key: its column, or the key itself when it has none.
enum Key {
    Column(usize, KeyKind),
    Unknown(String),
}

/// Reads a key and returns its column, without copying the key.
struct KeyColumn<'c>(&'c Columns);

impl<'de> DeserializeSeed<'de> for KeyColumn<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyColumn<'_> {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(match self.0.get(key) {
            Some(column) => Key::Column(column, if key == "TableName" { KeyKind::TableName } else { KeyKind::Other }),
            None => Key::Unknown(key.to_string()),
        })
    }
}

/// Reads one value: a string, number or boolean into its column's text as `text_of` spells
/// it, null as empty. An object or array is returned whole for the caller to spell.
struct Cell<'v>(&'v mut String);

impl<'de> DeserializeSeed<'de> for Cell<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Cell<'_> {
    type Value = Option<Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        self.0.push_str(text);
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        self.0.push_str(if flag { "true" } else { "false" });
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        self.spell(serde_json::Number::from(number))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        self.spell(serde_json::Number::from(number))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Self::Value, E> {
        // JSON text has no NaN or infinity, so every parsed float is a number.
        match serde_json::Number::from_f64(number) {
            Some(number) => self.spell(number),
            None => Ok(None),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Some)
    }
}

impl Cell<'_> {
    fn spell<E>(self, number: serde_json::Number) -> Result<Option<Value>, E> {
        use std::fmt::Write;
        // `fmt::Write` for String never returns an error.
        let _ = write!(self.0, "{number}");
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns the columns the streaming reader would read from `first`, as `bulk` sets them up.
    fn columns_of(first: &str) -> Columns {
        let object: serde_json::Map<String, Value> = serde_json::from_str(first).unwrap();
        let mut names: Vec<String> = Vec::new();
        for (key, _) in json_reader::flat_values(&object) {
            if !names.contains(&key) {
                names.push(key);
            }
        }
        Columns::new(&names)
    }

    /// Returns the streaming reader's values of `line`: parsed, flattened, the last entry winning.
    fn streaming_values(line: &str, columns: &Columns) -> Vec<String> {
        let object: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        let mut values = vec![String::new(); columns.len()];
        for (key, value) in json_reader::flat_values(&object) {
            values[columns.get(&key).unwrap()] = value;
        }
        values
    }

    fn walked(line: &str, columns: &Columns) -> (Result<Walked, String>, Vec<String>) {
        let mut values = vec!["left over".to_string(); columns.len()];
        let walked = LineWalker::default().walk(line, columns, &mut values);
        (walked, values)
    }

    #[test]
    fn values_match_the_streaming_reader() {
        let first = r#"{"a":"x","n":1,"f":0.5,"b":true,"z":null,"o":{"p":1,"q":{"r":"s"}},"o.p":"flat","l":[1,{"m":2}],"e":"tab\tquote\"","big":100000000000000000000,"neg":-3,"exp":1e3}"#;
        let columns = columns_of(first);
        let lines = [
            first,
            // Another key order: the flat `o.p` now comes before the nested one, which wins.
            r#"{"o.p":"flat first","o":{"p":"nested last","q":{"r":"t"}},"a":"é\u00e9","n":-0,"f":1.25e-7}"#,
            // Keys left out stay empty; a null is empty.
            r#"{"a":null,"l":[]}"#,
        ];
        for line in lines {
            let (result, values) = walked(line, &columns);
            assert_eq!(result, Ok(Walked::Read), "{line}");
            assert_eq!(values, streaming_values(line, &columns), "{line}");
        }
        // Spelled by hand from the first line.
        let (_, values) = walked(first, &columns);
        let value = |key: &str| values[columns.get(key).unwrap()].clone();
        assert_eq!(value("o.p"), "flat");
        assert_eq!(value("o.q.r"), "s");
        assert_eq!(value("o"), r#"{"p":1,"q":{"r":"s"}}"#);
        assert_eq!(value("l"), r#"[1,{"m":2}]"#);
        assert_eq!(value("e"), "tab\tquote\"");
        assert_eq!(value("big"), "1e+20");
        assert_eq!(value("exp"), "1000.0");
        assert_eq!(value("z"), "");
    }

    #[test]
    fn table_name_rows_read_none_as_empty() {
        let line = r#"{"TableName":"SigninLogs","UserPrincipalName":"None","Identity":"Nonexistent"}"#;
        let columns = columns_of(line);
        let (result, values) = walked(line, &columns);
        assert_eq!(result, Ok(Walked::Read));
        assert_eq!(values, ["SigninLogs", "", "Nonexistent"]);
        assert_eq!(values, streaming_values(line, &columns));
        // Without `TableName`, `None` is a value.
        let columns = columns_of(r#"{"UserPrincipalName":"None"}"#);
        assert_eq!(walked(r#"{"UserPrincipalName":"None"}"#, &columns).1, ["None"]);
    }

    #[test]
    fn repeated_top_level_key_is_reported() {
        let columns = columns_of(r#"{"a":"1","b":"2"}"#);
        let (result, values) = walked(r#"{"a":"1","b":"2","a":"3"}"#, &columns);
        assert_eq!(result, Ok(Walked::KeyRepeats));
        assert_eq!(values, ["3", "2"]);
        // A repeat on one line does not carry over to the next line of the same walker.
        let mut walker = LineWalker::default();
        let mut values = vec![String::new(); 2];
        assert_eq!(walker.walk(r#"{"a":"1","a":"3"}"#, &columns, &mut values), Ok(Walked::KeyRepeats));
        assert_eq!(values, ["3", ""]);
        assert_eq!(walker.walk(r#"{"a":"1","b":"2"}"#, &columns, &mut values), Ok(Walked::Read));
        assert_eq!(values, ["1", "2"]);
    }

    #[test]
    fn unknown_key_and_broken_lines_fail() {
        let columns = columns_of(r#"{"a":"1"}"#);
        assert_eq!(walked(r#"{"a":"1","c":"2"}"#, &columns).0, Err("the key `c` is not on the first line".to_string()));
        assert_eq!(walked(r#"{"a":{"c":1}}"#, &columns).0, Err("the key `a.c` is not on the first line".to_string()));
        for line in [r#"{"a":"1""#, r#"["a"]"#, r#"{"a":"1"} {}"#, r#""a""#] {
            let (result, _) = walked(line, &columns);
            assert!(result.is_err(), "{line}");
        }
        assert_eq!(
            walked(r#"{"a":1x}"#, &columns).0,
            Err("invalid JSON at column 7 of the line: expected `,` or `}`".to_string())
        );
        assert_eq!(walked("", &columns).0, Err("the line is blank".to_string()));
    }

    #[test]
    fn key_of_a_replaced_value_is_no_failure() {
        // The object's `b` has no column, but the string that replaces the object wins.
        let columns = columns_of(r#"{"a":"1"}"#);
        let line = r#"{"a":{"b":1},"a":"2"}"#;
        assert_eq!(walked(line, &columns).0, Ok(Walked::KeyRepeats));
        assert_eq!(streaming_values(line, &columns), ["2"]);
        assert_eq!(walked(line, &columns).1, ["2"]);
    }
}
