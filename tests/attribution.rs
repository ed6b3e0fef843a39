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

    // The generated folder imports as it is: the ground-truth file beside the logs is left out,
    // with a note that `--quiet` hides.
    let output = case.import(std::slice::from_ref(&data), &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("note:"), "{}", stderr(&output));
    assert_eq!(case.count("sources"), 5);
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
/// work the SQL does. Version 4, which the hunt runs, must give the same again for every upload
/// of one request that is not part of a page or append blob series (PutPage, AppendBlock, and
/// the empty PutBlob that creates such a blob), which versions 3 and 4 group; version 4 also
/// times an upload of several requests from its first one. Versions 1 and 2 stay in every
/// case, so all of them run on the same rows.
#[test]
fn full_hunt_versions_agree() {
    let (case, _) = generated_case("2", "42", true);
    case.ok(&["hunt", "--quiet", "--mode", "full"]);
    let window = "5400000000, 300000000";
    let v1 = format!("SELECT * EXCLUDE (raw) FROM full_candidates_v1({window})");
    let v2 = format!("SELECT * FROM full_candidates_v2({window})");
    let candidates = case.json(&["query", "--format", "json", &format!("SELECT count(*) AS n FROM ({v2})")]);
    assert!(candidates[0]["n"].as_i64().unwrap() > 1000, "{candidates}");
    assert_eq!(rows_missing(&case, &v1, &v2), 0);
    assert_eq!(rows_missing(&case, &v2, &v1), 0);

    // The stored findings of the version 4 hunt against version 1's, series and uploads of
    // several requests left out.
    let not_series = "upload_kind NOT IN ('put-page', 'append-block')
                      AND NOT (upload_kind = 'put-blob' AND bytes IS NOT DISTINCT FROM 0)
                      AND first_time = upload_time";
    let series = case.query(&format!(
        "SELECT count(*) FILTER (WHERE NOT ({not_series})) AS n, count(*) FILTER (WHERE {not_series}) AS compared
         FROM (SELECT *, time_generated AS upload_time FROM full_findings_v1({window}))"
    ));
    assert!(series[0]["n"].as_i64().unwrap() > 50, "the generated case has page and append blobs: {series:?}");
    assert!(series[0]["compared"].as_i64().unwrap() > 300, "{series:?}");
    // A direct finding's reason also names the requester's application in version 3, and
    // version 4 gives strong and probable findings a reason.
    let columns = "upload_event_key, confidence, attributed_account, part_count, bytes, first_time,
                   CASE WHEN confidence IN ('direct', 'strong', 'probable') THEN NULL ELSE reason END";
    let latest = "(SELECT max(hunt_id) FROM hunts)";
    let stored = format!("SELECT {columns} FROM findings WHERE hunt_id = {latest} AND {not_series}");
    let v1_findings = format!(
        "SELECT {columns} FROM (SELECT *, time_generated AS upload_time FROM full_findings_v1({window})) WHERE {not_series}"
    );
    assert_eq!(rows_missing(&case, &stored, &v1_findings), 0);
    assert_eq!(rows_missing(&case, &v1_findings, &stored), 0);

    // The stored candidates of those uploads against version 1's.
    let not_series = not_series
        .replace("upload_kind", "f.upload_kind")
        .replace("bytes", "f.bytes")
        .replace("first_time = upload_time", "f.first_time = f.upload_time");
    let stored_candidates = format!(
        "SELECT f.upload_event_key, c.rank, c.score, c.delta_seconds, c.signin_count, c.account, c.signin_event_key
         FROM finding_candidates c JOIN findings f USING (hunt_id, finding_id)
         WHERE c.hunt_id = {latest} AND {not_series}"
    );
    let v1_candidates = format!(
        "SELECT c.upload_event_key, c.rank, c.score, c.delta_seconds, c.signin_count, c.account, c.event_key
         FROM full_candidates_v1({window}) c
         JOIN (SELECT *, time_generated AS upload_time FROM full_findings_v1({window})) f USING (upload_event_key)
         WHERE {not_series}"
    );
    assert_eq!(rows_missing(&case, &stored_candidates, &v1_candidates), 0);
    assert_eq!(rows_missing(&case, &v1_candidates, &stored_candidates), 0);
}

