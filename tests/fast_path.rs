//! DuckDB's reader for well-formed portal CSV files (the fast path) against the streaming
//! reader: both must store the same rows with the same record and line numbers, and a file
//! the fast path cannot take whole must be read by the streaming reader.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture, summary, TestCase};
use serde_json::Value;

/// Writes a portal CSV of `rows` records built from the blob fixture: most get a correlation
/// ID of their own, every tenth repeats a fixture record unchanged (identical lines).
fn write_blob_csv(dir: &Path, name: &str, rows: usize, crlf: bool) -> PathBuf {
    let mut reader = csv::Reader::from_path(fixture("portal_blob.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let correlation = header.iter().position(|name| name == "CorrelationId").unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let path = dir.join(name);
    let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut writer = csv::WriterBuilder::new().terminator(terminator).from_path(&path).unwrap();
    writer.write_record(&header).unwrap();
    for index in 0..rows {
        let mut record: Vec<String> = records[index % records.len()].iter().map(str::to_string).collect();
        if index % 10 != 0 {
            record[correlation] = format!("{index:08x}-0000-4000-8000-{index:012x}");
        }
        writer.write_record(&record).unwrap();
    }
    writer.flush().unwrap();
    path
}

/// Writes JSON lines of `rows` sign-ins built from the sign-in fixture: most get an ID and a
/// correlation ID of their own, every tenth repeats a fixture line unchanged.
fn write_signin_lines(dir: &Path, rows: usize) -> PathBuf {
    let text = std::fs::read_to_string(fixture("lines_signin.jsonl")).unwrap();
    let records: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for index in 0..rows {
        let record = records[index % records.len()];
        if index % 10 == 0 {
            out.push_str(record);
        } else {
            let mut object: serde_json::Map<String, Value> = serde_json::from_str(record).unwrap();
            object["Id"] = Value::from(format!("id-{index}"));
            object["CorrelationId"] = Value::from(format!("{index:08x}-0000-4000-8000-{index:012x}"));
            out.push_str(&Value::Object(object).to_string());
        }
        out.push('\n');
    }
    let path = dir.join("AADNonInteractiveUserSignInLogs.jsonl");
    std::fs::write(&path, out).unwrap();
    path
}

/// Imports one file with the given reader and returns its summary row.
fn import(case: &TestCase, file: &Path, reader: &str) -> Value {
    let output = case.import(&[file.to_path_buf()], &["--reader", reader]);
    summary(&output).remove(0)
}

/// Returns the row count and a digest of every stored row but its source ID, in file order.
fn stored(case: &TestCase, table: &str) -> (i64, String) {
    let rows = case.query(&format!(
        "SELECT count(*) AS n,
                md5(coalesce(string_agg(to_json(s)::VARCHAR, chr(10) ORDER BY record_no, line), '')) AS digest
         FROM (SELECT * EXCLUDE (source_id) FROM {table}) s"
    ));
    (rows[0]["n"].as_i64().unwrap(), rows[0]["digest"].as_str().unwrap().to_string())
}

/// As `stored`, with each CSV record's `raw` read as a JSON object of column name to cell text
/// (`raw_object`, sql/012_raw_as_written.sql), so that files with other delimiters or quoting
/// compare equal when their cells are.
fn stored_as_objects(case: &TestCase, table: &str) -> (i64, String) {
    let rows = case.query(&format!(
        "SELECT count(*) AS n,
                md5(coalesce(string_agg(to_json(s)::VARCHAR, chr(10) ORDER BY record_no, line), '')) AS digest
         FROM (SELECT e.* EXCLUDE (source_id, raw), raw_object(e.raw, src.csv_header, src.csv_delimiter) AS raw
               FROM {table} e JOIN sources src USING (source_id)) s"
    ));
    (rows[0]["n"].as_i64().unwrap(), rows[0]["digest"].as_str().unwrap().to_string())
}

fn counts(row: &Value) -> [i64; 4] {
    ["records", "imported", "rejected", "duplicates"].map(|key| row[key].as_i64().unwrap())
}

#[test]
fn csv_rows_match_streaming_reader() {
    let dir = tempfile::tempdir().unwrap();
    // About 30 MB, which DuckDB 2.0 scans in 8 MB parts on several threads.
    for (name, crlf) in [("StorageBlobLogs.csv", false), ("StorageBlobLogs_crlf.csv", true)] {
        let file = write_blob_csv(dir.path(), name, 30_000, crlf);
        let fast = TestCase::new();
        let streaming = TestCase::new();
        let fast_row = import(&fast, &file, "auto");
        let streaming_row = import(&streaming, &file, "streaming");
        assert_eq!(fast_row["reader"], "duckdb", "{name}: {fast_row}");
        assert_eq!(streaming_row["reader"], "streaming", "{name}");
        // Every tenth record (index 0, 10, 20, ...) repeats fixture record 0, 2, 4 or 6
        // unchanged: 3,000 lines of which 4 are kept.
        assert_eq!(counts(&fast_row), [30_000, 27_004, 0, 2_996], "{name}");
        assert_eq!(counts(&fast_row), counts(&streaming_row), "{name}");
        assert_eq!(fast_row["sha256"], streaming_row["sha256"], "{name}");
        assert_eq!(stored(&fast, "storage_events"), stored(&streaming, "storage_events"), "{name}");
        let lines = fast.query("SELECT min(line) AS first, max(line) AS last, max(record_no) AS records FROM storage_events");
        assert_eq!((lines[0]["first"].as_i64(), lines[0]["last"].as_i64()), (Some(2), Some(30_001)), "{name}");
        assert_eq!(lines[0]["records"].as_i64(), Some(30_000), "{name}");
    }
}

#[test]
fn json_lines_match_streaming_reader() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_signin_lines(dir.path(), 20_000);
    let fast = TestCase::new();
    let streaming = TestCase::new();
    let fast_row = import(&fast, &file, "auto");
    let streaming_row = import(&streaming, &file, "streaming");
    assert_eq!(fast_row["reader"], "duckdb", "{fast_row}");
    assert_eq!(fast_row["shape"], "json-lines");
    // Every tenth line (index 0, 10, 20, ...) repeats one of the 3 fixture lines unchanged:
    // 2,000 lines of which 3 are kept.
    assert_eq!(counts(&fast_row), [20_000, 18_003, 0, 1_997]);
    assert_eq!(counts(&fast_row), counts(&streaming_row));
    assert_eq!(stored(&fast, "signin_events"), stored(&streaming, "signin_events"));
}

#[test]
fn json_new_key_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("lines_signin.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut object: serde_json::Map<String, Value> = serde_json::from_str(&lines[2]).unwrap();
    object.insert("ExtraColumn".into(), Value::from("x"));
    lines[2] = Value::Object(object).to_string();
    let file = dir.path().join("signins.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let case = TestCase::new();
    let row = import(&case, &file, "auto");
    assert_eq!(row["reader"], "streaming", "{row}");
    assert!(row["reader_note"].as_str().unwrap().contains("ExtraColumn"), "{row}");
    assert_eq!(row["imported"].as_i64(), Some(3));
}

#[test]
fn unusual_csv_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let blob = std::fs::read_to_string(fixture("portal_blob.csv")).unwrap();
    let mut lines: Vec<&str> = blob.lines().collect();
    let header = lines.remove(0);
    // A cell over two lines in the first or a later record, a blank line, and a record whose
    // time does not parse.
    let multi_line = format!("{header}\n{}\n{}\n", lines[0].replacen("Mozilla/5.0", "Mozilla/5.0\nsecond line", 1), lines[1]);
    let later_multi_line = format!("{header}\n{}\n{}\n", lines[0], lines[1].replacen("Mozilla/5.0", "Mozilla/5.0\nsecond line", 1));
    let blank = format!("{header}\n{}\n\n{}\n", lines[0], lines[1]);
    let bad_time = format!("{header}\n{}\n{}\n", lines[0].replacen("3/14/2026, 10:01:00.000 AM", "not a time", 1), lines[1]);
    // The first record over two lines is seen before DuckDB reads anything; the note then states
    // that the fast path did not take the file.
    for (name, text, records, rejected, second_line) in [
        ("multi.csv", multi_line, 2, 0, 4),
        ("later_multi.csv", later_multi_line, 2, 0, 3),
        ("blank.csv", blank, 2, 0, 4),
        ("bad_time.csv", bad_time, 2, 1, 3),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let case = TestCase::new();
        let row = import(&case, &file, "auto");
        assert_eq!(row["reader"], "streaming", "{name}: {row}");
        assert!(row["reader_note"].as_str().is_some_and(|note| !note.is_empty()), "{name}: {row}");
        assert_eq!(row["records"].as_i64(), Some(records), "{name}");
        assert_eq!(row["rejected"].as_i64(), Some(rejected), "{name}");
        let last = case.query("SELECT max(line) AS line FROM storage_events");
        assert_eq!(last[0]["line"].as_i64(), Some(second_line), "{name}: the second record's line");
    }
}

#[test]
fn pattern_path_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    // DuckDB would read `[1]` as a pattern of file names.
    let file = dir.path().join("blob[1].csv");
    std::fs::copy(fixture("portal_blob.csv"), &file).unwrap();
    let case = TestCase::new();
    let row = import(&case, &file, "auto");
    assert_eq!(row["reader"], "streaming", "{row}");
    assert!(row["reader_note"].as_str().unwrap().contains("pattern of file names"), "{row}");
    assert_eq!(row["imported"].as_i64(), Some(8));
}

