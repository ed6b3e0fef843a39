//! Importing every export shape: counts, times, rejects, skipped re-imports, and files that
//! fail without changing the case.

mod common;

use common::{counts, fixture, real_sample, sha256_of, stderr, summary, TestCase};
use serde_json::Value;

/// Imports one fixture and returns (shape, tables, records, imported, rejected).
fn import_one(case: &TestCase, name: &str) -> (String, String, i64, i64, i64) {
    let output = case.import(&[fixture(name)], &[]);
    let (shape, tables, records, imported, rejected, _) = counts(&summary(&output)[0]);
    (shape, tables, records, imported, rejected)
}

#[test]
fn each_shape_imports_with_counts() {
    let cases = [
        ("portal_blob.csv", "portal-csv", "StorageBlobLogs", 8),
        ("portal_signin.csv", "portal-csv", "SigninLogs", 8),
        ("api_blob.json", "query-api-json", "StorageBlobLogs", 2),
        ("api_signin.json", "query-api-json", "SigninLogs", 2),
        ("lines_blob.jsonl", "json-lines", "StorageBlobLogs", 4),
        ("lines_signin.jsonl", "json-lines", "AADNonInteractiveUserSignInLogs", 3),
        ("cli_signin.json", "json-array", "SigninLogs", 3),
        ("iso_blob.csv", "portal-csv", "StorageBlobLogs", 3),
    ];
    for (name, shape, table, rows) in cases {
        let case = TestCase::new();
        assert_eq!(import_one(&case, name), (shape.into(), table.into(), rows, rows, 0), "{name}");
    }
}

#[test]
fn iso_times_keep_microseconds() {
    let case = TestCase::new();
    import_one(&case, "iso_blob.csv");
    let rows = case.query("SELECT time_generated AS t FROM storage_events ORDER BY record_no");
    assert_eq!(rows[0]["t"], "2026-03-14T10:01:00.123456Z");
    assert_eq!(rows[1]["t"], "2026-03-14T10:05:00.999999Z", "the 7th digit is truncated");
}

#[test]
fn az_cli_values_are_read() {
    let case = TestCase::new();
    import_one(&case, "cli_signin.json");
    let rows = case.query(
        "SELECT user_principal_name AS u, result_type AS r, is_interactive AS i, ip FROM signin_events ORDER BY time_generated",
    );
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().any(|r| r["r"] == "50126" && r["u"] == "bob@contoso.com"));
    assert!(rows.iter().all(|r| r["i"] == true));
    assert!(rows.iter().any(|r| r["ip"] == "2001:db8::5"));
}

