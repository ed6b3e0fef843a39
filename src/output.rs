//! What reaches stdout and the terminal.
//!
//! Log text is attacker-controlled. Before it reaches a terminal, control and bidirectional
//! formatting characters are escaped so that a file name cannot move the cursor or reorder
//! what the examiner reads. Before it reaches a CSV cell, a leading character that makes a
//! spreadsheet evaluate the cell as a formula is neutralised.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::json_writer::WriteJson;

/// Escapes control and bidirectional formatting characters for display on a terminal.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends an escape for a character that must not reach a terminal: `\n`, `\r` and `\t`
/// as in most languages, other ASCII controls as `\xNN` (as rejected records write invalid
/// bytes), and anything else as `\u{NNNN}`.
fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:04x}}}", u32::from(c)),
    };
}

/// Tells whether a character reorders or hides text: bidirectional controls, zero-width and
/// other invisible format characters, and the Unicode line and paragraph separators.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Escapes like `terminal_safe` but keeps line breaks and tabs, for whole CSV or JSON output.
fn terminal_safe_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Prefixes a cell that a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, carriage return
/// at the start) with a single quote, so that it is shown as text.
pub fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    // A negative number such as an NTSTATUS code is data a spreadsheet shows as a number.
    if text.starts_with('-') && text[1..].parse::<f64>().is_ok() && !text.contains(['e', 'E']) {
        return text.into();
    }
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// Runs `write` against stdout; a closed pipe (`blobtrail ... | head`) counts as success.
/// On a terminal the output is escaped as `terminal_safe` does, line breaks kept; redirected
/// to a file or a pipe it is written as is.
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let result = if stdout.is_terminal() {
        let mut buffer = Vec::new();
        write(&mut buffer).and_then(|()| lock.write_all(terminal_safe_lines(&String::from_utf8_lossy(&buffer)).as_bytes()))
    } else {
        // Standard output is line-buffered even into a file or pipe, which costs a system call
        // per line: a million findings as pretty JSON is tens of millions of lines.
        let mut buffered = std::io::BufWriter::with_capacity(1 << 20, &mut lock);
        write(&mut buffered).and_then(|()| buffered.flush())
    };
    match result.and_then(|()| lock.flush()) {
        Err(err) if is_broken_pipe(&err) => Ok(()),
        other => Ok(other?),
    }
}

/// Tells whether an error is a closed pipe, also when a serialiser wrapped it.
fn is_broken_pipe(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::BrokenPipe
        || err.raw_os_error() == Some(32)
        || err.to_string().contains("Broken pipe")
}

/// Returns `text` cut to its first `max` characters with `...` after them, or whole when it is
/// not longer.
pub fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// Writes a count with its noun: `1 upload`, `2 uploads`.
pub fn count(n: impl Into<i64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Returns the name an export or bundle is written under until it is complete: `NAME.partial`
/// beside `out`, renamed to `out` at the end. Fails, naming the folder, when that folder does
/// not exist, and when anything is at the partial name: a file, a folder or a link there may
/// be another run's work or evidence, and writing would replace it or write through the link.
/// The caller creates the partial file or folder without following links (`create_new`).
pub fn partial_path(out: &Path) -> Result<PathBuf> {
    let folder = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        bail!("cannot write `{}`: the folder `{}` does not exist; create it first", out.display(), folder.display());
    }
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    let partial = out.with_file_name(name);
    if std::fs::symlink_metadata(&partial).is_ok() {
        bail!(
            "`{}` already exists: an earlier run failed or is writing it now; check what it is, then remove it",
            partial.display()
        );
    }
    Ok(partial)
}

/// Builds a table with the house style; cells are escaped for the terminal.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(header.iter().copied());
    for row in rows {
        table.add_row(row.iter().map(|cell| terminal_safe(cell)));
    }
    table
}

/// Writes a table in the house style, followed by a line break. On a terminal, `table` wraps
/// long cells to the terminal's width. Elsewhere nothing is wrapped, so the rows are written
/// directly, which is faster for large tables.
pub fn write_table(out: &mut dyn Write, header: &[&str], rows: Vec<Vec<String>>) -> std::io::Result<()> {
    if std::io::stdout().is_terminal() {
        return writeln!(out, "{}", table(header, rows));
    }
    write_plain_table(out, header, rows)
}

