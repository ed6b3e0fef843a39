//! `blobtrail findings`: print the findings of the latest hunt (or of `--hunt ID`).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

use super::Report;
use crate::case::Case;
use crate::cli::{FindingsArgs, OutputFormat};
use crate::findings::{self, Finding, Marks, Summary, SUMMARY_CANDIDATES};
use crate::export;
use crate::output::{self, PrettyArray};

/// The confidence levels a full hunt gives. A sentinel hunt gives `none` to a finding without
/// candidates and no confidence to the others.
const CONFIDENCES: [&str; 5] = ["direct", "strong", "probable", "ambiguous", "none"];

pub fn run(case: &Case, mut args: FindingsArgs) -> Result<Report> {
    // Levels and statuses are lower case, whatever case the examiner typed them in.
    args.status = args.status.map(|status| status.to_lowercase());
    args.confidence = args.confidence.iter().map(|level| level.to_lowercase()).collect();
    if let Some(status) = &args.status {
        if !crate::annotations::STATUSES.contains(&status.as_str()) {
            anyhow::bail!("invalid status `{status}`; choose one of: {}", crate::annotations::STATUSES.join(", "));
        }
    }
    if let Some(level) = args.confidence.iter().find(|level| !CONFIDENCES.contains(&level.as_str())) {
        anyhow::bail!("invalid confidence `{level}`; choose one of: {}", CONFIDENCES.join(", "));
    }
    let conditions = std::mem::take(&mut args.conditions).into_conditions();
    conditions.validate()?;
    let hunt_id = match args.hunt {
        Some(id) => id,
        None => super::default_hunt(case)?,
    };
    let only = annotated_only(case, &args)?;
    // A rule does not clear what an examiner confirmed, so a confirmed-malicious finding is
    // shown even when a rule matches it, as the report counts it.
    let hidden_by_rules = |marks: &Marks| {
        !args.include_excluded && !marks.excluded_by.is_empty() && marks.status != Some("confirmed-malicious")
    };
    // A sentinel hunt gives a confidence only to findings without candidates (`none`), so
    // its other findings match no `--confidence`.
    let filtered = args.status.is_some() || !args.tag.is_empty() || !args.confidence.is_empty() || !conditions.is_empty();
    let matches_filters = |marks: &Marks| {
        args.status.as_deref().is_none_or(|s| findings::status_or_open(marks.status) == s)
            && args.tag.iter().all(|t| marks.tags.contains(t))
            && (args.confidence.is_empty() || args.confidence.iter().any(|c| Some(c.as_str()) == marks.confidence))
    };
    let counts = Counts::default();
    let mut complete = true;
    // Counts a finding whose marks are given and returns whether it is shown. The excluded and
    // hidden counts are of the findings that match the filters, so that they add up with the
    // count shown.
    let count = |marks: Marks, matches_conditions: bool| {
        counts.total.fetch_add(1, Ordering::Relaxed);
        if !matches_conditions || !matches_filters(&marks) {
            return false;
        }
        let hidden = hidden_by_rules(&marks);
        counts.matching.fetch_add(1, Ordering::Relaxed);
        counts.excluded.fetch_add(usize::from(!marks.excluded_by.is_empty()), Ordering::Relaxed);
        counts.hidden.fetch_add(usize::from(hidden), Ordering::Relaxed);
        counts.shown.fetch_add(usize::from(!hidden), Ordering::Relaxed);
        !hidden
    };
    let count_finding = |finding: &Finding| count(finding.marks(), conditions.matches(finding));
    // Findings are written as they are read, so the whole list is never held in memory. A
    // table needs every row for its column widths, so it keeps the rows, not the findings.
    let only = only.as_deref();
    match args.format {
        OutputFormat::Json => complete = print_json_streamed(case, hunt_id, only, &count_finding)?,
        OutputFormat::Csv => complete = print_csv_streamed(case, hunt_id, only, &count_finding)?,
        OutputFormat::Table => {
            let mut rows = Vec::new();
            let mut attributed = 0;
            // Without conditions or enabled rules, a row needs only what a summary holds.
            if conditions.is_empty() && crate::exclusions::load_enabled(&case.conn)?.is_empty() {
                findings::for_each_summary(&case.conn, hunt_id, only, |summary| {
                    if count(summary.marks(), true) {
                        attributed += usize::from(summary.candidate_count > 0);
                        rows.push(table_row(summary));
                    }
                    Ok(())
                })?;
            } else {
                let render = |finding: &Finding, summaries: &mut Vec<Summary>| {
                    let shown = count_finding(finding);
                    if shown {
                        summaries.push(Summary::of(finding));
                    }
                    Ok(shown)
                };
                findings::render_of(&case.conn, hunt_id, only, render, |summaries, _| {
                    for summary in summaries.drain(..) {
                        attributed += usize::from(summary.candidate_count > 0);
                        rows.push(table_row(summary));
                    }
                    Ok(())
                })?;
            }
            output::to_stdout(|out| print_table(out, rows, attributed))?;
        }
    }
    let [mut total, matching, excluded, hidden, shown] =
        [&counts.total, &counts.matching, &counts.excluded, &counts.hidden, &counts.shown].map(|n| n.load(Ordering::Relaxed));
    if only.is_some() {
        // Only annotated findings were read; no rule is enabled, so none is excluded.
        total = case.conn.query_row("SELECT count(*) FROM findings WHERE hunt_id = ?", [hunt_id], |r| {
            r.get::<_, i64>(0)
        })? as usize;
    }
    if !complete {
        // The reader closed the pipe early, so the counts cover only what was read.
        return Ok(Report::success(serde_json::json!({ "hunt_id": hunt_id, "output": "stopped by a closed pipe" })));
    }
    let hidden_note = match (hidden, excluded) {
        (0, _) => String::new(),
        (hidden, excluded) if hidden == excluded => " (hidden; add --include-excluded)".to_string(),
        (hidden, _) => format!(" ({hidden} hidden, confirmed-malicious ones shown; add --include-excluded)"),
    };
    let total_text = output::count(total as i64, "finding", "findings");
    if filtered {
        print_stderr!(
            "hunt {hunt_id}: {total_text}, {matching} matching the filters, {excluded} of them excluded by rules{hidden_note}; {shown} shown"
        );
    } else {
        print_stderr!("hunt {hunt_id}: {total_text}, {excluded} excluded by rules{hidden_note}; {shown} shown");
    }
    Ok(Report::success(serde_json::json!({
        "hunt_id": hunt_id, "findings": total, "matching": matching, "excluded": excluded, "shown": shown
    })))
}

