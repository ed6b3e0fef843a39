//! The input shapes beyond Log Analytics exports: archived resource logs, Event Hub captures,
//! Entra downloads, Graph pages, classic Storage Analytics logs, gzip, zip, folders,
//! overlapping exports and damaged files.

mod common;

use common::{counts, fixture, real_sample, stderr, summary, TestCase};
use serde_json::Value;

/// Imports files and returns the exit code and the JSON summary rows.
fn import(case: &TestCase, names: &[&str], extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let files: Vec<_> = names.iter().map(|n| fixture(n)).collect();
    let output = case.import(&files, extra);
    (output.status.code(), summary(&output))
}

fn one(name: &str) -> (String, String, i64, i64, i64, i64) {
    let case = TestCase::new();
    let (_, rows) = import(&case, &[name], &[]);
    counts(&rows[0])
}

#[test]
fn each_shape_is_recognised() {
    let expected = [
        ("diag_storage.jsonl", "json-lines", "StorageBlobLogs", 2),
        ("eventhub_storage.json", "resource-log-records", "StorageBlobLogs", 2),
        ("diag_storage.jsonl.gz", "gzip json-lines", "StorageBlobLogs", 2),
        ("graph_pages.json", "json-array", "SigninLogs,AADNonInteractiveUserSignInLogs", 3),
        ("graph_value.json", "graph-pages", "SigninLogs,AADNonInteractiveUserSignInLogs", 2),
        ("InteractiveSignIns_2026-03-14_2026-03-15.csv", "portal-csv", "SigninLogs", 2),
        ("storage_analytics.log", "storage-analytics-log", "StorageBlobLogs", 2),
    ];
    for (name, shape, tables, rows) in expected {
        assert_eq!(one(name), (shape.into(), tables.into(), rows, rows, 0, 0), "{name}");
    }
}

#[test]
fn archived_storage_record_is_normalised() {
    let case = TestCase::new();
    import(&case, &["diag_storage.jsonl"], &[]);
    let rows = case.query(
        "SELECT time_generated AS t, caller_ip AS ip, object_path AS p, user_agent AS ua,
                authentication_type AS auth, requester_upn AS upn, account_name AS acct, request_body_size AS size
         FROM storage_events ORDER BY time_generated",
    );
    assert_eq!(rows[0]["t"], "2026-03-14T15:00:10.123456Z");
    assert_eq!(rows[0]["ip"], "198.51.100.40");
    assert_eq!(rows[0]["p"], "/acct/c/plans/roadmap 2026.pptx");
    assert_eq!(rows[0]["auth"], "OAuth");
    assert_eq!(rows[0]["upn"], "olivia@contoso.com");
    assert_eq!(rows[0]["acct"], "acct");
    assert_eq!(rows[0]["size"], 1024);
    assert!(rows[1]["ua"].as_str().unwrap().contains("Edg/145"), "{}", rows[1]["ua"]);
}

#[test]
fn graph_and_download_signins_are_normalised() {
    let case = TestCase::new();
    import(&case, &["graph_pages.json", "InteractiveSignIns_2026-03-14_2026-03-15.csv"], &[]);
    let rows = case.query(
        "SELECT source_table AS tab, user_principal_name AS u, ip, result_type AS r, created_time AS t, app_id AS app
         FROM signin_events ORDER BY created_time, u",
    );
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["u"], "peter@contoso.com");
    assert_eq!(rows[0]["t"], "2026-03-14T15:04:40.100000Z");
    assert_eq!(rows[0]["r"], "0");
    let paula: Vec<&Value> = rows.iter().filter(|r| r["u"] == "paula@contoso.com").collect();
    assert!(paula.iter().all(|r| r["r"] == "50126"), "{paula:?}");
    let quinn = rows.iter().find(|r| r["u"] == "quinn@contoso.com").unwrap();
    assert_eq!(quinn["tab"], "AADNonInteractiveUserSignInLogs");
    let download = rows.iter().find(|r| r["t"] == "2026-03-14T15:04:45.000000Z").unwrap();
    assert_eq!(download["app"], "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "the `Application ID ` header has a trailing space");
}

/// The same sign-in exported from Log Analytics (seven decimals of a second) and in the admin
/// center's download (whole seconds) is stored once, in either order: their request IDs match
/// and their times are less than a second apart. A row with the same ID that states another
/// result is kept beside it, as a file with both rows keeps them; one two seconds away is kept
/// too.
#[test]
fn one_signin_in_two_shapes_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let la = dir.path().join("SigninLogs.jsonl");
    let record = |time: &str, id: &str, upn: &str, result: &str| {
        format!(
            "{{\"TimeGenerated\":\"{time}\",\"CreatedDateTime\":\"{time}\",\"Id\":\"{id}\",\
             \"UserPrincipalName\":\"{upn}\",\"IPAddress\":\"198.51.100.41\",\"ResultType\":\"{result}\",\"Type\":\"SigninLogs\"}}\n"
        )
    };
    // Peter's sign-in with its ID in capitals. The download's second sign-in, paula's (ID
    // ...0002, at 15:04:55, failed with 50126), here succeeded 0.3 s later, and again two
    // seconds later.
    let text = record("2026-03-14T15:04:45.4171234Z", &"99999999-0000-4000-8000-000000000001".to_uppercase(), "peter@contoso.com", "0")
        + &record("2026-03-14T15:04:55.3000000Z", "99999999-0000-4000-8000-000000000002", "paula@contoso.com", "0")
        + &record("2026-03-14T15:04:57.0000000Z", "99999999-0000-4000-8000-000000000002", "paula@contoso.com", "0");
    std::fs::write(&la, text).unwrap();
    let download = fixture("InteractiveSignIns_2026-03-14_2026-03-15.csv");
    for (order, files) in [("la first", [la.clone(), download.clone()]), ("download first", [download.clone(), la.clone()])] {
        let case = TestCase::new();
        for file in &files {
            let output = case.import(std::slice::from_ref(file), &[]);
            assert_eq!(output.status.code(), Some(0), "{order}: {}", stderr(&output));
        }
        let rows = case.query(
            "SELECT lower(signin_id) AS id, count(*) AS n, list(result_type ORDER BY result_type) AS results FROM signin_events
             WHERE lower(signin_id) LIKE '99999999-0000-4000-8000-00000000000%' GROUP BY ALL ORDER BY id",
        );
        assert_eq!(rows[0]["n"], 1, "{order}: {rows:?}");
        assert_eq!(rows[1]["n"], 3, "{order}: {rows:?}");
        assert_eq!(rows[1]["results"], serde_json::json!(["0", "0", "50126"]), "{order}: {rows:?}");
        let counts = case.query("SELECT sum(duplicates)::BIGINT AS d, sum(rejected)::BIGINT AS r FROM sources");
        assert_eq!((counts[0]["d"].as_i64(), counts[0]["r"].as_i64()), (Some(1), Some(0)), "{order}");
    }
}