/// Writes a table as `table` shows it when no cell is wrapped (`UTF8_FULL_CONDENSED`: a border,
/// the header row, a double line even when no row follows, then the rows), followed by a line
/// break.
fn write_plain_table(out: &mut dyn Write, header: &[&str], mut rows: Vec<Vec<String>>) -> std::io::Result<()> {
    let header: Vec<String> = header.iter().map(|name| terminal_safe(name)).collect();
    for cell in rows.iter_mut().flatten() {
        make_terminal_safe(cell);
    }
    let columns = rows.iter().map(Vec::len).chain([header.len()]).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(display_width(cell));
        }
    }
    let rule = |left: &str, line: &str, cross: &str, right: &str| {
        let parts: Vec<String> = widths.iter().map(|width| line.repeat(width + 2)).collect();
        format!("{left}{}{right}\n", parts.join(cross))
    };
    // Lines are written into one buffer, which goes out every megabyte: a table of findings
    // has hundreds of thousands of lines.
    let push_line = |text: &mut String, row: &[String]| {
        text.push('│');
        for (column, width) in widths.iter().enumerate() {
            if column > 0 {
                text.push('┆');
            }
            let cell = row.get(column).map_or("", String::as_str);
            text.push(' ');
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - display_width(cell) + 1));
        }
        text.push_str("│\n");
    };
    let mut text = String::new();
    if columns > 0 {
        text.push_str(&rule("┌", "─", "┬", "┐"));
        push_line(&mut text, &header);
        text.push_str(&rule("╞", "═", "╪", "╡"));
        for row in &rows {
            push_line(&mut text, row);
            if text.len() >= 1 << 20 {
                out.write_all(text.as_bytes())?;
                text.clear();
            }
        }
        text.push_str(&rule("└", "─", "┴", "┘"));
    }
    writeln!(out, "{}", text.trim_end_matches('\n'))
}

/// Escapes `cell` as `terminal_safe` does, leaving it as it is when nothing needs an escape.
fn make_terminal_safe(cell: &mut String) {
    let printable_ascii = cell.bytes().all(|byte| (0x20..0x7f).contains(&byte));
    if !printable_ascii && cell.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        *cell = terminal_safe(cell);
    }
}

/// Returns the columns a cell takes on a terminal: its length when it is ASCII, which the
/// cells of a table of findings mostly are.
fn display_width(cell: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    if cell.is_ascii() {
        cell.len()
    } else {
        cell.width()
    }
}

/// Writes CSV rows with a header; every cell is spreadsheet-safe.
pub fn write_csv(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(row.iter().map(|cell| spreadsheet_safe(cell).into_owned()))?;
    }
    writer.flush()
}

/// Writes a pretty-printed JSON array whose elements come in runs, as `serde_json`'s pretty
/// writer would write the whole array at once.
#[derive(Default)]
pub struct PrettyArray {
    elements: usize,
}

impl PrettyArray {
    /// Appends `value` as one element: a separator, then the value indented by two spaces.
    pub fn element(value: &impl WriteJson, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(b",\n  ");
        value.write_json(bytes, Some(1));
    }

    /// Writes a run of `count` elements made by `element`; the array's first separator
    /// becomes its opening bracket.
    pub fn write(&mut self, out: &mut dyn Write, bytes: &[u8], count: usize) -> std::io::Result<()> {
        if count == 0 {
            return Ok(());
        }
        out.write_all(if self.elements == 0 { b"[" } else { b"," })?;
        out.write_all(&bytes[1..])?;
        self.elements += count;
        Ok(())
    }

    /// Closes the array and ends the line.
    pub fn finish(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(if self.elements == 0 { b"[]\n" } else { b"\n]\n" })
    }

    /// Writes `values` as one array, as `serde_json::to_writer_pretty` does, and ends the line.
    pub fn write_all<T: WriteJson>(out: &mut dyn Write, values: &[T]) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        for value in values {
            Self::element(value, &mut bytes);
        }
        let mut array = PrettyArray::default();
        array.write(out, &bytes, values.len())?;
        array.finish(out)
    }
}

/// Returns an error message without the `: Error code N: ...` that duckdb-rs appends to the
/// end of DuckDB's messages, which adds nothing to them.
pub fn without_error_code(message: &str) -> &str {
    const SUFFIX: &str = ": Error code ";
    match message.rfind(SUFFIX) {
        Some(start)
            if message[start + SUFFIX.len()..].starts_with(|c: char| c.is_ascii_digit())
                && !message[start..].contains('\n') =>
        {
            &message[..start]
        }
        _ => message,
    }
}