#[test]
fn reimport_is_skipped() {
    let case = TestCase::new();
    import_one(&case, "api_blob.json");
    let output = case.import(&[fixture("api_blob.json")], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(summary(&output)[0]["status"], "skipped (already imported)");
    assert!(stderr(&output).contains("imported before"), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 2);
    assert_eq!(case.count("sources"), 1);
}

#[test]
fn record_repeated_within_a_file_is_stored_once() {
    // The first record again at the end, and the second one twice in a row: the rows of
    // lines 2 and 3 stay, their repeats on lines 4 and 11 are duplicates.
    let text = std::fs::read_to_string(fixture("portal_blob.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut repeated = vec![lines[0], lines[1], lines[2], lines[2]];
    repeated.extend(&lines[3..]);
    repeated.push(lines[1]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("StorageBlobLogs.csv");
    std::fs::write(&file, repeated.join("\n") + "\n").unwrap();
    for reader in ["auto", "streaming"] {
        let case = TestCase::new();
        let row = &summary(&case.import(std::slice::from_ref(&file), &["--reader", reader]))[0];
        assert_eq!(row["reader"], if reader == "auto" { "duckdb" } else { "streaming" }, "{row}");
        assert_eq!((row["records"].as_i64(), row["imported"].as_i64()), (Some(10), Some(8)), "{reader}: {row}");
        assert_eq!(row["duplicates"], 2, "{reader}: {row}");
        let stored = case.query("SELECT list(line ORDER BY line) AS lines FROM storage_events");
        assert_eq!(stored[0]["lines"], serde_json::json!([2, 3, 5, 6, 7, 8, 9, 10]), "{reader}");
    }
}

/// A copy of a stored request that names another requester (or none), authentication type or
/// body size is no duplicate: it is rejected with the copy it conflicts with, and the first
/// copy stays. A copy that agrees is a duplicate, as before.
#[test]
fn conflicting_copy_of_a_request_is_rejected_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let header = "TimeGenerated,AccountName,OperationName,StatusText,Uri,CallerIpAddress,CorrelationId,AuthenticationType,RequesterUpn,RequestBodySize";
    let row = |auth: &str, upn: &str| {
        format!(
            "2026-03-02T08:22:06.040Z,acct,PutBlob,Success,https://acct.blob.core.windows.net/c/dump.zip,192.0.2.10:4431,\
             aaaaaaaa-0000-4000-8000-000000000001,{auth},{upn},1024"
        )
    };
    let projected = dir.path().join("projected.csv");
    std::fs::write(&projected, format!("{header}\n{}\n", row("OAuth", ""))).unwrap();
    let full = dir.path().join("full.csv");
    let full_line = row("OAuth", "grace@contoso.com");
    std::fs::write(&full, format!("{header}\n{full_line}\n")).unwrap();
    let same = dir.path().join("same.csv");
    std::fs::write(&same, format!("{header}\n{}\n{}\n", row("OAuth", ""), row("SAS", ""))).unwrap();
    for reader in ["auto", "streaming"] {
        let case = TestCase::new();
        assert_eq!(case.import(std::slice::from_ref(&projected), &["--reader", reader]).status.code(), Some(0));
        let output = case.import(std::slice::from_ref(&full), &["--reader", reader]);
        assert_eq!(output.status.code(), Some(3), "{reader}: {}", stderr(&output));
        let row = &summary(&output)[0];
        assert_eq!((row["imported"].as_i64(), row["rejected"].as_i64(), row["duplicates"].as_i64()), (Some(0), Some(1), Some(0)), "{reader}: {row}");
        assert!(row["notes"][0].as_str().unwrap().starts_with("records that the case already holds with another requester"), "{row}");
        let rejects = case.query("SELECT line, column_name, value, reason, raw FROM rejects");
        assert_eq!(rejects[0]["line"], 2);
        // The rejected copy keeps its record as written.
        assert_eq!(rejects[0]["raw"].as_str(), Some(full_line.as_str()));
        assert_eq!(rejects[0]["column_name"], "RequesterUpn");
        assert_eq!(rejects[0]["value"], "grace@contoso.com");
        assert_eq!(
            rejects[0]["reason"].as_str().unwrap(),
            format!(
                "the case already holds this request from `{}` line 2 with RequesterUpn none, where this copy has \
                 `grace@contoso.com`; the first copy is kept and this one is rejected, so that neither is lost: compare the two exports",
                projected.display()
            )
        );
        // Within one file: the agreeing copy is a duplicate, the SAS copy conflicts with line 2.
        let output = case.import(std::slice::from_ref(&same), &["--reader", reader]);
        let row = &summary(&output)[0];
        assert_eq!((row["imported"].as_i64(), row["rejected"].as_i64(), row["duplicates"].as_i64()), (Some(0), Some(1), Some(1)), "{reader}: {row}");
        let rejects = case.query("SELECT line, column_name, value FROM rejects ORDER BY source_id");
        assert_eq!((rejects[1]["line"].as_i64(), rejects[1]["column_name"].as_str()), (Some(3), Some("AuthenticationType")), "{rejects:?}");
        assert_eq!(case.count("storage_events"), 1);
        case.ok(&["verify"]);
    }
}

#[test]
fn overlapping_record_is_stored_once() {
    let case = TestCase::new();
    import_one(&case, "portal_blob.csv");
    // The same eight rows under a local-time header with offset 0 are the same records.
    let output = case.import(&[fixture("local_time_blob.csv")], &["--utc-offset", "+00:00"]);
    let row = &summary(&output)[0];
    assert_eq!(row["imported"], 0, "{row}");
    assert_eq!(row["duplicates"], 8, "{row}");
    assert_eq!(case.count("storage_events"), 8);
}

#[test]
fn truncated_api_json_keeps_complete_rows() {
    // The fixture is a query API response cut off inside its second row (counted by hand and
    // with Python's `json.JSONDecoder.raw_decode`).
    let case = TestCase::new();
    let output = case.import(&[fixture("truncated_api.json")], &[]);
    assert_eq!(output.status.code(), Some(3), "the cut is a rejected record: {}", stderr(&output));
    let row = &summary(&output)[0];
    assert_eq!(row["imported"], 1, "{row}");
    assert_eq!(row["rejected"], 1, "{row}");
    let rejects = case.query("SELECT reason, raw FROM rejects");
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0]["reason"].as_str().unwrap().contains("cut off after the last complete row"), "{:?}", rejects[0]);
    assert!(rejects[0]["raw"].as_str().unwrap().starts_with("[\"4aa2249a-422b-531b-9149-1cd820ba3ce7\""), "{:?}", rejects[0]);
}

/// The sender of a request chooses its user agent. A lone UTF-16 surrogate escape in one must
/// not make a whole JSON document unreadable.
#[test]
fn lone_surrogate_escape_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["api_blob.json", "cli_signin.json"] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        assert!(text.contains("Mozilla"), "{name}");
        let edited = dir.path().join(name);
        std::fs::write(&edited, text.replacen("Mozilla", "Mozilla\\ud800", 1)).unwrap();

        let (original, changed) = (TestCase::new(), TestCase::new());
        let expected = summary(&original.import(&[fixture(name)], &[]))[0]["imported"].clone();
        let output = changed.import(&[edited], &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        assert_eq!(summary(&output)[0]["imported"], expected, "{name}");
    }
}

