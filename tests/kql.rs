//! The hunt exported as KQL: golden files pin the text, and Microsoft's Kusto language service
//! (run with Node.js from `tests/kql/`) parses and analyses every query against the real
//! tables' schema.

mod common;

use std::path::{Path, PathBuf};

use common::{blobtrail, fixture, stderr, TestCase};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Compares `text` with a golden file; `BLESS=1` rewrites the file instead.
fn check_golden(name: &str, text: &str) {
    let path = golden(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing golden file {name}; run with BLESS=1"));
    assert_eq!(text, expected, "{name} changed; rerun with BLESS=1 if the change is intended");
}

/// Runs the Kusto language service on files; None when it is not installed outside CI.
fn validate(files: &[&Path]) -> Option<std::process::Output> {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kql");
    if !harness.join("node_modules").is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI must run `npm ci` in tests/kql (see .ci/run)");
        eprintln!("skipped: the Kusto language service is not installed (npm ci in tests/kql)");
        return None;
    }
    Some(std::process::Command::new("node").arg(harness.join("validate.js")).args(files).output().unwrap())
}

fn assert_valid(files: &[&Path]) {
    let Some(output) = validate(files) else { return };
    assert!(
        output.status.success(),
        "the Kusto language service reports errors:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A date alone is the start of that day, so the two bounds give the same KQL lines.
const BOUNDS: [&str; 4] = ["--start", "2026-03-01", "--end", "2026-03-15T00:00:00Z"];

fn export(case: Option<&TestCase>, extra: &[&str]) -> String {
    let root = tempfile::tempdir().unwrap();
    let mut command = blobtrail(case.map_or(&root, |c| &c.root));
    if let Some(case) = case {
        command.arg("--case").arg(&case.path);
    }
    let output = command.arg("kql").args(BOUNDS).args(extra).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn default_hunt_is_valid_kql() {
    let text = export(None, &[]);
    check_golden("default-full.kql", &text);
    let dir = tempfile::tempdir().unwrap();
    assert_valid(&[&write_temp(&dir, "q.kql", &text)]);
    assert!(text.contains("join kind=inner"));
    assert!(text.contains("make_list("));
    assert!(!text.contains("make_bag"));
    assert!(!text.contains("ago("));
    assert!(text.contains("parse_ipv6("));
}

#[test]
fn sentinel_mode_is_valid_kql() {
    let text = export(None, &["--mode", "sentinel"]);
    check_golden("default-sentinel.kql", &text);
    let dir = tempfile::tempdir().unwrap();
    assert_valid(&[&write_temp(&dir, "q.kql", &text)]);
    assert!(text.contains("let Lookback = 60s;"));
}

#[test]
fn case_exclusions_become_filters() {
    let case = TestCase::new();
    let output = case.import(&[fixture("portal_blob.csv"), fixture("portal_signin.csv")], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt"]);
    case.ok(&["exclude", "add", "--preset", "backup-jobs", "--account", "svc-backup@contoso.com", "--examiner", "jo"]);
    case.ok(&["exclude", "add", "--reason", "scanner uploads", "--ip", "203.0.113.6", "--extension", "pdf"]);
    case.ok(&["exclude", "add", "--reason", "old rule", "--container", "tmp"]);
    case.ok(&["exclude", "disable", "3"]);

    let text = export(Some(&case), &[]);
    check_golden("case-exclusions.kql", &text);
    assert!(text.contains("// Exclusion rule 1 by jo: scheduled backup jobs"));
    assert!(text.contains("// Exclusion rule 2 by tester: scanner uploads"));
    assert!(!text.contains("old rule"), "a disabled rule is not a filter");
    let dir = tempfile::tempdir().unwrap();
    assert_valid(&[&write_temp(&dir, "q.kql", &text)]);
}

#[test]
fn sentinel_account_rule_needs_one_candidate() {
    let case = TestCase::new();
    let output = case.import(&[fixture("portal_blob.csv"), fixture("portal_signin.csv")], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--mode", "sentinel"]);
    case.ok(&["exclude", "add", "--reason", "backup service", "--account", "svc-backup@contoso.com"]);
    let text = export(Some(&case), &["--mode", "sentinel"]);
    assert!(text.contains("(AttributedAccount =~ \"svc-backup@contoso.com\" and array_length(Candidates) == 1)"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    assert_valid(&[&write_temp(&dir, "q.kql", &text)]);
}

#[test]
fn rule_yaml_wraps_a_valid_query() {
    let text = export(None, &["--as-rule"]);
    for key in ["id: ", "name: ", "description: |", "requiredDataConnectors:", "tactics:", "  - CredentialAccess",
                "relevantTechniques:", "  - T1528", "query: |", "entityMappings:", "entityType: Account",
                "entityType: IP", "entityType: File"] {
        assert!(text.contains(key), "missing `{key}`");
    }
    // Each hourly run examines the last hour's uploads once, and reads back far enough for
    // the sign-ins 90 minutes before the earliest of them: 2.5 hours, rounded up.
    assert!(text.contains("\nqueryFrequency: 1h\nqueryPeriod: 3h\n"), "{text}");
    assert!(text.contains("  let StartTime = EndTime - 1h;\n"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    assert_valid(&[&write_temp(&dir, "rule.yaml", &text)]);
}

#[test]
fn validator_accepts_reference_and_rejects_errors() {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kql");
    assert_valid(&[&harness.join("reference.kql")]);
    for bad in ["bad-column.kql", "bad-syntax.kql"] {
        let Some(output) = validate(&[&harness.join(bad)]) else { return };
        assert_eq!(output.status.code(), Some(1), "{bad} must fail validation");
    }
}