#[test]
fn json_lines_with_bom_stay_fast() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("lines_signin.jsonl")).unwrap();
    let file = dir.path().join("signins.jsonl");
    std::fs::write(&file, format!("\u{feff}{text}")).unwrap();
    let fast = TestCase::new();
    let streaming = TestCase::new();
    let row = import(&fast, &file, "auto");
    assert_eq!(row["reader"], "duckdb", "{row}");
    assert_eq!(counts(&row), [3, 3, 0, 0]);
    import(&streaming, &file, "streaming");
    assert_eq!(stored(&fast, "signin_events"), stored(&streaming, "signin_events"));
    let lines = fast.query("SELECT list(line ORDER BY line) AS lines FROM signin_events");
    assert_eq!(lines[0]["lines"], serde_json::json!([1, 2, 3]));
}

#[test]
fn json_repeated_flat_key_matches_streaming() {
    // `properties.userAgentHeader` is written both flat and nested; the last value counts.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("lines_blob.jsonl")).unwrap();
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut object: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        object.insert("properties.userAgentHeader".into(), Value::from("flat agent"));
        object.insert("properties".into(), serde_json::json!({ "userAgentHeader": "nested agent" }));
        lines.push(Value::Object(object).to_string());
    }
    let file = dir.path().join("StorageBlobLogs.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let fast = TestCase::new();
    let streaming = TestCase::new();
    let row = import(&fast, &file, "auto");
    assert_eq!(row["reader"], "duckdb", "{row}");
    assert_eq!(row["imported"].as_i64(), Some(4));
    import(&streaming, &file, "streaming");
    assert_eq!(stored(&fast, "storage_events"), stored(&streaming, "storage_events"));
}

