//! The one-page HTML report of an evidence bundle.
//!
//! The report is one self-contained file: inline CSS and an inline SVG timeline, no scripts,
//! no fonts or images from anywhere. Every value that comes from a log is attacker-controlled
//! and goes through `escape` before it is written. The first screen says what was examined
//! and what was found; the method and the limitations follow.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use crate::exclusions::Rule;
use crate::findings::{Candidate, Finding};
use crate::import::record::Position;
use crate::parse::time::parse_timestamp;

/// The data a report is built from.
pub struct ReportInput<'a> {
    pub case_name: &'a str,
    pub case_title: Option<&'a str>,
    pub examiner: Option<&'a str>,
    pub generated_at: &'a str,
    pub hunt_id: i64,
    pub hunt_mode: &'a str,
    pub hunt_parameters: &'a str,
    pub view_name: &'a str,
    pub view_version: i32,
    pub view_checksum: &'a str,
    pub hunt_started: &'a str,
    pub sources: &'a [SourceLine],
    /// Per log table: name, records, first and last time, and its gaps of whole hours, as
    /// `blobtrail sources` prints them.
    pub coverage: &'a [Vec<String>],
    pub findings: &'a [ReportFinding],
    /// Every annotated finding's history, by finding ID.
    pub annotations: &'a [(String, Vec<crate::annotations::Annotation>)],
    pub rules: &'a [Rule],
    pub integrity: &'a Integrity,
    /// The latest full hunt of every upload, when this report is of a sentinel hunt or of one
    /// narrowed to a file name.
    pub full_hunt: Option<FullHunt>,
    /// The uploads the case's examiners confirmed malicious that this hunt does not have, each
    /// described with its finding, object, time and the latest hunt that has it.
    pub confirmed_elsewhere: Vec<String>,
}

/// A full hunt's counts, which a report of a sentinel or narrowed hunt points to.
pub struct FullHunt {
    pub hunt_id: i64,
    pub uploads: i64,
    pub attributed: i64,
}

impl FullHunt {
    /// Says what the full hunt found and how to report it, as HTML.
    fn describe(&self) -> String {
        format!(
            "Full hunt {} of this case found {} {} and attributed {} to an account, counted before any exclusion \
             rule; a bundle made with <span class=\"mono\">--hunt {}</span> reports them.",
            self.hunt_id,
            thousands(self.uploads),
            if self.uploads == 1 { "upload" } else { "uploads" },
            thousands(self.attributed),
            self.hunt_id
        )
    }
}

/// The result of the checks that `bundle` runs on the case's own record before writing.
#[derive(serde::Serialize)]
pub struct Integrity {
    pub audit_records: usize,
    pub last_record_hash: Option<String>,
    /// One message per problem with the audit trail or a hunt's findings; empty means intact.
    pub problems: Vec<String>,
}

/// The part of a finding that the report shows. A bundle keeps one for every finding instead of
/// whole findings with every candidate.
#[derive(Default)]
pub struct ReportFinding {
    pub finding_id: String,
    pub upload_time: String,
    pub object_path: Option<String>,
    pub caller_ip_raw: Option<String>,
    pub confidence: Option<String>,
    pub attributed_account: Option<String>,
    pub reason: Option<String>,
    pub status: Option<String>,
    pub excluded_by: Vec<i64>,
    /// The accounts among the first five candidates, a failed sign-in marked as such.
    pub candidate_accounts: Vec<String>,
    /// The sign-in time of the attributed account's candidate.
    pub attributed_signin_time: Option<String>,
    /// For a finding confirmed malicious or needing review: the records its attribution rests on,
    /// one sentence each, with the file and line they come from.
    pub evidence: Vec<String>,
}

impl From<&Finding> for ReportFinding {
    fn from(f: &Finding) -> Self {
        let attributed = f.candidates.iter().find(|c| c.account.is_some() && c.account == f.attributed_account);
        ReportFinding {
            finding_id: f.finding_id.clone(),
            upload_time: f.upload_time.clone(),
            object_path: f.object_path.clone(),
            caller_ip_raw: f.caller_ip_raw.clone(),
            confidence: f.confidence.clone(),
            attributed_account: f.attributed_account.clone(),
            reason: f.reason.clone(),
            status: f.status.clone(),
            excluded_by: f.excluded_by.clone(),
            candidate_accounts: f.candidates.iter().take(5).filter(|c| c.account.is_some()).map(Candidate::label).collect(),
            attributed_signin_time: attributed.map(|c| c.signin_time.clone()),
            evidence: if matches!(f.status.as_deref(), Some("confirmed-malicious" | "needs-review")) {
                evidence(f)
            } else {
                Vec::new()
            },
        }
    }
}

