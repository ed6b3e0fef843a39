//! The items a reader hands to the importer: headers, rows and broken records, with positions.

use super::header::Header;

/// A record's place in its file. `record_no` counts records from 1 in file order; `line` is
/// the physical line the record starts on, for shapes that have lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub record_no: u64,
    pub line: Option<u64>,
}

impl Position {
    /// Builds the position of a stored row from its `record_no` and `line` columns.
    pub fn stored(record_no: i64, line: Option<i64>) -> Position {
        Position { record_no: record_no as u64, line: line.map(|line| line as u64) }
    }

    /// Describes the position for a message, such as `line 12` or `record 3`.
    pub fn describe(&self) -> String {
        match self.line {
            Some(line) => format!("line {line}"),
            None => format!("record {}", self.record_no),
        }
    }
}

/// One data record, its values aligned with the latest header.
#[derive(Debug)]
pub struct Row {
    pub position: Position,
    /// Values by column index; a missing trailing value reads as empty.
    pub values: Vec<String>,
    /// The record's text as written, kept with the imported row: its line of a CSV or JSON lines
    /// file, or compact JSON for a record of another shape.
    pub raw: String,
}

impl Row {
    pub fn get(&self, column: usize) -> &str {
        self.values.get(column).map_or("", String::as_str)
    }
}

/// A record that could not be read as a record at all.
#[derive(Debug)]
pub struct Broken {
    pub position: Position,
    pub reason: String,
    pub raw: String,
}

/// The stream a reader produces. A `Header` comes before the rows it describes; a later
/// `Header` (a JSON key seen for the first time) extends the previous one without reordering it.
#[derive(Debug)]
pub enum Item {
    Header(Header),
    Row(Row),
    Broken(Broken),
}

/// The shapes of export blobtrail reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Log Analytics portal "Export to CSV".
    PortalCsv,
    /// Log Analytics query API response: `{"tables":[{"columns":[...],"rows":[...]}]}`.
    QueryApiJson,
    /// A JSON array of row objects, as `az monitor log-analytics query` writes it.
    JsonArray,
    /// One JSON row object per line.
    JsonLines,
    /// `{"records":[...]}` documents of Event Hub captures and older diagnostic archives.
    ResourceLogRecords,
    /// Microsoft Graph `{"value":[...]}` pages.
    GraphPages,
    /// Pretty-printed JSON objects one after another.
    JsonObjects,
    /// Classic Storage Analytics logs (`$logs`), `;`-delimited.
    StorageAnalytics,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::PortalCsv => "portal-csv",
            Shape::QueryApiJson => "query-api-json",
            Shape::JsonArray => "json-array",
            Shape::JsonLines => "json-lines",
            Shape::ResourceLogRecords => "resource-log-records",
            Shape::GraphPages => "graph-pages",
            Shape::JsonObjects => "json-objects",
            Shape::StorageAnalytics => "storage-analytics-log",
        }
    }
}

/// Returns bytes as text, with a byte that is not part of a UTF-8 character written as `\xNN`
/// (its hexadecimal value), so that a rejected record keeps every byte: a Windows-1252 `é`
/// reads `\xE9`.
pub fn escaped_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02X}"));
        }
    }
    text
}