#[test]
fn long_leading_white_space_fails_alike() {
    // More white space than the streaming reader's 1 MiB buffer, before the header.
    let dir = tempfile::tempdir().unwrap();
    let mut text = vec![b' '; 1_500_000];
    text.extend(std::fs::read(fixture("portal_blob.csv")).unwrap());
    let file = dir.path().join("spaces.csv");
    std::fs::write(&file, text).unwrap();
    let mut errors = Vec::new();
    for reader in ["auto", "streaming"] {
        let case = TestCase::new();
        let row = import(&case, &file, reader);
        assert_eq!(row["status"], "failed, case unchanged", "{reader}: {row}");
        errors.push(row["error"].as_str().unwrap().to_string());
    }
    assert!(errors[0].contains("white space before any content"), "{}", errors[0]);
    assert_eq!(errors[0], errors[1]);
}

#[test]
fn json_line_is_stored_as_written() {
    // `raw` keeps the line itself: its spacing, key order and a key written twice, which the
    // columns read as its last value. Only the line's surrounding white space is dropped.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("lines_blob.jsonl")).unwrap();
    let first = text.lines().next().unwrap();
    let written = format!(
        "{{ \"UserAgentHeader\" : \"first agent\",  {}, \"UserAgentHeader\": \"last agent\" }}",
        first.trim().trim_start_matches('{').trim_end_matches('}')
    );
    let file = dir.path().join("StorageBlobLogs.jsonl");
    std::fs::write(&file, format!("  {written}\t\n")).unwrap();
    for reader in ["auto", "streaming"] {
        let case = TestCase::new();
        let row = import(&case, &file, reader);
        assert_eq!(row["imported"].as_i64(), Some(1), "{reader}: {row}");
        assert_eq!(row["reader"], if reader == "auto" { "duckdb" } else { "streaming" }, "{row}");
        let stored = case.query("SELECT raw, user_agent FROM storage_events");
        assert_eq!(stored[0]["raw"], written.as_str(), "{reader}");
        assert_eq!(stored[0]["user_agent"], "last agent", "{reader}");
    }
}

