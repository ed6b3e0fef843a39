//! The case as it is worked: creation, the demo, annotations, exclusions, the audit trail,
//! read-only queries, and the full hunt's results on the demo data.

mod common;

use common::{blobtrail, by_file, stderr, TestCase};
use serde_json::Value;

#[test]
fn case_new_records_details() {
    let case = TestCase::new();
    let info = case.json(&["case", "info", "--format", "json"]);
    assert_eq!(info["name"], "t");
    assert_eq!(info["title"], "Test case");
    assert_eq!(info["examiner"], "tester");
    assert_eq!(info["blobtrail_version"], env!("CARGO_PKG_VERSION"));
    assert!(info["duckdb_version"].as_str().unwrap().starts_with('v'));
    assert_eq!(info["schema_version"], 15);
    assert!(info["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn existing_case_is_not_overwritten() {
    let case = TestCase::new();
    let output = blobtrail(&case.root)
        .args(["case", "new", "t", "--cases-dir"])
        .arg(case.root.path().join("cases"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("already exists"), "{}", stderr(&output));
    assert_eq!(case.json(&["case", "info", "--format", "json"])["title"], "Test case");
}

/// A case is built in a hidden folder and renamed into place, so an empty folder of the name
/// takes a case, a folder that contains anything does not, and the hidden folder of a run that
/// was stopped (its process is gone) is removed by the next `case new`.
#[test]
fn case_new_uses_an_empty_folder_and_clears_stopped_runs() {
    let root = tempfile::tempdir().unwrap();
    let cases = root.path().join("cases");
    std::fs::create_dir_all(cases.join("empty")).unwrap();
    std::fs::create_dir_all(cases.join("used")).unwrap();
    std::fs::write(cases.join("used/notes.txt"), "mine").unwrap();
    // Process IDs on Linux stay below 4,194,304.
    let stopped = cases.join(".old.creating-4194999");
    std::fs::create_dir_all(&stopped).unwrap();
    std::fs::write(stopped.join("case.duckdb"), "half made").unwrap();
    std::fs::write(cases.join("afile"), "mine").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(cases.join("empty"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let new = |name: &str| blobtrail(&root).args(["case", "new", name, "--cases-dir"]).arg(&cases).output().unwrap();
    let output = new("empty");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(cases.join("empty/case.duckdb").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cases.join("empty")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the examiner's folder keeps its permissions");
    }
    let output = new("empty");
    assert!(stderr(&output).contains("case `"), "{}", stderr(&output));
    assert!(stderr(&output).contains("already exists"), "{}", stderr(&output));
    let output = new("used");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("/used` exists and is not empty, so no case is made in it"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(cases.join("used/notes.txt")).unwrap(), "mine");
    assert!(stderr(&new("afile")).contains("/afile` exists and is not a folder"));
    assert!(stderr(&new(".hidden")).contains("not starting with `.`"));
    let mut left: Vec<String> = std::fs::read_dir(&cases).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["afile", "empty", "used"]);
}

/// `case new PATH` makes the case at that path, and `--case PATH` then opens it.
#[test]
fn case_new_takes_a_path() {
    let root = tempfile::tempdir().unwrap();
    let place = root.path().join("incident-7/work");
    std::fs::create_dir_all(&place).unwrap();
    let path = place.join("case-a");
    let output = blobtrail(&root).args(["case", "new"]).arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(path.join("case.duckdb").is_file());
    assert!(!root.path().join("cases").exists(), "the default cases folder is not used");
    let info = blobtrail(&root).arg("--case").arg(&path).args(["case", "info", "--format", "json"]).output().unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["name"], "case-a");
    let hidden = blobtrail(&root).args(["case", "new"]).arg(place.join(".case-b")).output().unwrap();
    assert!(stderr(&hidden).contains("not starting with `.`"), "{}", stderr(&hidden));
}

#[test]
fn case_path_duckdb_misreads_is_rejected() {
    // DuckDB 2.0 would read `?` as the start of options and `\` as a folder separator.
    let root = tempfile::tempdir().unwrap();
    for folder in ["q?m", "back\\slash"] {
        let cases = root.path().join("x").join(folder);
        let output = blobtrail(&root).args(["case", "new", "c1", "--cases-dir"]).arg(&cases).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{folder}");
        assert!(stderr(&output).contains("DuckDB cannot open a case whose path contains"), "{}", stderr(&output));
        assert!(!root.path().join("x").exists(), "{folder}: a folder was created");
    }
}

#[test]
fn missing_case_is_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let output = blobtrail(&root).args(["--case", "nowhere", "findings"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("case `nowhere` not found"), "{message}");

    let output = blobtrail(&root).args(["findings"]).output().unwrap();
    assert!(stderr(&output).contains("--case"), "{}", stderr(&output));
}

#[test]
fn locked_case_names_the_case() {
    let case = TestCase::new();
    // A second process keeps the case open, as DuckDB's own client would.
    let db = case.path.join("case.duckdb");
    let holder = std::process::Command::new("python3")
        .args(["-c", "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(30)"])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut holder) = holder else { return };
    let mut first = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(holder.stdout.take().unwrap()).read_line(&mut first).unwrap();
    if first.trim() != "open" {
        let _ = holder.kill();
        assert!(std::env::var_os("CI").is_none(), "CI must install the Python duckdb package (see .ci/run)");
        eprintln!("skipped: the Python duckdb package is not installed");
        return;
    }
    let output = case.run(&["findings"]);
    let _ = holder.kill();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("is open in another"), "{message}");
    assert!(message.contains("cases/t"), "{message}");
    assert!(!message.contains("IO Error"), "{message}");
}

fn demo_case() -> (tempfile::TempDir, TestCase) {
    let root = tempfile::tempdir().unwrap();
    let output = blobtrail(&root).args(["demo", "--format", "json", "--cases-dir"]).arg(root.path().join("cases")).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let findings: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(by_file(&findings, "mimikatz.exe")["attributed_account"], "dave@contoso.com");
    let path = root.path().join("cases/demo");
    let case = TestCase { root: tempfile::tempdir().unwrap(), path };
    (root, case)
}

#[test]
fn demo_attributes_the_dumper() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json"]);
    let dumper = by_file(&findings, "mimikatz.exe");
    assert_eq!(dumper["confidence"], "strong");
    assert_eq!(dumper["object_path"], "/contosofinance/staging/tools/mimikatz.exe");
    assert_eq!(dumper["candidates"][0]["account"], "dave@contoso.com");
    let reasons = dumper["candidates"][0]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r == "the only account that signed in from this address in the window"), "{reasons:?}");

    // The archive came 188 s after the interactive sign-in: the 1-minute reference window misses
    // it, the full hunt finds dave's non-interactive sign-in 30 s before it.
    let archive = by_file(&findings, "Q1 payroll (final).7z");
    assert_eq!(archive["attributed_account"], "dave@contoso.com");

    let oauth = by_file(&findings, "controls-testing.xlsx");
    assert_eq!(oauth["confidence"], "direct");
    assert_eq!(oauth["attributed_account"], "grace@contoso.com");
}

#[test]
fn demo_unattributed_uploads_say_why() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json"]);
    let backup = by_file(&findings, "db-2026-03-13.bak");
    assert_eq!(backup["confidence"], "none");
    assert!(backup["reason"].as_str().unwrap().starts_with("private address"), "{backup}");
    for finding in findings.as_array().unwrap() {
        if finding["confidence"] == "none" {
            assert!(finding["reason"].as_str().is_some_and(|r| !r.is_empty()), "{finding}");
        }
    }
}

#[test]
fn demo_block_upload_is_one_finding() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json"]);
    let deck = by_file(&findings, "Q4-2025 board deck.pptx");
    assert_eq!(deck["upload_kind"], "block-upload");
    assert_eq!(deck["operation"], "PutBlockList");
    assert!(deck["part_count"].as_i64().unwrap() >= 1);
    let count = findings.as_array().unwrap().iter().filter(|f| f["file_name"] == "Q4-2025 board deck.pptx").count();
    assert_eq!(count, 1);
}

