//! The sentinel-mode hunt on hand-checked fixtures: the reference query's filters, with every
//! upload and every candidate kept.

mod common;

use common::{by_file, candidate_accounts, fixture, stderr, TestCase};

fn portal_case() -> TestCase {
    let case = TestCase::new();
    let output = case.import(&[fixture("portal_blob.csv"), fixture("portal_signin.csv")], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    case
}

#[test]
fn every_upload_and_candidate_is_kept() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    assert_eq!(findings.as_array().unwrap().len(), 6, "six uploads from lines 2, 5, 6, 7, 8, 9");
    assert_eq!(candidate_accounts(by_file(&findings, "report Q1.pdf")).len(), 2);
    let mut both = candidate_accounts(by_file(&findings, "report Q1.pdf"));
    both.sort();
    assert_eq!(both, ["alice@contoso.com", "bob@contoso.com"]);
}

#[test]
fn window_includes_both_ends() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    assert_eq!(candidate_accounts(by_file(&findings, "résumé.docx")), ["carol@contoso.com"]);
    assert_eq!(candidate_accounts(by_file(&findings, "data (1).csv")), ["dave@contoso.com"]);
}

#[test]
fn case_of_operation_status_and_agent_is_ignored() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    let notes = by_file(&findings, "notes.txt");
    assert_eq!(notes["operation"], "putblob");
    assert_eq!(candidate_accounts(notes), ["frank@contoso.com"]);
}

#[test]
fn bracketed_ipv6_matches_bare_address() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    let photo = by_file(&findings, "photo.jpg");
    assert_eq!(photo["caller_ip"], "2001:db8::5");
    assert_eq!(candidate_accounts(photo), ["heidi@contoso.com"]);
    assert_eq!(photo["candidates"][0]["ip"], "2001:db8::5");
}

#[test]
fn empty_user_agent_never_matches() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);
    assert!(candidate_accounts(by_file(&findings, "scan.pdf")).is_empty());

    case.ok(&["hunt", "--mode", "sentinel", "--no-ua-match"]);
    let findings = case.json(&["findings", "--format", "json"]);
    assert_eq!(candidate_accounts(by_file(&findings, "scan.pdf")), ["grace@contoso.com"]);
}

#[test]
fn decoded_names_and_paths() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    let report = by_file(&findings, "report Q1.pdf");
    assert_eq!(report["object_path"], "/acct/c/report Q1.pdf");
    assert_eq!(report["storage_account"], "acct");
    assert_eq!(report["upload_time"], "2026-03-14T10:01:00.000000Z");
    assert_eq!(report["caller_ip"], "203.0.113.5");
    assert!(report["upload_user_agent"].as_str().unwrap().starts_with("Mozilla/5.0"));
    assert_eq!(by_file(&findings, "data (1).csv")["object_path"], "/acct/c/data (1).csv");
}

#[test]
fn candidate_fields_are_present() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    let carol = &by_file(&findings, "résumé.docx")["candidates"][0];
    assert_eq!(carol["account"], "carol@contoso.com");
    assert_eq!(carol["signin_time"], "2026-03-14T10:04:00.000000Z");
    assert_eq!(carol["ip"], "203.0.113.5");
    assert_eq!(carol["source_table"], "SigninLogs");
    assert!(carol["user_agent"].as_str().unwrap().contains("Edg/145"));
}

#[test]
fn finding_ids_are_stable_across_hunts() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let first = case.json(&["findings", "--format", "json"]);
    case.ok(&["hunt", "--mode", "sentinel", "--lookback", "5min"]);
    let second = case.json(&["findings", "--format", "json"]);

    let ids = |v: &serde_json::Value| {
        let mut ids: Vec<String> = v.as_array().unwrap().iter().map(|f| f["finding_id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&first), ids(&second));
    assert_ne!(first[0]["hunt_id"], second[0]["hunt_id"]);
}

#[test]
fn target_file_filter_ignores_case() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel", "--file", "NOTES.TXT"]);
    let findings = case.json(&["findings", "--format", "json"]);
    assert_eq!(findings.as_array().unwrap().len(), 1);
    assert_eq!(findings[0]["file_name"], "notes.txt");
}

#[test]
fn ambiguous_lookback_is_rejected() {
    let case = portal_case();
    for spelling in ["1m", "1M", "5"] {
        let output = case.run(&["hunt", "--mode", "sentinel", "--lookback", spelling]);
        assert_eq!(output.status.code(), Some(1), "{spelling}");
        let message = stderr(&output);
        assert!(message.contains("--lookback"), "{message}");
        assert!(message.contains("90s") && message.contains("5min"), "{message}");
    }
}

#[test]
fn api_json_pair_finds_alice_and_bob() {
    let case = TestCase::new();
    let output = case.import(&[fixture("api_blob.json"), fixture("api_signin.json")], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt", "--mode", "sentinel"]);
    let findings = case.json(&["findings", "--format", "json"]);

    assert_eq!(candidate_accounts(by_file(&findings, "invoice 2026-03.pdf")), ["alice@contoso.com"]);
    assert_eq!(candidate_accounts(by_file(&findings, "IMG_0042.jpg")), ["bob@contoso.com"]);
    assert_eq!(by_file(&findings, "invoice 2026-03.pdf")["upload_time"], "2026-03-14T11:00:30.123456Z");
}

#[test]
fn csv_findings_neutralise_formulas() {
    let case = portal_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let csv = case.ok(&["findings", "--format", "csv"]);
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("finding_id,hunt_id,mode,upload_time"), "{header}");
    assert_eq!(csv.lines().filter(|l| l.contains("report Q1.pdf")).count(), 2, "one row per candidate");
}
