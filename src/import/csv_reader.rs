//! Reads the Log Analytics portal's "Export to CSV" files.
//!
//! The export is RFC 4180 CSV: fields are quoted only when needed, quotes are doubled, and JSON
//! cells may span several lines. A real CSV parser is therefore required; line-based splitting
//! breaks on the multi-line cells. The header row names the columns; every later record is
//! checked for its field count and for valid UTF-8 before it is passed on.

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

use anyhow::{bail, Context, Result};

use super::header::{CsvHeader, Header};
use super::record::{escaped_text, Broken, Item, Position, Row};

/// Picks the field delimiter from the header line: the comma, or the semicolon or tab when
/// the line has more of those outside quotes, as a spreadsheet saved in some locales or as
/// "Unicode Text" writes them.
pub fn sniff_delimiter(header: &[u8]) -> u8 {
    let (mut quoted, mut counts) = (false, [0usize; 3]);
    for &byte in header {
        match byte {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    match counts {
        [commas, semicolons, tabs] if tabs > commas && tabs >= semicolons => b'\t',
        [commas, semicolons, _] if semicolons > commas => b';',
        _ => b',',
    }
}

/// Reads CSV records with the given field delimiter from `input` and passes each to `emit`,
/// header first. A record's `raw` is its text as written, without its line break.
pub fn read(input: impl Read, delimiter: u8, emit: &mut dyn FnMut(Item) -> Result<()>) -> Result<()> {
    let lines = Rc::new(RefCell::new(LineTracker::default()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(LineCountingReader { inner: input, lines: Rc::clone(&lines) });
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Header> = None;
    let mut record_no = 0;
    // Each record is emitted once the next one is read, because only the last record of the
    // file can end inside a quoted field, which the csv crate closes without an error.
    let mut last = csv::ByteRecord::new();
    let mut pending: Option<(Vec<u8>, Position)> = None;

    while reader.read_byte_record(&mut record).context("cannot read the CSV data")? {
        let start = record.position().map_or(0, |p| p.byte());
        let line = lines.borrow_mut().line_at(start);
        let text = lines.borrow().text_to(reader.position().byte());
        let Some(header) = &header else {
            if is_type_line(&record) {
                continue;
            }
            let names = header_names(&record)?;
            let written = String::from_utf8_lossy(&text);
            let csv = CsvHeader { text: written.trim_start_matches('\u{feff}').to_string(), delimiter: char::from(delimiter) };
            let parsed = Header::new(names).with_csv(csv);
            emit(Item::Header(parsed.clone()))?;
            header = Some(parsed);
            continue;
        };
        if let Some((text, position)) = pending.take() {
            emit(check_record(header, &last, text, position))?;
        }
        record_no += 1;
        std::mem::swap(&mut record, &mut last);
        pending = Some((text, Position { record_no, line: Some(line) }));
    }
    if let (Some(header), Some((text, position))) = (&header, pending) {
        if ends_inside_quotes(&text, delimiter) {
            let reason = "the file ends inside a quoted field, so this record is cut off (a truncated export?)";
            emit(Item::Broken(Broken { position, reason: reason.into(), raw: escaped_text(&text) }))?;
        } else {
            emit(check_record(header, &last, text, position))?;
        }
    }
    if header.is_none() {
        bail!("the file is empty: no header row");
    }
    Ok(())
}

/// Tells whether a record's text leaves a quoted field open: a CSV parser that reads it and
/// then a line break is still inside the field.
fn ends_inside_quotes(text: &[u8], delimiter: u8) -> bool {
    use csv_core::ReadFieldResult;
    let mut parser = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut output = [0u8; 4096];
    let mut input: &[u8] = text;
    let mut fed_line_break = false;
    loop {
        let (result, read, _) = parser.read_field(input, &mut output);
        input = &input[read..];
        match result {
            ReadFieldResult::InputEmpty if fed_line_break => return true,
            ReadFieldResult::InputEmpty => {
                input = b"\n";
                fed_line_break = true;
            }
            ReadFieldResult::OutputFull | ReadFieldResult::Field { record_end: false } => {}
            ReadFieldResult::Field { record_end: true } | ReadFieldResult::End => return false,
        }
    }
}

/// Tells whether a record is the `#TYPE System.Management.Automation.PSCustomObject` line that
/// Windows PowerShell's `Export-Csv` writes above the header unless `-NoTypeInformation` is given.
pub fn is_type_line(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record[0].starts_with(b"#TYPE ")
}

/// Physical line numbers by byte offset. The csv crate's own line count lags by one after a
/// record that ends a line, so lines are counted here from the bytes instead. Only the bytes
/// between the last record start and what the parser has read ahead are kept.
#[derive(Default)]
struct LineTracker {
    /// Bytes from `kept_from` onwards, as read.
    kept: Vec<u8>,
    kept_from: u64,
    /// Newlines before `kept_from`.
    newlines_before: u64,
    /// Whether an LF was seen, after which only LF ends a line.
    has_lf: bool,
}

impl LineTracker {
    fn push(&mut self, bytes: &[u8]) {
        self.kept.extend_from_slice(bytes);
    }

    /// Returns the 1-based line of the record starting at `byte`, which must not decrease
    /// between calls. The csv crate may report a record's start at the line break before it
    /// (the `\n` of a CRLF, or a blank line), so line breaks at the start are skipped first.
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut skip = (byte.saturating_sub(self.kept_from) as usize).min(self.kept.len());
        while skip < self.kept.len() && matches!(self.kept[skip], b'\r' | b'\n') {
            skip += 1;
        }
        // A line ends at LF. In a file without any LF (old Mac line breaks), it ends at CR.
        let passed = &self.kept[..skip];
        self.has_lf = self.has_lf || self.kept.contains(&b'\n');
        let breaks = if self.has_lf {
            passed.iter().filter(|&&byte| byte == b'\n').count()
        } else {
            passed.iter().filter(|&&byte| byte == b'\r').count()
        };
        self.newlines_before += breaks as u64;
        self.kept.drain(..skip);
        self.kept_from += skip as u64;
        self.newlines_before + 1
    }

    /// Returns the bytes from the start of the record that `line_at` found up to `end`, the
    /// reader's position after the record, without the line breaks that end it.
    fn text_to(&self, end: u64) -> Vec<u8> {
        let length = (end.saturating_sub(self.kept_from) as usize).min(self.kept.len());
        let mut text = &self.kept[..length];
        while let [rest @ .., b'\r' | b'\n'] = text {
            text = rest;
        }
        text.to_vec()
    }
}

struct LineCountingReader<R> {
    inner: R,
    lines: Rc<RefCell<LineTracker>>,
}

impl<R: Read> Read for LineCountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.lines.borrow_mut().push(&buf[..count]);
        Ok(count)
    }
}

pub fn header_names(record: &csv::ByteRecord) -> Result<Vec<String>> {
    let mut names = Vec::with_capacity(record.len());
    for field in record {
        let Ok(text) = std::str::from_utf8(field) else {
            bail!("the header row is not valid UTF-8; re-save the file as UTF-8");
        };
        names.push(text.trim_start_matches('\u{feff}').to_string());
    }
    Ok(names)
}

fn check_record(header: &Header, record: &csv::ByteRecord, text: Vec<u8>, position: Position) -> Item {
    let mut values = Vec::with_capacity(record.len());
    for (index, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(text) => values.push(text.to_string()),
            Err(_) => {
                let column = header.names().get(index).map_or("?", String::as_str);
                return Item::Broken(Broken {
                    position,
                    reason: format!("column `{column}` holds bytes that are not valid UTF-8 (kept in `raw` as \\xNN)"),
                    raw: escaped_text(&text),
                });
            }
        }
    }
    if values.len() != header.len() {
        // A quote that never closes swallows the line breaks after it, so the record runs on
        // over the next lines and has too many fields.
        let hint = if values.len() > header.len() && values.iter().any(|v| v.contains('\n')) {
            "; a quoted field seems to run on over the following lines (a quote that never closes?), so the records on those lines are inside this one"
        } else {
            ""
        };
        return Item::Broken(Broken {
            position,
            reason: format!("expected {} fields, found {}{hint}", header.len(), values.len()),
            raw: escaped_text(&text),
        });
    }
    // Every field is UTF-8, and the quotes and delimiters between them are ASCII.
    let raw = String::from_utf8(text).unwrap_or_else(|err| escaped_text(err.as_bytes()));
    Item::Row(Row { position, values, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_bytes_are_kept_as_escapes() {
        assert_eq!(escaped_text(b"r\xe9sum\xe9.docx"), "r\\xE9sum\\xE9.docx");
        assert_eq!(escaped_text("résumé".as_bytes()), "résumé");
    }

    fn collect(text: &[u8]) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        read(text, b',', &mut |item| {
            items.push(item);
            Ok(())
        })?;
        Ok(items)
    }

    #[test]
    fn powershell_type_line_is_skipped() {
        let items = collect(b"#TYPE System.Management.Automation.PSCustomObject\n\"A\",\"B\"\n\"1\",\"2\"\n").unwrap();
        let Item::Header(header) = &items[0] else { panic!("the header comes first") };
        assert_eq!(header.names(), ["A", "B"]);
        let Item::Row(row) = &items[1] else { panic!("then the row") };
        assert_eq!(row.position.line, Some(3), "lines count from the top of the file");
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn delimiter_is_sniffed_from_the_header() {
        assert_eq!(sniff_delimiter(b"TimeGenerated [UTC],Uri,CallerIpAddress\r\n"), b',');
        assert_eq!(sniff_delimiter(b"TimeGenerated [UTC];Uri;CallerIpAddress\n"), b';');
        assert_eq!(sniff_delimiter(b"TimeGenerated [UTC]\tUri\tCallerIpAddress\n"), b'\t');
        // Delimiters inside quotes do not count.
        assert_eq!(sniff_delimiter(b"\"a;b;c\",d\n"), b',');
    }

    #[test]
    fn multi_line_cell_keeps_start_line() -> Result<()> {
        let items = collect(b"A,B\r\n1,\"[\n  {\"\"k\"\": 1}\n]\"\r\n2,x\r\n")?;
        let Item::Row(first) = &items[1] else { panic!("{items:?}") };
        assert_eq!(first.position.line, Some(2));
        assert_eq!(first.values[1], "[\n  {\"k\": 1}\n]");
        let Item::Row(second) = &items[2] else { panic!("{items:?}") };
        assert_eq!(second.position, Position { record_no: 2, line: Some(5) });
        Ok(())
    }

    #[test]
    fn cr_only_line_breaks_count() -> Result<()> {
        let items = collect(b"A,B\r1,2\r3,\"x\ry\"\r5,6")?;
        let lines: Vec<Option<u64>> = items[1..]
            .iter()
            .map(|item| match item {
                Item::Row(row) => row.position.line,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lines, [Some(2), Some(3), Some(5)]);
        // With LF line breaks, a CR inside a cell is no line break.
        let items = collect(b"A,B\n1,\"x\ry\"\n5,6\n")?;
        let Item::Row(last) = &items[2] else { panic!("{items:?}") };
        assert_eq!(last.position.line, Some(3));
        Ok(())
    }

    #[test]
    fn blank_lines_count_toward_line_numbers() -> Result<()> {
        let items = collect(b"A,B

1,2


3,4
")?;
        let Item::Row(first) = &items[1] else { panic!("{items:?}") };
        assert_eq!(first.position.line, Some(3));
        let Item::Row(second) = &items[2] else { panic!("{items:?}") };
        assert_eq!(second.position.line, Some(6));
        Ok(())
    }

    #[test]
    fn bom_is_stripped_from_header() -> Result<()> {
        let items = collect("\u{feff}TimeGenerated [UTC],Uri\n".as_bytes())?;
        let Item::Header(header) = &items[0] else { panic!() };
        assert!(header.has("timegenerated"));
        Ok(())
    }

    #[test]
    fn wrong_field_count_is_broken() -> Result<()> {
        let items = collect(b"A,B\n1,2,3\n")?;
        let Item::Broken(broken) = &items[1] else { panic!("{items:?}") };
        assert_eq!(broken.reason, "expected 2 fields, found 3");
        assert_eq!(broken.position.line, Some(2));
        Ok(())
    }

    #[test]
    fn invalid_utf8_is_broken() -> Result<()> {
        let items = collect(b"A,B\n1,\xff\xfe\n")?;
        let Item::Broken(broken) = &items[1] else { panic!("{items:?}") };
        assert!(broken.reason.contains("`B`"), "{}", broken.reason);
        Ok(())
    }

    #[test]
    fn raw_is_the_record_as_written() -> Result<()> {
        let items = collect(b"\xef\xbb\xbfA,A,\"B \"\"q\"\"\"\r\n1,\"two, three\",\"[\r\n  {\"\"k\"\": 1}\r\n]\"\r\n\r\n 4 ,5,6 \n7,8,9")?;
        let Item::Header(header) = &items[0] else { panic!("{items:?}") };
        let csv = header.csv().expect("a CSV header keeps its row");
        assert_eq!(csv.text, "A,A,\"B \"\"q\"\"\"");
        assert_eq!(csv.delimiter, ',');
        let raws: Vec<&str> = items[1..]
            .iter()
            .map(|item| match item {
                Item::Row(row) => row.raw.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        // Quotes, spaces and the line breaks inside a cell stay; the line break after it does not.
        assert_eq!(raws, ["1,\"two, three\",\"[\r\n  {\"\"k\"\": 1}\r\n]\"", " 4 ,5,6 ", "7,8,9"]);
        Ok(())
    }

    #[test]
    fn cut_off_quoted_field_is_rejected() -> Result<()> {
        for (text, cut) in [(&b"A,B\n1,\"Hot"[..], true), (b"A,B\n1,\"Hot,Cold\r\n", true), (b"A,B\n1,\"Hot\"", false), (b"A,B\n1,Hot", false)] {
            let items = collect(text)?;
            let rejected = matches!(&items[1], Item::Broken(broken) if broken.reason.starts_with("the file ends inside a quoted field"));
            assert_eq!(rejected, cut, "{}", String::from_utf8_lossy(text));
        }
        assert!(ends_inside_quotes(b"1;\"a;b", b';'));
        assert!(!ends_inside_quotes(b"1;\"a\nb\"", b';'));
        Ok(())
    }

    #[test]
    fn rejected_records_keep_their_text() -> Result<()> {
        let items = collect(b"A,B\n1,\xff\xfe\n1,2,3\n")?;
        let Item::Broken(bytes) = &items[1] else { panic!("{items:?}") };
        assert_eq!(bytes.raw, "1,\\xFF\\xFE");
        let Item::Broken(fields) = &items[2] else { panic!("{items:?}") };
        assert_eq!(fields.raw, "1,2,3");
        Ok(())
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(collect(b"").is_err());
    }
}
