//! Reads Parquet files (as Azure Data Explorer's `.export`, Fabric and data lake jobs write
//! log tables) as JSON lines: DuckDB reads the file on a connection of its own and renders each
//! row as one JSON object, which the JSON readers then take like any other row object. A
//! record's `line` is its row's number in the file.
//!
//! Times are written as ISO 8601 in UTC (`2026-03-14T15:04:30.123400Z`): a Parquet timestamp
//! is a count of time since the epoch, in UTC whether or not the file marks it so, which is how
//! Azure Data Explorer and Log Analytics write them.

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use duckdb::arrow::array::{Array, AsArray};
use duckdb::{Config, Connection};

/// The first bytes of a Parquet file (and its last).
pub const MAGIC: &[u8] = b"PAR1";

/// Rendered rows fetched ahead of the reader, in batches of DuckDB's chunk size.
const BATCHES_AHEAD: usize = 4;

/// The rows of a Parquet file as JSON lines, fetched by a thread that owns the DuckDB
/// connection reading the file.
pub struct JsonLines {
    receiver: mpsc::Receiver<Result<String>>,
    pending: Vec<u8>,
    offset: usize,
    done: bool,
}

impl JsonLines {
    /// Starts reading `path`. Fails at once when DuckDB cannot read it as Parquet.
    pub fn open(path: &Path) -> Result<JsonLines> {
        let sql = select_rows(path)?;
        let (sender, receiver) = mpsc::sync_channel(BATCHES_AHEAD);
        let (started, ready) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let result = (|| -> Result<()> {
                let conn = connection()?;
                let mut stmt = conn.prepare(&sql)?;
                let batches = stmt.stream_arrow([])?;
                let _ = started.send(Ok(()));
                for batch in batches {
                    let batch = batch?;
                    let column = batch.column(0);
                    let rows = column.as_string_opt::<i32>().context("DuckDB returned the rows as another type than text")?;
                    let mut text = String::new();
                    for row in 0..rows.len() {
                        // A row whose every column is NULL still gives `{...}`; `to_json` is never NULL.
                        text.push_str(if rows.is_null(row) { "{}" } else { rows.value(row) });
                        text.push('\n');
                    }
                    if sender.send(Ok(text)).is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            })();
            if let Err(err) = result {
                // Before the first batch, the error goes to `open`; later, to the reader.
                if started.send(Err(anyhow::anyhow!("{err:#}"))).is_err() {
                    let _ = sender.send(Err(err));
                }
            }
        });
        match ready.recv() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                return Err(anyhow::anyhow!("{}", first_line(&format!("{err:#}")))
                    .context("DuckDB cannot read the file as Parquet: it may be cut short or damaged"))
            }
            Err(_) => bail!("the thread that reads the Parquet file stopped"),
        }
        Ok(JsonLines { receiver, pending: Vec::new(), offset: 0, done: false })
    }
}

impl Read for JsonLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.offset == self.pending.len() {
            if self.done {
                return Ok(0);
            }
            match self.receiver.recv() {
                Ok(Ok(text)) => {
                    self.pending = text.into_bytes();
                    self.offset = 0;
                }
                Ok(Err(err)) => return Err(std::io::Error::other(format!("reading the Parquet file: {err:#}"))),
                Err(_) => self.done = true,
            }
        }
        let count = out.len().min(self.pending.len() - self.offset);
        out[..count].copy_from_slice(&self.pending[self.offset..self.offset + count]);
        self.offset += count;
        Ok(count)
    }
}

/// Opens an in-memory DuckDB that loads and installs no extension, so reading a file can
/// never reach the network.
fn connection() -> Result<Connection> {
    let config = Config::default()
        .enable_autoload_extension(false)?
        .with("autoinstall_known_extensions", "false")?;
    Ok(Connection::open_in_memory_with_flags(config)?)
}