/// Page and append blob uploads count once per series: the empty PutBlob that creates the blob
/// and the PutPage or AppendBlock requests from one caller with gaps under 5 minutes. A longer
/// gap, another caller or another PutBlob starts a new upload. The expected groups were worked
/// out by hand from the request times below.
#[test]
fn page_and_append_blob_series_are_one_upload() {
    let case = TestCase::new();
    let request = |time: &str, operation: &str, caller: &str, name: &str, bytes: u64| {
        serde_json::json!({
            "Type": "StorageBlobLogs", "TimeGenerated": time, "AccountName": "acct",
            "OperationName": operation, "StatusText": "Success", "StatusCode": "201",
            "AuthenticationType": "SAS", "CallerIpAddress": caller,
            "Uri": format!("https://acct.blob.core.windows.net/c/{name}"),
            "CorrelationId": format!("corr-{name}-{time}-{caller}"), "UserAgentHeader": "AzCopy/10.28.0",
            "RequestBodySize": bytes,
        })
    };
    let page = 4 * 1024 * 1024;
    let storage = case.root.path().join("StorageBlobLogs.jsonl");
    write_lines(&storage, &[
        // disk.vhd: created, then three pages, the first at the creation's millisecond.
        request("2026-03-10T12:00:00.000Z", "PutPage", "203.0.113.50:50000", "disk.vhd", page),
        request("2026-03-10T12:00:00.000Z", "PutBlob", "203.0.113.50:50000", "disk.vhd", 0),
        request("2026-03-10T12:00:01.500Z", "PutPage", "203.0.113.50:50001", "disk.vhd", page),
        request("2026-03-10T12:04:59.000Z", "PutPage", "203.0.113.50:50002", "disk.vhd", page),
        // The same caller 10 minutes later: a second upload.
        request("2026-03-10T12:14:59.001Z", "PutPage", "203.0.113.50:50003", "disk.vhd", page),
        // Another caller between those pages: an upload of its own.
        request("2026-03-10T12:02:00.000Z", "PutPage", "198.51.100.9:40000", "disk.vhd", page),
        // app.log: created and appended twice, then created again and appended once.
        request("2026-03-10T13:00:00.000Z", "PutBlob", "203.0.113.50:50010", "app.log", 0),
        request("2026-03-10T13:00:02.000Z", "AppendBlock", "203.0.113.50:50011", "app.log", 1000),
        request("2026-03-10T13:03:00.000Z", "AppendBlock", "203.0.113.50:50012", "app.log", 2000),
        request("2026-03-10T13:04:00.000Z", "PutBlob", "203.0.113.50:50013", "app.log", 0),
        request("2026-03-10T13:04:01.000Z", "AppendBlock", "203.0.113.50:50014", "app.log", 500),
        // A PutBlob right before a page created the page blob, whatever body size the export
        // gives it. A PutBlob 10 minutes before a page is an upload of its own.
        request("2026-03-10T14:00:00.000Z", "PutBlob", "203.0.113.50:50020", "tool.exe", 7),
        request("2026-03-10T14:00:01.000Z", "PutPage", "203.0.113.50:50021", "tool.exe", page),
        request("2026-03-10T14:20:00.000Z", "PutBlob", "203.0.113.50:50022", "other.bin", 9),
        request("2026-03-10T14:30:00.000Z", "PutPage", "203.0.113.50:50023", "other.bin", page),
        // An empty PutBlob alone stays a put-blob upload.
        request("2026-03-10T15:00:00.000Z", "PutBlob", "203.0.113.50:50030", "empty.txt", 0),
    ]);
    let output = case.import(&[storage], &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--quiet", "--mode", "full"]);

    let rows = case.query(
        "SELECT file_name, upload_kind, part_count, bytes, strftime(first_time, '%H:%M:%S.%g') AS first,
                strftime(upload_time, '%H:%M:%S.%g') AS last, caller_ip
         FROM findings ORDER BY upload_time, caller_ip",
    );
    let summary: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}-{} {}",
                r["file_name"].as_str().unwrap(), r["upload_kind"].as_str().unwrap(), r["part_count"],
                r["bytes"], r["first"].as_str().unwrap(), r["last"].as_str().unwrap(), r["caller_ip"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(summary, [
        "disk.vhd put-page 1 4194304 12:02:00.000-12:02:00.000 198.51.100.9".to_string(),
        "disk.vhd put-page 4 12582912 12:00:00.000-12:04:59.000 203.0.113.50".to_string(),
        "disk.vhd put-page 1 4194304 12:14:59.001-12:14:59.001 203.0.113.50".to_string(),
        "app.log append-block 3 3000 13:00:00.000-13:03:00.000 203.0.113.50".to_string(),
        "app.log append-block 2 500 13:04:00.000-13:04:01.000 203.0.113.50".to_string(),
        "tool.exe put-page 2 4194311 14:00:00.000-14:00:01.000 203.0.113.50".to_string(),
        "other.bin put-blob 1 9 14:20:00.000-14:20:00.000 203.0.113.50".to_string(),
        "other.bin put-page 1 4194304 14:30:00.000-14:30:00.000 203.0.113.50".to_string(),
        "empty.txt put-blob 1 0 15:00:00.000-15:00:00.000 203.0.113.50".to_string(),
    ]);

    // `show` lists every request of the first disk.vhd upload, and not the other caller's page.
    let id = case.query(
        "SELECT finding_id FROM findings WHERE file_name = 'disk.vhd' AND part_count = 4",
    )[0]["finding_id"].as_str().unwrap().to_string();
    let shown = case.json(&["show", &id, "--format", "json"]);
    let operations: Vec<&str> =
        shown["requests"].as_array().unwrap().iter().map(|r| r["operation"].as_str().unwrap()).collect();
    assert_eq!(operations, ["PutBlob", "PutPage", "PutPage", "PutPage"], "{shown}");
}

/// A sentinel hunt gives no confidence, so `score` counts no strong or direct attribution for
/// it, and explains why some of its findings match no truth row.
#[test]
fn sentinel_score_explains_its_counts() {
    let (case, truth) = generated_case("1", "1", false);
    case.ok(&["hunt", "--quiet", "--mode", "sentinel"]);
    let text = case.ok(&["score", "--truth", truth.to_str().unwrap()]);
    assert!(text.contains("no confidence in sentinel mode, so no count of unattributable uploads"), "{text}");
    assert!(text.contains("match no truth row, because the sentinel mode counts each PutRange request"), "{text}");
    let score = case.json(&["score", "--truth", truth.to_str().unwrap(), "--format", "json"]);
    assert_eq!(score["unattributable_overclaimed"], 0);
    assert!(score["findings_without_truth"].as_u64().unwrap() > 0, "{score}");
}

/// Who a direct attribution names, and which sign-ins are candidates. Each expected value
/// was worked out by hand from the records below.
#[test]
fn direct_attribution_names_the_requester() {
    let case = TestCase::new();
    let request = |time: &str, operation: &str, name: &str, auth: serde_json::Value| {
        let mut row = serde_json::json!({
            "Type": "StorageBlobLogs", "TimeGenerated": time, "AccountName": "acct",
            "OperationName": operation, "StatusText": "Success", "StatusCode": "201",
            "CallerIpAddress": "203.0.113.70:50000", "RequestBodySize": 100,
            "Uri": format!("https://acct.blob.core.windows.net/c/{name}"),
            "CorrelationId": format!("corr-{name}-{time}-{operation}"),
        });
        row.as_object_mut().unwrap().extend(auth.as_object().unwrap().clone());
        row
    };

    let sas = serde_json::json!({ "AuthenticationType": "SAS" });
    let oauth = |upn: &str| serde_json::json!({ "AuthenticationType": "OAuth", "RequesterUpn": upn });

    let storage = case.root.path().join("StorageBlobLogs.jsonl");
    write_lines(&storage, &[
        // A user's token with no UPN in the log: the object ID is named, not the application
        // whose service principal signs in elsewhere.
        request("2026-03-10T12:00:00Z", "PutBlob", "guest.bin", serde_json::json!({
            "AuthenticationType": "OAuth", "RequesterObjectId": "22222222-0000-0000-0000-000000000002",
            "RequesterAppId": "aaaaaaaa-0000-0000-0000-00000000000a" })),
        // Blocks staged with anna's token, committed with a SAS: anna is named.
        request("2026-03-10T13:00:00Z", "PutBlock", "staged.zip", oauth("anna@contoso.com")),
        request("2026-03-10T13:00:05Z", "PutBlockList", "staged.zip", sas.clone()),
        // anna creates and appends, ben appends a minute later from the same address.
        request("2026-03-10T14:00:00Z", "PutBlob", "shared.log", oauth("anna@contoso.com")),
        request("2026-03-10T14:00:01Z", "AppendBlock", "shared.log", oauth("anna@contoso.com")),
        request("2026-03-10T14:01:00Z", "AppendBlock", "shared.log", oauth("ben@contoso.com")),
        // A SAS upload whose only sign-in from the address names no user.
        request("2026-03-10T15:00:00Z", "PutBlob", "sas.bin", sas.clone()),
        // A SAS upload half a millisecond before carol's sign-in from another address.
        {
            let mut row = request("2026-03-10T16:00:00.000Z", "PutBlob", "near.bin", sas.clone());
            row["CallerIpAddress"] = serde_json::json!("198.51.100.80:50000");
            row
        },
        // dora signs in under her old and her new UPN, with one UserId: one account.
        {
            let mut row = request("2026-03-10T17:00:00.000Z", "PutBlob", "renamed.bin", sas);
            row["CallerIpAddress"] = serde_json::json!("198.51.100.90:50000");
            row
        },
    ]);

    let signins = case.root.path().join("signins.jsonl");
    write_lines(&signins, &[
        serde_json::json!({ "Type": "AADServicePrincipalSignInLogs", "TimeGenerated": "2026-03-10T08:00:00Z",
            "ServicePrincipalName": "ci-pipeline", "ServicePrincipalId": "bbbbbbbb-0000-0000-0000-00000000000b",
            "AppId": "aaaaaaaa-0000-0000-0000-00000000000a", "IPAddress": "198.51.100.1", "ResultType": "0", "Id": "sp1" }),
        serde_json::json!({ "Type": "SigninLogs", "TimeGenerated": "2026-03-10T14:58:00Z",
            "AppId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "AppDisplayName": "Azure Portal",
            "IPAddress": "203.0.113.70", "ResultType": "0", "Id": "u1" }),
        serde_json::json!({ "Type": "SigninLogs", "TimeGenerated": "2026-03-10T16:00:00.0005Z",
            "UserPrincipalName": "carol@contoso.com", "IPAddress": "198.51.100.80", "ResultType": "0", "Id": "u2" }),
        serde_json::json!({ "Type": "SigninLogs", "TimeGenerated": "2026-03-10T16:40:00Z", "UserPrincipalName": "dora.old@contoso.com",
            "UserId": "dddddddd-0000-0000-0000-00000000000d", "IPAddress": "198.51.100.90", "ResultType": "0", "Id": "u3" }),
        serde_json::json!({ "Type": "SigninLogs", "TimeGenerated": "2026-03-10T16:50:00Z", "UserPrincipalName": "dora@contoso.com",
            "UserId": "DDDDDDDD-0000-0000-0000-00000000000D", "IPAddress": "198.51.100.90", "ResultType": "0", "Id": "u4" }),
    ]);

    let output = case.import(&[storage, signins], &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--quiet"]);

    let rows = case.query(
        "SELECT file_name, part_count, confidence, coalesce(attributed_account, '-') AS who, reason
         FROM findings ORDER BY upload_time, file_name",
    );
    let summary: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {} {}", r["file_name"].as_str().unwrap(), r["part_count"], r["confidence"].as_str().unwrap(), r["who"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [
        "guest.bin 1 direct 22222222-0000-0000-0000-000000000002",
        "staged.zip 1 direct anna@contoso.com",
        "shared.log 2 direct anna@contoso.com",
        "shared.log 1 direct ben@contoso.com",
        "sas.bin 1 none -",
        "near.bin 1 strong carol@contoso.com",
        "renamed.bin 1 strong dora@contoso.com",
    ]);
    assert!(rows[0]["reason"].as_str().unwrap().ends_with("app aaaaaaaa-0000-0000-0000-00000000000a ci-pipeline)"), "{}", rows[0]["reason"]);
    let reasons = case.query("SELECT c.reasons FROM finding_candidates c WHERE c.account = 'carol@contoso.com'");
    assert!(reasons[0]["reasons"].as_str().unwrap().starts_with("[\"signed in within a millisecond of the upload\""), "{reasons:?}");
}