/// Windows tools write CSV as UTF-16 (PowerShell 5.1's `>`, Excel's "Unicode Text", with tabs)
/// or with semicolons (Excel in some locales). Each such copy of the blob fixture stores the
/// same rows as the comma-separated UTF-8 original.
#[test]
fn utf16_and_other_delimiters_match() {
    let original = fixture("portal_blob.csv");
    let reference = TestCase::new();
    let reference_row = import(&reference, &original, "auto");
    let dir = tempfile::tempdir().unwrap();
    for (name, delimiter, utf16) in
        [("blob_unicode_text.txt", b'\t', true), ("blob_semicolons.csv", b';', false), ("blob_utf16.csv", b',', true)]
    {
        // Written again through the csv crate, so that quoted cells stay quoted.
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(&original).unwrap();
        let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        for record in reader.byte_records() {
            writer.write_byte_record(&record.unwrap()).unwrap();
        }
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let text = text.trim_start_matches('\u{feff}');
        let bytes: Vec<u8> = if utf16 {
            std::iter::once(0xfeff).chain(text.encode_utf16()).flat_map(u16::to_le_bytes).collect()
        } else {
            text.as_bytes().to_vec()
        };
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();

        let case = TestCase::new();
        let row = import(&case, &file, "auto");
        assert_eq!(row["reader"], "streaming", "{name}: {row}");
        assert_eq!(counts(&row), counts(&reference_row), "{name}: {row}");
        assert_eq!(stored_as_objects(&case, "storage_events"), stored_as_objects(&reference, "storage_events"), "{name}");
        // The record as written differs in its delimiters; the header row is kept to read it by.
        let sources = case.query("SELECT csv_delimiter FROM sources");
        assert_eq!(sources[0]["csv_delimiter"], char::from(delimiter).to_string(), "{name}");
    }
}