/// A sign-in with the request ID of one the case holds, less than a second away, that names
/// another user is rejected, naming the copy the case keeps.
#[test]
fn same_signin_id_with_another_user_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let line = |upn: &str| {
        format!(
            "{{\"TimeGenerated\":\"2026-03-14T15:04:55.3000000Z\",\"Id\":\"id-7\",\"UserPrincipalName\":\"{upn}\",\
             \"IPAddress\":\"198.51.100.41\",\"ResultType\":\"0\",\"Type\":\"SigninLogs\"}}\n"
        )
    };
    let first = dir.path().join("first.jsonl");
    std::fs::write(&first, line("paula@contoso.com")).unwrap();
    let second = dir.path().join("second.jsonl");
    std::fs::write(&second, line("peter@contoso.com").replace("55.3000000Z", "55.6000000Z")).unwrap();
    // A copy without a result beside one with a result is another row, and both stay.
    let unstated = dir.path().join("unstated.jsonl");
    std::fs::write(&unstated, line("paula@contoso.com").replace(",\"ResultType\":\"0\"", "")).unwrap();
    let case = TestCase::new();
    assert_eq!(case.import(std::slice::from_ref(&first), &[]).status.code(), Some(0));
    let output = case.import(std::slice::from_ref(&unstated), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary(&output)[0]["imported"], 1);
    let output = case.import(std::slice::from_ref(&second), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let rejects = case.query("SELECT column_name, value, reason FROM rejects");
    assert_eq!(rejects[0]["column_name"], "UserPrincipalName");
    assert_eq!(rejects[0]["value"], "peter@contoso.com");
    let reason = rejects[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("the case already holds this sign-in (the same request ID, less than a second apart) from `"), "{reason}");
    assert!(reason.contains("with UserPrincipalName `paula@contoso.com`, where this copy has `peter@contoso.com`"), "{reason}");
}

#[test]
fn storage_analytics_fields_are_decoded() {
    let case = TestCase::new();
    import(&case, &["storage_analytics.log"], &[]);
    let rows = case.query(
        "SELECT operation_name AS op, status_text AS s, object_path AS p, caller_ip AS ip, line,
                authentication_type AS auth, raw->>'$.fields.AuthenticationType' AS raw_auth
         FROM storage_events ORDER BY line",
    );
    assert_eq!(rows[0]["op"], "PutBlob");
    assert_eq!(rows[0]["s"], "SASSuccess");
    assert_eq!(rows[0]["p"], "/acct/c/classic one.txt");
    assert_eq!(rows[0]["ip"], "198.51.100.43");
    assert_eq!(rows[1]["line"], 2);
    // The resource logs' names for `sas` and `authenticated`. `raw` keeps the classic value.
    assert_eq!(rows[0]["auth"], "SAS");
    assert_eq!(rows[1]["auth"], "AccountKey");
    assert_eq!(rows[0]["raw_auth"], "sas");
}

