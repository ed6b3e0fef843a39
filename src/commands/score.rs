//! `blobtrail score --truth truth.csv`: compare a hunt's answers with the ground truth that
//! `generate` writes, so that speed or a change of method is never bought with wrong answers.
//!
//! An upload is matched by its object path and upload time. For an attributable upload the
//! answer is the attributed account, else the first-ranked candidate; it is right when it
//! names the true uploader. An unattributable upload must not get a `strong` or `direct` answer.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;

use super::Report;
use crate::case::Case;
use crate::cli::{ScoreArgs, SummaryFormat};
use crate::findings::{self, Finding};
use crate::output;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Score {
    pub hunt_id: i64,
    pub mode: String,
    pub attributable: usize,
    pub attributable_right: usize,
    pub attributable_missing: usize,
    pub unattributable: usize,
    pub unattributable_overclaimed: usize,
    pub accuracy: f64,
    /// Findings that no truth row names: parts of an upload that the hunt counts as uploads of
    /// their own, such as each `PutPage` or `AppendBlock` request, or uploads the truth lacks.
    pub findings_without_truth: usize,
}

struct TruthRow {
    object_path: String,
    upload_time: String,
    true_account: String,
    attributable: bool,
}

fn read_truth(path: &Path) -> Result<Vec<TruthRow>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("`{}` has no `{name}` column", path.display()));
    let (path_col, time_col, account_col, attributable_col) =
        (column("object_path")?, column("upload_time")?, column("true_account")?, column("attributable")?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(TruthRow {
            object_path: record[path_col].to_string(),
            upload_time: record[time_col].to_string(),
            true_account: record[account_col].to_lowercase(),
            attributable: &record[attributable_col] == "true",
        });
    }
    Ok(rows)
}

/// Scores a hunt's findings against the truth rows.
fn score(findings: &[Finding], truth: &[TruthRow]) -> Score {
    let by_upload: HashMap<(&str, &str), &Finding> = findings
        .iter()
        .filter_map(|f| Some(((f.object_path.as_deref()?, f.upload_time.as_str()), f)))
        .collect();
    let mut score = Score::default();
    for row in truth {
        let finding = by_upload.get(&(row.object_path.as_str(), row.upload_time.as_str()));
        if row.attributable {
            score.attributable += 1;
            let Some(finding) = finding else {
                score.attributable_missing += 1;
                continue;
            };
            let answer = finding.attributed_account.clone().or_else(|| finding.candidates.first().and_then(|c| c.account.clone()));
            if answer.is_some_and(|a| a.to_lowercase() == row.true_account) {
                score.attributable_right += 1;
            }
        } else {
            score.unattributable += 1;
            if finding.is_some_and(|f| matches!(f.confidence.as_deref(), Some("strong" | "direct"))) {
                score.unattributable_overclaimed += 1;
            }
        }
    }
    score.accuracy = if score.attributable == 0 { 0.0 } else { score.attributable_right as f64 / score.attributable as f64 };
    let in_truth: std::collections::HashSet<(&str, &str)> =
        truth.iter().map(|row| (row.object_path.as_str(), row.upload_time.as_str())).collect();
    score.findings_without_truth = by_upload.keys().filter(|key| !in_truth.contains(*key)).count()
        + findings.iter().filter(|f| f.object_path.is_none()).count();
    score
}

pub fn run(case: &Case, args: ScoreArgs) -> Result<Report> {
    let hunt_id = match args.hunt {
        Some(id) => id,
        None => findings::latest_hunt(&case.conn)?,
    };
    let list = findings::load(&case.conn, hunt_id)?;
    let truth = read_truth(&args.truth)?;
    let mut result = score(&list, &truth);
    result.hunt_id = hunt_id;
    result.mode = list.first().map(|f| f.mode.clone()).unwrap_or_default();
    if !truth.is_empty() && !list.is_empty() && result.findings_without_truth == list.len() {
        // A score against a truth file of other data would read as a very poor hunt.
        anyhow::bail!(
            "no finding of hunt {hunt_id} matches a row of `{}`, so it is not the truth file of the data this case imported; \
             give the `truth.csv` that `blobtrail generate` wrote beside those exports",
            args.truth.display()
        );
    }

    output::to_stdout(|out| {
        if args.format == SummaryFormat::Json {
            return writeln!(out, "{}", json!(result));
        }
        // A sentinel hunt gives no confidence, so it can never claim an unattributable upload.
        let overclaimed = if result.mode == "sentinel" {
            "no confidence in sentinel mode, so no count of unattributable uploads given a strong or direct answer".to_string()
        } else {
            format!(
                "{} of {} unattributable uploads given a strong or direct answer",
                result.unattributable_overclaimed, result.unattributable
            )
        };
        let verb = if result.findings_without_truth == 1 { "matches" } else { "match" };
        let unmatched = output::count(result.findings_without_truth as i64, "finding", "findings");
        let unmatched = if result.mode == "sentinel" {
            format!(
                "{unmatched} {verb} no truth row, because the sentinel mode counts each PutRange request of a file-share \
                 upload and the empty PutBlob that creates a page or append blob"
            )
        } else {
            format!("{unmatched} {verb} no truth row")
        };
        writeln!(
            out,
            "hunt {} ({}): top answer right for {} of {} attributable uploads ({:.1}%), {} of them without a finding; \
             {overclaimed}; {unmatched}",
            result.hunt_id,
            result.mode,
            result.attributable_right,
            result.attributable,
            result.accuracy * 100.0,
            result.attributable_missing,
        )
    })?;
    // Most findings outside the truth file: the case also contains data that the file does not
    // describe, such as another `generate` run or exports of the examiner's own.
    if result.mode != "sentinel" && result.findings_without_truth * 2 > list.len() {
        print_stderr!(
            "warning: {} of {} findings match no row of `{}`: the case contains uploads this truth file does not describe \
             (another `generate` run, or other exports), and the figures count only those it names",
            result.findings_without_truth,
            list.len(),
            args.truth.display()
        );
    }
    Ok(Report::success(json!(result)))
}