/// Excel on a day-first Windows locale pads both numbers (`05/03/2026, 10:01:00.000 AM`). Such
/// a date alone reads month first, and a later day above 12 shows the file is day first, so the
/// file stops.
#[test]
fn mixed_date_orders_stop_the_file() {
    let text = std::fs::read_to_string(fixture("portal_blob.csv")).unwrap();
    let text = text.replace("3/14/2026, ", "14/03/2026, ").replacen("14/03/2026, 10:01:00.000 AM", "05/03/2026, 10:01:00.000 AM", 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("day_first_blob.csv");
    std::fs::write(&file, text).unwrap();

    let case = TestCase::new();
    let output = case.import(std::slice::from_ref(&file), &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("such as `05/03/2026, 10:01:00.000 AM`"), "{message}");
    assert!(message.contains("--date-order dmy"), "{message}");
    assert_eq!(case.count("storage_events"), 0);

    let output = case.import(&[file], &["--date-order", "dmy"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first = case.query("SELECT min(time_generated)::VARCHAR AS t FROM storage_events");
    assert_eq!(first[0]["t"], "2026-03-05 10:01:00");
}

/// A zip may hold two members with one name, as Python's zipfile writes with a warning. The zip
/// crate reads only one of them, so such an archive fails instead of losing the other.
#[test]
fn zip_members_sharing_a_name_fail_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("dup.zip");
    let script = "import sys, zipfile, warnings\nwarnings.simplefilter('ignore')\n\
                  with zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for f in sys.argv[2:]: z.writestr('x/api.json', open(f).read())";
    let made = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&archive)
        .args([fixture("api_blob.json"), fixture("api_signin.json")])
        .status()
        .unwrap();
    assert!(made.success());

    let case = TestCase::new();
    let output = case.import(&[archive], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("has members that share a name"), "{}", stderr(&output));
    assert_eq!(case.count("sources"), 0);
}

/// A sign-in's result can be only in `Status`: as a JSON object with `errorCode` where a Log
/// Analytics query projected it (also split into `Status_dynamic`), or as the Entra admin
/// center's word. Each failed sign-in here must stay out of the candidates. A file with no
/// result at all imports with a warning that the hunt takes its sign-ins as successful.
#[test]
fn signin_status_column_gives_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let agent = "AzCopy/10.27.0 Azure-Storage/0.15 (go1.22.5; Windows_NT)";
    let storage = dir.path().join("StorageBlobLogs.jsonl");
    let upload = serde_json::json!({
        "TimeGenerated": "2026-04-12T15:05:01.1234567Z", "AccountName": "fabrikamdata", "OperationName": "PutBlob",
        "AuthenticationType": "SAS", "StatusCode": "201", "StatusText": "Success",
        "Uri": "https://fabrikamdata.blob.core.windows.net/staging/dump.7z", "CallerIpAddress": "198.51.100.50:50123",
        "UserAgentHeader": agent, "Type": "StorageBlobLogs",
    });
    std::fs::write(&storage, format!("{upload}\n")).unwrap();
    let status = r#""{""errorCode"":50126,""failureReason"":""Invalid username or password.""}""#;
    let common = format!("\"4/12/2026, 3:02:30.000 PM\",bob@contoso.com,198.51.100.50,{agent}");
    let files = [
        ("projected.csv", format!("TimeGenerated [UTC],UserPrincipalName,IPAddress,UserAgent,Status,Type\n{common},{status},SigninLogs\n")),
        ("split.csv", format!("TimeGenerated [UTC],UserPrincipalName,IPAddress,UserAgent,Status_dynamic,Status_string,Type\n{common},{status},,SigninLogs\n")),
        ("InteractiveSignIns_2026-04-12_2026-04-13.csv", format!(
            "\"Date (UTC)\",\"Request ID\",\"User agent\",\"Username\",\"IP address\",\"Status\"\n\
             \"2026-04-12T15:02:30Z\",\"r-1\",\"{agent}\",\"bob@contoso.com\",\"198.51.100.50\",\"Failure\"\n"
        )),
    ];
    for (name, text) in &files {
        let case = TestCase::new();
        let signins = dir.path().join(name);
        std::fs::write(&signins, text).unwrap();
        let output = case.import(&[storage.clone(), signins], &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        assert!(!stderr(&output).contains("without a result"), "{name}: {}", stderr(&output));
        let stored = case.query("SELECT result_type, result_description FROM signin_events");
        let expected = if name.starts_with("Interactive") { "Failure" } else { "50126" };
        assert_eq!(stored[0]["result_type"], expected, "{name}");
        if !name.starts_with("Interactive") {
            assert_eq!(stored[0]["result_description"], "Invalid username or password.", "{name}");
        }
        case.ok(&["hunt", "--quiet"]);
        let findings = case.query("SELECT confidence, candidate_count FROM findings");
        assert_eq!(findings[0]["confidence"], "none", "{name}");
        assert_eq!(findings[0]["candidate_count"], 0, "{name}");
    }

    let case = TestCase::new();
    let signins = dir.path().join("no_status.csv");
    std::fs::write(&signins, format!("TimeGenerated [UTC],UserPrincipalName,IPAddress,UserAgent,Type\n{common},SigninLogs\n")).unwrap();
    let output = case.import(&[storage, signins], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("sign-ins without a result: 1 ("), "{}", stderr(&output));
    let rows = summary(&output);
    assert_eq!(rows[1]["notes"].as_array().unwrap().len(), 1, "{rows:?}");
    assert_eq!(rows[0]["notes"].as_array().unwrap().len(), 0, "{rows:?}");
}

/// Invalid JSON in the middle of an array fails the whole file with the line and column (both
/// checked against Python's `json` module), where keeping the records before it would leave
/// the rest out unseen. The same error in the first record gives the same message.
#[test]
fn invalid_json_mid_array_fails_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let record = |name: &str, colon: &str| {
        format!(
            "  {{\n    \"TimeGenerated\": \"2026-04-12T14:00:02Z\",\n    \"OperationName\"{colon} \"PutBlob\",\n    \
             \"StatusText\": \"Success\",\n    \"CallerIpAddress\": \"203.0.113.9:1234\",\n    \
             \"Uri\": \"https://acct.blob.core.windows.net/c/{name}\",\n    \"Type\": \"StorageBlobLogs\"\n  }}"
        )
    };
    let middle = dir.path().join("middle.json");
    std::fs::write(&middle, format!("[\n{},\n{},\n{}\n]\n", record("a", ":"), record("b", ""), record("c", ":"))).unwrap();
    let first = dir.path().join("first.json");
    std::fs::write(&first, format!("[\n{},\n{}\n]\n", record("a", ""), record("b", ":"))).unwrap();

    let case = TestCase::new();
    let output = case.import(&[middle], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("invalid JSON at line 12, column 21: expected `:`"), "{}", stderr(&output));
    assert!(stderr(&output).contains("nothing from this file was imported"), "{}", stderr(&output));
    assert_eq!(case.count("sources"), 0);
    assert_eq!(case.count("storage_events"), 0);

    let output = case.import(&[first], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("invalid JSON at line 4, column 21: expected `:`"), "{}", stderr(&output));
}

