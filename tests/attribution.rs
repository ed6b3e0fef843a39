//! The full hunt scored against generated ground truth, with the sentinel mode beside it.

mod common;

use common::{blobtrail, stderr, TestCase};
use serde_json::Value;

/// Generates a synthetic case, imports it, and returns the case with the truth file's path.
fn generated_case(scale: &str, seed: &str, skew: bool) -> (TestCase, std::path::PathBuf) {
    let case = TestCase::new();
    let data = case.root.path().join("data");
    let mut command = blobtrail(&case.root);
    command.args(["generate", "--quiet", "--scale", scale, "--seed", seed, "--out"]).arg(&data);
    if skew {
        command.arg("--skew");
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    let exports: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "truth.csv")
        .collect();
    let output = case.import(&exports, &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    (case, data.join("truth.csv"))
}

fn score(case: &TestCase, mode: &str, truth: &std::path::Path) -> Value {
    case.ok(&["hunt", "--quiet", "--mode", mode]);
    case.json(&["score", "--truth", truth.to_str().unwrap(), "--format", "json"])
}

fn check(scale: &str, seed: &str, skew: bool) {
    let (case, truth) = generated_case(scale, seed, skew);
    let full = score(&case, "full", &truth);
    let sentinel = score(&case, "sentinel", &truth);
    eprintln!("scale {scale} seed {seed} skew {skew}: full {full}\n  sentinel {sentinel}");

    assert!(full["attributable"].as_i64().unwrap() > 100, "{full}");
    assert!(full["accuracy"].as_f64().unwrap() >= 0.95, "full hunt below 95%: {full}");
    assert_eq!(full["unattributable_overclaimed"], 0, "{full}");
    assert_eq!(full["attributable_missing"], 0, "every upload gets a finding: {full}");
    assert!(sentinel["accuracy"].as_f64().unwrap() < full["accuracy"].as_f64().unwrap());
}

#[test]
fn full_hunt_beats_truth_threshold() {
    check("2", "1", false);
}

#[test]
fn full_hunt_holds_on_skewed_data() {
    check("2", "42", true);
}

/// Counts the rows of `left` missing from `right`, duplicates counted, through `blobtrail query`.
fn rows_missing(case: &TestCase, left: &str, right: &str) -> i64 {
    let sql = format!("SELECT count(*) AS n FROM ({left} EXCEPT ALL {right})");
    let rows = case.json(&["query", "--format", "json", &sql]);
    rows[0]["n"].as_i64().unwrap()
}

/// Version 2 of the full hunt must give exactly what version 1 gave: it changes only how much
/// work the SQL does. Version 1 stays in every case, so both run on the same rows.
#[test]
fn full_hunt_v2_matches_v1() {
    let (case, _) = generated_case("2", "42", true);
    case.ok(&["hunt", "--quiet", "--mode", "full"]);
    let window = "5400000000, 300000000";
    let v1 = format!("SELECT * EXCLUDE (raw) FROM full_candidates_v1({window})");
    let v2 = format!("SELECT * FROM full_candidates_v2({window})");
    let candidates = case.json(&["query", "--format", "json", &format!("SELECT count(*) AS n FROM ({v2})")]);
    assert!(candidates[0]["n"].as_i64().unwrap() > 1000, "{candidates}");
    assert_eq!(rows_missing(&case, &v1, &v2), 0);
    assert_eq!(rows_missing(&case, &v2, &v1), 0);

    // The stored findings of the version 2 hunt against version 1's findings.
    let columns = "upload_event_key, confidence, attributed_account, reason, part_count, bytes, first_time";
    let stored = format!("SELECT {columns} FROM findings WHERE hunt_id = (SELECT max(hunt_id) FROM hunts)");
    let v1_findings = format!("SELECT {columns} FROM full_findings_v1({window})");
    assert_eq!(rows_missing(&case, &stored, &v1_findings), 0);
    assert_eq!(rows_missing(&case, &v1_findings, &stored), 0);

    // The stored candidates against version 1's.
    let candidate_columns = "upload_event_key, rank, score, delta_seconds, signin_count, account, event_key";
    let stored_candidates = format!(
        "SELECT f.upload_event_key, c.rank, c.score, c.delta_seconds, c.signin_count, c.account, c.signin_event_key
         FROM finding_candidates c JOIN findings f USING (hunt_id, finding_id)
         WHERE c.hunt_id = (SELECT max(hunt_id) FROM hunts)"
    );
    let v1_candidates = format!("SELECT {candidate_columns} FROM full_candidates_v1({window})");
    assert_eq!(rows_missing(&case, &stored_candidates, &v1_candidates), 0);
    assert_eq!(rows_missing(&case, &v1_candidates, &stored_candidates), 0);
}