#[test]
fn classic_queue_and_table_records_are_rejected() {
    let case = TestCase::new();
    let blob = std::fs::read_to_string(fixture("storage_analytics.log")).unwrap();
    let first = blob.lines().next().unwrap();
    // The fixture's first request, as the queue and the table services would log it.
    let text = format!("{first}\n{}\n{}\n", first.replacen(";blob;", ";queue;", 1), first.replacen(";blob;", ";table;", 1));
    let path = case.root.path().join("000001.log");
    std::fs::write(&path, text).unwrap();
    let output = case.import(&[path], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let rejects = case.query("SELECT line, column_name AS c, value AS v, reason FROM rejects ORDER BY line");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert_eq!((rejects[0]["line"].as_i64(), rejects[0]["c"].as_str(), rejects[0]["v"].as_str()), (Some(2), Some("ServiceType"), Some("queue")));
    assert_eq!(rejects[1]["reason"], "a table service record: the case holds blob and file service logs");
    assert_eq!(case.count("storage_events"), 1);
}

#[test]
fn zip_members_are_sources_of_their_own() {
    let case = TestCase::new();
    let (code, rows) = import(&case, &["exports.zip"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["path"].as_str().unwrap().ends_with("exports.zip!/exports/api_blob.json"), "{}", rows[0]["path"]);
    let sources = case.json(&["sources", "--format", "json"]);
    assert_eq!(sources.as_array().unwrap().len(), 2);
    let member = std::fs::read(fixture("api_blob.json")).unwrap();
    let expected = sha256_hex(&member);
    assert_eq!(sources[0]["sha256"], expected.as_str(), "a member's hash is of its own bytes");
    // The archive's own hash is in each member's summary and so in the audit trail.
    let archive = sha256_hex(&std::fs::read(fixture("exports.zip")).unwrap());
    for row in &rows {
        assert_eq!(row["container_sha256"], archive.as_str(), "{row}");
        assert_eq!((row["reader"].as_str(), row["reader_note"].as_str()), (Some("streaming"), Some("a member of a zip archive, which only the streaming reader reads")));
    }
    let log = case.json(&["log", "--format", "json"]);
    let recorded = log.as_array().unwrap().iter().any(|record| record.to_string().contains(&archive));
    assert!(recorded, "{log}");
    // The inventory keeps it beside each member too: `sources` and the bundle's sources.csv.
    for source in sources.as_array().unwrap() {
        assert_eq!(source["container_sha256"], archive.as_str(), "{source}");
    }
    let csv = case.ok(&["sources", "--format", "csv"]);
    assert!(csv.lines().next().unwrap().ends_with(",archive sha256"), "{csv}");
    assert!(csv.lines().nth(1).unwrap().ends_with(&format!(",{archive}")), "{csv}");
}

/// SHA-256 by an independent route: the system's sha256sum.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn overlapping_exports_are_stored_once() {
    let case = TestCase::new();
    let (_, rows) = import(&case, &["diag_storage.jsonl", "eventhub_storage.json", "diag_storage.jsonl.gz"], &[]);
    assert_eq!(counts(&rows[0]).3, 2);
    assert_eq!((counts(&rows[1]).3, counts(&rows[1]).5), (1, 1), "one new record, one seen before");
    assert_eq!((counts(&rows[2]).3, counts(&rows[2]).5), (0, 2), "the gzip copy holds nothing new");
    assert_eq!(case.count("storage_events"), 3);
    let sources = case.json(&["sources", "--format", "json"]);
    assert_eq!(sources[1]["duplicates"], 1);
}

/// A gzip file cut off in the middle, as an interrupted download leaves it, keeps the records
/// decompressed before the cut, and one rejected record states the cut.
#[test]
fn cut_off_gzip_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.jsonl.gz");
    let script = "import gzip, json, random, sys\n\
                  random.seed(7)\n\
                  lines = ''.join(json.dumps({'TimeGenerated': '2026-04-12T15:%02d:%02dZ' % (n // 60 % 60, n % 60),\n\
                  \x20   'OperationName': 'PutBlob', 'StatusText': 'Success', 'Type': 'StorageBlobLogs',\n\
                  \x20   'Uri': 'https://acct.blob.core.windows.net/c/%d-%x.bin' % (n, random.getrandbits(64)),\n\
                  \x20   'CallerIpAddress': '203.0.113.9:%d' % (1000 + n)}) + '\\n' for n in range(3000))\n\
                  data = gzip.compress(lines.encode())\n\
                  open(sys.argv[1], 'wb').write(data[: len(data) // 2])";
    let made = std::process::Command::new("python3").args(["-c", script]).arg(&path).status().unwrap();
    assert!(made.success());

    let case = TestCase::new();
    let output = case.import(&[path], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let imported = case.count("storage_events");
    assert!(imported > 500, "{imported} imported");
    assert!(imported < 3000, "{imported} imported");
    let reasons = case.query("SELECT reason FROM rejects ORDER BY record_no");
    assert!(
        reasons.iter().any(|r| r["reason"].as_str().unwrap().starts_with("the gzip data ends inside a compressed block")),
        "{reasons:?}"
    );
}

/// Event Hub Capture files (Avro, written here by fastavro) contain the same records as the JSON
/// capture: each body is a `{"records":[...]}` document, and line N is the file's event N.
#[test]
fn event_hub_capture_avro_is_read() {
    for name in ["eventhub_capture.avro", "eventhub_capture_null_codec.avro"] {
        let case = TestCase::new();
        let (code, rows) = import(&case, &[name, "eventhub_storage.json"], &[]);
        assert_eq!(code, Some(0), "{name}");
        assert_eq!(counts(&rows[0]), ("avro resource-log-records".into(), "StorageBlobLogs".into(), 2, 2, 0, 0), "{name}");
        // The JSON capture contains the same two records, so both are duplicates.
        assert_eq!((counts(&rows[1]).3, counts(&rows[1]).5), (0, 2), "{name}");
        let stored = case.query("SELECT record_no, line, object_path AS p FROM storage_events ORDER BY record_no");
        assert_eq!(stored.len(), 2, "{name}");
        assert_eq!((stored[0]["record_no"].as_i64(), stored[0]["line"].as_i64()), (Some(1), Some(1)), "{name}");
        assert_eq!(stored[0]["p"], "/acct/c/tools/pd.exe", "{name}");
        // The second event has no body, and the third contains the second record.
        assert_eq!((stored[1]["record_no"].as_i64(), stored[1]["line"].as_i64()), (Some(2), Some(3)), "{name}");
    }
}

/// Diagnostic settings of a storage account and of Entra ID may send to one event hub, so one
/// capture or archive mixes storage and sign-in records. Each record's `category` decides its
/// table, whichever family comes first.
#[test]
fn mixed_storage_and_signin_records_are_split() {
    let storage = std::fs::read_to_string(fixture("diag_storage.jsonl")).unwrap();
    let storage: Vec<&str> = storage.lines().collect();
    let signin = r#"{"time":"2026-03-14T15:04:30Z","category":"SignInLogs","operationName":"Sign-in activity","resultType":"0","callerIpAddress":"198.51.100.41","properties":{"createdDateTime":"2026-03-14T15:04:30Z","userPrincipalName":"mallory@contoso.com","userId":"00000000-0000-0000-0000-0000000000aa","ipAddress":"198.51.100.41","appDisplayName":"Azure Portal","status":{"errorCode":0}}}"#;
    let dir = tempfile::tempdir().unwrap();
    for (name, lines) in [("storage_first.json", [storage[0], signin, storage[1]]), ("signin_first.json", [signin, storage[0], storage[1]])] {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let case = TestCase::new();
        let output = case.import(&[path], &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        let rows = summary(&output);
        assert_eq!(rows[0]["tables"], serde_json::json!(["StorageBlobLogs", "SigninLogs"]), "{name}");
        assert_eq!((case.count("storage_events"), case.count("signin_events")), (2, 1), "{name}");

        // mallory signed in from the SAS upload's address 30 s before it.
        case.ok(&["hunt"]);
        let findings = case.json(&["findings", "--format", "json", "--file-contains", "pd.exe"]);
        assert_eq!(findings[0]["candidates"][0]["account"], "mallory@contoso.com", "{name}");
    }
}

/// An event hub or archive that carries sign-ins often carries Entra ID audit logs and other
/// resources' logs too. Such a record is rejected with its category, wherever it comes in the
/// file, and the records around it are imported. So is a row of a `union` export whose `Type`
/// names another table, and a metric record.
#[test]
fn records_of_other_logs_are_rejected() {
    let storage = std::fs::read_to_string(fixture("diag_storage.jsonl")).unwrap();
    let storage: Vec<&str> = storage.lines().collect();
    let signin = r#"{"time":"2026-03-14T15:04:30Z","category":"SignInLogs","operationName":"Sign-in activity","callerIpAddress":"198.51.100.41","properties":{"createdDateTime":"2026-03-14T15:04:30Z","userPrincipalName":"mallory@contoso.com","ipAddress":"198.51.100.41","status":{"errorCode":0}}}"#;
    let audit = r#"{"time":"2026-03-14T15:04:40Z","category":"AuditLogs","operationName":"Add member to role","callerIpAddress":"198.51.100.41","resultType":"0","properties":{"userPrincipalName":"eve@contoso.com","ipAddress":"198.51.100.41"}}"#;
    let dir = tempfile::tempdir().unwrap();
    for (name, lines) in [("audit_first.json", [audit, signin, storage[1]]), ("audit_last.json", [storage[1], signin, audit])] {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let case = TestCase::new();
        let output = case.import(&[path], &[]);
        assert_eq!(output.status.code(), Some(3), "{name}: {}", stderr(&output));
        assert_eq!((case.count("storage_events"), case.count("signin_events")), (1, 1), "{name}");
        let rejects = case.query("SELECT line, column_name, value, reason FROM rejects");
        assert_eq!(rejects.len(), 1, "{name}");
        assert_eq!((rejects[0]["column_name"].as_str(), rejects[0]["value"].as_str()), (Some("category"), Some("AuditLogs")), "{name}");
        assert!(rejects[0]["reason"].as_str().unwrap().starts_with("a record of the `AuditLogs` category, which blobtrail does not read"), "{name}");
    }

    let union = dir.path().join("union.json");
    std::fs::write(
        &union,
        "{\"TimeGenerated\":\"2026-03-14T15:04:30Z\",\"UserPrincipalName\":\"mallory@contoso.com\",\"IPAddress\":\"198.51.100.41\",\"ResultType\":\"0\",\"Type\":\"SigninLogs\"}\n\
         {\"TimeGenerated\":\"2026-03-14T15:04:40Z\",\"UserPrincipalName\":\"eve@contoso.com\",\"IPAddress\":\"198.51.100.41\",\"ResultType\":\"0\",\"Type\":\"AuditLogs\"}\n",
    )
    .unwrap();
    let case = TestCase::new();
    let output = case.import(std::slice::from_ref(&union), &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(case.count("signin_events"), 1);
    let rejects = case.query("SELECT line, reason FROM rejects");
    assert_eq!(rejects[0]["line"], 2);
    assert!(rejects[0]["reason"].as_str().unwrap().starts_with("a record of the `AuditLogs` table"), "{rejects:?}");

    // The same records in the other order: the file does not fail because the other table
    // comes first.
    let text = std::fs::read_to_string(&union).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&union, format!("{}\n{}\n", lines[1], lines[0])).unwrap();
    let case = TestCase::new();
    let output = case.import(&[union], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(case.count("signin_events"), 1);

    // A metric record, which a diagnostic setting sends beside the logs, has no category.
    let metric = r#"{"count":1,"total":1024,"minimum":1024,"maximum":1024,"average":1024,"resourceId":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct","time":"2026-03-14T15:00:00.0000000Z","metricName":"Transactions","timeGrain":"PT1M"}"#;
    let metrics = dir.path().join("metrics.json");
    std::fs::write(&metrics, format!("{metric}\n{}\n{metric}\n", storage[1])).unwrap();
    let case = TestCase::new();
    let output = case.import(&[metrics], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 1);
    let rejects = case.query("SELECT reason FROM rejects");
    assert_eq!(rejects.len(), 2);
    assert_eq!(rejects[0]["reason"], "an Azure Monitor metric record (`Transactions`), not a log record");

    // A first record that is no log record at all is rejected with the columns it has, not
    // the whole file.
    let odd_first = dir.path().join("odd_first.json");
    std::fs::write(&odd_first, format!("{{\"msg\":\"hello\",\"level\":\"info\"}}\n{}\n{}\n", storage[0], storage[1])).unwrap();
    let case = TestCase::new();
    let output = case.import(&[odd_first], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 2);
    let rejects = case.query("SELECT line, reason FROM rejects");
    assert_eq!(rejects[0]["line"], 1);
    assert!(rejects[0]["reason"].as_str().unwrap().starts_with("not a log export blobtrail can read: columns found: msg, level"), "{rejects:?}");

    // After readable records, the same object sits under the storage header (the union of the
    // keys seen): its reason names what it is, not the time it lacks. A CSV row with no
    // value at all reads the same way.
    let odd_later = dir.path().join("odd_later.json");
    std::fs::write(&odd_later, format!("{}\n{{\"msg\":\"hello\",\"level\":\"info\"}}\n{}\n", storage[0], storage[1])).unwrap();
    let case = TestCase::new();
    let output = case.import(&[odd_later], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 2);
    let rejects = case.query("SELECT line, reason FROM rejects");
    assert_eq!(rejects[0]["line"], 2);
    assert_eq!(
        rejects[0]["reason"],
        "not a storage or sign-in log record: it has values only in msg, level, and none in the columns of a storage \
         request (operation, caller, object) or a sign-in (address, user, service principal)"
    );
    let blank = dir.path().join("blank_row.csv");
    std::fs::write(
        &blank,
        "TimeGenerated,AccountName,OperationName,StatusText,Uri,CallerIpAddress\n\
         2026-03-14T15:00:10Z,acct,PutBlob,Success,https://acct.blob.core.windows.net/c/a.txt,198.51.100.7:1\n\
         ,,,,,\n",
    )
    .unwrap();
    let case = TestCase::new();
    let output = case.import(&[blank], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let rejects = case.query("SELECT line, reason FROM rejects");
    assert_eq!(rejects[0]["line"], 3);
    assert!(rejects[0]["reason"].as_str().unwrap().starts_with("not a storage or sign-in log record: it has no value at all,"), "{rejects:?}");

    // The same in a CSV that DuckDB's reader takes, and with either reader; a table restored
    // from long-term retention (`_RST`) counts as its table.
    let csv = dir.path().join("metrics.csv");
    std::fs::write(
        &csv,
        "TimeGenerated,AccountName,OperationName,StatusText,Uri,CallerIpAddress,MetricName,Type\n\
         2026-03-14T15:00:10Z,acct,PutBlob,Success,https://acct.blob.core.windows.net/c/a.txt,198.51.100.7:1,,StorageBlobLogs_RST\n\
         2026-03-14T15:01:00Z,,,,,,Transactions,\n",
    )
    .unwrap();
    for reader in ["auto", "streaming"] {
        let case = TestCase::new();
        let output = case.import(std::slice::from_ref(&csv), &["--reader", reader]);
        assert_eq!(output.status.code(), Some(3), "{reader}: {}", stderr(&output));
        assert_eq!(case.count("storage_events"), 1, "{reader}");
        let rejects = case.query("SELECT reason FROM rejects");
        assert_eq!(rejects[0]["reason"], "an Azure Monitor metric record (`Transactions`), not a log record", "{reader}");
    }
}

/// SIEM exports keep each log record whole as JSON text: Splunk in `_raw` (a CSV column, or
/// under `result` in its JSON export), Elastic in `event.original`. The record inside is
/// imported, with the export's row as its raw text.
#[test]
fn siem_exports_are_unwrapped() {
    let storage = std::fs::read_to_string(fixture("diag_storage.jsonl")).unwrap();
    let storage: Vec<&str> = storage.lines().collect();
    let signin = r#"{"time":"2026-03-14T15:04:30Z","category":"SignInLogs","operationName":"Sign-in activity","callerIpAddress":"198.51.100.41","properties":{"createdDateTime":"2026-03-14T15:04:30Z","userPrincipalName":"mallory@contoso.com","userId":"00000000-0000-0000-0000-0000000000aa","ipAddress":"198.51.100.41","status":{"errorCode":0}}}"#;
    let dir = tempfile::tempdir().unwrap();
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let splunk_csv = dir.path().join("splunk.csv");
    let mut csv = String::from("\"_time\",host,sourcetype,\"_raw\"\r\n");
    for line in &storage {
        csv.push_str(&format!("\"2026-03-14T15:00:10.000+00:00\",eh,\"azure:eventhub\",{}\r\n", quote(line)));
    }
    std::fs::write(&splunk_csv, csv).unwrap();
    let splunk_json = dir.path().join("splunk.json");
    let result = serde_json::json!({"preview": false, "result": {"_time": "2026-03-14T15:04:30.000+00:00", "_raw": signin}});
    std::fs::write(&splunk_json, format!("{result}\n")).unwrap();
    let elastic = dir.path().join("elastic.ndjson");
    let document = serde_json::json!({"@timestamp": "2026-03-14T15:04:30Z", "event": {"original": storage[1], "dataset": "azure.eventhub"}});
    std::fs::write(&elastic, format!("{document}\n")).unwrap();

    let case = TestCase::new();
    let output = case.import(&[splunk_csv, splunk_json, elastic], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = summary(&output);
    let imported: Vec<(i64, i64)> = rows.iter().map(|row| (counts(row).3, counts(row).5)).collect();
    // The Elastic copy of the second storage record is a duplicate of the Splunk one.
    assert_eq!(imported, [(2, 0), (1, 0), (0, 1)]);
    let stored = case.query("SELECT object_path AS p, caller_ip AS ip, raw FROM storage_events ORDER BY time_generated");
    assert_eq!(stored[1]["p"], "/acct/c/tools/pd.exe");
    assert_eq!(stored[1]["ip"], "198.51.100.41");
    assert!(stored[1]["raw"].as_str().unwrap().contains("azure:eventhub"), "{}", stored[1]["raw"]);

    case.ok(&["hunt"]);
    let findings = case.json(&["findings", "--format", "json", "--file-contains", "pd.exe"]);
    assert_eq!(findings[0]["candidates"][0]["account"], "mallory@contoso.com");

    // A row without the record (Splunk's leading messages line, an Elastic document that did
    // not keep the original event) is rejected, and the rows after it are still read.
    let lines = dir.path().join("lines.ndjson");
    let bare = serde_json::json!({"@timestamp": "2026-03-14T15:00:00Z", "event": {"dataset": "azure.eventhub"}});
    let messages = serde_json::json!({"preview": false, "messages": [{"type": "INFO", "text": "search finished"}]});
    std::fs::write(&lines, format!("{messages}\n{bare}\n{document}\n")).unwrap();
    let other = TestCase::new();
    let output = other.import(&[lines], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert_eq!(other.count("storage_events"), 1);
    let rejects = other.query("SELECT line, reason FROM rejects ORDER BY line");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(rejects[1]["reason"].as_str().unwrap().starts_with("a row of a SIEM export without the log record"), "{rejects:?}");

    // Fields that Splunk extracted may look like a log table's but leave out what the record
    // has, so `_raw` is read whenever it is there: here the storage record's requester.
    let extracted = dir.path().join("extracted.csv");
    let record: serde_json::Value = serde_json::from_str(storage[0]).unwrap();
    let fields = format!(
        "{},{},{},{}",
        record["time"].as_str().unwrap(),
        record["operationName"].as_str().unwrap(),
        record["callerIpAddress"].as_str().unwrap(),
        record["uri"].as_str().unwrap()
    );
    std::fs::write(&extracted, format!("time,operationName,callerIpAddress,uri,_raw\n{fields},{}\n", quote(storage[0]))).unwrap();
    let other = TestCase::new();
    let output = other.import(&[extracted], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(other.query("SELECT requester_upn FROM storage_events")[0]["requester_upn"], "olivia@contoso.com");

    // An event hub message in `_raw` (`{"records":[...]}`, also under `body`) gives each record.
    let messages = dir.path().join("messages.csv");
    let message = format!("{{\"records\":[{},{}]}}", storage[0], storage[1]);
    let envelope = format!("{{\"body\":{{\"records\":[{signin}]}},\"x-opt-sequence-number\":1}}");
    std::fs::write(&messages, format!("_time,_raw\n2026-03-14,{}\n2026-03-14,{}\n", quote(&message), quote(&envelope))).unwrap();
    let other = TestCase::new();
    let output = other.import(&[messages], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!((other.count("storage_events"), other.count("signin_events")), (2, 1));

    // A row whose `_raw` is not a JSON object is rejected with the column named.
    let broken = dir.path().join("broken.csv");
    std::fs::write(&broken, format!("_time,_raw\n2026-03-14,{}\n2026-03-14,not json\n", quote(storage[0]))).unwrap();
    let other = TestCase::new();
    let output = other.import(&[broken], &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let rejects = other.query("SELECT column_name, reason FROM rejects");
    assert_eq!(rejects[0]["column_name"], "_raw");
    assert_eq!(rejects[0]["reason"], "the `_raw` column does not hold a log record as a JSON object");
}

/// A capture file cut inside a block keeps the events of the blocks before it, and a rejected
/// record states the cut. A capture window without events imports no rows.
#[test]
fn cut_and_empty_avro_captures() {
    let case = TestCase::new();
    let (code, rows) = import(&case, &["eventhub_capture_cut.avro"], &[]);
    assert_eq!(code, Some(3));
    assert_eq!(counts(&rows[0]).3, 1);
    let reasons = case.query("SELECT reason FROM rejects");
    assert!(reasons[0]["reason"].as_str().unwrap().starts_with("the Avro file ends inside a block of events"), "{reasons:?}");

    // One event whose body is cut inside its JSON is rejected by its number, and the events
    // after it are still read.
    let bad = TestCase::new();
    let (code, rows) = import(&bad, &["eventhub_capture_bad_body.avro"], &[]);
    assert_eq!(code, Some(3));
    assert_eq!((counts(&rows[0]).3, counts(&rows[0]).4), (2, 1));
    let rejected = bad.query("SELECT line, reason FROM rejects WHERE reason LIKE 'event%'");
    assert_eq!(rejected[0]["line"], 2);
    assert!(rejected[0]["reason"].as_str().unwrap().starts_with("event 2: the body is not valid JSON"), "{rejected:?}");

    let (code, rows) = import(&case, &["eventhub_capture_empty.avro"], &[]);
    assert_eq!(code, Some(0));
    assert_eq!((rows[0]["shape"].as_str(), rows[0]["records"].as_i64()), (Some("avro (no events)"), Some(0)));
}

/// One SAS request exported by resource logs (`Success`) and by classic Storage Analytics
/// logging (`SASSuccess`) is one storage event: the second copy counts as a duplicate.
#[test]
fn classic_and_resource_log_copies_are_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let resource = dir.path().join("resource.jsonl");
    std::fs::write(
        &resource,
        r#"{"Type": "StorageBlobLogs", "TimeGenerated": "2026-03-14T12:00:00.4617505Z", "AccountName": "acct", "OperationName": "PutBlob", "AuthenticationType": "SAS", "StatusCode": "201", "StatusText": "Success", "Uri": "https://acct.blob.core.windows.net/b8/x.exe?sig=XXXXX", "CallerIpAddress": "198.51.100.121:50001", "CorrelationId": "cd86c75d-8279-597a-8afd-de4eddd60017", "UserAgentHeader": "AzCopy/10.0", "ServiceType": "blob", "RequestBodySize": 100, "ObjectKey": "/acct/b8/x.exe", "ClientRequestId": "4bc3aaea-c496-5197-a6ce-142ef06f801c"}
"#,
    )
    .unwrap();
    let classic = dir.path().join("000000.log");
    std::fs::write(
        &classic,
        "2.0;2026-03-14T12:00:00.4617505Z;PutBlob;SASSuccess;201;26;22;sas;;acct;blob;\
         \"https://acct.blob.core.windows.net/b8/x.exe?sig=XXXXX\";\"/acct/b8/x.exe\";cd86c75d-8279-597a-8afd-de4eddd60017;0;\
         198.51.100.121:50001;2021-06-08;500;100;300;0;100;;\"md5==\";\"0x8D0000\";Saturday, 14-Mar-26 12:00:00 GMT;;\
         \"AzCopy/10.0\";;4bc3aaea-c496-5197-a6ce-142ef06f801c;;;;;;;;\n",
    )
    .unwrap();
    let case = TestCase::new();
    let output = case.import(&[resource, classic], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = summary(&output);
    assert_eq!(rows[1]["shape"], "storage-analytics-log");
    assert_eq!((counts(&rows[1]).3, counts(&rows[1]).5), (0, 1), "{rows:?}");
    assert_eq!(case.count("storage_events"), 1);
}

/// An export of a period with no records is valid. An empty JSON array, an empty Graph page
/// (the last page of a listing often is one) and an Event Hub capture with no records each
/// import as a source with no rows.
#[test]
fn empty_json_exports_import_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("array.json", "[]\n"),
        ("graph.json", r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns","value":[]}"#),
        ("eventhub.json", r#"{"records": []}"#),
    ];
    let paths: Vec<_> = files
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let case = TestCase::new();
    let output = case.import(&paths, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows = summary(&output);
    let shapes: Vec<&str> = rows.iter().map(|row| row["shape"].as_str().unwrap()).collect();
    assert_eq!(shapes, ["json-array", "graph-pages", "resource-log-records"]);
    assert!(rows.iter().all(|row| row["records"] == 0), "{rows:?}");
    assert_eq!(case.count("sources"), 3);
}

/// Zero bytes after the last gzip member, as block-sized copies leave them, are ignored as
/// GNU gzip ignores them. Other bytes there fail the file with their offset.
#[test]
fn gzip_zero_padding_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let compressed = std::fs::read(fixture("diag_storage.jsonl.gz")).unwrap();
    let padded = dir.path().join("padded.jsonl.gz");
    std::fs::write(&padded, [compressed.as_slice(), &[0u8; 4096]].concat()).unwrap();
    let damaged = dir.path().join("damaged.jsonl.gz");
    std::fs::write(&damaged, [compressed.as_slice(), b"\0\0junk"].concat()).unwrap();

    let case = TestCase::new();
    let output = case.import(&[padded], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(counts(&summary(&output)[0]).3, 2);

    let output = case.import(&[damaged], &[]);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!("from byte offset {} on", compressed.len() + 2);
    assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
}

#[test]
fn damaged_json_lines_keep_what_is_sound() {
    let (shape, _, read, imported, rejected, _) = one("damaged_lines.jsonl");
    assert_eq!(shape, "json-lines");
    assert_eq!((read, imported, rejected), (4, 2, 2));
}

#[test]
fn cut_json_array_keeps_complete_records() {
    let case = TestCase::new();
    let (code, rows) = import(&case, &["damaged_array.json"], &[]);
    assert_eq!(code, Some(3));
    assert_eq!((counts(&rows[0]).2, counts(&rows[0]).3, counts(&rows[0]).4), (3, 2, 1));
    let rejects = case.query("SELECT record_no, reason FROM rejects");
    assert_eq!(rejects[0]["record_no"], 3);
    assert!(rejects[0]["reason"].as_str().unwrap().contains("cut off"));
}

#[test]
fn damaged_csv_rejects_each_kind() {
    let case = TestCase::new();
    let (code, rows) = import(&case, &["damaged.csv"], &[]);
    assert_eq!(code, Some(3));
    assert_eq!((counts(&rows[0]).2, counts(&rows[0]).3, counts(&rows[0]).4), (5, 2, 3));
    let rejects = case.query("SELECT line, reason FROM rejects ORDER BY line");
    assert_eq!(rejects[0]["line"], 3);
    assert_eq!(rejects[0]["reason"], "expected 6 fields, found 4");
    assert_eq!(rejects[1]["line"], 4);
    assert!(rejects[1]["reason"].as_str().unwrap().contains("not valid UTF-8"));
    assert_eq!(rejects[2]["line"], 6);
}

#[test]
fn strict_rejects_damaged_file_whole() {
    let case = TestCase::new();
    let (code, rows) = import(&case, &["damaged_array.json"], &["--strict"]);
    assert_eq!(code, Some(1));
    assert_eq!(rows[0]["status"], "failed, case unchanged");
    assert_eq!(case.count("storage_events"), 0);
}

#[test]
fn folder_import_lists_unrecognised_files() {
    let case = TestCase::new();
    let folder = case.root.path().join("evidence");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::copy(fixture("diag_storage.jsonl"), folder.join("sub/PT1H.json")).unwrap();
    std::fs::write(folder.join("notes.txt"), "analyst notes, not a log\n").unwrap();
    let output = case.import(&[folder], &[]);
    assert_eq!(output.status.code(), Some(1), "an unrecognised file makes the run fail");
    let rows: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows.as_array().unwrap().iter().any(|r| r["path"].as_str().unwrap().ends_with("notes.txt") && r["status"] == "failed, case unchanged"));
    assert_eq!(case.count("storage_events"), 2);
}

#[test]
fn sources_show_coverage_and_gaps() {
    let case = TestCase::new();
    import(&case, &["portal_blob.csv", "api_signin.json"], &[]);
    let coverage = case.json(&["sources", "--coverage", "--format", "json"]);
    let blob = coverage.as_array().unwrap().iter().find(|t| t["table"] == "StorageBlobLogs").unwrap();
    assert_eq!(blob["records"], 8);
    assert_eq!(blob["first_time"], "2026-03-14T10:01:00.000000Z");
    assert_eq!(blob["gaps"].as_array().unwrap().len(), 0);
}

#[test]
fn every_real_sample_imports_or_is_explained() {
    // Checked by hand against SOURCES.md: which files are logs of these tables.
    let expected = [
        ("azure-sentinel/sign-in_adelete.first10.csv", Some(10)),
        ("elastic-integrations/test-non-interactive-user-sample.first6.log", Some(6)),
        ("elastic-integrations/test-service-principal-signinlogs-sample.log", Some(7)),
        ("elastic-integrations/test-signinlogs-raw.log", Some(4)),
        // Two blob requests; the queue and table requests are rejected with their reason.
        ("microsoft-docs/storage-analytics-logging.examples.log", Some(2)),
        ("dynatrace-fork/log.json", Some(1)),
        ("azure-sentinel/signinLogs.csv", None),
        ("msticpy/az_mon_raw_query.json", None),
        ("otrf-security-datasets/AADAuditEvents.json", None),
        ("azure-sentinel/kqlvalidation-StorageBlobLogs.json", None),
    ];
    for (name, imported) in expected {
        let Some(path) = real_sample(name) else { return };
        let case = TestCase::new();
        let output = case.import(&[path], &[]);
        let rows: Value = serde_json::from_slice(&output.stdout).unwrap();
        match imported {
            Some(n) => assert_eq!(rows[0]["imported"].as_i64(), Some(n), "{name}: {}", stderr(&output)),
            None => {
                assert_eq!(output.status.code(), Some(1), "{name}");
                let message = stderr(&output);
                assert!(message.contains("column"), "{name}: {message}");
            }
        }
    }
}

#[test]
fn mixed_tables_in_one_file_are_read_by_type() {
    // An export of `union StorageBlobLogs, AADNonInteractiveUserSignInLogs`: rows of both
    // families, interleaved, each naming its table in `Type`.
    let case = TestCase::new();
    let blob = std::fs::read_to_string(fixture("lines_blob.jsonl")).unwrap();
    let signin = std::fs::read_to_string(fixture("lines_signin.jsonl")).unwrap();
    let mut mixed = String::new();
    for (b, s) in blob.lines().zip(signin.lines()) {
        mixed.push_str(b);
        mixed.push('\n');
        mixed.push_str(s);
        mixed.push('\n');
    }
    let path = case.root.path().join("union.jsonl");
    std::fs::write(&path, mixed).unwrap();
    let output = case.import(&[path], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(case.count("storage_events"), 3);
    assert_eq!(case.count("signin_events"), 3);
    assert_eq!(case.count("rejects"), 0);
}

/// A Parquet file of the same rows (written here by DuckDB's Python package from the JSON
/// lines fixtures, with times as Parquet timestamps) stores the same values as the JSON lines,
/// row for row; its hash is the file's, and its shape names Parquet.
#[test]
fn parquet_rows_read_like_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["lines_blob", "lines_signin"] {
        let parquet = dir.path().join(format!("{name}.parquet"));
        // Times that read_json leaves as text (seven decimals) become timestamps too.
        let script = "import sys, duckdb\n\
                      c = duckdb.connect()\n\
                      c.sql(f\"CREATE TABLE t AS SELECT * FROM read_json('{sys.argv[1]}')\")\n\
                      for (name, kind) in c.sql(\"SELECT column_name, column_type FROM (DESCRIBE t)\").fetchall():\n\
                      \x20   if name in ('TimeGenerated', 'CreatedDateTime') and kind == 'VARCHAR':\n\
                      \x20       c.sql(f\"ALTER TABLE t ALTER {name} TYPE TIMESTAMP USING CAST(rtrim({name}, 'Z') AS TIMESTAMP)\")\n\
                      c.sql(f\"COPY t TO '{sys.argv[2]}' (FORMAT parquet)\")";
        let made = std::process::Command::new("python3").args(["-c", script]).arg(fixture(&format!("{name}.jsonl"))).arg(&parquet).output().unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let types = std::process::Command::new("python3")
            .args(["-c", "import sys, duckdb; print(duckdb.sql(f\"SELECT typeof(TimeGenerated) FROM read_parquet('{sys.argv[1]}') LIMIT 1\").fetchall()[0][0])"])
            .arg(&parquet)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&types.stdout).starts_with("TIMESTAMP"), "{name}: the times are Parquet timestamps");

        let (json_case, parquet_case) = (TestCase::new(), TestCase::new());
        assert_eq!(json_case.import(&[fixture(&format!("{name}.jsonl"))], &[]).status.code(), Some(0));
        let output = parquet_case.import(std::slice::from_ref(&parquet), &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        let row = &summary(&output)[0];
        assert_eq!(row["shape"], "parquet json-lines", "{name}");
        assert_eq!(row["sha256"].as_str().unwrap(), common::sha256_of(&parquet), "{name}");
        let table = if name == "lines_blob" { "storage_events" } else { "signin_events" };
        // `time_raw` keeps the text read: the export's own, or the time as the Parquet reader writes it.
        let rows = |case: &TestCase| case.query(&format!("SELECT * EXCLUDE (source_id, raw, time_raw) FROM {table} ORDER BY record_no"));
        let (from_json, from_parquet) = (rows(&json_case), rows(&parquet_case));
        assert!(!from_json.is_empty());
        assert_eq!(from_json, from_parquet, "{name}");
        let raw = parquet_case.query(&format!("SELECT time_raw FROM {table} ORDER BY record_no LIMIT 1"));
        let time = raw[0]["time_raw"].as_str().unwrap();
        assert_eq!(time.len(), 27, "{name}: {raw:?}");
        assert_eq!(time.as_bytes()[10], b'T', "{name}: {raw:?}");
        assert!(time.ends_with('Z'), "{name}: {raw:?}");
    }

    // A gzip of a Parquet file is refused with what to do: DuckDB reads Parquet from disk.
    let gzipped = dir.path().join("lines_blob.parquet.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &std::fs::read(dir.path().join("lines_blob.parquet")).unwrap()).unwrap();
    std::fs::write(&gzipped, encoder.finish().unwrap()).unwrap();
    let output = TestCase::new().import(&[gzipped], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("a Parquet file inside a zip archive or gzip stream"), "{}", stderr(&output));

    // Parquet keeps text in UTF-8, so `--encoding windows-1252` (for Excel's CSV) leaves it be.
    let accented = dir.path().join("accented.parquet");
    let script = "import sys, duckdb\n\
                  duckdb.sql(f\"COPY (SELECT * REPLACE ('Agent \u{fc}' AS UserAgentHeader) FROM read_parquet('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet)\")";
    let made = std::process::Command::new("python3").args(["-c", script]).arg(dir.path().join("lines_blob.parquet")).arg(&accented).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let case = TestCase::new();
    let output = case.import(&[accented], &["--encoding", "windows-1252"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(case.query("SELECT DISTINCT user_agent FROM storage_events")[0]["user_agent"], "Agent \u{fc}");
}

/// `verify` re-hashes a zip archive whole, so a member added to it after the import shows even
/// though every imported member is unchanged.
#[test]
fn verify_finds_a_changed_zip_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("exports.zip");
    std::fs::copy(fixture("exports.zip"), &archive).unwrap();
    let case = TestCase::new();
    case.import(std::slice::from_ref(&archive), &[]);
    let output = case.run(&["verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));

    let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'a') as z:\n    z.writestr('notes.txt', 'added later')";
    let added = std::process::Command::new("python3").args(["-c", script]).arg(&archive).output().unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let output = case.run(&["verify"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("has changed since its members were imported: SHA-256 "), "{stdout}");
    assert!(!stdout.contains("exports/api_blob.json` has changed"), "the members are unchanged: {stdout}");
}