/// Says on what records a finding rests: the storage request that completed the upload, the
/// attributed account's closest sign-in, and the other candidates, each with its file and line.
fn evidence(f: &Finding) -> Vec<String> {
    let place = |file: &str, line: Option<i64>, record: i64| format!("{file}, {}", Position::stored(record, line).describe());
    let mut lines = Vec::new();
    let parts = if f.part_count > 1 || f.upload_kind.ends_with("-upload") {
        format!(", the last of its requests since {}", f.first_time)
    } else {
        String::new()
    };
    let requester = f.requester_upn.as_deref().or(f.requester_object_id.as_deref());
    lines.push(format!(
        "Upload: {} of {} at {}{parts}, from {}, authenticated by {}{}; storage log: {}.",
        f.operation.as_deref().unwrap_or("a write"),
        f.object_path.as_deref().unwrap_or("an unnamed object"),
        f.upload_time,
        f.caller_ip_raw.as_deref().unwrap_or("an unrecorded address"),
        f.authentication_type.as_deref().unwrap_or("an unrecorded method"),
        requester.map(|who| format!(" as {who}")).unwrap_or_default(),
        place(&f.source_file, f.source_line, f.source_record)
    ));
    let attributed = f.candidates.iter().find(|c| c.account.is_some() && c.account == f.attributed_account);
    if let Some(c) = attributed {
        lines.push(format!(
            "Sign-in: {} at {} from {} ({}); {}; sign-in log: {}.",
            c.label(),
            c.signin_time,
            c.ip,
            c.source_table,
            c.reasons.first().map_or("", String::as_str),
            place(&c.source_file, c.source_line, c.source_record)
        ));
    }
    // The candidates besides the attributed one, by rank, each with its record.
    const LISTED: usize = 5;
    let others: Vec<&Candidate> = f.candidates.iter().filter(|c| attributed.is_none_or(|a| !std::ptr::eq(a, *c))).collect();
    let what = if attributed.is_some() { "Also signed in from the address in the window" } else { "Candidate" };
    for c in others.iter().take(LISTED) {
        lines.push(format!(
            "{what}: {} at {} from {} ({}); sign-in log: {}.",
            c.label(),
            c.signin_time,
            c.ip,
            c.source_table,
            place(&c.source_file, c.source_line, c.source_record)
        ));
    }
    if others.len() > LISTED {
        lines.push(format!("{} more candidates are in findings.json.", others.len() - LISTED));
    }
    lines
}