#[test]
fn annotations_and_exclusions_survive_rehunt() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json"]);
    let dumper_id = by_file(&findings, "mimikatz.exe")["finding_id"].as_str().unwrap().to_string();

    case.ok(&["annotate", &dumper_id, "--status", "confirmed-malicious", "--tag", "incident-42", "--note", "credential dumper", "--examiner", "jo"]);
    case.ok(&["annotate", &dumper_id, "--tag", "escalated", "--untag", "incident-42"]);
    case.ok(&["exclude", "add", "--preset", "log-shipping", "--ip", "10.20.1.0/24", "--reason", "log shipper host"]);
    case.ok(&["hunt"]);

    let findings = case.json(&["findings", "--format", "json"]);
    let dumper = by_file(&findings, "mimikatz.exe");
    assert_eq!(dumper["finding_id"], dumper_id.as_str());
    assert_eq!(dumper["status"], "confirmed-malicious");
    assert_eq!(dumper["tags"], serde_json::json!(["escalated"]));
    assert!(findings.as_array().unwrap().iter().all(|f| f["file_name"] != "app-2026-03-13.log"), "excluded ones hidden");

    let all = case.json(&["findings", "--format", "json", "--include-excluded"]);
    let excluded: Vec<&Value> = all.as_array().unwrap().iter().filter(|f| !f["excluded_by"].as_array().unwrap().is_empty()).collect();
    assert_eq!(all.as_array().unwrap().len() - findings.as_array().unwrap().len(), excluded.len());
    assert!(excluded.iter().all(|f| f["file_name"].as_str().unwrap().starts_with("app-")));

    let only = case.json(&["findings", "--format", "json", "--status", "confirmed-malicious"]);
    assert_eq!(only.as_array().unwrap().len(), 1);

    let shown = case.json(&["show", &dumper_id, "--format", "json"]);
    assert_eq!(shown["annotations"].as_array().unwrap().len(), 2, "history stays visible");
    assert_eq!(shown["annotations"][0]["examiner"], "jo");

    let verify = case.run(&["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stdout));
}

/// Runs SQL on the case file with the Python duckdb package, as someone with the file could.
/// Returns false (the test is skipped) when the package is missing outside CI.
fn edit_outside(case: &TestCase, sql: &str) -> bool {
    let edited = std::process::Command::new("python3")
        .args(["-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); c.execute(sys.argv[2]); c.close()"])
        .arg(case.path.join("case.duckdb"))
        .arg(sql)
        .status();
    if edited.is_ok_and(|s| s.success()) {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must install the Python duckdb package (see .ci/run)");
    eprintln!("skipped: the Python duckdb package is not installed");
    false
}

/// Edits the case outside blobtrail, runs `verify`, checks that it failed and returns its
/// output; None when the edit could not be made (see `edit_outside`).
fn verify_after_edit(case: &TestCase, sql: &str) -> Option<String> {
    if !edit_outside(case, sql) {
        return None;
    }
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stdout));
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn changed_audit_record_fails_verify() {
    let (_root, case) = demo_case();
    case.ok(&["findings"]);
    assert_eq!(case.run(&["verify"]).status.code(), Some(0));

    let log = case.json(&["log", "--format", "json"]);
    assert!(log.as_array().unwrap().len() >= 3);
    assert_eq!(log[0]["command"], "demo");

    // Edit the trail behind blobtrail's back, as someone with the file could.
    let Some(text) = verify_after_edit(&case, "UPDATE audit_log SET examiner = 'mallory' WHERE seq = 2") else {
        return;
    };
    assert!(text.contains("record 2"), "{text}");
    assert!(text.contains("BROKEN"), "{text}");
}

#[test]
fn changed_finding_fails_verify() {
    let (_root, case) = demo_case();
    assert_eq!(case.run(&["verify"]).status.code(), Some(0));

    // Change one finding's attributed account behind blobtrail's back. The audit state stays as it was,
    // because it covers findings through the digest stored with each hunt, so the finding
    // must be caught by verify's recomputation of that digest.
    let edit = "UPDATE findings SET attributed_account = 'someone.else@example.com'
                WHERE finding_id = (SELECT min(finding_id) FROM findings)";
    let Some(text) = verify_after_edit(&case, edit) else { return };
    assert!(text.contains("findings of hunt 1 changed outside blobtrail"), "{text}");
    // The records themselves are intact; the case changed.
    assert!(text.contains("chain intact, but the case was changed outside blobtrail"), "{text}");
}

#[test]
fn changed_log_rows_fail_verify() {
    let (_root, case) = demo_case();
    // Who signed in is changed, and an upload deleted, in the rows the hunt reads.
    let edit = "UPDATE signin_events SET user_principal_name = 'framed@contoso.com' WHERE user_principal_name = 'alice@contoso.com';
                DELETE FROM storage_events WHERE event_key = (SELECT min(event_key) FROM storage_events)";
    let Some(text) = verify_after_edit(&case, edit) else { return };
    assert!(text.contains("the rows imported from source 1 "), "{text}");
    assert!(text.contains("SigninLogs.csv` changed outside blobtrail"), "{text}");
}

#[test]
fn changed_candidate_fails_verify() {
    let (_root, case) = demo_case();
    let edit = "UPDATE finding_candidates SET account = 'mallory@example.com'
                WHERE rank = 1 AND finding_id = (SELECT min(finding_id) FROM finding_candidates)";
    let Some(text) = verify_after_edit(&case, edit) else { return };
    assert!(text.contains("findings of hunt 1 changed outside blobtrail"), "{text}");
}

/// Rejected records are evidence too: deleting them outside blobtrail fails `verify`, which
/// names the source, while its stored events still match their digest.
#[test]
fn changed_rejects_fail_verify() {
    let (_root, case) = demo_case();
    let output = case.import(&[common::fixture("bad_time_blob.csv")], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let source: i64 = case.query("SELECT max(source_id) AS id FROM sources")[0]["id"].as_i64().unwrap();
    assert_eq!(case.run(&["verify"]).status.code(), Some(0));

    let Some(text) = verify_after_edit(&case, "DELETE FROM rejects") else { return };
    assert!(text.contains(&format!("the rejected records of source {source} ")), "{text}");
    assert!(text.contains("bad_time_blob.csv` changed outside blobtrail"), "{text}");
    assert!(!text.contains("the rows imported from"), "{text}");

    // A row under a source ID that no imported file has is reported too.
    let Some(text) = verify_after_edit(&case, "INSERT INTO rejects VALUES (99, 1, 2, NULL, NULL, 'forged', 'x')") else { return };
    assert!(text.contains("the case's `rejects` table has 1 rejected record of no imported file"), "{text}");
}

/// Edits that keep `verify`'s own checks quiet still change the state digest. Who signed in is
/// changed together with the DuckDB version recorded for the rows digest, so the rows are not
/// compared. The case's title, which the report shows, is changed too.
#[test]
fn edits_that_skip_row_digests_fail_verify() {
    let (_root, case) = demo_case();
    let edit = "UPDATE signin_events SET user_principal_name = 'framed@contoso.com' WHERE user_principal_name = 'alice@contoso.com';
                UPDATE sources SET rows_digest_engine = 'v1.4.0';
                UPDATE case_info SET title = 'another case'";
    let Some(text) = verify_after_edit(&case, edit) else { return };
    assert!(text.contains("MISMATCH: the case's sources, case details changed outside blobtrail after record"), "{text}");
    assert!(text.contains("were not compared: its digest was made by DuckDB v1.4.0"), "{text}");
}

/// A case whose record of applied SQL files was emptied fails to open with what happened,
/// instead of failing on the first object that already exists.
#[test]
fn emptied_schema_record_names_the_problem() {
    let (_root, case) = demo_case();
    if !edit_outside(&case, "DELETE FROM schema_migrations WHERE version > 1") {
        return;
    }
    let output = case.run(&["findings"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("(`schema_migrations`) is missing entries: it was changed outside blobtrail"), "{}", stderr(&output));
    assert!(edit_outside(&case, "DELETE FROM schema_migrations"));
    let output = case.run(&["findings"]);
    assert!(stderr(&output).contains("is missing entries"), "{}", stderr(&output));
}

/// A view or macro replaced inside the case would change every later hunt, or hide an edit
/// of the rows. Here the uploads view drops every upload of one account, the digest macro
/// returns a constant, and one view is added.
#[test]
fn changed_view_or_macro_fails_verify() {
    let (_root, case) = demo_case();
    let edit = "CREATE OR REPLACE VIEW full_uploads_v2 AS SELECT * FROM full_uploads_v1 WHERE account_name <> 'contosofinance';
                CREATE OR REPLACE MACRO source_rows_digest(id) AS 'constant';
                CREATE VIEW helper AS SELECT 1 AS one";
    let Some(text) = verify_after_edit(&case, edit) else { return };
    assert!(text.contains("view `full_uploads_v2` in the case differs from its definition"), "{text}");
    assert!(text.contains("macro `source_rows_digest` in the case differs from its definition"), "{text}");
    assert!(text.contains("view `helper` in the case is not defined by blobtrail's `sql/` files"), "{text}");
    assert!(!text.contains("full_uploads_v1"), "{text}");
}

/// Reads `report.html` and the case integrity of `parameters.json` from a bundle folder.
fn bundle_integrity(case: &TestCase, name: &str, exit_code: i32) -> (String, Value, String) {
    let folder = case.root.path().join(name);
    let output = case.run(&["bundle", "--out", folder.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(exit_code), "{}", stderr(&output));
    let report = std::fs::read_to_string(folder.join("report.html")).unwrap();
    let parameters: Value = serde_json::from_slice(&std::fs::read(folder.join("parameters.json")).unwrap()).unwrap();
    (report, parameters["case_integrity"].clone(), stderr(&output))
}

#[test]
fn bundle_states_the_case_integrity() {
    let (_root, case) = demo_case();
    let (report, integrity, _) = bundle_integrity(&case, "intact", 0);
    assert_eq!(integrity["problems"], serde_json::json!([]));
    let records = case.json(&["log", "--format", "json"]).as_array().unwrap().len();
    // The bundle checks the trail before its own record is written.
    assert_eq!(integrity["audit_records"].as_u64().unwrap() as usize, records - 1);
    assert!(report.contains("<h2>Case integrity</h2>"), "{report}");
    assert!(report.contains("was an intact hash chain"), "{report}");

    let edit = "UPDATE findings SET attributed_account = 'someone.else@example.com'
                WHERE finding_id = (SELECT min(finding_id) FROM findings)";
    if !edit_outside(&case, edit) {
        return;
    }
    // The bundle is written and names what changed. It exits 1, so that a script does not
    // hand it over as it would an intact one.
    let (report, integrity, warnings) = bundle_integrity(&case, "edited", 1);
    let problems = integrity["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{integrity}");
    assert!(problems[0].as_str().unwrap().contains("findings of hunt 1 changed outside blobtrail"), "{integrity}");
    assert!(report.contains("Treat these findings as unverified"), "{report}");
    assert!(warnings.contains("findings of hunt 1 changed outside blobtrail"), "{warnings}");
}

#[test]
fn changed_hunt_parameters_fail_verify() {
    let (_root, case) = demo_case();
    let edit = "UPDATE hunts SET parameters = '{\"mode\": \"full\", \"before\": \"7d\"}'";
    let Some(text) = verify_after_edit(&case, edit) else { return };
    assert!(text.contains("changed outside blobtrail after record"), "{text}");
}

#[test]
fn changed_evidence_file_fails_verify() {
    let (root, case) = demo_case();
    let export = root.path().join("cases/demo/exports/SigninLogs.csv");
    let mut bytes = std::fs::read(&export).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    std::fs::write(&export, bytes).unwrap();
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("SigninLogs.csv` has changed"), "{text}");
    // The file changed, not the case: its record is intact.
    assert!(text.contains("records, chain intact\n"), "{text}");
}

/// A file of another size than the one imported has changed, and `verify` says so from its
/// size alone: a file replaced with a huge one is not read through.
#[test]
fn resized_evidence_file_fails_verify_unread() {
    let (root, case) = demo_case();
    let export = root.path().join("cases/demo/exports/SigninLogs.csv");
    let size = std::fs::metadata(&export).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&export).unwrap();
    // A sparse file of 1 TiB: reading it through would take hours.
    file.set_len(1 << 40).unwrap();
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(&format!("SigninLogs.csv` has changed since import: 1099511627776 bytes, recorded {size}")), "{text}");
}

#[test]
fn missing_evidence_file_leaves_verify_incomplete() {
    let (root, case) = demo_case();
    let export = root.path().join("cases/demo/exports/SigninLogs.csv");
    std::fs::rename(&export, root.path().join("moved.csv")).unwrap();
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stdout));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("not checked:"), "{text}");
    assert!(text.contains("verify: INCOMPLETE, 1 imported file(s) not checked"), "{text}");
}