/// Excel on a Western European Windows saves "CSV (Comma delimited)" in Windows-1252, so
/// `résumé.docx` arrives as bytes that are not UTF-8. Read as UTF-8, the record is rejected and
/// a note names the fix; read with `--encoding windows-1252`, it is imported with its name.
#[test]
fn windows_1252_csv_needs_its_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("StorageBlobLogs.csv");
    let mut bytes = b"TimeGenerated;AccountName;OperationName;StatusText;ObjectKey;CallerIpAddress;Type\r\n".to_vec();
    bytes.extend_from_slice(b"2026-04-12 15:05:10;acct;PutBlob;Success;/acct/c/r\xe9sum\xe9.docx;198.51.100.50:50123;StorageBlobLogs\r\n");
    bytes.extend_from_slice(b"2026-04-12 15:06:30;acct;PutBlob;Success;/acct/c/plain.txt;198.51.100.50:50124;StorageBlobLogs\r\n");
    std::fs::write(&storage, bytes).unwrap();

    let case = TestCase::new();
    let output = case.import(std::slice::from_ref(&storage), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let rows = summary(&output);
    assert_eq!((rows[0]["imported"].as_i64(), rows[0]["rejected"].as_i64()), (Some(1), Some(1)));
    let note = rows[0]["notes"][0].as_str().unwrap();
    assert!(note.starts_with("records with bytes that are not valid UTF-8: 1, kept in `rejects`"), "{note}");
    assert!(note.contains("`--encoding windows-1252`"), "{note}");
    // The same bytes read another way would be a second reading of one file in one case.
    let again = case.import(std::slice::from_ref(&storage), &["--encoding", "windows-1252"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("with other reading options"), "{}", stderr(&again));

    let decoded = TestCase::new();
    let output = decoded.import(&[storage], &["--encoding", "windows-1252"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = summary(&output);
    assert_eq!(rows[0]["reader"], "streaming");
    let paths = decoded.query("SELECT object_path FROM storage_events ORDER BY time_generated");
    assert_eq!(paths[0]["object_path"], "/acct/c/résumé.docx");
    assert_eq!(paths[1]["object_path"], "/acct/c/plain.txt");
    // A UTF-8 file given the option is refused instead of misread.
    let utf8 = tempfile::tempdir().unwrap();
    let utf8_file = utf8.path().join("StorageBlobLogs.csv");
    std::fs::write(&utf8_file, "TimeGenerated;AccountName;OperationName;StatusText;ObjectKey;CallerIpAddress;Type\n2026-04-12 15:05:10;acct;PutBlob;Success;/acct/c/résumé.docx;198.51.100.50:50123;StorageBlobLogs\n").unwrap();
    let refused = TestCase::new().import(&[utf8_file], &["--encoding", "windows-1252"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("the file is UTF-8"), "{}", stderr(&refused));

    let options = decoded.query("SELECT options FROM sources");
    assert!(options[0]["options"].as_str().unwrap().contains("\"encoding\":\"windows-1252\""), "{options:?}");
}

/// Excel drops the seconds when it saves a CSV export again (`4/12/2026 15:05`). Such times
/// read as the start of their minute, the import warns with their count, and the hunt still
/// pairs the upload with the sign-in four minutes before it.
#[test]
fn times_without_seconds_import_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("StorageBlobLogs.csv");
    std::fs::write(
        &storage,
        "TimeGenerated [UTC],AccountName,OperationName,StatusText,Uri,CallerIpAddress,Type\n\
         4/12/2026 15:05,acct,PutBlob,Success,https://acct.blob.core.windows.net/c/dump.7z,198.51.100.50:50123,StorageBlobLogs\n\
         4/12/2026 15:06:30,acct,PutBlob,Success,https://acct.blob.core.windows.net/c/other.7z,198.51.100.50:50124,StorageBlobLogs\n",
    )
    .unwrap();
    let signins = dir.path().join("SigninLogs.csv");
    std::fs::write(
        &signins,
        "TimeGenerated [UTC],UserPrincipalName,IPAddress,ResultType,Type\n\
         2026-04-12 15:01,mallory@contoso.com,198.51.100.50,0,SigninLogs\n",
    )
    .unwrap();

    let case = TestCase::new();
    let output = case.import(&[storage, signins], &["--date-order", "mdy"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = summary(&output);
    assert_eq!(rows[0]["notes"][0].as_str().unwrap().split(',').next().unwrap(), "times without seconds: 1");
    assert_eq!(rows[1]["notes"][0].as_str().unwrap().split(',').next().unwrap(), "times without seconds: 1");
    assert!(stderr(&output).contains("StorageBlobLogs.csv`: times without seconds: 1"), "{}", stderr(&output));

    case.ok(&["hunt", "--quiet"]);
    let findings = case.query(
        "SELECT file_name, strftime(upload_time, '%H:%M:%S') AS at, confidence, attributed_account FROM findings ORDER BY upload_time",
    );
    assert_eq!(findings[0]["file_name"], "dump.7z");
    assert_eq!(findings[0]["at"], "15:05:00");
    assert_eq!(findings[0]["attributed_account"], "mallory@contoso.com");
    assert_eq!(findings[1]["at"], "15:06:30");
}

/// A folder walk leaves out the generated truth file and documents beside the logs with a
/// note, which `--quiet` hides.
#[test]
fn folder_truth_file_note_follows_quiet() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("truth.csv"),
        "object_path,upload_time,upload_kind,true_account,attributable,scenario\n",
    )
    .unwrap();
    std::fs::copy(fixture("api_blob.json"), dir.path().join("api_blob.json")).unwrap();
    std::fs::write(dir.path().join("README.md"), "# Exports from the tenant, 2026-03-14\n").unwrap();
    std::fs::write(dir.path().join("export.ps1"), "Get-MgAuditLogSignIn -All | Export-Csv signins.csv\n").unwrap();
    let case = TestCase::new();
    let output = case.import(&[dir.path().to_path_buf()], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("truth.csv`: it is the ground-truth file of `blobtrail generate`"), "{}", stderr(&output));
    assert!(stderr(&output).contains("README.md`: a .md document, picture, script or query, not a log export"), "{}", stderr(&output));
    assert!(stderr(&output).contains("export.ps1`: a .ps1 document"), "{}", stderr(&output));

    let case = TestCase::new();
    let output = case.import(&[dir.path().to_path_buf()], &["--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    assert_eq!(case.count("sources"), 1);
}

/// A file whose name is not UTF-8 cannot be recorded by its path, so it fails with what to do
/// and leaves the case as it was.
#[test]
fn non_utf8_file_name_fails_clearly() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(std::ffi::OsStr::from_bytes(b"exports-\xff.json"));
    std::fs::copy(fixture("api_blob.json"), &path).unwrap();
    let case = TestCase::new();
    let output = case.import(&[path], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("is not valid UTF-8"), "{}", stderr(&output));
    assert_eq!(case.count("sources"), 0);
}

/// The ground-truth file of `generate` inside a zip is left out with a note, as in a folder,
/// while a member of the same name that contains a log export is imported.
#[test]
fn zip_leaves_out_the_generated_truth_file() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("generated.zip");
    let truth = "object_path,upload_time,upload_kind,true_account,attributable,scenario\n\
                 /acct/c/a.bin,2026-03-10T12:00:00.000Z,put-blob,dana@example.com,true,portal-upload\n";
    let script = "import sys, zipfile\n\
                  with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                  \x20   z.writestr('run/truth.csv', sys.argv[2])\n\
                  \x20   z.writestr('run/api_blob.json', open(sys.argv[3]).read())\n\
                  \x20   z.writestr('other/truth.csv', open(sys.argv[4]).read())";
    let made = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&archive)
        .arg(truth)
        .args([fixture("api_blob.json"), fixture("portal_signin.csv")])
        .status()
        .unwrap();
    assert!(made.success());

    let case = TestCase::new();
    let output = case.import(&[archive], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("generated.zip!/run/truth.csv`: it is the ground-truth file"),
        "{}",
        stderr(&output)
    );
    let paths: Vec<String> = case
        .query("SELECT path FROM sources ORDER BY source_id")
        .iter()
        .map(|row| row["path"].as_str().unwrap().rsplit('!').next().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["/run/api_blob.json", "/other/truth.csv"]);
}

#[test]
fn invalid_json_leaves_case_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("truncated_api.json")).unwrap();
    // A stray character inside the rows: invalid, not cut off, so the whole file fails.
    let broken = dir.path().join("broken_api.json");
    std::fs::write(&broken, text.replacen("\"rows\":[", "\"rows\":[}", 1)).unwrap();

    let case = TestCase::new();
    import_one(&case, "portal_signin.csv");
    let before = (case.count("storage_events"), case.count("signin_events"), case.count("sources"), case.count("rejects"));
    let output = case.import(&[broken], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("broken_api.json"), "{message}");
    assert!(message.contains("invalid JSON at line"), "{message}");
    let after = (case.count("storage_events"), case.count("signin_events"), case.count("sources"), case.count("rejects"));
    assert_eq!(before, after);
}

