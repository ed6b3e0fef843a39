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
