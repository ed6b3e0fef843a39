//! Handing over: exports in every format, evidence bundles that verify and detect tampering,
//! hostile log values kept inert, and a report that renders in a real browser.

mod common;

use std::path::Path;

use common::{blobtrail, fixture, stderr, TestCase};

fn demo_case() -> (tempfile::TempDir, TestCase) {
    let root = tempfile::tempdir().unwrap();
    let output = blobtrail(&root).args(["demo", "--quiet", "--cases-dir"]).arg(root.path().join("cases")).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let case = TestCase { root: tempfile::tempdir().unwrap(), path: root.path().join("cases/demo") };
    (root, case)
}

fn hostile_case() -> TestCase {
    let case = TestCase::new();
    let output = case.import(&[fixture("hostile_blob.jsonl"), fixture("hostile_signin.jsonl")], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    case.ok(&["hunt"]);
    case
}

fn verify_bundle(case: &TestCase, bundle: &Path) -> std::process::Output {
    blobtrail(&case.root).arg("verify-bundle").arg(bundle).output().unwrap()
}

/// A second member named like a bundled file, placed first, is what `unzip -n` extracts.
#[test]
fn zip_bundle_with_a_shadowing_member_fails() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle.zip");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let shadowed = case.root.path().join("shadowed.zip");
    let script = "import sys, zipfile, warnings\nwarnings.simplefilter('ignore')\n\
                  src = zipfile.ZipFile(sys.argv[1])\n\
                  with zipfile.ZipFile(sys.argv[2], 'w') as z:\n\
                  \x20   z.writestr('findings.csv', 'finding_id\\nF-0\\n')\n\
                  \x20   for i in src.infolist(): z.writestr(i.filename, src.read(i.filename))";
    let made = std::process::Command::new("python3").args(["-c", script]).arg(&bundle).arg(&shadowed).status().unwrap();
    assert!(made.success());
    let output = verify_bundle(&case, &shadowed);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("members that share a name"));
}

/// A folder bundle zipped again with the usual tools gets a directory entry for `sql/`; that
/// is no repeated name, and every file still matches. A manifest that lists a file twice with
/// different hashes fails, as `sha256sum --check` would.
#[test]
fn rezipped_bundle_verifies() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let zipped = case.root.path().join("rezipped.zip");
    let script = "import os, sys, zipfile\n\
                  with zipfile.ZipFile(sys.argv[2], 'w') as z:\n\
                  \x20   for folder, dirs, files in os.walk(sys.argv[1]):\n\
                  \x20       rel = os.path.relpath(folder, sys.argv[1])\n\
                  \x20       if rel != '.': z.write(folder, rel + '/')\n\
                  \x20       for f in files: z.write(os.path.join(folder, f), os.path.normpath(os.path.join(rel, f)))";
    let made = std::process::Command::new("python3").args(["-c", script]).arg(&bundle).arg(&zipped).status().unwrap();
    assert!(made.success());
    let output = verify_bundle(&case, &zipped);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));

    let manifest = bundle.join("MANIFEST.sha256");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let line = text.lines().find(|line| line.ends_with("  report.html")).unwrap().to_string();
    std::fs::write(&manifest, format!("{text}{}  report.html\n", "0".repeat(64))).unwrap();
    assert!(line.len() > 64);
    let output = verify_bundle(&case, &bundle);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("`report.html` is listed twice in the manifest"));
}

#[test]
fn demo_bundle_verifies_and_detects_tampering() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle");
    let printed = case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    assert!(printed.contains("SHA-256 of MANIFEST.sha256: "), "{printed}");
    assert_eq!(verify_bundle(&case, &bundle).status.code(), Some(0));

    let names = ["report.html", "findings.csv", "findings.json", "annotations.json", "exclusions.json",
                 "audit_log.json", "sources.csv", "parameters.json", "sql/003_full_hunt_v1.sql"];
    for name in names {
        let path = bundle.join(name);
        let original = std::fs::read(&path).unwrap();
        let mut changed = original.clone();
        changed[original.len() / 2] ^= 0x01;
        std::fs::write(&path, &changed).unwrap();
        let output = verify_bundle(&case, &bundle);
        assert_eq!(output.status.code(), Some(1), "{name}");
        assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("`{name}` has changed")), "{name}");
        std::fs::write(&path, &original).unwrap();
    }

    std::fs::write(bundle.join("notes.txt"), b"added later").unwrap();
    let output = verify_bundle(&case, &bundle);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("`notes.txt` was added"));
    std::fs::remove_file(bundle.join("notes.txt")).unwrap();

    std::fs::remove_file(bundle.join("sources.csv")).unwrap();
    let output = verify_bundle(&case, &bundle);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("`sources.csv` is listed in the manifest but missing"));
}