/// Returns the IDs of the only findings that `--status` (other than `open`) or `--tag` can
/// show: annotated ones. Returns `None` when every finding has to be read, because no such
/// filter is given or an enabled exclusion rule needs every finding for the excluded count.
fn annotated_only(case: &Case, args: &FindingsArgs) -> Result<Option<Vec<String>>> {
    let narrows = args.status.as_deref().is_some_and(|status| status != "open") || !args.tag.is_empty();
    if !narrows || !crate::exclusions::load_enabled(&case.conn)?.is_empty() {
        return Ok(None);
    }
    let states = crate::annotations::load_states(&case.conn)?;
    let ids = states
        .into_iter()
        .filter(|(_, state)| {
            args.status.as_deref().is_none_or(|status| findings::status_or_open(state.status.as_deref()) == status)
                && args.tag.iter().all(|tag| state.tags.contains(tag))
        })
        .map(|(id, _)| id)
        .collect();
    Ok(Some(ids))
}

/// Counts of findings read, matching the filters, excluded by a rule and shown, kept from two
/// threads.
#[derive(Default)]
struct Counts {
    total: AtomicUsize,
    /// Findings that match the filters, whether a rule excludes them or not.
    matching: AtomicUsize,
    /// Matching findings that an enabled rule matches.
    excluded: AtomicUsize,
    /// Excluded and not shown: all excluded ones but those confirmed malicious.
    hidden: AtomicUsize,
    shown: AtomicUsize,
}

/// Returns the render function of `write_findings` that writes a finding with `write` when
/// `keep` accepts it, and reports whether it wrote one.
fn kept<'a>(
    keep: &'a (dyn Fn(&Finding) -> bool + Sync),
    write: impl Fn(&Finding, &mut Vec<u8>) -> Result<()> + Sync + 'a,
) -> impl Fn(&Finding, &mut Vec<u8>) -> Result<bool> + Sync + 'a {
    move |finding, bytes| {
        if !keep(finding) {
            return Ok(false);
        }
        write(finding, bytes)?;
        Ok(true)
    }
}

/// Writes the findings that `keep` accepts as one pretty JSON array, the same text as
/// `serde_json::to_writer_pretty` gives for the whole list, a run of findings at a time.
/// Returns false when the reader closed the pipe before the end.
fn print_json_streamed(
    case: &Case,
    hunt_id: i64,
    only: Option<&[String]>,
    keep: &(dyn Fn(&Finding) -> bool + Sync),
) -> Result<bool> {
    let render = kept(keep, |finding, bytes| {
        PrettyArray::element(finding, bytes);
        Ok(())
    });
    let array = std::cell::RefCell::new(PrettyArray::default());
    let write = |out: &mut dyn Write, bytes: &[u8], count: usize| array.borrow_mut().write(out, bytes, count);
    let finish = |out: &mut dyn Write| array.borrow().finish(out);
    stream_to_stdout(case, hunt_id, only, render, write, finish)
}