/// A folder whose name ends in `!` looks like the `archive.zip!/member` form of a zip member,
/// but a path that names a file is that file: it is re-hashed, and a change to it is found.
#[test]
fn file_under_a_folder_ending_in_bang_is_rehashed() {
    let case = TestCase::new();
    let folder = case.root.path().join("evidence!");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("api_blob.json");
    std::fs::copy(common::fixture("api_blob.json"), &file).unwrap();
    assert!(case.import(std::slice::from_ref(&file), &[]).status.success());
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported files: 1 checked, 0 not checked"));

    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(&file, bytes).unwrap();
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("api_blob.json` has changed since import"));
}

#[test]
fn exclusion_of_confirmed_finding_is_flagged() {
    let (_root, case) = demo_case();
    case.ok(&["annotate", "f-4ED054E5C17C2505", "--status", "confirmed-malicious"]);
    let shown = case.json(&["show", "F-4ed054e5c17c2505", "--format", "json"]);
    assert_eq!(shown["finding"]["status"], "confirmed-malicious", "an ID typed in other case names the same finding");

    let output = case.run(&["exclude", "add", "--file-contains", "mimikatz", "--reason", "test uploads"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stderr(&output).contains("marked confirmed-malicious or needs-review: F-4ed054e5c17c2505"), "{}", stderr(&output));

    // The report still counts and names it.
    let folder = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", folder.to_str().unwrap()]);
    let report = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(report.contains("<b>1 upload(s) confirmed malicious</b>"), "{report}");
    assert!(report.contains("1 of them also match an exclusion rule"), "{report}");

    // `findings` shows it too, marked with the rule, and counts it as excluded but not hidden.
    let output = case.run(&["findings", "--format", "json", "--status", "confirmed-malicious"]);
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["excluded_by"], serde_json::json!([1]));
    assert!(stderr(&output).contains("45 findings, 1 matching the filters, 1 of them excluded by rules; 1 shown"), "{}", stderr(&output));
    // The table shows the status and the rule beside the finding.
    let table = case.ok(&["findings", "--file-contains", "mimikatz"]);
    assert!(table.contains("confirmed-malicious, excluded by rule 1"), "{table}");

    // Levels and statuses match whatever case they are typed in.
    let upper = case.json(&["findings", "--format", "json", "--status", "Confirmed-Malicious", "--confidence", "STRONG"]);
    assert_eq!(upper, listed);

    // The counts are of the findings that match the filters: the rule excludes none of the
    // archive's findings, though it excludes one finding of the hunt.
    let output = case.run(&["findings", "--format", "csv", "--file-contains", "payroll (final)"]);
    assert!(stderr(&output).contains("45 findings, 1 matching the filters, 0 of them excluded by rules; 1 shown"), "{}", stderr(&output));
}