/// Builds the query that renders each row of the file as JSON text, with its timestamps as
/// ISO 8601 in UTC. The path goes in as a string literal; a path that DuckDB would read as a
/// pattern of several files is refused.
fn select_rows(path: &Path) -> Result<String> {
    // The path DuckDB reads is the one hashed: as given, DuckDB would expand a leading `~`.
    let path = std::fs::canonicalize(path).with_context(|| format!("cannot find `{}`", path.display()))?;
    let text = path.to_str().context("the path is not valid UTF-8")?;
    if text.contains(['*', '?', '[', '{']) {
        bail!(
            "DuckDB would read `*`, `?`, `[` or `{{` in the path of a Parquet file as a pattern of file names; \
             copy the file to a name without them and import the copy"
        );
    }
    let source = format!("read_parquet('{}')", text.replace('\'', "''"));
    let conn = connection()?;
    let mut stmt = conn.prepare(&format!("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {source})"))?;
    let columns: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect::<Result<_, _>>())
        .map_err(|err| anyhow::anyhow!("{}", first_line(&err.to_string())))
        .context("DuckDB cannot read the file as Parquet: it may be cut short or damaged, or not Parquet at all")?;
    // Each column by name in a struct, so that no column name can stand for the row.
    let fields: Vec<String> = columns
        .iter()
        .map(|(name, kind)| {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            let micros = match kind.as_str() {
                "TIMESTAMP_NS" => Some(format!("epoch_ns({quoted}) // 1000")),
                "TIMESTAMP" | "TIMESTAMP WITH TIME ZONE" | "TIMESTAMP_S" | "TIMESTAMP_MS" => Some(format!("epoch_us({quoted})")),
                _ => None,
            };
            // `infinity` stays text, which the time parser then rejects with the value.
            let value = match micros {
                Some(micros) => format!(
                    "CASE WHEN isfinite({quoted}) THEN strftime(make_timestamp({micros}), '%Y-%m-%dT%H:%M:%S.%fZ') \
                     ELSE {quoted}::VARCHAR END"
                ),
                None => quoted,
            };
            format!("'{}': {value}", name.replace('\'', "''"))
        })
        .collect();
    Ok(format!("SELECT to_json({{{}}})::VARCHAR FROM {source}", fields.join(", ")))
}

/// Returns the first line of a DuckDB message, without the statement it quotes below.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_json_lines_with_utc_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("it's.parquet");
        let conn = connection().unwrap();
        conn.execute_batch(&format!(
            "COPY (SELECT TIMESTAMP '2026-03-14 15:04:30.1234' AS TimeGenerated,
                          TIMESTAMPTZ '2026-03-14 17:04:30+02' AS \"Created Time\",
                          'PutBlob' AS OperationName, {{'a': 1}} AS props, 12::BIGINT AS n, NULL::VARCHAR AS empty
                   UNION ALL
                   SELECT NULL, NULL, 'GetBlob', NULL, NULL, 'x')
             TO '{}' (FORMAT parquet)",
            path.to_str().unwrap().replace('\'', "''")
        ))
        .unwrap();
        let mut text = String::new();
        JsonLines::open(&path).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(
            text,
            "{\"TimeGenerated\":\"2026-03-14T15:04:30.123400Z\",\"Created Time\":\"2026-03-14T15:04:30.000000Z\",\
             \"OperationName\":\"PutBlob\",\"props\":{\"a\":1},\"n\":12,\"empty\":null}\n\
             {\"TimeGenerated\":null,\"Created Time\":null,\"OperationName\":\"GetBlob\",\"props\":null,\"n\":null,\"empty\":\"x\"}\n"
        );
    }

    /// A column named like the row's alias, a list of timestamps, nanoseconds (cut, not
    /// rounded) and an infinite time each keep the row whole.
    #[test]
    fn odd_columns_keep_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.parquet");
        let conn = connection().unwrap();
        conn.execute_batch(&format!(
            "COPY (SELECT TIMESTAMP_NS '2026-03-14 15:04:30.999999999' AS TimeGenerated, 'zzz' AS r,
                          [TIMESTAMPTZ '2026-03-14 15:00:00+00'] AS seen, 'infinity'::TIMESTAMP AS later)
             TO '{}' (FORMAT parquet)",
            path.to_str().unwrap()
        ))
        .unwrap();
        let mut text = String::new();
        JsonLines::open(&path).unwrap().read_to_string(&mut text).unwrap();
        let row: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(row["TimeGenerated"], "2026-03-14T15:04:30.999999Z");
        assert_eq!(row["r"], "zzz");
        assert_eq!(row["seen"].as_array().unwrap().len(), 1);
        assert_eq!(row["later"], "infinity");
    }

    #[test]
    fn patterns_and_other_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pattern = dir.path().join("*.parquet");
        std::fs::write(&pattern, "PAR1").unwrap();
        assert!(JsonLines::open(&pattern).err().unwrap().to_string().contains("as a pattern of file names"));
        let text = dir.path().join("not.parquet");
        std::fs::write(&text, "PAR1 but not Parquet").unwrap();
        assert!(JsonLines::open(&text).is_err());
    }
}