#[test]
fn zip_bundle_verifies() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle.zip");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    assert_eq!(verify_bundle(&case, &bundle).status.code(), Some(0));
    let again = case.run(&["bundle", "--out", bundle.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "an existing bundle is not overwritten");
}

#[test]
fn bundle_manifest_matches_sha256sum() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let status = std::process::Command::new("sha256sum")
        .args(["--check", "--quiet", "MANIFEST.sha256"])
        .current_dir(&bundle)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn hostile_agent_is_neutralised_in_csv() {
    let case = hostile_case();
    let out = case.root.path().join("findings.csv");
    case.ok(&["export", "--format", "csv", "--out", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x.invalid\"\",\"\"y\"\")\""), "{text}");
    assert!(!text.contains(",=HYPERLINK"), "{text}");
    assert!(!text.contains(",\"=HYPERLINK"), "{text}");
}

#[test]
fn hostile_name_is_text_in_report() {
    let case = hostile_case();
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    assert!(html.contains("&lt;script&gt;x.exe"), "the name appears escaped");
    assert!(!html.contains("<script>"), "no script element");
    assert!(html.contains("=HYPERLINK(&quot;http://x.invalid&quot;") || !html.contains("HYPERLINK(\""));
}

/// The report names who recorded each status and note, and when: legal readers see on whose
/// word a finding is confirmed.
#[test]
fn report_lists_who_annotated() {
    let (_root, case) = demo_case();
    case.ok(&["--examiner", "jo", "annotate", "f-4ED054E5C17C2505", "--status", "confirmed-malicious", "--note", "dumper <b>"]);
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    let section = &html[html.find("<h2>Examiners' annotations</h2>").expect("the annotations section")..];
    let row = &section[section.find("<tr><td").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.starts_with("<tr><td class=\"mono nowrap\">F-4ed054e5c17c2505</td>"), "{row}");
    assert!(row.contains("<td>jo</td><td class=\"nowrap\">confirmed-malicious</td><td></td><td>dumper &lt;b&gt;</td>"), "{row}");

    // The confidence levels are counted and explained. As `findings` gives them, the demo's
    // 45 uploads are 1 direct, 10 strong, 15 probable, 9 ambiguous and 10 with none.
    let findings = case.json(&["findings", "--format", "json"]);
    for (level, count) in [("direct", 1), ("strong", 10), ("probable", 15), ("ambiguous", 9), ("none", 10)] {
        let listed = findings.as_array().unwrap().iter().filter(|f| f["confidence"] == level).count();
        assert_eq!(listed, count, "{level}");
        assert!(html.contains(&format!("<tr><td class=\"nowrap {level}\">{level}</td><td>{count}</td>")), "{level}");
    }
    assert!(html.contains("not necessarily the person it belongs to"));

    // The time each table covers, with the demo's two overnight gaps in SigninLogs.
    assert!(html.contains("<h3>Time each table covers</h3>"));
    assert!(html.contains(
        "<tr><td>SigninLogs</td><td>32</td><td class=\"mono nowrap\">2026-03-12T08:29:47.056000Z</td>\
         <td class=\"mono nowrap\">2026-03-14T14:04:58.757000Z</td><td>2026-03-12T18:00:00.000000Z to \
         2026-03-13T08:00:00.000000Z (14 h); 2026-03-13T18:00:00.000000Z to 2026-03-14T14:00:00.000000Z (20 h)</td></tr>"
    ));
}