/// Windows PowerShell's `Export-Csv -UseCulture` in a semicolon locale: a `#TYPE` line above
/// the header, every field quoted. The rows are those of the original, one line further down.
#[test]
fn powershell_export_csv_is_read() {
    let original = fixture("portal_blob.csv");
    let reference = TestCase::new();
    let reference_row = import(&reference, &original, "auto");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(&original).unwrap();
    let mut writer = csv::WriterBuilder::new().delimiter(b';').quote_style(csv::QuoteStyle::Always).from_writer(Vec::new());
    for record in reader.byte_records() {
        writer.write_byte_record(&record.unwrap()).unwrap();
    }
    let mut bytes = b"#TYPE System.Management.Automation.PSCustomObject\r\n".to_vec();
    bytes.extend(writer.into_inner().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Export-Csv.csv");
    std::fs::write(&file, bytes).unwrap();

    let case = TestCase::new();
    let row = import(&case, &file, "auto");
    assert_eq!(counts(&row), counts(&reference_row), "{row}");
    let lines = "SELECT min(line) AS first, max(line) AS last FROM storage_events";
    let (ours, theirs) = (case.query(lines), reference.query(lines));
    assert_eq!(ours[0]["first"].as_i64().unwrap(), theirs[0]["first"].as_i64().unwrap() + 1);
    assert_eq!(ours[0]["last"].as_i64().unwrap(), theirs[0]["last"].as_i64().unwrap() + 1);
}

#[test]
fn first_line_with_no_break_space_reads_alike() {
    // Rust's `trim` removes U+00A0 and form feeds, but JSON does not count them as white space.
    // The streaming reader decides the shape from the first line as it is. The fast path must
    // not trim that line either.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("lines_blob.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (name, around) in [("nbsp", ("", "\u{a0}")), ("form_feed", ("\u{c}", ""))] {
        lines[0] = format!("{}{}{}", around.0, text.lines().next().unwrap(), around.1);
        let file = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let (fast, streaming) = (TestCase::new(), TestCase::new());
        let fast_row = import(&fast, &file, "auto");
        let streaming_row = import(&streaming, &file, "streaming");
        assert_eq!(fast_row["reader"], "streaming", "{name}: {fast_row}");
        for field in ["status", "error", "shape", "imported"] {
            assert_eq!(fast_row[field], streaming_row[field], "{name}: {field}");
        }
        assert_eq!(stored(&fast, "storage_events"), stored(&streaming, "storage_events"), "{name}");
    }
}

#[test]
fn file_read_again_keeps_its_source_id() {
    // A blank last line makes the fast path give up. The streaming reader's rows take the ID
    // of the rolled-back try, so the first file of a case is source 1 either way.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("StorageBlobLogs.csv");
    let mut text = std::fs::read(fixture("portal_blob.csv")).unwrap();
    text.extend(b"\n");
    std::fs::write(&file, text).unwrap();
    let case = TestCase::new();
    let row = import(&case, &file, "auto");
    assert_eq!(row["reader"], "streaming", "{row}");
    assert!(row["reader_note"].is_string(), "{row}");
    let ids = case.query("SELECT (SELECT list(source_id) FROM sources) AS sources, (SELECT list(DISTINCT source_id) FROM storage_events) AS rows");
    assert_eq!(ids[0]["sources"], serde_json::json!([1]));
    assert_eq!(ids[0]["rows"], serde_json::json!([1]));
    // The next file takes the next ID.
    let row = import(&case, &fixture("lines_signin.jsonl"), "auto");
    assert_eq!(row["reader"], "duckdb", "{row}");
    let ids = case.query("SELECT list(source_id ORDER BY source_id) AS sources FROM sources");
    assert_eq!(ids[0]["sources"], serde_json::json!([1, 2]));
}