#[test]
fn coverage_csv_lists_every_gap() {
    let (_root, case) = demo_case();
    let json = case.json(&["sources", "--coverage", "--format", "json"]);
    let text = case.ok(&["sources", "--coverage", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for row in reader.records().map(Result::unwrap) {
        let table = json.as_array().unwrap().iter().find(|t| t["table"] == row[0]).unwrap();
        let gaps = table["gaps"].as_array().unwrap().len();
        let listed = if row[4].is_empty() { 0 } else { row[4].split("; ").count() };
        assert_eq!(listed, gaps, "{}: {}", &row[0], &row[4]);
        assert!(!row[4].contains("more"), "{}", &row[4]);
    }
}

#[test]
fn query_prints_null_and_nested_values() {
    let (_root, case) = demo_case();
    let rows = case.json(&["query", "--format", "json", "SELECT NULL AS a, {'x': 1} AS s, DATE '2026-03-14' AS d"]);
    assert_eq!(rows[0]["a"], Value::Null);
    assert_eq!(rows[0]["s"]["x"], 1);
    assert_eq!(rows[0]["d"], "2026-03-14");
}

#[test]
fn hunts_lists_modes_and_the_latest() {
    let (_root, case) = demo_case();
    case.ok(&["hunt", "--quiet", "--mode", "sentinel"]);
    let hunts = case.json(&["hunts", "--format", "json"]);
    let hunts = hunts.as_array().unwrap();
    assert_eq!(hunts.len(), 2, "{hunts:?}");
    assert_eq!((hunts[0]["hunt_id"].as_i64(), hunts[0]["mode"].as_str()), (Some(1), Some("full")));
    assert_eq!((hunts[1]["hunt_id"].as_i64(), hunts[1]["mode"].as_str()), (Some(2), Some("sentinel")));
    assert_eq!(hunts[0]["latest"], false);
    assert_eq!(hunts[1]["latest"], true);
    // The demo's full hunt gives each of its 45 uploads a finding.
    assert_eq!(hunts[0]["uploads"].as_i64(), Some(45));
    assert!(hunts[0]["parameters"].is_object(), "{}", hunts[0]["parameters"]);
    let table = case.ok(&["hunts"]);
    assert!(table.contains("latest"), "{table}");
    let empty_file = case.run(&["hunt", "--file", ""]);
    assert_eq!(empty_file.status.code(), Some(1));
    assert!(stderr(&empty_file).contains("`--file` is empty"), "{}", stderr(&empty_file));

    let missing = case.run(&["findings", "--hunt", "99"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("hunt 99 not found; `blobtrail hunts` lists the hunts of the case"), "{}", stderr(&missing));
    let out = case.root.path().join("sentinel.csv");
    let exported = case.run(&["export", "--format", "csv", "--out", out.to_str().unwrap()]);
    assert!(stderr(&exported).contains("of hunt 2 (sentinel mode;"), "{}", stderr(&exported));
}

#[test]
fn findings_filter_by_confidence_and_conditions() {
    let (_root, case) = demo_case();
    let findings_shown = |filter: &[&str]| -> Vec<Value> {
        let text = case.ok(&[&["findings", "--format", "json"][..], filter].concat());
        serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone()
    };
    let stored = |condition: &str| {
        case.query(&format!("SELECT count(*) AS n FROM findings WHERE hunt_id = 1 AND {condition}"))[0]["n"].as_u64().unwrap() as usize
    };
    let strong_or_direct = findings_shown(&["--confidence", "strong", "--confidence", "direct"]);
    assert_eq!(strong_or_direct.len(), stored("confidence IN ('strong', 'direct')"));
    assert!(strong_or_direct.iter().all(|f| f["confidence"] == "strong" || f["confidence"] == "direct"));

    let dumper = findings_shown(&["--file-contains", "MIMIKATZ"]);
    assert_eq!(dumper.len(), stored("file_name ILIKE '%mimikatz%'"));
    assert_eq!(dumper[0]["attributed_account"], "dave@contoso.com");
    let dave = findings_shown(&["--account", "dave@contoso.com", "--extension", "exe"]);
    assert!(dave.iter().any(|f| f["file_name"] == "mimikatz.exe"), "{dave:?}");

    // A sentinel hunt's findings with candidates have no confidence, so `none` shows only
    // those without candidates.
    case.ok(&["hunt", "--quiet", "--mode", "sentinel"]);
    let none = findings_shown(&["--confidence", "none"]);
    let stored_none = case.query("SELECT count(*) AS n FROM findings WHERE hunt_id = 2 AND confidence = 'none'");
    assert_eq!(none.len(), stored_none[0]["n"].as_u64().unwrap() as usize);
    assert!(none.iter().all(|f| f["candidates"].as_array().unwrap().is_empty()), "{none:?}");

    for (filter, message) in [
        (&["--confidence", "high"][..], "invalid confidence `high`"),
        (&["--ip", "10.0.0.0/99"][..], "prefix length"),
        (&["--file-contains", " "][..], "a condition value is empty"),
    ] {
        let output = case.run(&[&["findings"][..], filter].concat());
        assert_eq!(output.status.code(), Some(1), "{filter:?}");
        assert!(stderr(&output).contains(message), "{filter:?}: {}", stderr(&output));
    }
}

#[test]
fn query_keeps_limit_after_subquery_filter() {
    let (_root, case) = demo_case();
    // DuckDB 2.0.0 returns all 45 rows here unless `projection_pullup` is turned off.
    let sql = "SELECT id FROM range(45) t(id) WHERE id >= (SELECT min(x) FROM range(1) r(x)) LIMIT 5";
    let rows = case.json(&["query", "--format", "json", sql]);
    assert_eq!(rows.as_array().unwrap().len(), 5);
    let findings = case.json(&["query", "--format", "json", "FROM findings WHERE hunt_id = (SELECT max(hunt_id) FROM hunts) LIMIT 5"]);
    assert_eq!(findings.as_array().unwrap().len(), 5);
}

#[test]
fn query_rejects_writes() {
    let (_root, case) = demo_case();
    for sql in ["DELETE FROM findings", "DROP TABLE sources", "INSERT INTO annotations VALUES (1)", "COPY findings TO 'x.csv'",
                "SELECT 1; DELETE FROM findings", "SELECT nextval('source_id_seq')", "SELECT * FROM checkpoint()",
                "SELECT \"setval\"('hunt_id_seq', 100)", "SELECT \"NEXTVAL\"('annotation_id_seq')", "SELECT nextval /* x */ ('source_id_seq')",
                "SELECT * FROM read_text('/etc/hostname')",
                "SELECT * FROM query('SELECT nextval(''annotation_id_seq'')')", "SELECT * FROM query_table('findings')",
                "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT nextval(''source_id_seq'')'))"] {
        let output = case.run(&["query", sql]);
        assert_eq!(output.status.code(), Some(1), "{sql}");
    }
    let rows = case.query("SELECT count(*) AS n FROM findings");
    assert!(rows[0]["n"].as_i64().unwrap() > 0);
    let output = case.run(&["query", "SELECT * FROM read_text('/etc/hostname')"]);
    assert!(stderr(&output).starts_with("error: `query` reads only the case, never files"), "{}", stderr(&output));
    let output = case.run(&["query", "SELECT nosuchcol FROM findings"]);
    assert!(!stderr(&output).contains("Unknown error code"), "{}", stderr(&output));
    assert!(stderr(&output).contains("\n  LINE 1: SELECT nosuchcol FROM findings\n"), "{}", stderr(&output));
    // No sequence advanced: the next annotation is the first.
    case.ok(&["annotate", "f-4ED054E5C17C2505", "--note", "first"]);
    assert_eq!(case.query("SELECT annotation_id FROM annotations")[0]["annotation_id"], 1);
}

#[test]
fn exclude_needs_reason_and_condition() {
    let (_root, case) = demo_case();
    let output = case.run(&["exclude", "add", "--file-contains", "x"]);
    assert!(stderr(&output).contains("--reason"), "{}", stderr(&output));
    let output = case.run(&["exclude", "add", "--reason", "r"]);
    assert!(stderr(&output).contains("condition"), "{}", stderr(&output));
    let output = case.run(&["exclude", "add", "--reason", "r", "--ip", "10.0.0.0/99"]);
    assert!(stderr(&output).contains("prefix length"), "{}", stderr(&output));
    let output = case.run(&["exclude", "add", "--preset", "nope"]);
    assert!(stderr(&output).contains("backup-jobs"), "{}", stderr(&output));
}

#[test]
fn exclude_disable_records_its_reason() {
    let (_root, case) = demo_case();
    case.ok(&["exclude", "add", "--ip", "192.0.2.250", "--reason", "matches nothing"]);
    let empty = case.run(&["exclude", "disable", "1", "--reason", " "]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(stderr(&empty).contains("`--reason` is empty"), "{}", stderr(&empty));
    case.ok(&["exclude", "disable", "1", "--reason", "the address belongs to the intruder"]);
    let log = case.json(&["log", "--format", "json"]);
    let last = log.as_array().unwrap().last().unwrap();
    assert_eq!(last["command"], "exclude");
    assert_eq!(last["counts"]["disabled"], 1);
    assert_eq!(last["counts"]["reason"], "the address belongs to the intruder");
    // The rule keeps the reason, which `exclude list` and the report show with who disabled
    // the rule: here the demo case's examiner.
    let rules = case.json(&["exclude", "list", "--format", "json"]);
    assert_eq!(rules[0]["rule"]["disabled_reason"], "the address belongs to the intruder");
    let table = case.ok(&["exclude", "list", "--format", "csv"]);
    assert!(table.contains(" by demo: the address belongs to the intruder"), "{table}");
    let folder = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", folder.to_str().unwrap()]);
    let report = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(report.contains(" by demo: the address belongs to the intruder</td>"), "{report}");
    // Without a reason, the rule records none.
    case.ok(&["exclude", "add", "--ip", "192.0.2.251", "--reason", "matches nothing either"]);
    case.ok(&["exclude", "disable", "2"]);
    let rules = case.json(&["exclude", "list", "--format", "json"]);
    assert_eq!(rules[1]["rule"]["disabled_reason"], Value::Null);
}

#[test]
fn exclude_warns_about_a_rule_on_names_alone() {
    let (_root, case) = demo_case();
    let broad = case.run(&["exclude", "add", "--preset", "backup-jobs"]);
    assert_eq!(broad.status.code(), Some(0));
    assert!(stderr(&broad).contains("warning: the rule names no account, address"), "{}", stderr(&broad));
    let narrow = case.run(&["exclude", "add", "--preset", "backup-jobs", "--account", "svc-backup@contoso.com"]);
    assert_eq!(narrow.status.code(), Some(0));
    assert!(!stderr(&narrow).contains("warning"), "{}", stderr(&narrow));
}

#[test]
fn annotate_rejects_tags_that_exports_cannot_keep_apart() {
    let (_root, case) = demo_case();
    for args in [["--tag", "a; b"], ["--tag", " "], ["--untag", "x\ny"], ["--note", "  "], ["--tag", " incident-42"],
                 ["--tag", "incident\u{202e}24"], ["--untag", "never-added"]] {
        let output = case.run(&[&["annotate", "F-4ed054e5c17c2505"][..], &args[..]].concat());
        assert_eq!(output.status.code(), Some(1), "{args:?}");
    }
    assert_eq!(case.query("SELECT count(*) AS n FROM annotations")[0]["n"], 0);
    let output = case.run(&["annotate", "F-4ed054e5c17c2505", "--untag", "never-added"]);
    assert!(stderr(&output).contains("has no tag `never-added` to remove; its tags: none"), "{}", stderr(&output));
}

#[test]
fn annotate_rejects_unknown_status_and_finding() {
    let (_root, case) = demo_case();
    let output = case.run(&["annotate", "F-0000000000000000", "--status", "benign"]);
    assert!(stderr(&output).contains("not found"), "{}", stderr(&output));
    let findings = case.json(&["findings", "--format", "json"]);
    let id = findings[0]["finding_id"].as_str().unwrap();
    let output = case.run(&["annotate", id, "--status", "evil"]);
    assert!(stderr(&output).contains("confirmed-malicious"), "{}", stderr(&output));
}

#[test]
fn unwritable_case_opens_read_only() {
    // Run as an unprivileged user (root writes through file modes). The binary and the case
    // are copied where that user can read them.
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    let is_root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if !setpriv.exists() || !is_root {
        eprintln!("skipped: needs root and setpriv to run as another user");
        return;
    }
    let (root, _case) = demo_case();
    let work = tempfile::Builder::new().prefix("blobtrail-ro").tempdir().unwrap();
    let binary = work.path().join("blobtrail");
    std::fs::copy(assert_cmd::cargo::cargo_bin("blobtrail"), &binary).unwrap();
    let case_dir = work.path().join("demo");
    std::fs::create_dir(&case_dir).unwrap();
    std::fs::copy(root.path().join("cases/demo/case.duckdb"), case_dir.join("case.duckdb")).unwrap();
    let status = std::process::Command::new("chmod").args(["-R", "a+rX,go-w"]).arg(work.path()).status().unwrap();
    assert!(status.success());

    let run = |args: &[&str]| {
        std::process::Command::new(setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary)
            .arg("--case")
            .arg(&case_dir)
            .args(args)
            .output()
            .unwrap()
    };
    let read = run(&["findings", "--format", "json"]);
    assert_eq!(read.status.code(), Some(0), "{}", stderr(&read));
    assert!(stderr(&read).contains("open read-only"), "{}", stderr(&read));
    let findings: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert!(!findings.as_array().unwrap().is_empty());

    let write = run(&["hunt"]);
    assert_eq!(write.status.code(), Some(1), "a change fails on a read-only case");
    assert!(stderr(&write).contains("`hunt` changes the case, but"), "{}", stderr(&write));
    assert!(stderr(&write).contains("copy the case folder to writable storage"), "{}", stderr(&write));

    // Exports stage nothing in the case, so every format works.
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let status = std::process::Command::new("chmod").arg("777").arg(&out).status().unwrap();
    assert!(status.success());
    let parquet = out.join("findings.parquet");
    let export = run(&["export", "--format", "parquet", "--out", parquet.to_str().unwrap()]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    assert!(std::fs::metadata(&parquet).unwrap().len() > 0);
}

#[test]
fn findings_json_is_one_pretty_array() {
    // `findings --format json` writes one finding at a time; the text must still be exactly
    // what serde_json's pretty writer gives for the whole list.
    let (_root, case) = demo_case();
    for args in [&["findings", "--format", "json"][..], &["findings", "--format", "json", "--status", "benign"][..]] {
        let text = case.ok(args);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, format!("{}\n", serde_json::to_string_pretty(&parsed).unwrap()), "{args:?}");
    }
}

#[test]
fn annotation_filters_read_alike_with_rules() {
    // Without an enabled rule, `--status` and `--tag` read only annotated findings. An enabled
    // rule makes `findings` read them all. Both must show the same findings and counts.
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json"]);
    let dumper = by_file(&findings, "mimikatz.exe")["finding_id"].as_str().unwrap().to_string();
    let archive = by_file(&findings, "Q1 payroll (final).7z")["finding_id"].as_str().unwrap().to_string();
    case.ok(&["annotate", &dumper, "--status", "confirmed-malicious", "--tag", "t1"]);
    case.ok(&["annotate", &archive, "--tag", "t1", "--tag", "t2"]);

    let filters: [&[&str]; 4] = [
        &["--status", "confirmed-malicious"],
        &["--tag", "t1"],
        &["--status", "open", "--tag", "t2"],
        &["--status", "benign"],
    ];
    let expected_shown = [1, 2, 1, 0];

    let read = |filter: &[&str]| {
        let output = case.run(&[&["findings", "--format", "json"][..], filter].concat());
        assert_eq!(output.status.code(), Some(0), "{filter:?}: {}", stderr(&output));
        let message = stderr(&output);
        (String::from_utf8(output.stdout).unwrap(), message)
    };
    let narrowed: Vec<(String, String)> = filters.iter().map(|filter| read(filter)).collect();

    // A rule that matches no finding of the demo.
    case.ok(&["exclude", "add", "--ip", "192.0.2.250", "--reason", "matches nothing"]);
    for ((filter, shown), before) in filters.iter().zip(expected_shown).zip(&narrowed) {
        let after = read(filter);
        let parsed: Value = serde_json::from_str(&before.0).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), shown, "{filter:?}");
        assert_eq!(before.0, after.0, "{filter:?}");
        let counts = format!("45 findings, {shown} matching the filters, 0 of them excluded by rules; {shown} shown");
        assert!(before.1.contains(&counts), "{filter:?}: {}", before.1);
        assert_eq!(before.1, after.1, "{filter:?}");
    }
}

/// `--file` matches a whole file name, so part of one finds no upload. The hunt prints a note
/// that names the stored files that contain it or are spelled much like it.
#[test]
fn hunt_file_matching_nothing_names_similar_files() {
    let (_root, case) = demo_case();
    let output = case.run(&["hunt", "--file", "MIMIKATZ"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(": 0 uploads,"), "{}", String::from_utf8_lossy(&output.stdout));
    let message = stderr(&output);
    assert!(message.contains("note: no upload of a file named `MIMIKATZ` is in the case"), "{message}");
    assert!(message.contains("like it: `mimikatz.exe`"), "{message}");

    // A misspelt name and a stored path find the name too.
    for given in ["mimikatx.exe", "/contosofinance/staging/tools/mimikatz.exe "] {
        let output = case.run(&["hunt", "--file", given]);
        assert!(stderr(&output).contains("like it: `mimikatz.exe`"), "{given}: {}", stderr(&output));
    }

    let output = case.run(&["hunt", "--file", "nothing-like-it.bin"]);
    assert!(stderr(&output).contains("and no file name in the storage logs is like it"), "{}", stderr(&output));

    let output = case.run(&["hunt", "--file", "Mimikatz.EXE"]);
    assert!(!stderr(&output).contains("note:"), "{}", stderr(&output));
}

/// A sentinel hunt run for comparison becomes the latest hunt, which `findings`, `export` and
/// `bundle` read. They print a note while a full hunt is in the case, and `--hunt` reads the
/// other. Its failed sign-in candidates are marked as failed.
#[test]
fn sentinel_hunt_as_latest_is_noted() {
    let (_root, case) = demo_case();
    let output = case.run(&["hunt", "--mode", "sentinel", "--lookback", "5min"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("note: hunt 2, the latest, is a sentinel hunt"), "{}", stderr(&output));
    assert!(stderr(&output).contains("read it with `--hunt 1`"), "{}", stderr(&output));

    let output = case.run(&["findings"]);
    assert!(stderr(&output).contains("note: hunt 2, the latest, is a sentinel hunt"), "{}", stderr(&output));
    let output = case.run(&["findings", "--hunt", "1"]);
    assert!(!stderr(&output).contains("sentinel"), "{}", stderr(&output));

    // A hunt narrowed to one file name is noted the same way.
    case.ok(&["hunt", "--file", "mimikatz.exe"]);
    let output = case.run(&["findings"]);
    assert!(
        stderr(&output).contains("note: hunt 3, the latest, is narrowed to uploads of `mimikatz.exe`; full hunt 1 of every upload"),
        "{}",
        stderr(&output)
    );

    // bob's failed sign-in from the intruder's address is a candidate of the reference query.
    let text = case.ok(&["show", "F-4ed054e5c17c2505", "--hunt", "2"]);
    assert!(text.contains("bob@contoso.com: FAILED to sign in (result 50126)"), "{text}");
}

#[test]
fn explain_marks_innerunique_join_at_risk() {
    // In the demo, the intruder's address carries two uploads that pass the reference query's
    // filters, so its innerunique join keeps one of them, and which one is not defined.
    let (_root, case) = demo_case();
    let text = case.ok(&["explain", "F-4ed054e5c17c2505"]);
    assert!(text.contains("AT RISK join (default kind innerunique)"), "{text}");
    let explained = case.json(&["explain", "F-4ed054e5c17c2505", "--format", "json"]);
    let join = explained["upload_steps"].as_array().unwrap().iter().find(|s| s["step"] == "join (default kind innerunique)").unwrap();
    assert_eq!(join["kept"], false);
    assert_eq!(join["uncertain"], true);
    let union = &explained["upload_steps"][0];
    assert!(union.get("uncertain").is_none(), "{union}");
    assert!(text.contains("=> the reference does not reliably show this upload"), "{text}");

    // A block upload is certainly dropped, at the step that drops it, with its 4 `PutBlock`
    // requests (`show` lists them beside the `PutBlockList`).
    let text = case.ok(&["explain", "F-b97bc373eaab0a6b"]);
    assert!(text.contains("=> the reference drops this upload at `where OperationName =~ \"PutBlob\" or =~ \"PutRange\"`"), "{text}");
    assert!(text.contains("its 4 other requests are dropped as well"), "{text}");
}

/// A block upload's part count leaves out its commit request, and `show` states that beside the
/// list of every request: the demo's board deck is 4 `PutBlock` requests and a `PutBlockList`.
#[test]
fn show_counts_parts_and_the_commit() {
    let (_root, case) = demo_case();
    let text = case.ok(&["show", "F-b97bc373eaab0a6b"]);
    assert!(text.contains("block-upload (4 parts and the commit request)"), "{text}");
    assert!(text.contains("storage requests (5):"), "{text}");
}

/// A block upload of one part lists that part too, and each request names how it was
/// authenticated and by whom. When the block came with another requester's token and from
/// another address than the commit, `show` says so: the finding's requester is the commit's.
#[test]
fn show_lists_a_single_part_and_mixed_requesters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("StorageBlobLogs.jsonl");
    let row = |time: &str, operation: &str, caller: &str, upn: &str| {
        format!(
            "{{\"TimeGenerated\":\"{time}\",\"AccountName\":\"acct\",\"OperationName\":\"{operation}\",\"StatusText\":\"Success\",\
             \"Uri\":\"https://acct.blob.core.windows.net/c/tool.zip\",\"CallerIpAddress\":\"{caller}\",\"AuthenticationType\":\"OAuth\",\
             \"RequesterUpn\":\"{upn}\",\"Type\":\"StorageBlobLogs\"}}\n"
        )
    };
    let text = row("2026-03-14T11:59:50Z", "PutBlock", "192.0.2.71:50000", "mallory@contoso.com")
        + &row("2026-03-14T12:00:00Z", "PutBlockList", "192.0.2.72:50001", "alice@contoso.com");
    std::fs::write(&file, text).unwrap();
    let case = TestCase::new();
    assert_eq!(case.import(&[file], &[]).status.code(), Some(0));
    case.ok(&["hunt"]);
    let findings = case.json(&["findings", "--format", "json"]);
    let id = findings[0]["finding_id"].as_str().unwrap().to_string();
    let text = case.ok(&["show", &id]);
    assert!(text.contains("block-upload (1 part and the commit request)"), "{text}");
    assert!(text.contains("storage requests (2):"), "{text}");
    assert!(text.contains("PutBlock Success from 192.0.2.71:50000 by OAuth as mallory@contoso.com"), "{text}");
    assert!(text.contains(
        "note: the requests of this upload name 2 caller addresses (192.0.2.71, 192.0.2.72); \
         the finding's are those of the request that completed it"
    ), "{text}");
    assert!(text.contains("note: the requests of this upload name 2 requesters (alice@contoso.com, mallory@contoso.com)"), "{text}");
    assert!(!text.contains("authentication types"), "{text}");
}

/// A truth file of other data matches no finding; scoring against it fails instead of
/// reporting a hunt that is wrong about everything.
#[test]
fn score_rejects_a_truth_file_of_other_data() {
    let (root, case) = demo_case();
    let truth = root.path().join("truth.csv");
    std::fs::write(
        &truth,
        "object_path,upload_time,upload_kind,true_account,attributable,scenario\n\
         /elsewhere/c/x.bin,2026-03-12T10:00:00.000Z,put-blob,someone@example.com,true,portal-upload\n",
    )
    .unwrap();
    let output = case.run(&["score", "--truth", truth.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("so it is not the truth file of the data this case imported"), "{}", stderr(&output));
}

#[test]
fn explain_applies_the_sentinel_hunts_settings() {
    let (_root, case) = demo_case();
    let full = case.json(&["explain", "F-4ed054e5c17c2505", "--format", "json"]);
    assert_eq!(full["settings"]["lookback"], "1min");
    assert_eq!(full["settings"]["ua_match"], true);
    assert!(full["settings"]["from"].as_str().unwrap().contains("hunt 1 is a full hunt"), "{}", full["settings"]);

    case.ok(&["hunt", "--quiet", "--mode", "sentinel", "--lookback", "2h", "--no-ua-match"]);
    let text = case.ok(&["explain", "F-4ed054e5c17c2505"]);
    assert!(text.contains("(lookback 2h, user-agent check off; as sentinel hunt 2 ran it)"), "{text}");
    let sentinel = case.json(&["explain", "F-4ed054e5c17c2505", "--format", "json"]);
    let candidates = sentinel["candidates"].as_array().unwrap();
    assert!(!candidates.is_empty(), "{sentinel}");
    for candidate in candidates {
        let steps = candidate["steps"].as_array().unwrap();
        let ua = steps.iter().find(|s| s["step"] == "where LoginUserAgent =~ UploadUserAgent").unwrap();
        assert_eq!(ua["kept"], true, "{candidate}");
        let window = steps.iter().find(|s| s["step"] == "where AzureLoginTime between (upload - lookback .. upload)").unwrap();
        assert_eq!(window["kept"], true, "a sentinel hunt's candidates are inside its lookback: {candidate}");
    }
    // The full hunt still explains with the query's own settings.
    let again = case.json(&["explain", "F-4ed054e5c17c2505", "--hunt", "1", "--format", "json"]);
    assert_eq!(again["settings"]["lookback"], "1min");
}

/// Files that DuckDB spilled to the case's `tmp/` folder in a run that was killed are removed
/// when the case is next opened for writing; other files there stay.
#[test]
fn stale_spill_files_are_removed() {
    let case = TestCase::new();
    let tmp = case.path.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for name in ["duckdb_temp_25747_0.block", ".tmpXyZ12", "examiner-notes.txt"] {
        std::fs::write(tmp.join(name), "x").unwrap();
    }
    case.ok(&["sources"]);
    let mut left: Vec<String> = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["examiner-notes.txt"]);
}

/// `--case NAME` finds the case that `case new NAME` made in the cases folder; reading the
/// demo case does not stop `demo` from building it again; a hunt of a case without storage
/// records names what to import.
#[test]
fn case_names_demo_reruns_and_empty_hunts() {
    let root = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| blobtrail(&root).args(args).output().unwrap();
    assert!(run(&["case", "new", "incident-42"]).status.success());
    let output = run(&["--case", "incident-42", "hunt"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("note: the case contains no storage log records, so there is no upload to find"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("see them with"), "{}", stderr(&output));

    assert!(run(&["demo", "--quiet"]).status.success());
    assert!(run(&["--case", "demo", "findings"]).status.success());
    let output = run(&["demo", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(run(&["--case", "demo", "annotate", "F-4ed054e5c17c2505", "--tag", "seen"]).status.success());
    let output = run(&["demo", "--quiet"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("(1 other command that changed it in its audit trail)"), "{}", stderr(&output));
}

/// A finding ID typed without its `F-` or cut short names the stored ID it matches, in `show`
/// and `annotate`; the truth file of `generate`, given on its own to `import`, is pointed to
/// `score`.
#[test]
fn mistyped_ids_and_the_truth_file_get_a_hint() {
    let (_root, case) = demo_case();
    for args in [vec!["show", "4ed054e5c17c2505"], vec!["show", "F-4ed054e5c1"], vec!["annotate", "4ed054e5c17c", "--tag", "x"]] {
        let output = case.run(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(stderr(&output).contains("not found in any hunt; did you mean `F-4ed054e5c17c2505`?"), "{args:?}: {}", stderr(&output));
    }
    let output = case.run(&["show", "F-zzzz"]);
    assert!(stderr(&output).contains("not found in any hunt; list them with `blobtrail findings`"), "{}", stderr(&output));

    let generated = case.root.path().join("gen");
    let output = blobtrail(&case.root).args(["generate", "--quiet", "--out"]).arg(&generated).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let output = case.import(&[generated.join("truth.csv")], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is the ground-truth file of `blobtrail generate`, not a log; give it to `blobtrail score --truth`"),
        "{}",
        stderr(&output)
    );
}

/// `log --command` keeps the records of the commands named, in any letter case, and `--last`
/// the last of those; a command that changes the case records its start and its end.
#[test]
fn log_chooses_records_by_command_and_count() {
    let (_root, case) = demo_case();
    case.ok(&["annotate", "F-4ed054e5c17c2505", "--tag", "first"]);
    case.ok(&["annotate", "F-4ed054e5c17c2505", "--tag", "second"]);
    let all = case.json(&["log", "--format", "json"]).as_array().unwrap().len();
    let annotations = case.json(&["log", "--format", "json", "--command", "ANNOTATE"]);
    let annotations = annotations.as_array().unwrap();
    assert_eq!(annotations.len(), 4, "{annotations:?}");
    assert!(annotations.iter().all(|r| r["command"] == "annotate"));
    assert!(all > annotations.len());
    let last = case.json(&["log", "--format", "json", "--command", "annotate", "--last", "1"]);
    assert_eq!(last.as_array().unwrap().len(), 1);
    assert_eq!(last[0]["seq"], annotations[3]["seq"]);
    assert_eq!(last[0]["exit_code"], 0);
}

/// `exclude list` counts each rule's matches in the latest hunt, and prints a note when that
/// hunt is narrowed to one file.
#[test]
fn exclude_list_notes_a_narrowed_hunt() {
    let (_root, case) = demo_case();
    case.ok(&["exclude", "add", "--container", "backup", "--reason", "nightly backup"]);
    let output = case.run(&["exclude", "list"]);
    assert!(!stderr(&output).contains("note:"), "{}", stderr(&output));
    case.ok(&["hunt", "--file", "mimikatz.exe"]);
    let output = case.run(&["exclude", "list"]);
    let message = stderr(&output);
    assert!(message.contains("note: the matches are counted in hunt "), "{message}");
    assert!(message.contains("narrowed to uploads of `mimikatz.exe`"), "{message}");
}

/// `case new` without an examiner notes that the work will be recorded without a name, and
/// `case info` shows the missing examiner as an empty cell.
#[test]
fn case_new_without_examiner_is_noted() {
    let root = tempfile::tempdir().unwrap();
    let output = blobtrail(&root).args(["case", "new", "unnamed"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("note: no examiner given"), "{}", stderr(&output));
    let info = blobtrail(&root).args(["--case", "cases/unnamed", "case", "info", "--format", "csv"]).output().unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.lines().any(|line| line == "examiner,"), "{text}");
}

/// `generate`, `demo` and `case new` do not open a case, so a typed `--case` gets a note saying
/// that it is ignored.
#[test]
fn typed_case_is_noted_where_unused() {
    let root = tempfile::tempdir().unwrap();
    let output = blobtrail(&root).args(["--case", "cases/x", "generate", "--scale", "1", "--out", "data"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("note: `generate` does not use `--case`; it is ignored"), "{}", stderr(&output));
    let output = blobtrail(&root).env("BLOBTRAIL_CASE", "cases/x").args(["generate", "--scale", "1", "--out", "data2"]).output().unwrap();
    assert!(!stderr(&output).contains("does not use `--case`"), "{}", stderr(&output));
}

/// `--cases-dir` works on every command: a case made in another cases folder is found there by
/// its name, and not in the default folder.
#[test]
fn case_name_is_found_in_the_given_cases_folder() {
    let root = tempfile::tempdir().unwrap();
    let cases = root.path().join("evidence");
    let made = blobtrail(&root).args(["case", "new", "ir-7", "--examiner", "tester", "--cases-dir"]).arg(&cases).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let info = blobtrail(&root).args(["--case", "ir-7", "--cases-dir"]).arg(&cases).args(["case", "info", "--format", "json"]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    assert!(String::from_utf8_lossy(&info.stdout).contains("\"ir-7\""), "{}", String::from_utf8_lossy(&info.stdout));
    let elsewhere = blobtrail(&root).args(["--case", "ir-7", "case", "info"]).output().unwrap();
    assert_eq!(elsewhere.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&elsewhere.stderr).contains("the cases folder (`--cases-dir` or BLOBTRAIL_CASES"));
}

/// `--case NAME` names a case of the cases folder even where the current folder has a folder
/// of that name that is no case, and stops when both folders hold a case of that name.
#[test]
fn case_name_in_two_folders_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let cases = root.path().join("cases");
    let made = blobtrail(&root).args(["case", "new", "ir-8", "--examiner", "tester", "--cases-dir"]).arg(&cases).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::create_dir(root.path().join("ir-8")).unwrap();
    let info = blobtrail(&root).args(["--case", "ir-8", "case", "info", "--format", "json"]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    // `ir-8/`, as a shell completes a folder, is that folder, which is no case.
    let folder = blobtrail(&root).args(["--case", "ir-8/", "case", "info"]).output().unwrap();
    assert_eq!(folder.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&folder.stderr).contains("is not a blobtrail case"), "{}", String::from_utf8_lossy(&folder.stderr));

    let here = blobtrail(&root).args(["case", "new", "./other", "--examiner", "tester"]).output().unwrap();
    assert!(here.status.success(), "{}", String::from_utf8_lossy(&here.stderr));
    std::fs::remove_dir(root.path().join("ir-8")).unwrap();
    std::fs::rename(root.path().join("other"), root.path().join("ir-8")).unwrap();
    let both = blobtrail(&root).args(["--case", "ir-8", "case", "info"]).output().unwrap();
    assert_eq!(both.status.code(), Some(1));
    let message = String::from_utf8_lossy(&both.stderr);
    assert!(message.contains("`ir-8` is a case in the current folder and `cases/ir-8` another in the cases folder"), "{message}");
}

/// A case made before `sql/014_smb_requester.sql` upgrades without a false alarm: the digest
/// of its rows, which the file's macro computes anew, is the one stored at import. The case is
/// taken back to schema version 13 by hand, as an older blobtrail left it.
#[test]
fn case_of_schema_13_upgrades_and_verifies() {
    let case = TestCase::new();
    assert_eq!(case.import(&[common::fixture("portal_blob.csv"), common::fixture("portal_signin.csv")], &[]).status.code(), Some(0));
    case.ok(&["hunt", "--quiet"]);
    let digests = case.query("SELECT source_id, rows_digest FROM sources ORDER BY source_id");
    let older = "DROP MACRO TABLE full_findings_v5; DROP MACRO TABLE full_candidates_v5; DROP VIEW full_uploads_v4;
                 DROP MACRO storage_requester_key_v5;
                 ALTER TABLE storage_events DROP COLUMN requester_user_name;
                 ALTER TABLE storage_events DROP COLUMN smb_primary_sid;
                 CREATE OR REPLACE MACRO source_rows_digest(id) AS format('{}:{}.{}:{}',
                     (SELECT coalesce(bit_xor(hash(*COLUMNS(* EXCLUDE (raw)))), 0) FROM storage_events WHERE source_id = id),
                     (SELECT count(*) FROM storage_events WHERE source_id = id),
                     (SELECT coalesce(bit_xor(hash(*COLUMNS(* EXCLUDE (raw)))), 0) FROM signin_events WHERE source_id = id),
                     (SELECT count(*) FROM signin_events WHERE source_id = id));
                 DELETE FROM schema_migrations WHERE version >= 14;";
    if !edit_outside(&case, older) {
        return;
    }
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(stderr(&output).contains("upgrading case"), "{}", stderr(&output));
    assert_eq!(case.query("SELECT source_id, rows_digest FROM sources ORDER BY source_id"), digests);
    assert_eq!(case.json(&["case", "info", "--format", "json"])["schema_version"], 15);
}

/// Writes one SAS upload from 198.51.100.7 and six sign-ins from that address in the minute
/// before it: four successful accounts, one without any account and, last, a failed one.
fn write_crowded_upload(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let blob = serde_json::json!({
        "TimeGenerated": "2026-03-14T12:00:00Z", "AccountName": "acct", "OperationName": "PutBlob",
        "AuthenticationType": "SAS", "StatusCode": "201", "StatusText": "Success",
        "Uri": "https://acct.blob.core.windows.net/c/tool.exe", "CallerIpAddress": "198.51.100.7:50000",
        "CorrelationId": "11111111-1111-1111-1111-111111111111", "UserAgentHeader": "curl/8.5.0",
        "RequestBodySize": 1000, "Category": "StorageWrite", "Type": "StorageBlobLogs", "ObjectKey": "/acct/c/tool.exe"
    });
    let accounts = [("ana@contoso.com", "0"), ("ben@contoso.com", "0"), ("dee@contoso.com", "0"), ("", "0"), ("eve@contoso.com", "0"), ("cho@contoso.com", "50126")];
    let signins: Vec<String> = accounts
        .iter()
        .enumerate()
        .map(|(number, (upn, result))| {
            let time = format!("2026-03-14T11:59:{:02}Z", 20 + number * 5);
            let (upn, user_id) = if upn.is_empty() { (None, None) } else { (Some(*upn), Some(format!("0000000{number}-0000-0000-0000-000000000000"))) };
            serde_json::json!({
                "TimeGenerated": time, "CreatedDateTime": time, "Category": "SignInLogs", "Type": "SigninLogs",
                "ResultType": result, "IPAddress": "198.51.100.7", "UserPrincipalName": upn, "UserId": user_id,
                "Id": format!("aaaaaaa{number}-0000-0000-0000-000000000000"), "UserAgent": "curl/8.5.0", "AppDisplayName": "Azure Portal"
            })
            .to_string()
        })
        .collect();
    let blob_path = dir.join("blob.jsonl");
    let signin_path = dir.join("signin.jsonl");
    std::fs::write(&blob_path, format!("{blob}\n")).unwrap();
    std::fs::write(&signin_path, signins.join("\n") + "\n").unwrap();
    vec![blob_path, signin_path]
}

/// Without rules or conditions the table reads only what its rows show; with them it reads
/// whole findings. Both give the same rows, with the first three candidates by rank, the count
/// of the others, failed sign-ins and candidates without an account.
#[test]
fn findings_table_same_with_rules() {
    let case = TestCase::new();
    let output = case.import(&write_crowded_upload(case.root.path()), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--quiet"]);
    case.ok(&["hunt", "--mode", "sentinel", "--quiet"]);
    let finding_id = case.json(&["findings", "--format", "json"])[0]["finding_id"].as_str().unwrap().to_string();
    case.ok(&["annotate", &finding_id, "--status", "needs-review", "--tag", "x"]);

    let full = case.ok(&["findings", "--hunt", "1"]);
    let sentinel = case.ok(&["findings", "--hunt", "2"]);
    assert!(full.contains("┆ eve@contoso.com, dee@contoso.com, ben@contoso.com, +1 more ┆ needs-review │"), "{full}");
    assert!(
        sentinel.contains("┆ cho@contoso.com (failed sign-in, result 50126), eve@contoso.com, (no account), +3 more ┆ needs-review │"),
        "{sentinel}"
    );
    let tagged = case.ok(&["findings", "--hunt", "2", "--tag", "x"]);
    assert_eq!(tagged, sentinel);

    case.ok(&["exclude", "add", "--account", "nobody@example.invalid", "--reason", "matches no finding"]);
    assert_eq!(case.ok(&["findings", "--hunt", "1"]), full);
    assert_eq!(case.ok(&["findings", "--hunt", "2"]), sentinel);
    assert_eq!(case.ok(&["findings", "--hunt", "2", "--tag", "x"]), sentinel);

    // A case whose candidates were edited by hand, which `verify` reports, shows the same
    // candidates either way.
    if !edit_outside(&case, "DELETE FROM finding_candidates WHERE hunt_id = 2 AND rank = 2") {
        return;
    }
    let edited = case.ok(&["findings", "--hunt", "2"]);
    assert!(
        edited.contains("┆ cho@contoso.com (failed sign-in, result 50126), (no account), dee@contoso.com, +2 more ┆ needs-review │"),
        "{edited}"
    );
    case.ok(&["exclude", "disable", "1", "--reason", "no longer needed"]);
    assert_eq!(case.ok(&["findings", "--hunt", "2"]), edited);
}