/// Writes one JSON object per line.
fn write_lines(path: &std::path::Path, rows: &[Value]) {
    let text: String = rows.iter().map(|row| format!("{row}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The reasons given for uploads that no sign-in explains, around the hours that have
/// sign-ins: an upload's window (90 minutes before, 5 after) counts as covered when any hour it
/// touches has a sign-in. Each expected reason was worked out by hand from the times below.
#[test]
fn unexplained_uploads_get_their_reason() {
    let case = TestCase::new();
    let upload = |time: &str, caller: &str, name: &str| {
        serde_json::json!({
            "Type": "StorageBlobLogs", "TimeGenerated": time, "AccountName": "acct",
            "OperationName": "PutBlob", "StatusText": "Success", "StatusCode": "201",
            "AuthenticationType": "SAS", "CallerIpAddress": caller,
            "Uri": format!("https://acct.blob.core.windows.net/c/{name}"),
            "CorrelationId": format!("corr-{name}"), "UserAgentHeader": "AzCopy/10.28.0",
        })
    };
    let signin = |time: &str, address: &str, id: &str| {
        serde_json::json!({
            "Type": "SigninLogs", "TimeGenerated": time, "CreatedDateTime": time,
            "UserPrincipalName": "dana@example.com", "IPAddress": address, "ResultType": "0",
            "Id": id, "AppDisplayName": "Azure Portal",
        })
    };
    let storage = case.root.path().join("StorageBlobLogs.jsonl");
    write_lines(&storage, &[
        // Hours 10 and 11 are touched and 11:50 has a sign-in, from another address.
        upload("2026-03-10T12:00:00Z", "203.0.113.50:50000", "other-address.bin"),
        // The same hours, but the caller is IPv6 and every sign-in is IPv4.
        upload("2026-03-10T12:10:00Z", "[2603:1030:20e:3::23c]:50001", "ipv6.bin"),
        // Window 13:10 to 14:45 touches hours 13 and 14; the sign-ins are at 11:50 and 15:00.
        upload("2026-03-10T14:40:00Z", "203.0.113.50:50002", "between-hours.bin"),
        // Window 13:20 to 14:55: the same hours, so also not covered.
        upload("2026-03-10T14:50:00Z", "203.0.113.50:50003", "before-next-hour.bin"),
        // Window 13:30 to 15:05 touches hour 15, which has the 15:00 sign-in.
        upload("2026-03-10T15:00:00Z", "203.0.113.99:50004", "next-hour.bin"),
        // Two days later: no sign-in anywhere near.
        upload("2026-03-12T03:00:00Z", "203.0.113.50:50005", "days-later.bin"),
    ]);
    let signins = case.root.path().join("SigninLogs.jsonl");
    write_lines(&signins, &[
        signin("2026-03-10T11:50:00Z", "198.51.100.7", "s1"),
        signin("2026-03-10T15:00:00Z", "198.51.100.7", "s2"),
    ]);
    let output = case.import(&[storage, signins], &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--quiet", "--mode", "full"]);

    let rows = case.query("SELECT file_name, confidence, reason FROM findings ORDER BY upload_time");
    let reason_of = |name: &str| {
        let row = rows.iter().find(|r| r["file_name"] == name).unwrap_or_else(|| panic!("no finding for {name}: {rows:?}"));
        assert_eq!(row["confidence"], "none", "{row}");
        row["reason"].as_str().unwrap().to_string()
    };
    assert_eq!(rows.len(), 6, "{rows:?}");
    let no_match = "no successful sign-in from this address in the window";
    let no_data = "no sign-in data covers this time: the imported sign-in logs have no record near the upload";
    assert_eq!(reason_of("other-address.bin"), no_match);
    assert!(reason_of("ipv6.bin").starts_with("address family differs: the caller used"), "{}", reason_of("ipv6.bin"));
    assert_eq!(reason_of("between-hours.bin"), no_data);
    assert_eq!(reason_of("before-next-hour.bin"), no_data);
    assert_eq!(reason_of("next-hour.bin"), no_match);
    assert_eq!(reason_of("days-later.bin"), no_data);
}

/// `findings` and `export` build and write findings on two threads, a DuckDB batch of 2,048 at
/// a time. Over several batches, with a note and an exclusion rule in play, the JSON array must
/// keep the upload-time order of the stored findings, carry every stored candidate in rank
/// order, and be the text that serde_json's pretty writer gives for the same array. The CSV
/// and export files must contain the same findings and rows.
#[test]
fn findings_output_keeps_order_across_batches() {
    let (case, _) = generated_case("20", "3", false);
    case.ok(&["hunt", "--quiet", "--mode", "full"]);
    let latest = "(SELECT max(hunt_id) FROM hunts)";
    let ordered = case.query(&format!(
        "SELECT finding_id FROM findings WHERE hunt_id = {latest} ORDER BY upload_time, finding_id"
    ));
    let expected_ids: Vec<&str> = ordered.iter().map(|row| row["finding_id"].as_str().unwrap()).collect();
    assert!(expected_ids.len() > 2 * 2048, "three batches or more: {} findings", expected_ids.len());
    let noted = expected_ids[4200];
    case.ok(&["annotate", noted, "--status", "benign", "--note", "backup job"]);
    case.ok(&["exclude", "add", "--file-contains", ".log", "--reason", "log files"]);

    let text = case.ok(&["findings", "--format", "json", "--include-excluded"]);
    let printed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(text, format!("{}\n", serde_json::to_string_pretty(&printed).unwrap()));
    let list = printed.as_array().unwrap();
    let printed_ids: Vec<&str> = list.iter().map(|f| f["finding_id"].as_str().unwrap()).collect();
    assert_eq!(printed_ids, expected_ids);

    let stored = case.query(&format!(
        "SELECT finding_id, count(*) AS n FROM finding_candidates WHERE hunt_id = {latest} GROUP BY ALL"
    ));
    let stored: std::collections::HashMap<&str, usize> =
        stored.iter().map(|row| (row["finding_id"].as_str().unwrap(), row["n"].as_u64().unwrap() as usize)).collect();
    for finding in list {
        let candidates = finding["candidates"].as_array().unwrap();
        let id = finding["finding_id"].as_str().unwrap();
        assert_eq!(candidates.len(), stored.get(id).copied().unwrap_or(0), "{id}");
        let ranks: Vec<i64> = candidates.iter().map(|c| c["rank"].as_i64().unwrap()).collect();
        assert!(ranks.windows(2).all(|pair| pair[0] < pair[1]), "{id}: ranks {ranks:?}");
        let excluded = finding["file_name"].as_str().is_some_and(|name| name.contains(".log"));
        assert_eq!(finding["excluded_by"].as_array().unwrap().len(), usize::from(excluded), "{id}");
    }
    let annotated = list.iter().find(|f| f["finding_id"] == noted).unwrap();
    assert_eq!(annotated["status"], "benign");
    assert_eq!(annotated["notes"][0], "backup job");

    // CSV is written the same way: one row per candidate, or one for a finding without any.
    let text = case.ok(&["findings", "--format", "csv", "--include-excluded"]);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let expected_rows: usize = list.iter().map(|f| f["candidates"].as_array().unwrap().len().max(1)).sum();
    assert_eq!(rows.len(), expected_rows);
    let mut csv_ids: Vec<&str> = rows.iter().map(|row| &row[0]).collect();
    csv_ids.dedup();
    assert_eq!(csv_ids, expected_ids);

    // `export` writes files the same way; its JSON is the same text as `findings` gives.
    let out = case.root.path().join("export");
    let json_path = out.with_extension("json");
    case.ok(&["export", "--quiet", "--format", "json", "--out", json_path.to_str().unwrap()]);
    let findings_text = case.ok(&["findings", "--format", "json", "--include-excluded"]);
    assert_eq!(std::fs::read_to_string(&json_path).unwrap(), findings_text);
    let jsonl_path = out.with_extension("jsonl");
    case.ok(&["export", "--quiet", "--format", "jsonl", "--out", jsonl_path.to_str().unwrap()]);
    let lines: Vec<Value> =
        std::fs::read_to_string(&jsonl_path).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(&lines, list);
    for format in ["csv", "parquet"] {
        let path = out.with_extension(format);
        let output = case.run(&["export", "--quiet", "--format", format, "--out", path.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        let expected = format!("{expected_rows} rows/records");
        assert!(stderr(&output).contains(&expected), "{format}: {}", stderr(&output));
    }
    let exported = csv::Reader::from_path(out.with_extension("csv")).unwrap().records().count();
    assert_eq!(exported, expected_rows);

    // The workbook has a header row and one row per finding, and per candidate.
    let xlsx = out.with_extension("xlsx");
    case.ok(&["export", "--quiet", "--format", "xlsx", "--out", xlsx.to_str().unwrap()]);
    let mut workbook = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut sheet_rows = |name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut workbook.by_name(name).unwrap(), &mut text).unwrap();
        text.matches("<row ").count()
    };
    let candidates: usize = list.iter().map(|f| f["candidates"].as_array().unwrap().len()).sum();
    assert_eq!(sheet_rows("xl/worksheets/sheet1.xml"), list.len() + 1);
    assert_eq!(sheet_rows("xl/worksheets/sheet2.xml"), candidates + 1);

    // A bundle streams the same findings into a zip, and its manifest checks out.
    let bundle = case.root.path().join("bundle.zip");
    case.ok(&["bundle", "--quiet", "--out", bundle.to_str().unwrap()]);
    assert!(!case.root.path().join("bundle.zip.partial").exists());
    let verified = blobtrail(&case.root).args(["verify-bundle", bundle.to_str().unwrap()]).output().unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&bundle).unwrap()).unwrap();
    let mut bundled = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("findings.json").unwrap(), &mut bundled).unwrap();
    assert_eq!(bundled, findings_text);
}

/// Version 4 times an upload of several requests from its first request: bob signed in five
/// minutes before the first block of an upload whose blocks took two hours, which version 3,
/// timing from the commit, would have left out of the window. A sign-in between the first
/// request and the commit counts as made during the upload. Requests that name two OAuth
/// requesters make no direct answer, and requests from two addresses no strong one. Every
/// expected value below was worked out by hand from the times in the rows.
#[test]
fn uploads_of_several_requests_are_timed_from_the_first() {
    let case = TestCase::new();
    let request = |time: &str, operation: &str, caller: &str, name: &str, upn: Option<&str>| {
        let mut row = serde_json::json!({
            "Type": "StorageBlobLogs", "TimeGenerated": time, "AccountName": "acct",
            "OperationName": operation, "StatusText": "Success", "StatusCode": "201",
            "AuthenticationType": if upn.is_some() { "OAuth" } else { "SAS" }, "CallerIpAddress": caller,
            "Uri": format!("https://acct.blob.core.windows.net/c/{name}"),
            "CorrelationId": format!("corr-{name}-{time}"), "UserAgentHeader": "AzCopy/10.28.0",
            "RequestBodySize": 4_194_304,
        });
        if let Some(upn) = upn {
            row["RequesterUpn"] = serde_json::json!(upn);
        }
        row
    };
    let storage = case.root.path().join("StorageBlobLogs.jsonl");
    write_lines(&storage, &[
        // long.zip: five blocks every 30 minutes from 15:00:00, the commit at 17:00:05.
        request("2026-03-10T15:00:00Z", "PutBlock", "203.0.113.73:50000", "long.zip", None),
        request("2026-03-10T15:30:00Z", "PutBlock", "203.0.113.73:50001", "long.zip", None),
        request("2026-03-10T16:00:00Z", "PutBlock", "203.0.113.73:50002", "long.zip", None),
        request("2026-03-10T16:30:00Z", "PutBlock", "203.0.113.73:50003", "long.zip", None),
        request("2026-03-10T17:00:00Z", "PutBlock", "203.0.113.73:50004", "long.zip", None),
        request("2026-03-10T17:00:05Z", "PutBlockList", "203.0.113.73:50005", "long.zip", None),
        // during.zip: carol signs in between its block and its commit.
        request("2026-03-10T15:00:00Z", "PutBlock", "203.0.113.74:50000", "during.zip", None),
        request("2026-03-10T15:20:00Z", "PutBlockList", "203.0.113.74:50001", "during.zip", None),
        // mixed.zip: the block with mallory's token, the commit with alice's.
        request("2026-03-10T18:00:00Z", "PutBlock", "203.0.113.75:50000", "mixed.zip", Some("mallory@contoso.com")),
        request("2026-03-10T18:00:10Z", "PutBlockList", "203.0.113.75:50001", "mixed.zip", Some("alice@contoso.com")),
        // moved.zip: the block from one address, the commit from another, where dave signed in.
        request("2026-03-10T19:00:00Z", "PutBlock", "203.0.113.76:50000", "moved.zip", None),
        request("2026-03-10T19:00:10Z", "PutBlockList", "203.0.113.77:50001", "moved.zip", None),
    ]);
    let signin = |time: &str, upn: &str, address: &str, id: &str| {
        serde_json::json!({ "Type": "SigninLogs", "TimeGenerated": time, "CreatedDateTime": time,
            "UserPrincipalName": upn, "IPAddress": address, "ResultType": "0", "Id": id })
    };
    let signins = case.root.path().join("signins.jsonl");
    write_lines(&signins, &[
        signin("2026-03-10T14:55:00Z", "bob@contoso.com", "203.0.113.73", "s1"),
        signin("2026-03-10T15:10:00Z", "carol@contoso.com", "203.0.113.74", "s2"),
        signin("2026-03-10T18:59:00Z", "dave@contoso.com", "203.0.113.77", "s3"),
    ]);
    let output = case.import(&[storage, signins], &["--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--quiet"]);

    let rows = case.query(
        "SELECT file_name, confidence, coalesce(attributed_account, '-') AS who, reason, window_start, window_end
         FROM findings ORDER BY upload_time, file_name",
    );
    let summary: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r["file_name"].as_str().unwrap(), r["confidence"].as_str().unwrap(), r["who"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [
        "during.zip strong carol@contoso.com",
        "long.zip strong bob@contoso.com",
        "mixed.zip ambiguous -",
        "moved.zip probable dave@contoso.com",
    ]);
    // long.zip: 90 minutes before its first block to 5 minutes after its commit.
    assert_eq!(rows[1]["window_start"], "2026-03-10T13:30:00.000000Z");
    assert_eq!(rows[1]["window_end"], "2026-03-10T17:05:05.000000Z");
    assert_eq!(rows[1]["reason"], "the only account that signed in successfully from this address in the window, close in time to the upload");
    assert_eq!(
        rows[2]["reason"],
        "the storage log names 2 requesters for the requests of this upload (alice@contoso.com, mallory@contoso.com); \
         see them with `blobtrail show`"
    );
    assert_eq!(
        rows[3]["reason"],
        "the only account that signed in successfully from this address in the window, close in time to the upload; \
         the requests of this upload came from 2 addresses (203.0.113.76, 203.0.113.77), and only the address of the one \
         that completed it was compared with sign-ins"
    );
    let reasons = case.query(
        "SELECT c.account, c.delta_seconds, json_extract_string(c.reasons, '$[0]') AS first_reason
         FROM finding_candidates c ORDER BY c.account",
    );
    assert_eq!(reasons[0]["account"], "bob@contoso.com");
    assert_eq!(reasons[0]["delta_seconds"], 300.0);
    assert_eq!(reasons[0]["first_reason"], "signed in 5 min before the upload's first request");
    assert_eq!(reasons[1]["account"], "carol@contoso.com");
    assert_eq!(reasons[1]["delta_seconds"], 0.0);
    assert_eq!(reasons[1]["first_reason"], "signed in during the upload, between its first request and the one that completed it");
    assert_eq!(reasons[2]["account"], "dave@contoso.com");
    assert_eq!(reasons[2]["first_reason"], "signed in 60 s before the upload's first request");
}

/// An SMB write with identity-based access names its Windows user and SID in StorageFileLogs.
/// The hunt takes that user as the upload's requester: `direct`, as an OAuth requester is. A
/// write that names no user keeps the reason that sign-in logs cannot name its caller. The
/// archive shape (`identity.requester.userName`) stores the same columns.
#[test]
fn smb_write_names_its_windows_user() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("StorageFileLogs.csv");
    std::fs::write(
        &csv,
        "TimeGenerated [UTC],AccountName,OperationName,StatusText,StatusCode,Uri,CallerIpAddress,Protocol,AuthenticationType,RequesterUserName,SmbPrimarySID,ObjectKey,Type\n\
         \"3/2/2026, 12:09:03.319 AM\",acct,Write,Success,0,\\\\acct.file.core.windows.net\\share\\tools\\dump.exe,10.40.1.20,SMB,Kerberos,CONTOSO\\eve,S-1-5-21-1-2-3-1104,/acct/share/tools/dump.exe,StorageFileLogs\n\
         \"3/2/2026, 12:19:03.319 AM\",acct,Write,Success,0,\\\\acct.file.core.windows.net\\share\\tools\\notes.txt,10.40.1.21,SMB,NTLM,,,/acct/share/tools/notes.txt,StorageFileLogs\n",
    )
    .unwrap();
    let archive = dir.path().join("PT1H.json");
    std::fs::write(
        &archive,
        r#"{"time":"2026-03-02T01:09:03.3190000Z","category":"StorageWrite","operationName":"Write","statusCode":0,"statusText":"Success","callerIpAddress":"10.40.1.22","protocol":"SMB","uri":"\\\\acct.file.core.windows.net\\share\\tools\\pack.7z","identity":{"type":"Kerberos","requester":{"userName":"CONTOSO\\mallory","smbPrimarySID":"S-1-5-21-1-2-3-1105"}},"properties":{"accountName":"acct","objectKey":"/acct/share/tools/pack.7z","serviceType":"file"}}
{"time":"2026-03-02T02:09:03.3190000Z","category":"StorageWrite","operationName":"Write","statusCode":0,"statusText":"Success","callerIpAddress":"10.40.1.23","protocol":"SMB","uri":"\\\\acct.file.core.windows.net\\share\\tools\\sid.bin","identity":{"type":"Kerberos","requester":{"smbPrimarySID":"S-1-5-21-1-2-3-1106"}},"properties":{"accountName":"acct","objectKey":"/acct/share/tools/sid.bin","serviceType":"file"}}
"#,
    )
    .unwrap();
    let case = TestCase::new();
    let output = case.import(&[csv, archive], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stored = case.query(
        "SELECT file_name, requester_user_name, smb_primary_sid FROM storage_events ORDER BY time_generated",
    );
    assert_eq!(stored[0]["requester_user_name"], "CONTOSO\\eve");
    assert_eq!(stored[0]["smb_primary_sid"], "S-1-5-21-1-2-3-1104");
    assert_eq!(stored[1]["requester_user_name"], Value::Null);
    assert_eq!(stored[2]["requester_user_name"], "CONTOSO\\mallory");
    assert_eq!(stored[2]["smb_primary_sid"], "S-1-5-21-1-2-3-1105");

    case.ok(&["hunt", "--quiet"]);
    let findings = case.query("SELECT finding_id, file_name, confidence, attributed_account, reason FROM findings ORDER BY upload_time");
    assert_eq!(findings[0]["file_name"], "dump.exe");
    let shown = case.ok(&["show", findings[0]["finding_id"].as_str().unwrap()]);
    assert!(shown.contains("  requester (Windows)  CONTOSO\\eve\n"), "{shown}");
    assert!(shown.contains("Write Success from 10.40.1.20 by Kerberos as CONTOSO\\eve ("), "{shown}");
    assert_eq!(findings[0]["confidence"], "direct");
    assert_eq!(findings[0]["attributed_account"], "CONTOSO\\eve");
    assert_eq!(findings[0]["reason"], "the storage log names the user who made the request (CONTOSO\\eve, SID S-1-5-21-1-2-3-1104)");
    assert_eq!(findings[1]["confidence"], "none");
    assert_eq!(
        findings[1]["reason"],
        "SMB or NFS write that names no user: the caller authenticated with NTLM, an account key or a host identity, not Entra ID, so sign-in logs cannot name it"
    );
    assert_eq!(findings[2]["attributed_account"], "CONTOSO\\mallory");
    // A Kerberos write that names only its SID is attributed to the SID.
    assert_eq!(findings[3]["confidence"], "direct");
    assert_eq!(findings[3]["attributed_account"], "S-1-5-21-1-2-3-1106");
    assert_eq!(findings[3]["reason"], "the storage log names the user who made the request (SID S-1-5-21-1-2-3-1106)");
    assert_eq!(case.run(&["verify"]).status.code(), Some(0));
}

/// The writes of one Windows user to one file are one upload, keyed by the user's SID. A row
/// that names the user in other letter case, or gives only the SID, belongs to it. The same
/// name with another SID is another user's upload.
#[test]
fn smb_writes_group_by_sid() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("StorageFileLogs.csv");
    let row = |minute: u32, user: &str, sid: &str| {
        format!(
            "2026-03-02T16:0{minute}:00.000Z,acct,Write,Success,0,203.0.113.50,SMB,Kerberos,{user},{sid},/acct/share/plan.docx,StorageFileLogs\n"
        )
    };
    let text = "TimeGenerated,AccountName,OperationName,StatusText,StatusCode,CallerIpAddress,Protocol,AuthenticationType,RequesterUserName,SmbPrimarySID,ObjectKey,Type\n".to_string()
        + &row(0, "CONTOSO\\alice", "S-1-5-21-1-2-3-1101")
        + &row(1, "", "S-1-5-21-1-2-3-1101")
        + &row(2, "contoso\\ALICE", "s-1-5-21-1-2-3-1101")
        + &row(4, "CONTOSO\\alice", "S-1-5-21-1-2-3-9999");
    std::fs::write(&csv, text).unwrap();
    let case = TestCase::new();
    let output = case.import(&[csv], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    case.ok(&["hunt", "--quiet"]);
    let findings = case.query("SELECT part_count, reason FROM findings ORDER BY upload_time");
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(findings[0]["part_count"], 3);
    assert_eq!(findings[0]["reason"], "the storage log names the user who made the request (contoso\\ALICE, SID s-1-5-21-1-2-3-1101)");
    assert_eq!(findings[1]["part_count"], 1);
    assert_eq!(findings[1]["reason"], "the storage log names the user who made the request (CONTOSO\\alice, SID S-1-5-21-1-2-3-9999)");
}