/// Replaces the advice DuckDB appends to some errors, which names SQL settings that a user of
/// blobtrail cannot give, with the options that set them, and names what a truncated case
/// file needs.
pub fn engine_advice(message: &str) -> String {
    if message.contains("Out of Memory Error") {
        let first = message.split("\nPossible solutions").next().unwrap_or(message).trim_end();
        return format!(
            "{first}\nDuckDB ran out of the memory it may use: give a larger `--memory-limit` (or BLOBTRAIL_MEMORY_LIMIT), \
             such as 4GB, or fewer `--threads`; work larger than the limit spills to the case's tmp/ folder"
        );
    }
    if message.contains("Could not read enough bytes from file") {
        return format!(
            "{message}\nthe case file is shorter than DuckDB expects: it was cut short when copied or is damaged; \
             copy it again from where it came from"
        );
    }
    message.to_string()
}

/// Quotes an argument as a POSIX shell would need it, so that the command can be read back as
/// it was typed: `--title 'Finance storage upload'`. An argument with a line break or another
/// control character takes Bash's `$'...'` form, which writes them as escapes (`\n`).
pub fn shell_quoted(argument: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !argument.is_empty() && argument.chars().all(plain) {
        return argument.to_string();
    }
    if !argument.chars().any(char::is_control) {
        return format!("'{}'", argument.replace('\'', "'\\''"));
    }
    let mut quoted = String::from("$'");
    for c in argument.chars() {
        match c {
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// Whether `--quiet` was given: notes on stderr are then left out.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records whether `--quiet` was given, for `print_note!`.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Tells whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Creates a progress bar on stderr by bytes, hidden when stderr is not a terminal or `quiet`
/// is set.
pub fn byte_progress(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Creates a spinner on stderr with a message, hidden under the same rules as `byte_progress`.
pub fn spinner(message: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain table writer and comfy-table give the same text where nothing is wrapped.
    #[test]
    fn plain_table_matches_comfy_table() {
        let header = ["finding", "upload (UTC)", "account or candidates"];
        let row = |cells: [&str; 3]| cells.iter().map(|cell| cell.to_string()).collect::<Vec<String>>();
        let tables = [
            vec![row(["F-1", "2026-03-12T08:30:31Z", "bob@contoso.com"]), row(["F-22", "", "alice, bob, +2 more"])],
            vec![row(["漢字", "🙂 smile", "tab\there"]), row(["e\u{301}", "\u{202e}gnp.exe", "a\nb"])],
            vec![row(["a-much-longer-cell-than-its-header", "x", "y"])],
            Vec::new(),
        ];
        for rows in tables {
            let expected = format!("{}\n", table(&header, rows.clone()));
            let mut written = Vec::new();
            write_plain_table(&mut written, &header, rows.clone()).unwrap();
            assert_eq!(String::from_utf8(written).unwrap(), expected, "{rows:?}");
        }
    }

    #[test]
    fn duckdb_memory_advice_names_the_options() {
        let text = "cannot open case `c`: Out of Memory Error: failed to pin block of size 256.0 KiB (0 bytes/1000 bytes used)\n\
                    Possible solutions:\n* Reducing the number of threads (SET threads=X)";
        let advice = engine_advice(text);
        assert!(advice.starts_with("cannot open case `c`: Out of Memory Error: failed to pin block"), "{advice}");
        assert!(advice.ends_with("or fewer `--threads`; work larger than the limit spills to the case's tmp/ folder"), "{advice}");
        assert!(!advice.contains("SET threads"), "{advice}");
        assert_eq!(engine_advice("other"), "other");
    }

    #[test]
    fn terminal_escapes_controls_and_bidi() {
        assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal_safe("exe.\u{202e}gpj"), "exe.\\u{202e}gpj");
        assert_eq!(terminal_safe("résumé (1).docx"), "résumé (1).docx");
        assert_eq!(terminal_safe("a\u{200b}b\u{2028}c"), "a\\u{200b}b\\u{2028}c");
        assert_eq!(terminal_safe("two\nlines\r\tand\u{7f}\u{85}"), "two\\nlines\\r\\tand\\x7f\\u{0085}");
        assert_eq!(terminal_safe_lines("a,b\n\u{1b}[2J\tc\r\n"), "a,b\n\\x1b[2J\tc\\r\n");
    }

    #[test]
    fn spreadsheet_formulas_are_neutralised() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("-1+2"), "'-1+2");
        assert_eq!(spreadsheet_safe("-1073741536"), "-1073741536");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("Mozilla/5.0"), "Mozilla/5.0");
    }

    #[test]
    fn duckdb_error_code_is_dropped() {
        assert_eq!(without_error_code("Binder Error: x\nLINE 1: y: Error code 1: Unknown error code"), "Binder Error: x\nLINE 1: y");
        assert_eq!(without_error_code("line 3: Error code 1"), "line 3");
        assert_eq!(without_error_code("see: Error code list"), "see: Error code list");
        assert_eq!(without_error_code("a: Error code 1: b\nmore"), "a: Error code 1: b\nmore");
    }
}