/// A sentinel hunt's report describes that mode, not the full hunt's confidence levels.
#[test]
fn sentinel_report_describes_its_method() {
    let (_root, case) = demo_case();
    case.ok(&["hunt", "--mode", "sentinel"]);
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    assert!(html.contains("This hunt reproduces the reference Sentinel hunting query"));
    assert!(!html.contains("How to read the confidence"));
    assert!(!html.contains("attributed directly"));
    // The first screen states that this is no attribution and what the full hunt found, counted
    // here from that hunt's findings.
    let full = case.json(&["findings", "--hunt", "1", "--format", "json", "--include-excluded"]);
    let full = full.as_array().unwrap();
    let attributed = full.iter().filter(|f| !f["attributed_account"].is_null()).count();
    assert!(attributed > 0);
    assert!(html.contains("<b>This report is of hunt 2, a sentinel hunt, and is not an attribution.</b>"), "{html}");
    assert!(html.contains(&format!(
        "Full hunt 1 of this case found {} uploads and attributed {attributed} to an account, counted before any \
         exclusion rule; a bundle made with <span class=\"mono\">--hunt 1</span> reports them.",
        full.len()
    )));
    assert!(html.contains("<b>n/a</b>attributed: a sentinel hunt attributes none"));
    assert!(html.contains(">not graded</td>"));
    assert!(!html.contains("nowrap none\">none</td>"));
}

#[test]
fn every_export_format_writes() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json", "--include-excluded"]);
    let total = findings.as_array().unwrap().len();
    let noted = findings[0]["finding_id"].as_str().unwrap().to_string();
    case.ok(&["annotate", &noted, "--note", "hash matches the dumper seen on host WS-17"]);
    for format in ["csv", "jsonl", "json", "parquet", "xlsx", "timesketch"] {
        let out = case.root.path().join(format!("export.{format}"));
        case.ok(&["export", "--format", format, "--out", out.to_str().unwrap()]);
        assert!(std::fs::metadata(&out).unwrap().len() > 0, "{format}");
    }
    let lines = std::fs::read_to_string(case.root.path().join("export.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), total);
    // Without `--format`, the name's extension gives the format, and a name without one is rejected.
    let named = case.root.path().join("by-name.JSONL");
    case.ok(&["export", "--out", named.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&named).unwrap(), lines);
    let output = case.run(&["export", "--out", case.root.path().join("export.txt").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("give `--format` (csv, jsonl, json, parquet, xlsx or timesketch): the name"), "{}", stderr(&output));
    for line in std::fs::read_to_string(case.root.path().join("export.timesketch")).unwrap().lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(event["message"].is_string());
        assert!(event["datetime"].as_str().unwrap().ends_with('Z'));
        assert!(event["timestamp_desc"].is_string());
        if event["finding_id"] == noted.as_str() && event["timestamp_desc"] == "Storage upload" {
            assert_eq!(event["notes"], serde_json::json!(["hash matches the dumper seen on host WS-17"]));
        }
    }
    // Read back by an independent route: DuckDB's Python package (`query` reads no files).
    let counted = std::process::Command::new("python3")
        .args(["-c", "import sys, duckdb; print(duckdb.sql(f\"SELECT count(DISTINCT finding_id) FROM read_parquet('{sys.argv[1]}')\").fetchall()[0][0])"])
        .arg(case.root.path().join("export.parquet"))
        .output()
        .unwrap();
    if counted.status.success() {
        assert_eq!(String::from_utf8_lossy(&counted.stdout).trim(), total.to_string());
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI must install the Python duckdb package");
    }
    let xlsx = std::fs::read(case.root.path().join("export.xlsx")).unwrap();
    assert_eq!(&xlsx[..2], b"PK", "an xlsx file is a zip");
    // The workbook carries the notes too, as text in the findings sheet or the shared strings.
    let mut workbook = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let text: String = ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"]
        .iter()
        .filter_map(|name| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut workbook.by_name(name).ok()?, &mut text).ok()?;
            Some(text)
        })
        .collect();
    assert!(text.contains(">notes<"), "a notes column");
    assert!(text.contains("hash matches the dumper seen on host WS-17"));
}