#[test]
fn unrecognised_file_names_columns() {
    let case = TestCase::new();
    let output = case.import(&[fixture("not_a_table.csv")], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("columns found: Name, Size, Owner"), "{message}");
    assert!(message.contains("StorageBlobLogs") && message.contains("SigninLogs"), "{message}");
    assert_eq!(case.count("sources"), 0);
}

#[test]
fn bad_time_is_rejected_with_its_line() {
    let case = TestCase::new();
    let output = case.import(&[fixture("bad_time_blob.csv")], &[]);
    assert_eq!(output.status.code(), Some(3), "rejects give exit code 3");
    let row = &summary(&output)[0];
    assert_eq!((row["records"].as_i64(), row["imported"].as_i64(), row["rejected"].as_i64()), (Some(4), Some(3), Some(1)));
    let rejects = case.query("SELECT line, column_name, value, reason FROM rejects");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["line"], 4);
    assert_eq!(rejects[0]["column_name"], "TimeGenerated [UTC]");
    assert_eq!(rejects[0]["value"], "not a date");
}

#[test]
fn strict_stops_at_first_bad_record() {
    let case = TestCase::new();
    let output = case.import(&[fixture("bad_time_blob.csv")], &["--strict"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("line 4"), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 0);
    assert_eq!(case.count("rejects"), 0);
}

#[test]
fn local_time_needs_offset() {
    let case = TestCase::new();
    let output = case.import(&[fixture("local_time_blob.csv")], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--utc-offset"), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 0);

    let output = case.import(&[fixture("local_time_blob.csv")], &["--utc-offset", "+02:00"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let first = case.query("SELECT time_generated AS t FROM storage_events ORDER BY record_no LIMIT 1");
    assert_eq!(first[0]["t"], "2026-03-14T08:01:00.000000Z");
}

#[test]
fn ambiguous_dates_need_an_order() {
    let case = TestCase::new();
    let output = case.import(&[fixture("ambiguous_dates_blob.csv")], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("TimeGenerated [UTC]") && message.contains("--date-order"), "{message}");
    assert_eq!(case.count("storage_events"), 0);

    let output = case.import(&[fixture("ambiguous_dates_blob.csv")], &["--date-order", "dmy"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let times = case.query("SELECT time_generated AS t FROM storage_events ORDER BY record_no");
    assert_eq!(times[0]["t"], "2026-03-05T14:00:30.000000Z");
    assert_eq!(times[2]["t"], "2026-03-06T09:15:00.000000Z");
}

#[test]
fn failed_file_does_not_stop_the_others() {
    let case = TestCase::new();
    let output = case.import(&[fixture("not_a_table.csv"), fixture("api_blob.json")], &[]);
    assert_eq!(output.status.code(), Some(1));
    let rows = summary(&output);
    assert_eq!(rows[0]["status"], "failed, case unchanged");
    assert_eq!(rows[1]["status"], "imported");
    assert_eq!(case.count("storage_events"), 2);
}

#[test]
fn sources_record_hash_and_counts() {
    let case = TestCase::new();
    import_one(&case, "bad_time_blob.csv");
    let sources = case.json(&["sources", "--format", "json"]);
    let source = &sources[0];
    let expected = sha256_of(&fixture("bad_time_blob.csv"));
    assert_eq!(source["sha256"], expected);
    assert_eq!(source["records"], 4);
    assert_eq!(source["imported"], 3);
    assert_eq!(source["rejected"], 1);
    assert_eq!(source["table"], "StorageBlobLogs");
}

#[test]
fn real_signin_export_imports_all_rows() {
    let Some(path) = real_sample("azure-sentinel/sign-in_adelete.first10.csv") else { return };
    let case = TestCase::new();
    let output = case.import(&[path], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let row = &summary(&output)[0];
    assert_eq!((row["records"].as_i64(), row["imported"].as_i64()), (Some(10), Some(10)), "{row}");
    let first = case.query(
        "SELECT created_time AS t, time_generated AS g, ip, user_principal_name AS u, result_type AS r
         FROM signin_events ORDER BY record_no LIMIT 1",
    );
    // Checked by hand against the file: "4/28/2021, 2:08:45.221 PM", 175.45.176.99, adelev.
    assert_eq!(first[0]["t"], "2021-04-28T14:08:45.221000Z");
    assert_eq!(first[0]["g"], Value::Null);
    assert_eq!(first[0]["ip"], "175.45.176.99");
    assert_eq!(first[0]["u"], "adelev@m365x816222.onmicrosoft.com");
    assert_eq!(first[0]["r"], "0");
}

#[test]
fn real_query_result_is_rejected() {
    let Some(path) = real_sample("azure-sentinel/signinLogs.csv") else { return };
    let case = TestCase::new();
    let output = case.import(&[path], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("result of a query"), "{message}");
    assert!(message.contains("StartTime"), "{message}");
    assert_eq!(case.count("sources"), 0);
}

#[test]
fn file_over_one_row_group_imports_every_row() {
    // DuckDB keeps 122,880 rows per row group; a file larger than that once looked like all
    // duplicates and imported nothing. Scale 14 writes about 130,000 blob rows.
    let case = TestCase::new();
    let data = case.root.path().join("data");
    let output = common::blobtrail(&case.root)
        .args(["generate", "--quiet", "--scale", "14", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let output = case.import(&[data.join("StorageBlobLogs.csv")], &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let row = &summary(&output)[0];
    let records = row["records"].as_i64().unwrap();
    assert!(records > 122_880, "{row}");
    assert_eq!(row["imported"].as_i64(), Some(records), "{row}");
    assert_eq!(row["duplicates"].as_i64(), Some(0), "{row}");
    let stored = case.query("SELECT count(*) AS n, count(DISTINCT correlation_id) AS c FROM storage_events");
    assert_eq!(stored[0]["n"].as_i64(), Some(records));
    assert_eq!(stored[0]["c"].as_i64(), Some(records), "every row has its own CorrelationId");
}

/// `--file` matches a name typed in decomposed Unicode, as macOS writes `é` (`e` and U+0301),
/// with the name the logs give composed.
#[test]
fn hunt_file_matches_decomposed_names() {
    let case = TestCase::new();
    let output = case.import(&[fixture("portal_blob.csv")], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = case.ok(&["hunt", "--file", "RE\u{301}SUME\u{301}.docx"]);
    assert!(text.contains(": 1 upload,"), "{text}");
}


/// A folder given to `import` that contains the case itself leaves out the case's own files
/// (its database and write-ahead log) and imports the logs beside them.
#[test]
fn import_leaves_out_the_cases_own_files() {
    let case = TestCase::new();
    std::fs::copy(fixture("portal_blob.csv"), case.root.path().join("cases/StorageBlobLogs.csv")).unwrap();
    // A copy of another case beside it is no log either.
    std::fs::create_dir_all(case.root.path().join("cases/other")).unwrap();
    std::fs::copy(case.path.join("case.duckdb"), case.root.path().join("cases/other/copy.duckdb")).unwrap();
    let output = case.import(&[case.root.path().join("cases")], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("/t/case.duckdb`: a DuckDB database or its log"), "{}", stderr(&output));
    assert!(stderr(&output).contains("/other/copy.duckdb`: a DuckDB database or its log (such as a blobtrail case), not a log export"), "{}", stderr(&output));
    let rows = summary(&output);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["imported"], 8);
    // Named on its own, the case's database is left out as well.
    let output = case.import(&[case.path.join("case.duckdb")], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("/t/case.duckdb`: a file of this case, not a log export"), "{}", stderr(&output));
}

/// Two portal exports joined into one file: the second header row is rejected as a header, not
/// as a record of an unknown table, and the records after it are read.
#[test]
fn joined_exports_reject_the_second_header() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("portal_blob.csv")).unwrap();
    let joined = dir.path().join("joined.csv");
    // As `cat` joins them: the second file's byte order mark stays at the start of its header.
    std::fs::write(&joined, format!("{text}{text}")).unwrap();
    let case = TestCase::new();
    let rows = summary(&case.import(&[joined], &[]));
    let (_, _, records, imported, rejected, duplicates) = counts(&rows[0]);
    assert_eq!((records, imported, rejected, duplicates), (17, 8, 1, 8), "{}", rows[0]);
    let rejects = case.query("SELECT line, reason FROM rejects");
    assert_eq!(rejects[0]["line"], 10);
    assert!(rejects[0]["reason"].as_str().unwrap().starts_with("the header row again"), "{}", rejects[0]["reason"]);
}

/// A JSON line with bytes that are not UTF-8 is rejected with those bytes kept as `\xNN`, as a
/// CSV record's are, rather than replaced.
#[test]
fn json_line_reject_keeps_invalid_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("lines_blob.jsonl")).unwrap();
    let line = text.lines().find(|line| line.contains("AzCopy")).unwrap();
    let file = dir.path().join("StorageBlobLogs.jsonl");
    // The line again, with its `AzCopy` written as Windows-1252 `Az\xE9Copy`.
    let (before, after) = line.split_once("AzCopy").unwrap();
    let mut bytes = text.clone().into_bytes();
    bytes.extend([before.as_bytes(), b"Az\xe9Copy", after.as_bytes(), b"\n"].concat());
    std::fs::write(&file, bytes).unwrap();
    let case = TestCase::new();
    case.import(&[file], &[]);
    let rejects = case.query("SELECT raw FROM rejects");
    assert_eq!(rejects.len(), 1);
    let expected = line.replace("AzCopy", "Az\\xE9Copy");
    assert_eq!(rejects[0]["raw"], expected.as_str());
}

/// A gzip file goes to the streaming reader, and the summary's reader note names the
/// compression as the reason.
#[test]
fn gzip_file_reader_note_names_the_compression() {
    let case = TestCase::new();
    let rows = summary(&case.import(&[fixture("diag_storage.jsonl.gz")], &[]));
    assert_eq!(rows[0]["reader"], "streaming");
    assert_eq!(rows[0]["reader_note"], "the file is gzip-compressed; the streaming reader decompresses it");
}

/// A storage export that projected away StatusText and StatusCode cannot show which writes
/// succeeded. The hunts count only successful writes, so both the import and the hunt say that
/// none of its requests can be an upload, instead of finding nothing without a word.
#[test]
fn storage_rows_without_status_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("projected_blob.csv");
    std::fs::write(
        &file,
        "TimeGenerated [UTC],OperationName,CallerIpAddress,Uri\n\
         \"3/2/2026, 12:09:03.319 AM\",PutBlob,203.0.113.7:50123,https://acct1.blob.core.windows.net/stage/evil.exe\n",
    )
    .unwrap();
    let case = TestCase::new();
    let output = case.import(std::slice::from_ref(&file), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = summary(&output);
    let note = rows[0]["notes"][0].as_str().unwrap();
    assert!(note.starts_with("storage requests without a result: 1 (no StatusText or StatusCode value)"), "{note}");

    let hunt = case.run(&["hunt"]);
    let message = stderr(&hunt);
    assert!(String::from_utf8_lossy(&hunt.stdout).contains(": 0 uploads"), "{message}");
    assert!(
        message.contains("note: storage requests without a result (no StatusText or StatusCode): 1, so none of them can be an upload; \
                          they come from `") && message.contains("projected_blob.csv`: export those logs again"),
        "{message}"
    );
}

/// The same request from two exports, one of which left out a column that the event key
/// contains (the user agent here), is matched by its request ID. It is stored once when the
/// copies agree, and rejected with the copy it conflicts with when one names a requester.
#[test]
fn same_request_id_without_user_agent_is_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("PT1H.json");
    std::fs::write(
        &archive,
        r#"{"time":"2026-03-02T00:09:03.3190000Z","category":"StorageWrite","operationName":"PutBlob","statusCode":201,"statusText":"Success","callerIpAddress":"203.0.113.7:50123","correlationId":"c-1","identity":{"type":"OAuth","requester":{"objectId":"obj-1"}},"properties":{"accountName":"acct2","userAgentHeader":"AzCopy/10.22.0","objectKey":"/acct2/stage/a.zip"},"uri":"https://acct2.blob.core.windows.net/stage/a.zip"}
"#,
    )
    .unwrap();
    let header = "TimeGenerated [UTC],OperationName,StatusText,CallerIpAddress,CorrelationId,Uri,AuthenticationType,RequesterObjectId";
    let row = "\"3/2/2026, 12:09:03.319 AM\",PutBlob,Success,203.0.113.7:50123,c-1,https://acct2.blob.core.windows.net/stage/a.zip,OAuth";
    let agreeing = dir.path().join("agreeing.csv");
    std::fs::write(&agreeing, format!("{header}\n{row},obj-1\n")).unwrap();
    let projected = dir.path().join("projected.csv");
    std::fs::write(&projected, format!("{header}\n{row},\n")).unwrap();
    // The same ID with another status or address is another request, kept as a file keeps it.
    let failed = dir.path().join("failed.csv");
    std::fs::write(&failed, format!("{header}\n{}\n", format!("{row},obj-1").replace(",Success,", ",ServerTimeoutError,"))).unwrap();
    let elsewhere = dir.path().join("elsewhere.csv");
    std::fs::write(&elsewhere, format!("{header}\n{}\n", format!("{row},obj-1").replace("203.0.113.7", "198.51.100.9"))).unwrap();

    let case = TestCase::new();
    assert_eq!(case.import(std::slice::from_ref(&archive), &[]).status.code(), Some(0));
    let output = case.import(&[agreeing, projected], &[]);
    let rows = summary(&output);
    assert_eq!((rows[0]["imported"].as_i64(), rows[0]["duplicates"].as_i64()), (Some(0), Some(1)), "{rows:?}");
    assert_eq!((rows[1]["imported"].as_i64(), rows[1]["rejected"].as_i64()), (Some(0), Some(1)), "{rows:?}");
    let rejects = case.query("SELECT column_name, reason FROM rejects");
    assert_eq!(rejects[0]["column_name"], "RequesterObjectId");
    let reason = rejects[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("the case already holds this request from `") && reason.contains("PT1H.json` line 1 with RequesterObjectId `obj-1`, where this copy has none"), "{reason}");
    assert_eq!(case.count("storage_events"), 1);

    let output = case.import(&[failed, elsewhere], &[]);
    let rows = summary(&output);
    assert_eq!((rows[0]["imported"].as_i64(), rows[0]["duplicates"].as_i64()), (Some(1), Some(0)), "{rows:?}");
    assert_eq!((rows[1]["imported"].as_i64(), rows[1]["duplicates"].as_i64()), (Some(1), Some(0)), "{rows:?}");
    assert_eq!(case.count("storage_events"), 3);

    // The other order: the fuller copy comes second, is counted as a duplicate, and says so.
    let case = TestCase::new();
    let agreeing = dir.path().join("agreeing.csv");
    assert_eq!(case.import(std::slice::from_ref(&agreeing), &[]).status.code(), Some(0));
    let output = case.import(std::slice::from_ref(&archive), &[]);
    let rows = summary(&output);
    assert_eq!(rows[0]["duplicates"], 1, "{rows:?}");
    let note = rows[0]["notes"][0].as_str().unwrap();
    assert!(note.starts_with("duplicates with more than the copy kept: 1, requests the case already held"), "{note}");
}

/// Log Analytics custom tables (`StorageBlobLogs_CL`, `InteractiveSignIns_CL`) keep the
/// table's name with `_CL` and give each column a type suffix (`_s`, `_d`, `_t`). Both read as
/// the table they copy, and a custom sign-in table's `EventTime` times the sign-in, where
/// `TimeGenerated` is when the file was ingested.
#[test]
fn custom_log_tables_read_as_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("sbl_cl.csv");
    std::fs::write(
        &storage,
        "TimeGenerated [UTC],Type,OperationName_s,StatusText_s,CallerIpAddress_s,Uri_s,RequestBodySize_d\n\
         \"3/2/2026, 12:09:03.319 AM\",StorageBlobLogs_CL,PutBlob,Success,203.0.113.7:50123,https://acct1.blob.core.windows.net/stage/evil.exe,1024\n",
    )
    .unwrap();
    let signins = dir.path().join("si_cl.csv");
    std::fs::write(
        &signins,
        "TimeGenerated [UTC],Type,Username_s,IPAddress_s,Status_s,EventTime_t\n\
         \"3/5/2026, 10:00:00.000 AM\",InteractiveSignIns_CL,eve@contoso.com,203.0.113.7,Success,2026-03-02T00:05:00Z\n",
    )
    .unwrap();
    let case = TestCase::new();
    let output = case.import(&[storage, signins], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stored = case.query("SELECT source_table, operation_name, caller_ip, request_body_size FROM storage_events");
    assert_eq!(stored[0]["source_table"], "StorageBlobLogs");
    assert_eq!(stored[0]["operation_name"], "PutBlob");
    assert_eq!(stored[0]["caller_ip"], "203.0.113.7");
    assert_eq!(stored[0]["request_body_size"], 1024);
    let stored = case.query("SELECT source_table, user_principal_name, created_time::VARCHAR AS created FROM signin_events");
    assert_eq!(stored[0]["source_table"], "SigninLogs");
    assert_eq!(stored[0]["user_principal_name"], "eve@contoso.com");
    assert_eq!(stored[0]["created"], "2026-03-02 00:05:00");
    case.ok(&["hunt", "--quiet"]);
    let findings = case.query("SELECT confidence, attributed_account FROM findings");
    assert_eq!(findings[0]["confidence"], "strong");
    assert_eq!(findings[0]["attributed_account"], "eve@contoso.com");
}