#[test]
fn reader_notes_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let blob = std::fs::read(fixture("portal_blob.csv")).unwrap();
    let text = String::from_utf8(blob).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    // Byte 0xFF in place of the `#` that marks its place.
    let marked = format!("{header}\n{}\n{}\n", lines[0], lines[1].replacen("Mozilla", "Mo#zilla", 1));
    let not_utf8: Vec<u8> = marked.bytes().map(|byte| if byte == b'#' { 0xff } else { byte }).collect();
    let lone_cr = format!("{header}\n{}\n{}\n", lines[0].replacen("Mozilla/5.0", "Mozilla/5.0\rsecond", 1), lines[1]);
    for (name, bytes, note) in [
        ("not_utf8.csv", not_utf8, "line 3 is not UTF-8"),
        (
            "lone_cr.csv",
            lone_cr.into_bytes(),
            "DuckDB's reader did not take the file: DuckDB's line reader cannot cut the file into lines: \
             a carriage return does not end a line (a lone CR, or CR CR LF)",
        ),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let case = TestCase::new();
        let row = import(&case, &file, "auto");
        assert_eq!(row["reader"], "streaming", "{name}: {row}");
        assert!(row["reader_note"].as_str().unwrap().ends_with(note), "{name}: {row}");
    }
}

/// A CSV record's `raw` is its text as written. Through either reader, `raw_object` reads it
/// back into the cells that the csv crate reads from the same file, with quotes, delimiters,
/// line breaks and empty cells inside them.
#[test]
fn raw_object_gives_back_the_cells() {
    let dir = tempfile::tempdir().unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(fixture("portal_blob.csv")).unwrap();
    let mut records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let agent = records[0].iter().position(|name| name == "UserAgentHeader").unwrap();
    let tricky = ["say \"hi\", twice", "two\nlines", "", " spaced ", "semi;colon\ttab", "\"", "ü €", ","];
    for (record, value) in records[1..].iter_mut().zip(tricky.iter().cycle()) {
        let mut cells: Vec<String> = record.iter().map(str::to_string).collect();
        cells[agent] = value.to_string();
        *record = csv::StringRecord::from(cells);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    records.iter().for_each(|record| writer.write_record(record).unwrap());
    let file = dir.path().join("StorageBlobLogs.csv");
    std::fs::write(&file, writer.into_inner().unwrap()).unwrap();

    let header: Vec<&str> = records[0].iter().collect();
    let expected: Vec<Value> = records[1..]
        .iter()
        .map(|record| Value::Object(header.iter().zip(record.iter()).map(|(k, v)| (k.to_string(), Value::from(v))).collect()))
        .collect();
    for reader in ["auto", "streaming"] {
        let case = TestCase::new();
        let row = import(&case, &file, reader);
        assert_eq!(row["imported"], expected.len(), "{reader}: {row}");
        let stored = case.query(
            "SELECT raw, raw_object(e.raw, s.csv_header, s.csv_delimiter) AS object
             FROM storage_events e JOIN sources s USING (source_id) ORDER BY record_no",
        );
        let objects: Vec<Value> =
            stored.iter().map(|row| serde_json::from_str(row["object"].as_str().unwrap()).unwrap()).collect();
        assert_eq!(objects, expected, "{reader}");
        assert!(stored[1]["raw"].as_str().unwrap().contains("\"two\nlines\""), "{reader}: {}", stored[1]["raw"]);
    }
}

/// `csv_fields` splits records as the csv crate does, text after a closing quote included, for
/// each delimiter that `sources.csv_delimiter` can hold.
#[test]
fn csv_fields_split_like_the_csv_crate() {
    let case = TestCase::new();
    for delimiter in [b',', b';', b'\t'] {
        for record in ["\"x\"y,\"\"z,\"a\" ,b", "a\"b,,\"c,d\"", ",", "\"multi\nline\",\"q\"\"q\"", "é,ü €"] {
            let record = record.replace(',', &char::from(delimiter).to_string());
            let mut reader = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).from_reader(record.as_bytes());
            let expected: Vec<String> = reader.records().next().unwrap().unwrap().iter().map(str::to_string).collect();
            let sql = format!(
                "SELECT to_json(csv_fields('{}', chr({delimiter})))::VARCHAR AS fields",
                record.replace('\'', "''")
            );
            let fields: Vec<String> = serde_json::from_str(case.query(&sql)[0]["fields"].as_str().unwrap()).unwrap();
            assert_eq!(fields, expected, "{record:?}");
        }
    }
}