/// One imported file, as the report lists it.
pub struct SourceLine {
    pub path: String,
    pub sha256: String,
    pub tables: String,
    pub records: i64,
    pub imported: i64,
    pub rejected: i64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#x{:x};", c as u32);
            }
            // A browser would obey it (a right-to-left override turns `fdp.exe` into `exe.pdf`), so it is written out.
            c if crate::output::is_bidi_control(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1100px; color: #1a1a1a; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
.sub { color: #555; margin-top: 0; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.6rem 1rem; min-width: 10rem; }
.card b { display: block; font-size: 1.5rem; }
.alert { border-left: 6px solid #b00020; background: #fdecee; padding: 0.6rem 1rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.4rem; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
.nowrap { white-space: nowrap; }
th { background: #f3f3f3; }
.mono { font-family: ui-monospace, Consolas, monospace; font-size: 0.8rem; }
.direct, .strong { color: #0b6b0b; font-weight: bold; }
.probable { color: #8a6d00; }
.ambiguous, .none { color: #666; }
svg text { font-size: 11px; fill: #333; }
@media (max-width: 900px) {
  .nowrap { white-space: normal; }
  table { font-size: 0.75rem; }
}
@media print {
  body { margin: 0; max-width: none; font-size: 9pt; padding: 0; }
  h2 { break-after: avoid; }
  .cards, svg, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  table { font-size: 7.5pt; }
  .mono { font-size: 7pt; }
  .nowrap { white-space: normal; }
  a { color: inherit; text-decoration: none; }
}
";

/// Renders the whole report.
pub fn render(input: &ReportInput) -> String {
    let mut html = String::new();
    let title = input.case_title.unwrap_or(input.case_name);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – blobtrail report</title><style>{STYLE}</style></head><body>\n",
        escape(title)
    );
    let _ = writeln!(
        html,
        "<h1>{}</h1><p class=\"sub\">Case <b>{}</b> · examiner {} · report generated {} by blobtrail {}</p>",
        escape(title),
        escape(input.case_name),
        escape(input.examiner.unwrap_or("not recorded")),
        escape(input.generated_at),
        escape(crate::VERSION)
    );
    if !input.integrity.problems.is_empty() {
        html.push_str(
            "<p class=\"alert\"><b>The case's record was changed outside blobtrail</b>: see Case integrity below. \
             Treat these findings as unverified.</p>\n",
        );
    }
    let parameters: serde_json::Value = serde_json::from_str(input.hunt_parameters).unwrap_or_default();
    if let Some(file) = parameters["file"].as_str() {
        let _ = writeln!(
            html,
            "<p class=\"alert\"><b>This hunt was limited to uploads of files named <span class=\"mono\">{}</span></b> \
             (ignoring case). Other uploads in these logs were not examined, and the counts below are of this file only.</p>",
            escape(file)
        );
    }
    summary(&mut html, input);
    timeline(&mut html, input.findings);
    findings_table(&mut html, input.findings, input.hunt_mode != "sentinel");
    evidence_section(&mut html, input.findings);
    annotations_table(&mut html, input.annotations);
    sources_table(&mut html, input.sources);
    coverage_table(&mut html, input.coverage);
    method(&mut html, input);
    integrity(&mut html, input.integrity);
    limitations(&mut html);
    html.push_str("</body></html>\n");
    html
}

fn active(findings: &[ReportFinding]) -> impl Iterator<Item = &ReportFinding> {
    findings.iter().filter(|f| f.excluded_by.is_empty())
}

/// Returns the findings the timeline may draw: those no rule excludes, and every one confirmed
/// malicious, which a rule does not clear.
fn timeline_candidates(findings: &[ReportFinding]) -> impl Iterator<Item = &ReportFinding> {
    findings.iter().filter(|f| f.excluded_by.is_empty() || f.status.as_deref() == Some("confirmed-malicious"))
}

fn summary(html: &mut String, input: &ReportInput) {
    let findings = input.findings;
    // An exclusion rule does not clear what an examiner confirmed, so these count whether or not one matches.
    let confirmed: Vec<&ReportFinding> = findings.iter().filter(|f| f.status.as_deref() == Some("confirmed-malicious")).collect();
    let confirmed_excluded = confirmed.iter().filter(|f| !f.excluded_by.is_empty()).count();
    let open = active(findings).filter(|f| matches!(f.status.as_deref(), None | Some("open") | Some("needs-review"))).count();
    let excluded = findings.iter().filter(|f| !f.excluded_by.is_empty()).count();
    let attributed = active(findings).filter(|f| f.attributed_account.is_some()).count();
    let records: i64 = input.sources.iter().map(|s| s.imported).sum();
    let first = input.sources.iter().filter_map(|s| s.first_time.clone()).min().unwrap_or_default();
    let last = input.sources.iter().filter_map(|s| s.last_time.clone()).max().unwrap_or_default();

    html.push_str("<h2>Summary</h2>\n");
    let sentinel = input.hunt_mode == "sentinel";
    if sentinel {
        let full = match &input.full_hunt {
            Some(full) => full.describe(),
            None => "No full hunt of this case has run; <span class=\"mono\">blobtrail hunt</span> runs one.".to_string(),
        };
        let _ = writeln!(
            html,
            "<p class=\"alert\"><b>This report is of hunt {}, a sentinel hunt, and is not an attribution.</b> It reproduces \
             the reference Sentinel hunting query, which reads only <span class=\"mono\">PutBlob</span> and \
             <span class=\"mono\">PutRange</span> uploads and lists sign-ins from the caller's address without naming \
             an account (see Method). {full}</p>",
            input.hunt_id
        );
    } else if let Some(full) = &input.full_hunt {
        // The alert above the summary names the file the hunt was limited to.
        let _ = writeln!(html, "<p class=\"alert\">{}</p>", full.describe());
    }
    if !input.confirmed_elsewhere.is_empty() {
        let uploads = first_of(input.confirmed_elsewhere.iter().map(|upload| escape(upload)).collect());
        let _ = writeln!(
            html,
            "<p class=\"alert\"><b>{} confirmed malicious in this case {} not among this hunt's findings</b>: {uploads}. \
             A bundle of the hunt named with each reports it in full.</p>",
            crate::output::count(input.confirmed_elsewhere.len() as i64, "upload", "uploads"),
            if input.confirmed_elsewhere.len() == 1 { "is" } else { "are" },
        );
    }
    if !confirmed.is_empty() {
        let accounts: BTreeSet<&str> = confirmed.iter().filter_map(|f| f.attributed_account.as_deref()).collect();
        let files = first_of(confirmed.iter().map(|f| escape(f.object_path.as_deref().unwrap_or("?"))).collect());
        let _ = writeln!(
            html,
            "<p class=\"alert\"><b>{} upload(s) confirmed malicious</b>: {}. Account(s) whose sign-ins they are attributed to: <b>{}</b> \
             (the account used, which is not necessarily the person: a stolen session or token signs in as its owner).{}</p>",
            confirmed.len(),
            files,
            match (accounts.is_empty(), input.hunt_mode) {
                (true, "sentinel") => "none, because this report is of a sentinel hunt, which attributes no account (see Method)".to_string(),
                (true, _) => "none".to_string(),
                (false, _) => first_of(accounts.iter().map(|a| escape(a)).collect()),
            },
            if confirmed_excluded > 0 {
                format!(" {confirmed_excluded} of them also match an exclusion rule; the rule does not clear them.")
            } else {
                String::new()
            }
        );
    }
    let uploads_word = if findings.len() == 1 { "upload found" } else { "uploads found" };
    let attributed_label = if sentinel { "attributed: a sentinel hunt attributes none" } else { "attributed to an account" };
    let _ = writeln!(
        html,
        "<div class=\"cards\">\
         <div class=\"card\"><b>{}</b>files examined</div>\
         <div class=\"card\"><b>{}</b>log records</div>\
         <div class=\"card\"><b>{}</b>{uploads_word}</div>\
         <div class=\"card\"><b>{}</b>{attributed_label}</div>\
         <div class=\"card\"><b>{}</b>confirmed malicious</div>\
         <div class=\"card\"><b>{}</b>open or needing review</div>\
         <div class=\"card\"><b>{}</b>excluded by recorded rules</div></div>",
        thousands(input.sources.len() as i64),
        thousands(records),
        thousands(findings.len() as i64),
        if sentinel { "n/a".to_string() } else { thousands(attributed as i64) },
        thousands(confirmed.len() as i64),
        thousands(open as i64),
        thousands(excluded as i64),
    );
    if excluded > 0 {
        let _ = writeln!(
            html,
            "<p class=\"sub\">Of the uploads found, {} match a recorded exclusion rule; the counts of attributed and open \
             uploads are of the {} that do not. Confirmed malicious uploads are counted whether or not a rule matches them.</p>",
            thousands(excluded as i64),
            thousands((findings.len() - excluded) as i64)
        );
    }
    let _ = writeln!(
        html,
        "<p>Logs examined cover <b>{}</b> to <b>{}</b> (UTC). Accounts involved in attributed uploads, with their number \
         of uploads: {}.</p>",
        escape(&first),
        escape(&last),
        accounts_by_uploads(findings)
    );
    if input.hunt_mode != "sentinel" {
        confidence_legend(html, findings);
    }
}

/// Writes the count of uploads no rule excludes at each confidence, what each level means in
/// plain words, and that an account is not a person.
fn confidence_legend(html: &mut String, findings: &[ReportFinding]) {
    const LEVELS: [(&str, &str); 5] = [
        ("direct", "the storage log itself names the signed-in account or application that made the request"),
        (
            "strong",
            "exactly one account signed in successfully from the upload's public address in the window, within 30 minutes \
             before the upload began to 5 minutes after it ended or with the same user agent",
        ),
        (
            "probable",
            "one account signed in from the address in the window, but not that close in time, or the upload's requests \
             came from several addresses; or several accounts did, and one scores clearly above the others",
        ),
        (
            "ambiguous",
            "several accounts signed in from the address in the window and none stands out, or the storage log names \
             several accounts for the upload's requests; all are listed",
        ),
        (
            "none",
            "no account could be matched, for the reason the finding gives: no successful sign-in from the address in the \
             window, a private address, or a write (SMB, NFS) that Entra ID sign-ins cannot explain",
        ),
    ];
    html.push_str("<h3>How to read the confidence</h3>\n<table><thead><tr><th>Confidence</th><th>Uploads</th><th>Meaning</th></tr></thead><tbody>\n");
    for (level, meaning) in LEVELS {
        let count = active(findings).filter(|f| f.confidence.as_deref() == Some(level)).count();
        let _ = writeln!(
            html,
            "<tr><td class=\"nowrap {level}\">{level}</td><td>{}</td><td>{meaning}</td></tr>",
            thousands(count as i64)
        );
    }
    html.push_str(
        "</tbody></table>\n<p class=\"sub\">Counts are of the uploads that no rule excludes. An attributed account is the \
         account whose sign-in session or token most likely made the upload, not necessarily the person it belongs to: \
         someone with a stolen password or token signs in as that account. Every level but direct is an inference from \
         addresses and times.</p>\n",
    );
}

/// Maximum rows of the findings table and maximum uploads on the timeline. A big case would
/// otherwise give a report too large to open. The report states what it left out, and
/// `findings.csv` and `findings.json` beside it hold every finding.
const TABLE_LIMIT: usize = 1_000;
const TIMELINE_LIMIT: usize = 2_000;

/// Orders findings by what a reader must see first: confirmed malicious, then the others not
/// excluded before the excluded ones, each by status (needing review, open, the others);
/// earlier uploads first.
fn attention_key(f: &ReportFinding) -> (bool, bool, u8, &str) {
    let status = match f.status.as_deref() {
        Some("confirmed-malicious") => 0,
        Some("needs-review") => 1,
        None | Some("open") => 2,
        Some(_) => 3,
    };
    (status != 0, !f.excluded_by.is_empty(), status, f.upload_time.as_str())
}

/// Returns at most `limit` findings, the first in attention order, sorted in that order.
fn first_by_attention<'a>(findings: impl Iterator<Item = &'a ReportFinding>, limit: usize) -> Vec<&'a ReportFinding> {
    let mut chosen: Vec<&ReportFinding> = findings.collect();
    let order = |a: &&ReportFinding, b: &&ReportFinding| attention_key(a).cmp(&attention_key(b));
    if chosen.len() > limit {
        chosen.select_nth_unstable_by(limit, order);
        chosen.truncate(limit);
    }
    chosen.sort_by(order);
    chosen
}

/// Writes `n` with a comma between groups of three digits, as a reader expects in a report.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        text.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// Most accounts the summary names; findings.csv lists every one.
const ACCOUNTS_NAMED: usize = 25;

/// Names the attributed accounts of the findings that no rule excludes, most uploads first,
/// each with its number of uploads. After `ACCOUNTS_NAMED` accounts it states how many more there are.
fn accounts_by_uploads(findings: &[ReportFinding]) -> String {
    let mut uploads: HashMap<&str, usize> = HashMap::new();
    for account in active(findings).filter_map(|f| f.attributed_account.as_deref()) {
        *uploads.entry(account).or_default() += 1;
    }
    if uploads.is_empty() {
        return "none".to_string();
    }
    let mut ranked: Vec<(&str, usize)> = uploads.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut named: Vec<String> = ranked
        .iter()
        .take(ACCOUNTS_NAMED)
        .map(|(account, count)| format!("{} ({})", escape(account), thousands(*count as i64)))
        .collect();
    if ranked.len() > ACCOUNTS_NAMED {
        named.push(format!("and {} more accounts, listed in findings.csv", thousands((ranked.len() - ACCOUNTS_NAMED) as i64)));
    }
    named.join(", ")
}

/// Chooses at most `limit` uploads of `timeline_candidates` for the timeline: those confirmed
/// malicious or needing review first, then the others spread evenly over time.
fn timeline_points(findings: &[ReportFinding], limit: usize) -> Vec<&ReportFinding> {
    let (mut chosen, mut others): (Vec<&ReportFinding>, Vec<&ReportFinding>) =
        timeline_candidates(findings).partition(|f| matches!(f.status.as_deref(), Some("confirmed-malicious" | "needs-review")));
    if chosen.len() + others.len() <= limit {
        chosen.extend(others);
        return chosen;
    }
    chosen.sort_by(|a, b| attention_key(a).cmp(&attention_key(b)));
    chosen.truncate(limit);
    let room = limit - chosen.len();
    others.sort_by(|a, b| a.upload_time.cmp(&b.upload_time));
    let count = others.len();
    chosen.extend((0..room).map(|index| others[index * count / room]));
    chosen
}

fn timeline(html: &mut String, findings: &[ReportFinding]) {
    const WIDTH: f64 = 1000.0;
    const LEFT: f64 = 40.0;
    const RIGHT: f64 = 20.0;
    let times: Vec<i64> = timeline_candidates(findings).filter_map(|f| parse_timestamp(&f.upload_time, 0, None).ok()).collect();
    html.push_str("<h2>Timeline of uploads and attributed sign-ins</h2>\n");
    if times.is_empty() {
        html.push_str("<p>No uploads to show.</p>\n");
        return;
    }
    let drawn = timeline_points(findings, TIMELINE_LIMIT);
    let points: Vec<(i64, &ReportFinding)> =
        drawn.iter().filter_map(|f| parse_timestamp(&f.upload_time, 0, None).ok().map(|t| (t, *f))).collect();
    let signins: Vec<(i64, i64, &ReportFinding)> = points
        .iter()
        .filter_map(|(upload, f)| {
            let signin_time = f.attributed_signin_time.as_deref()?;
            Some((parse_timestamp(signin_time, 0, None).ok()?, *upload, *f))
        })
        .collect();
    let min = times.iter().copied().chain(signins.iter().map(|s| s.0)).min().unwrap_or(0);
    let max = times.iter().copied().chain(signins.iter().map(|s| s.0)).max().unwrap_or(0).max(min + 1);
    let x = |t: i64| LEFT + (t - min) as f64 / (max - min) as f64 * (WIDTH - LEFT - RIGHT);

    let _ = write!(html, "<svg viewBox=\"0 0 {WIDTH} 170\" width=\"100%\" role=\"img\" aria-label=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\">");
    html.push_str("<text x=\"0\" y=\"44\">uploads</text><text x=\"0\" y=\"124\">sign-ins</text>");
    let _ = write!(html, "<line x1=\"{LEFT}\" y1=\"40\" x2=\"{}\" y2=\"40\" stroke=\"#bbb\"/>", WIDTH - RIGHT);
    let _ = write!(html, "<line x1=\"{LEFT}\" y1=\"120\" x2=\"{}\" y2=\"120\" stroke=\"#bbb\"/>", WIDTH - RIGHT);
    for (signin, upload, f) in &signins {
        let _ = write!(
            html,
            "<line x1=\"{:.1}\" y1=\"120\" x2=\"{:.1}\" y2=\"40\" stroke=\"#9ab\" stroke-width=\"1\"><title>{}</title></line>",
            x(*signin),
            x(*upload),
            escape(f.attributed_account.as_deref().unwrap_or(""))
        );
        let _ = write!(html, "<circle cx=\"{:.1}\" cy=\"120\" r=\"4\" fill=\"#357\"/>", x(*signin));
    }
    for (time, f) in &points {
        let malicious = f.status.as_deref() == Some("confirmed-malicious");
        let colour = match (malicious, f.confidence.as_deref()) {
            (true, _) => "#b00020",
            (_, Some("direct" | "strong")) => "#0b6b0b",
            (_, Some("probable")) => "#c9a000",
            _ => "#999",
        };
        let _ = write!(
            html,
            "<circle cx=\"{:.1}\" cy=\"40\" r=\"{}\" fill=\"{colour}\"><title>{} {} ({})</title></circle>",
            x(*time),
            if malicious { 7 } else { 4 },
            escape(&f.upload_time),
            escape(f.object_path.as_deref().unwrap_or("")),
            escape(f.confidence.as_deref().unwrap_or(""))
        );
    }
    let label = |t: i64| crate::parse::time::format_iso(t).chars().take(16).collect::<String>().replace('T', " ");
    let _ = writeln!(
        html,
        "<text x=\"{LEFT}\" y=\"160\">{}</text><text x=\"{}\" y=\"160\" text-anchor=\"end\">{} UTC</text></svg>",
        escape(&label(min)),
        WIDTH - RIGHT,
        escape(&label(max))
    );
    html.push_str("<p class=\"sub\">Red: confirmed malicious. Green: direct or strong attribution. Amber: probable. Grey: ambiguous or none. Lines join each upload to the sign-in of its attributed account.");
    if times.len() > points.len() {
        let _ = write!(
            html,
            " The timeline draws {} of the {} uploads that no rule excludes or that are confirmed malicious: \
             every one confirmed malicious or needing review, and the others spread evenly over time.",
            thousands(points.len() as i64),
            thousands(times.len() as i64)
        );
    }
    html.push_str("</p>\n");
}

fn findings_table(html: &mut String, findings: &[ReportFinding], graded: bool) {
    html.push_str("<h2>Findings</h2>\n");
    let sorted = first_by_attention(findings.iter(), TABLE_LIMIT);
    if sorted.len() < findings.len() {
        let _ = writeln!(
            html,
            "<p>The table lists {} of {} findings: confirmed malicious first, then those needing review, then open ones, \
             earliest first, excluded ones last. <span class=\"mono\">findings.csv</span> and \
             <span class=\"mono\">findings.json</span> in this bundle hold every finding.</p>",
            thousands(sorted.len() as i64),
            thousands(findings.len() as i64)
        );
    }
    html.push_str("<table><thead><tr><th>Finding</th><th>Upload (UTC)</th><th>Object</th><th>Caller</th><th>Confidence</th><th>Account or reason</th><th>Status</th><th>Excluded by</th></tr></thead><tbody>\n");
    for f in sorted {
        // A sentinel hunt grades no finding; its stored `none` would read as a verdict.
        let confidence = if graded { f.confidence.as_deref().unwrap_or("") } else { "not graded" };
        let candidates = &f.candidate_accounts;
        let who = match (&f.attributed_account, candidates.is_empty()) {
            // The reason states what the account rests on, and any caveat (requests from several addresses).
            (Some(account), _) => match &f.reason {
                Some(reason) => format!("{account}: {reason}"),
                None => account.clone(),
            },
            (None, false) => format!("candidates: {}", candidates.join(", ")),
            (None, true) => f.reason.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"mono nowrap\">{}</td><td class=\"mono nowrap\">{}</td><td>{}</td><td class=\"mono nowrap\">{}</td><td class=\"nowrap {}\">{}</td><td>{}</td><td class=\"nowrap\">{}</td><td>{}</td></tr>",
            escape(&f.finding_id),
            escape(&f.upload_time),
            escape(f.object_path.as_deref().unwrap_or("")),
            escape(f.caller_ip_raw.as_deref().unwrap_or("")),
            escape(confidence),
            escape(confidence),
            escape(&who),
            escape(crate::findings::status_or_open(f.status.as_deref())),
            escape(&f.excluded_by.iter().map(|id| format!("rule {id}")).collect::<Vec<_>>().join(", "))
        );
    }
    html.push_str("</tbody></table>\n");
}

/// Joins the first twenty items of a list, saying how many more there are, so that an alert
/// stays readable however many uploads it concerns.
fn first_of(items: Vec<String>) -> String {
    const SHOWN: usize = 20;
    let more = items.len().saturating_sub(SHOWN);
    let shown = items[..items.len().min(SHOWN)].join(", ");
    if more > 0 { format!("{shown} and {more} more") } else { shown }
}

/// Lists, for each finding confirmed malicious or needing review, the records its attribution
/// rests on, so that a reader can check them in the exports without the case.
fn evidence_section(html: &mut String, findings: &[ReportFinding]) {
    let with_evidence: Vec<&ReportFinding> = first_by_attention(findings.iter().filter(|f| !f.evidence.is_empty()), TABLE_LIMIT);
    if with_evidence.is_empty() {
        return;
    }
    html.push_str("<h2>Evidence for confirmed and reviewed findings</h2>\n");
    let total = findings.iter().filter(|f| !f.evidence.is_empty()).count();
    if with_evidence.len() < total {
        let _ = writeln!(
            html,
            "<p>This section gives {} of {} findings, confirmed malicious first; <span class=\"mono\">findings.json</span> \
             in this bundle holds the candidates and records of every one.</p>",
            thousands(with_evidence.len() as i64),
            thousands(total as i64)
        );
    }
    for f in with_evidence {
        let _ = write!(
            html,
            "<p><span class=\"mono\">{}</span> ({}, {})</p>\n<ul>",
            escape(&f.finding_id),
            escape(crate::findings::status_or_open(f.status.as_deref())),
            escape(f.confidence.as_deref().unwrap_or("not graded"))
        );
        for line in &f.evidence {
            let _ = write!(html, "<li>{}</li>", escape(line));
        }
        html.push_str("</ul>\n");
    }
}

/// Lists who recorded each status, tag and note, and when, so that a reader can see on whose
/// word a finding is confirmed.
fn annotations_table(html: &mut String, annotations: &[(String, Vec<crate::annotations::Annotation>)]) {
    html.push_str("<h2>Examiners' annotations</h2>\n");
    let total: usize = annotations.iter().map(|(_, history)| history.len()).sum();
    if total == 0 {
        html.push_str("<p>No finding has been annotated.</p>\n");
        return;
    }
    if total > TABLE_LIMIT {
        let _ = writeln!(
            html,
            "<p>The table lists the first {} of {} annotations by finding. \
             <span class=\"mono\">annotations.json</span> in this bundle holds every one.</p>",
            thousands(TABLE_LIMIT as i64),
            thousands(total as i64)
        );
    }
    html.push_str("<table><thead><tr><th>Finding</th><th>Recorded (UTC)</th><th>Examiner</th><th>Status</th><th>Tags</th><th>Note</th></tr></thead><tbody>\n");
    let rows = annotations.iter().flat_map(|(finding_id, history)| history.iter().map(move |a| (finding_id, a)));
    for (finding_id, a) in rows.take(TABLE_LIMIT) {
        let tags: Vec<String> =
            a.tags_added.iter().map(|t| format!("+{t}")).chain(a.tags_removed.iter().map(|t| format!("-{t}"))).collect();
        let _ = writeln!(
            html,
            "<tr><td class=\"mono nowrap\">{}</td><td class=\"mono nowrap\">{}</td><td>{}</td><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(finding_id),
            escape(&a.created_at),
            escape(a.examiner.as_deref().unwrap_or("")),
            escape(a.status.as_deref().unwrap_or("")),
            escape(&tags.join(" ")),
            escape(a.note.as_deref().unwrap_or(""))
        );
    }
    html.push_str("</tbody></table>\n");
}

fn sources_table(html: &mut String, sources: &[SourceLine]) {
    html.push_str("<h2>What was examined</h2>\n<table><thead><tr><th>File</th><th>Table</th><th>Records</th><th>Imported</th><th>Rejected</th><th>First (UTC)</th><th>Last (UTC)</th><th>SHA-256</th></tr></thead><tbody>\n");
    for s in sources {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            escape(&s.path),
            escape(&s.tables),
            s.records,
            s.imported,
            s.rejected,
            escape(s.first_time.as_deref().unwrap_or("")),
            escape(s.last_time.as_deref().unwrap_or("")),
            escape(&s.sha256)
        );
    }
    html.push_str("</tbody></table>\n");
}

/// Lists the time each log table covers and its gaps, so that a reader sees where "no sign-in"
/// means missing data rather than no one signing in.
fn coverage_table(html: &mut String, coverage: &[Vec<String>]) {
    html.push_str(
        "<h3>Time each table covers</h3>\n<p class=\"sub\">A gap is a whole hour (UTC) with no record in that table. \
         An upload in or near a gap of the sign-in tables can show no candidate because the sign-in data is missing, \
         not because no one signed in; such findings say so in their reason.</p>\n\
         <table><thead><tr><th>Table</th><th>Records</th><th>First (UTC)</th><th>Last (UTC)</th><th>Gaps</th></tr></thead><tbody>\n",
    );
    for row in coverage {
        let cell = |index: usize| escape(row.get(index).map_or("", String::as_str));
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=\"mono nowrap\">{}</td><td class=\"mono nowrap\">{}</td><td>{}</td></tr>",
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4)
        );
    }
    html.push_str("</tbody></table>\n");
}

fn method(html: &mut String, input: &ReportInput) {
    let _ = write!(
        html,
        "<h2>Method</h2>\n<p>Hunt {} ran in <b>{}</b> mode at {} (UTC) with the SQL view <span class=\"mono\">{}</span> \
         defined in <span class=\"mono\">sql/{}</span> (SHA-256 <span class=\"mono\">{}</span>; the SQL files are in this \
         bundle under <span class=\"mono\">sql/</span>). Parameters: <span class=\"mono\">{}</span>.</p>\n",
        input.hunt_id,
        escape(input.hunt_mode),
        escape(input.hunt_started),
        escape(input.view_name),
        escape(&crate::sql::file(input.view_version).map_or_else(|| format!("file version {}", input.view_version), |f| f.name.to_string())),
        escape(input.view_checksum),
        escape(input.hunt_parameters)
    );
    if input.hunt_mode == "sentinel" {
        html.push_str(
            "<p>This hunt reproduces the reference Sentinel hunting query, with its defects fixed: it reads only successful \
             <span class=\"mono\">PutBlob</span> and <span class=\"mono\">PutRange</span> requests, so uploads made in \
             blocks, pages or appends are not among its findings, and it lists every sign-in in SigninLogs (interactive \
             sign-ins only, failed ones included, as the reference query does) from the caller's address in the lookback \
             before the upload. It names candidates and gives no confidence: the first candidate is not more likely than the \
             others. A full hunt of the same case reads every kind of upload and every sign-in table.</p>\n",
        );
    } else {
        html.push_str(
            "<p>Uploads are read from the storage logs. An upload whose storage log names the requester (the OAuth account, \
             or the Windows user of an SMB write) is attributed directly. Otherwise the accounts that signed in successfully from the caller's public address around the upload \
             are ranked by the time between sign-in and upload, how many accounts used the address, user-agent agreement and \
             the sign-in table. That is an inference, and the report says so with a confidence for each finding, explained \
             in the summary.</p>\n",
        );
    }
    html.push_str("<h3>Exclusions</h3>\n");
    if input.rules.is_empty() {
        html.push_str("<p>No exclusion rules.</p>\n");
        return;
    }
    html.push_str("<table><thead><tr><th>Rule</th><th>State</th><th>Conditions</th><th>Reason</th><th>By</th><th>Created (UTC)</th></tr></thead><tbody>\n");
    for rule in input.rules {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            rule.rule_id,
            escape(&rule.state()),
            escape(&rule.conditions.describe()),
            escape(&rule.reason),
            escape(rule.examiner.as_deref().unwrap_or("")),
            escape(&rule.created_at)
        );
    }
    html.push_str("</tbody></table>\n");
}

fn integrity(html: &mut String, integrity: &Integrity) {
    html.push_str("<h2>Case integrity</h2>\n");
    let last = integrity.last_record_hash.as_deref().map_or(String::new(), |hash| {
        format!(" The last record's hash is <span class=\"mono\">{}</span>.", escape(hash))
    });
    if integrity.problems.is_empty() {
        let _ = writeln!(
            html,
            "<p>When this bundle was made, the case's audit trail of {} records was an intact hash chain, nothing in the \
             examiner's record had changed outside blobtrail, and every hunt's findings matched the digest stored when the \
             hunt finished.{last} The imported files themselves are re-hashed by <span class=\"mono\">blobtrail verify</span>; \
             their SHA-256 values are listed above.</p>",
            integrity.audit_records
        );
        return;
    }
    let _ = writeln!(
        html,
        "<p class=\"alert\">When this bundle was made, the checks of the case's audit trail of {} records found {} problem(s).{last}</p><ul>",
        integrity.audit_records,
        integrity.problems.len()
    );
    for problem in &integrity.problems {
        let _ = writeln!(html, "<li>{}</li>", escape(problem));
    }
    html.push_str("</ul>\n");
}

fn limitations(html: &mut String) {
    html.push_str(
        "<h2>Limitations</h2>\n<ul>\
         <li>Attribution by address is an inference: several accounts behind one NAT address give ambiguous findings, \
         and sign-ins that leave through another egress than the storage request cannot be matched.</li>\
         <li>Private and internal callers, SMB and NFS writes cannot be matched to Entra ID sign-ins.</li>\
         <li>The result covers only the files listed above; gaps in the exported time ranges are gaps in the evidence.</li>\
         <li>Times are UTC, truncated to microseconds.</li></ul>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
        assert_eq!(escape("x\u{1b}y"), "x&#x1b;y");
        assert_eq!(escape("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
    }

    /// 1,500 findings, one a day: the last one confirmed malicious, every third excluded.
    fn many_findings() -> Vec<ReportFinding> {
        (0..1_500)
            .map(|day| ReportFinding {
                finding_id: format!("F-{day:016x}"),
                upload_time: crate::parse::time::format_iso(1_700_000_000_000_000 + day * 86_400_000_000),
                status: (day == 1_499).then(|| "confirmed-malicious".to_string()),
                excluded_by: if day % 3 == 0 && day != 1_499 { vec![1] } else { vec![] },
                ..ReportFinding::default()
            })
            .collect()
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_208_416), "1,208,416");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn big_table_lists_urgent_first() {
        let findings = many_findings();
        let mut html = String::new();
        findings_table(&mut html, &findings, true);
        assert_eq!(html.matches("<tr><td").count(), TABLE_LIMIT);
        assert!(html.contains("The table lists 1,000 of 1,500 findings"), "{html}");
        let first_row = html.find("<tr><td").unwrap();
        assert!(html[first_row..].starts_with("<tr><td class=\"mono nowrap\">F-00000000000005db"), "confirmed first");
        // 1,000 not excluded: every one is listed, and no excluded one.
        assert!(!html.contains("rule 1"), "excluded ones come last and fall outside the table");
    }

    #[test]
    fn big_timeline_is_capped() {
        let findings: Vec<ReportFinding> = (0..5_000)
            .map(|second| ReportFinding {
                upload_time: crate::parse::time::format_iso(1_700_000_000_000_000 + second * 1_000_000),
                ..ReportFinding::default()
            })
            .collect();
        let mut html = String::new();
        timeline(&mut html, &findings);
        assert_eq!(html.matches("<circle").count(), TIMELINE_LIMIT);
        assert!(html.contains("draws 2,000 of the 5,000 uploads"), "{html}");
        // Spread over time: the first and the 2,000th drawn are about the whole range apart.
        let drawn = timeline_points(&findings, TIMELINE_LIMIT);
        assert_eq!(drawn[0].upload_time, findings[0].upload_time);
        assert_eq!(drawn[TIMELINE_LIMIT - 1].upload_time, findings[4_997].upload_time, "index 1,999 × 5,000 / 2,000");
        // The axis still spans every upload, not only those drawn.
        assert!(html.contains(&crate::parse::time::format_iso(1_700_000_000_000_000 + 4_999 * 1_000_000)[..16].replace('T', " ")));
    }

    /// A rule does not clear a confirmed-malicious upload, so the timeline still draws it in red;
    /// the other excluded uploads are left out.
    #[test]
    fn timeline_draws_confirmed_uploads_a_rule_matches() {
        let findings: Vec<ReportFinding> = (0..3)
            .map(|second| ReportFinding {
                upload_time: crate::parse::time::format_iso(1_700_000_000_000_000 + second * 1_000_000),
                status: (second == 0).then(|| "confirmed-malicious".to_string()),
                excluded_by: if second < 2 { vec![1] } else { vec![] },
                ..ReportFinding::default()
            })
            .collect();
        let mut html = String::new();
        timeline(&mut html, &findings);
        assert_eq!(html.matches("<circle").count(), 2, "{html}");
        assert_eq!(html.matches("fill=\"#b00020\"").count(), 1, "{html}");
    }
}
