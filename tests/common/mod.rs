//! Helpers for the command tests: run the real binary against a case in a temporary folder.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Returns a real sample's path, or None when `../shared` is absent (CI fails then instead).
pub fn real_sample(path: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/real");
    if !root.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI must have ../shared/samples/real");
        eprintln!("skipped: ../shared/samples/real is absent");
        return None;
    }
    Some(root.join(path))
}

/// A case in a temporary folder, removed when dropped.
pub struct TestCase {
    pub root: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestCase {
    pub fn new() -> TestCase {
        let root = tempfile::tempdir().unwrap();
        let output = blobtrail(&root)
            .args(["case", "new", "t", "--cases-dir"])
            .arg(root.path().join("cases"))
            .args(["--title", "Test case", "--examiner", "tester"])
            .output()
            .unwrap();
        assert!(output.status.success(), "case new failed: {}", String::from_utf8_lossy(&output.stderr));
        let path = root.path().join("cases/t");
        TestCase { root, path }
    }

    /// Runs blobtrail with `--case` set to this case.
    pub fn run(&self, args: &[&str]) -> Output {
        blobtrail(&self.root).arg("--case").arg(&self.path).args(args).output().unwrap()
    }

    /// Runs and expects exit status 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "`blobtrail {}` failed with {:?}: {}",
            args.join(" "),
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn import(&self, files: &[PathBuf], extra: &[&str]) -> Output {
        let mut command = blobtrail(&self.root);
        command.arg("--case").arg(&self.path).arg("import").args(files).args(extra).args(["--format", "json"]);
        command.output().unwrap()
    }

    /// Runs a read-only query and returns the rows as JSON objects.
    pub fn query(&self, sql: &str) -> Vec<Value> {
        match self.json(&["query", sql, "--format", "json"]) {
            Value::Array(rows) => rows,
            other => panic!("not an array: {other}"),
        }
    }

    pub fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) AS n FROM {table}"))[0]["n"].as_i64().unwrap()
    }
}

/// Builds a command for the binary with no case environment leaking in from the caller.
pub fn blobtrail(root: &tempfile::TempDir) -> Command {
    let mut command = Command::cargo_bin("blobtrail").unwrap();
    command
        .current_dir(root.path())
        .env_remove("BLOBTRAIL_CASE")
        .env_remove("BLOBTRAIL_CASES")
        .env_remove("BLOBTRAIL_EXAMINER");
    command
}

/// Parses the JSON summary rows that `import --format json` prints.
pub fn summary(output: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap_or_else(|_| panic!("no JSON summary: {}", stderr(output)))
        .as_array()
        .unwrap()
        .clone()
}

/// Returns (shape, tables, records, imported, rejected, duplicates) of a summary row.
pub fn counts(row: &Value) -> (String, String, i64, i64, i64, i64) {
    (
        row["shape"].as_str().unwrap_or("").to_string(),
        row["tables"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect::<Vec<_>>().join(","),
        row["records"].as_i64().unwrap_or(-1),
        row["imported"].as_i64().unwrap_or(-1),
        row["rejected"].as_i64().unwrap_or(-1),
        row["duplicates"].as_i64().unwrap_or(-1),
    )
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the accounts of a finding's candidates, in rank order.
pub fn candidate_accounts(finding: &Value) -> Vec<String> {
    finding["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["account"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Finds the finding for a file name.
pub fn by_file<'a>(findings: &'a Value, name: &str) -> &'a Value {
    findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file_name"] == name)
        .unwrap_or_else(|| panic!("no finding for `{name}` in {findings:#}"))
}

/// SHA-256 by an independent route: the system's sha256sum.
pub fn sha256_of(path: &std::path::Path) -> String {
    let output = std::process::Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}