#[test]
fn export_does_not_overwrite_without_force() {
    let (_root, case) = demo_case();
    let out = case.root.path().join("f.csv");
    std::fs::write(&out, b"keep me").unwrap();
    let output = case.run(&["export", "--format", "csv", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    case.ok(&["export", "--format", "csv", "--excel-bom", "--force", "--out", out.to_str().unwrap()]);
    assert_eq!(&std::fs::read(&out).unwrap()[..3], b"\xef\xbb\xbf");
}

#[test]
fn output_never_replaces_the_case_or_evidence() {
    let (root, case) = demo_case();
    let database = case.path.join("case.duckdb");
    let evidence = root.path().join("cases/demo/exports/SigninLogs.csv");
    let before = std::fs::read(&evidence).unwrap();
    for (args, named) in [
        (vec!["export", "--format", "csv", "--force", "--out"], &database),
        (vec!["export", "--format", "csv", "--force", "--out"], &evidence),
        (vec!["kql", "--force", "--out"], &database),
        (vec!["kql", "--force", "--out"], &evidence),
    ] {
        let output = blobtrail(&case.root).arg("--case").arg(&case.path).args(&args).arg(named).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?} {}", named.display());
        assert!(stderr(&output).contains("name another file for the output"), "{}", stderr(&output));
    }
    assert_eq!(std::fs::read(&evidence).unwrap(), before);
    assert_eq!(case.run(&["verify"]).status.code(), Some(0));
}

#[test]
fn output_into_a_missing_folder_names_the_folder() {
    let (_root, case) = demo_case();
    let missing = case.root.path().join("no-such-folder");
    for args in [
        vec!["export", "--format", "csv", "--out", "no-such-folder/f.csv"],
        vec!["bundle", "--out", "no-such-folder/evidence.zip"],
    ] {
        let output = blobtrail(&case.root).arg("--case").arg(&case.path).args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let text = stderr(&output);
        assert!(text.contains("the folder `no-such-folder` does not exist"), "{text}");
        assert!(!text.contains(".partial"), "{text}");
    }
    assert!(!missing.exists());
}

/// Returns the Chromium binary, or None outside CI when it is not installed.
fn chromium() -> Option<&'static str> {
    let path = "/usr/bin/chromium";
    if Path::new(path).exists() {
        return Some(path);
    }
    assert!(std::env::var_os("CI").is_none(), "CI must install chromium (see .ci/run)");
    eprintln!("skipped: chromium is not installed");
    None
}