/// Writes the findings that `keep` accepts as CSV in the layout of `export --format csv`, one
/// row per finding and candidate, a run of findings at a time. Returns false when the reader
/// closed the pipe before the end.
fn print_csv_streamed(
    case: &Case,
    hunt_id: i64,
    only: Option<&[String]>,
    keep: &(dyn Fn(&Finding) -> bool + Sync),
) -> Result<bool> {
    let render = kept(keep, |finding, bytes| Ok(export::write_csv_rows(bytes, finding).map(drop)?));
    let mut header = Vec::new();
    export::write_csv_header(&mut header, false)?;
    // The header is written once, before the first rows or at the end when there are none.
    let started = std::cell::Cell::new(false);
    let write_header = |out: &mut dyn Write| if started.replace(true) { Ok(()) } else { out.write_all(&header) };
    let write = |out: &mut dyn Write, bytes: &[u8], _: usize| {
        write_header(out)?;
        out.write_all(bytes)
    };
    stream_to_stdout(case, hunt_id, only, render, write, write_header)
}

/// Writes findings to stdout with `write_findings`. Returns false when the reader closed the
/// pipe before the end, and the error when reading the findings failed.
fn stream_to_stdout(
    case: &Case,
    hunt_id: i64,
    only: Option<&[String]>,
    render: impl Fn(&Finding, &mut Vec<u8>) -> Result<bool> + Sync,
    write: impl FnMut(&mut dyn Write, &[u8], usize) -> std::io::Result<()>,
    finish: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<bool> {
    let mut failure = None;
    let mut complete = false;
    output::to_stdout(|out| {
        if let Err(err) = write_findings(case, hunt_id, only, out, render, write, finish) {
            // A write error (a closed pipe) goes back to to_stdout; a read error is kept.
            return match err.downcast::<std::io::Error>() {
                Ok(io) => Err(io),
                Err(other) => {
                    failure = Some(other);
                    Ok(())
                }
            };
        }
        complete = true;
        Ok(())
    })?;
    match failure {
        Some(err) => Err(err),
        None => Ok(complete),
    }
}

/// Writes what `render` makes of each finding of a hunt to `out`: `write` gets each run of
/// rendered findings with how many `render` wrote, and `finish` ends the output.
pub(super) fn write_findings(
    case: &Case,
    hunt_id: i64,
    only: Option<&[String]>,
    out: &mut dyn Write,
    render: impl Fn(&Finding, &mut Vec<u8>) -> Result<bool> + Sync,
    mut write: impl FnMut(&mut dyn Write, &[u8], usize) -> std::io::Result<()>,
    finish: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    findings::render_of(&case.conn, hunt_id, only, render, |bytes, count| Ok(write(&mut *out, bytes, count)?))?;
    Ok(finish(out)?)
}

/// Prints findings to stdout in the requested format.
pub fn print(list: &[Finding], format: OutputFormat) -> Result<()> {
    output::to_stdout(|out| match format {
        OutputFormat::Json => PrettyArray::write_all(out, list),
        OutputFormat::Csv => {
            export::write_csv_header(out, false)?;
            list.iter().try_for_each(|finding| export::write_csv_rows(out, finding).map(drop))
        }
        OutputFormat::Table => {
            let attributed = list.iter().filter(|f| f.candidate_count > 0).count();
            print_table(out, list.iter().map(|finding| table_row(Summary::of(finding))).collect(), attributed)
        }
    })
}

/// Writes the table of findings and a count line; `attributed` findings have candidates.
fn print_table(out: &mut dyn Write, rows: Vec<Vec<String>>, attributed: usize) -> std::io::Result<()> {
    let shown = rows.len();
    let header = ["finding", "upload (UTC)", "operation", "file", "caller", "confidence", "account or candidates", "status"];
    output::write_table(out, &header, rows)?;
    writeln!(out, "{}, {attributed} with candidate sign-ins", output::count(shown as i64, "upload", "uploads"))
}

fn table_row(summary: Summary) -> Vec<String> {
    let status = status_cell(&summary);
    let candidates = candidate_summary(&summary);
    vec![
        summary.finding_id,
        summary.upload_time,
        summary.operation.unwrap_or_default(),
        summary.file.unwrap_or_default(),
        summary.caller.unwrap_or_default(),
        summary.confidence.unwrap_or_default(),
        candidates,
        status,
    ]
}

/// Returns a finding's status, and the rules that exclude it, which `--include-excluded` shows.
fn status_cell(summary: &Summary) -> String {
    let status = findings::status_or_open(summary.status.as_deref());
    if summary.excluded_by.is_empty() {
        return status.to_string();
    }
    let rules: Vec<String> = summary.excluded_by.iter().map(i64::to_string).collect();
    format!("{status}, excluded by rule {}", rules.join(", "))
}

/// Returns the attributed account, else the first candidates and how many more there are,
/// else the reason there are none.
fn candidate_summary(summary: &Summary) -> String {
    if let Some(account) = &summary.attributed_account {
        return account.clone();
    }
    if summary.candidates_read == 0 {
        return summary.reason.clone().unwrap_or_else(|| "none".to_string());
    }
    let mut names = summary.first_candidates.clone();
    let more = summary.candidates_read - SUMMARY_CANDIDATES as i64;
    if more > 0 {
        names.push(format!("+{more} more"));
    }
    names.join(", ")
}