#[test]
fn report_renders_in_chromium() {
    let Some(browser) = chromium() else { return };
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let shot = case.root.path().join("report.png");
    let profile = case.root.path().join("profile");
    let output = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--window-size=1280,1600"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", bundle.join("report.html").display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&output.stderr));

    let decoder = png::Decoder::new(std::fs::File::open(&shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let dark = pixels[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p.iter().take(3).map(|&v| v as u32).sum::<u32>() < 3 * 128)
        .count();
    let total = (info.width * info.height) as usize;
    // Text and the timeline make up a few percent of the page; a blank page has none.
    assert!(dark * 200 > total, "the report looks blank: {dark} dark pixels of {total}");
}

/// With a case, `verify-bundle` also checks the manifest's hash against the bundles that the
/// case's audit trail recorded: a bundle whose file and manifest line were both changed agrees
/// with itself, but not with that record.
#[test]
fn verify_bundle_with_a_case_checks_its_record() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let output = case.run(&["verify-bundle", bundle.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("records this bundle: record "));

    // Change findings.csv and write its new hash into the manifest.
    let findings = bundle.join("findings.csv");
    let text = std::fs::read_to_string(&findings).unwrap() + "F-forged\n";
    std::fs::write(&findings, &text).unwrap();
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let manifest: String = std::fs::read_to_string(bundle.join("MANIFEST.sha256"))
        .unwrap()
        .lines()
        .map(|line| if line.ends_with("  findings.csv") { format!("{hash}  findings.csv\n") } else { format!("{line}\n") })
        .collect();
    std::fs::write(bundle.join("MANIFEST.sha256"), manifest).unwrap();
    assert_eq!(verify_bundle(&case, &bundle).status.code(), Some(0), "without a case, the forged bundle agrees with itself");
    let output = case.run(&["verify-bundle", bundle.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("MISMATCH: the manifest's SHA-256 is not one the audit trail of case `"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    // A case from BLOBTRAIL_CASE, set for the whole shell session, may not be the bundle's: it
    // gets a note, and the files that agree with the manifest pass.
    let output = common::blobtrail(&case.root)
        .env("BLOBTRAIL_CASE", &case.path)
        .args(["verify-bundle", bundle.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(stderr(&output).contains("(from BLOBTRAIL_CASE) records no bundle with this manifest"), "{}", stderr(&output));

    // The audit record edited to name the forged manifest: the trail's own check fails, so
    // the record vouches for nothing.
    let forged = String::from_utf8_lossy(&output.stdout).lines().next().unwrap().rsplit(' ').next().unwrap().to_string();
    let script = "import sys, duckdb\n\
                  c = duckdb.connect(sys.argv[1])\n\
                  c.execute(\"UPDATE audit_log SET counts = json_merge_patch(counts, json_object('manifest_sha256', ?)) WHERE command = 'bundle'\", [sys.argv[2]])\n\
                  c.close()";
    let edited = std::process::Command::new("python3").args(["-c", script]).arg(case.path.join("case.duckdb")).arg(&forged).output().unwrap();
    assert!(edited.status.success(), "{}", String::from_utf8_lossy(&edited.stderr));
    let output = case.run(&["verify-bundle", bundle.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("names this bundle, but the trail fails its own check ("), "{stdout}");
}

/// The report's findings table gives an attributed account with the reason it rests on, as
/// `findings` and `show` do: legal reads the report, not the case.
#[test]
fn report_gives_the_reason_of_an_attribution() {
    let (_root, case) = demo_case();
    let strong = case.json(&["findings", "--format", "json", "--confidence", "strong"]);
    let finding = &strong[0];
    let reason = finding["reason"].as_str().unwrap();
    assert!(reason.starts_with("the only account that signed in successfully from this address in the window"), "{reason}");
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    let cell = format!("<td>{}: {reason}</td>", finding["attributed_account"].as_str().unwrap());
    assert!(html.contains(&cell), "{cell}");
}

/// A bundle of a hunt narrowed to one file name says so on its first screen, with the full
/// hunt's counts, and names the uploads confirmed malicious in the case that it does not have.
#[test]
fn narrowed_hunt_report_names_what_it_leaves_out() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json", "--include-excluded"]);
    let dumper = findings.as_array().unwrap().iter().find(|f| f["file_name"] == "mimikatz.exe").unwrap();
    let id = dumper["finding_id"].as_str().unwrap().to_string();
    case.ok(&["annotate", &id, "--status", "confirmed-malicious", "--note", "dumper"]);
    let other = findings.as_array().unwrap().iter().find(|f| f["file_name"] != "mimikatz.exe").unwrap();
    let file = other["file_name"].as_str().unwrap();
    case.ok(&["hunt", "--file", file]);
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    let attributed = findings.as_array().unwrap().iter().filter(|f| !f["attributed_account"].is_null()).count();
    assert!(html.contains(&format!("This hunt was limited to uploads of files named <span class=\"mono\">{file}</span>")), "{html}");
    assert!(html.contains(&format!(
        "<p class=\"alert\">Full hunt 1 of this case found {} uploads and attributed {attributed} to an account",
        findings.as_array().unwrap().len()
    )), "{html}");
    assert!(html.contains(&format!(
        "<b>1 upload confirmed malicious in this case is not among this hunt's findings</b>: {id} ({}, uploaded {}Z, hunt 1).",
        dumper["object_path"].as_str().unwrap(),
        &dumper["upload_time"].as_str().unwrap()[..19]
    )), "{html}");
}

/// For a finding confirmed malicious, the report names the records the attribution rests on: the
/// storage request and the attributed account's sign-in, each with its file and line, as the
/// finding's JSON gives them.
#[test]
fn report_gives_the_evidence_of_confirmed_findings() {
    let (_root, case) = demo_case();
    let findings = case.json(&["findings", "--format", "json"]);
    let dumper = findings.as_array().unwrap().iter().find(|f| f["file_name"] == "mimikatz.exe").unwrap();
    let id = dumper["finding_id"].as_str().unwrap();
    case.ok(&["annotate", id, "--status", "confirmed-malicious"]);
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    assert!(html.contains("<h2>Evidence for confirmed and reviewed findings</h2>"));
    assert!(html.contains(&format!(
        "<span class=\"mono\">{id}</span> (confirmed-malicious, {})",
        dumper["confidence"].as_str().unwrap()
    )));
    assert!(html.contains(&format!(
        "storage log: {}, line {}.</li>",
        dumper["source_file"].as_str().unwrap(),
        dumper["source_line"]
    )), "{html}");
    let signin = dumper["candidates"].as_array().unwrap().iter().find(|c| c["account"] == dumper["attributed_account"]).unwrap();
    assert!(html.contains(&format!(
        "<li>Sign-in: {} at {} from {} ({})",
        signin["account"].as_str().unwrap(),
        signin["signin_time"].as_str().unwrap(),
        signin["ip"].as_str().unwrap(),
        signin["source_table"].as_str().unwrap()
    )), "{html}");
    assert!(html.contains(&format!(
        "sign-in log: {}, line {}.</li>",
        signin["source_file"].as_str().unwrap(),
        signin["source_line"]
    )), "{html}");
}

/// An export is written under `NAME.partial` and renamed. Anything already at that name (a
/// link to the evidence or to the case's database, or another run's file) stops the export,
/// so that nothing is written through the link or replaced.
#[test]
fn export_leaves_an_existing_partial_alone() {
    let (root, case) = demo_case();
    let evidence = root.path().join("cases/demo/exports/SigninLogs.csv");
    let before = std::fs::read(&evidence).unwrap();
    let out = case.root.path().join("h.csv");
    let partial = case.root.path().join("h.csv.partial");
    for format in ["csv", "json", "jsonl", "xlsx"] {
        std::os::unix::fs::symlink(&evidence, &partial).unwrap();
        let output = case.run(&["export", "--format", format, "--out", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{format}");
        assert!(stderr(&output).contains("h.csv.partial` already exists: an earlier run failed or is writing it now"), "{}", stderr(&output));
        std::fs::remove_file(&partial).unwrap();
    }
    std::fs::write(&partial, b"notes").unwrap();
    assert_eq!(case.run(&["export", "--format", "csv", "--out", out.to_str().unwrap()]).status.code(), Some(1));
    assert_eq!(std::fs::read(&partial).unwrap(), b"notes");
    assert!(!out.exists());
    assert_eq!(std::fs::read(&evidence).unwrap(), before);
    assert_eq!(case.run(&["verify"]).status.code(), Some(0));
}

/// Bytes before a zip bundle's first entry or after its end record are no part of any file
/// the manifest lists, but a streaming reader takes entries from the front: both fail.
#[test]
fn zip_bundle_with_stray_bytes_fails() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle.zip");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let bytes = std::fs::read(&bundle).unwrap();
    for (name, text, expected) in [
        ("before.zip", [b"JUNK".as_slice(), &bytes].concat(), "MISMATCH: 4 bytes precede the zip's first entry"),
        ("after.zip", [bytes.as_slice(), b"TRAILING"].concat(), "MISMATCH: bytes follow the zip's end record"),
    ] {
        let tampered = case.root.path().join(name);
        std::fs::write(&tampered, text).unwrap();
        let output = verify_bundle(&case, &tampered);
        assert_eq!(output.status.code(), Some(1), "{name}");
        assert!(String::from_utf8_lossy(&output.stdout).contains(expected), "{name}: {}", String::from_utf8_lossy(&output.stdout));
    }
}

/// A named pipe in a bundle folder is reported, not opened (reading it would wait for ever),
/// and a file name with control characters is printed escaped.
#[test]
fn folder_bundle_with_a_pipe_and_a_hostile_name_fails() {
    let (_root, case) = demo_case();
    let bundle = case.root.path().join("bundle");
    case.ok(&["bundle", "--out", bundle.to_str().unwrap()]);
    let made = std::process::Command::new("mkfifo").arg(bundle.join("sql/zz")).status().unwrap();
    assert!(made.success());
    std::fs::write(bundle.join("x\u{1b}[2K\rverify-bundle: OK"), b"").unwrap();
    let output = verify_bundle(&case, &bundle);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("MISMATCH: `sql/zz` is not a regular file (a named pipe, socket or device)"), "{stdout}");
    assert!(stdout.contains("MISMATCH: `x\\x1b[2K\\rverify-bundle: OK` was added"), "{stdout}");
}
