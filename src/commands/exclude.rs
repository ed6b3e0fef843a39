//! `blobtrail exclude add|list|disable`: exclusion rules with recorded reasons.

use std::collections::HashMap;

use anyhow::{bail, Result};
use serde_json::json;

use super::{Global, Report};
use crate::case::Case;
use crate::cli::{ExcludeAddArgs, ExcludeCommand, FormatArgs, OutputFormat};
use crate::exclusions;
use crate::findings;
use crate::output;

pub fn run(global: &Global, case: &Case, action: ExcludeCommand) -> Result<Report> {
    match action {
        ExcludeCommand::Add(args) => add(global, case, args),
        ExcludeCommand::List(args) => list(case, args),
        ExcludeCommand::Disable { rule_id, reason } => {
            if reason.as_deref().is_some_and(|text| text.trim().is_empty()) {
                bail!("`--reason` is empty; say why the rule no longer applies, or leave the option out");
            }
            exclusions::disable(&case.conn, rule_id, global.examiner_for(case).as_deref(), reason.as_deref())?;
            print_stderr!("disabled exclusion rule {rule_id}; it stays on record");
            Ok(Report::success(json!({ "disabled": rule_id, "reason": reason })))
        }
    }
}

fn add(global: &Global, case: &Case, args: ExcludeAddArgs) -> Result<Report> {
    let preset = args.preset.as_deref().map(exclusions::preset).transpose()?;
    let mut conditions = preset.map(|p| (p.conditions)()).unwrap_or_default();
    let flags = args.conditions.into_conditions();
    let narrowed_by_flags = !flags.is_empty();
    conditions.extend(flags);
    if conditions.is_empty() {
        bail!("a rule needs at least one condition (such as `--file-contains backup`) or a `--preset`");
    }
    conditions.validate()?;
    let reason = match (args.reason, preset) {
        (Some(reason), _) if !reason.trim().is_empty() => reason,
        // The preset's hint on how to narrow it (`(add --account ...)`) is left out once
        // flags have narrowed it.
        (_, Some(preset)) if narrowed_by_flags => {
            preset.reason.split(" (add ").next().unwrap_or(preset.reason).to_string()
        }
        (_, Some(preset)) => preset.reason.to_string(),
        _ => bail!("`--reason` is required: say why these findings are set aside"),
    };

    let examiner = global.examiner_for(case);
    let rule_id = exclusions::add(&case.conn, &reason, preset.map(|p| p.name), &conditions, examiner.as_deref())?;
    let matches = matches_per_rule(case)?.and_then(|mut counts| counts.remove(&rule_id)).unwrap_or_default();
    let matched = matches.matched;
    print_stderr!("added exclusion rule {rule_id}: {}", output::terminal_safe(&conditions.describe()));
    print_stderr!("reason: {}", output::terminal_safe(&reason));
    print_stderr!(
        "it matches {} of the latest hunt; adjust it by disabling it and adding another",
        output::count(matched as i64, "finding", "findings")
    );
    let narrowed = [&conditions.account, &conditions.ip, &conditions.user_agent_contains, &conditions.container, &conditions.path_prefix]
        .iter()
        .any(|values| !values.is_empty());
    if !narrowed {
        print_stderr!(
            "warning: the rule names no account, address, user agent, container or path, so it sets aside any upload with \
             such a name or operation, an intruder's too; narrow it with `--account`, `--ip`, `--container` or `--path-prefix`"
        );
    }
    if !matches.flagged.is_empty() {
        print_stderr!(
            "warning: the rule matches {} finding(s) an examiner marked confirmed-malicious or needs-review: {}. \
             Confirmed-malicious ones stay shown and counted, because a rule does not clear them; needs-review ones are \
             set aside. If that is not intended, run `blobtrail exclude disable {rule_id}` and add a narrower rule",
            matches.flagged.len(),
            matches.flagged.join(", ")
        );
    }
    Ok(Report::success(json!({
        "rule_id": rule_id, "matched": matched, "narrowed": narrowed, "flagged_findings": matches.flagged,
    })))
}

/// The findings of the latest hunt that one rule matches.
#[derive(Default)]
struct RuleMatches {
    matched: usize,
    /// IDs of the matched findings that an examiner marked confirmed-malicious or needs-review.
    flagged: Vec<String>,
}

/// Counts the findings of the latest hunt that each enabled rule matches, one finding at a
/// time; `None` when the case has no hunt. A disabled rule matches nothing, so without an
/// enabled rule no finding is read.
fn matches_per_rule(case: &Case) -> Result<Option<HashMap<i64, RuleMatches>>> {
    let Ok(hunt) = findings::latest_hunt(&case.conn) else { return Ok(None) };
    let mut counts = HashMap::new();
    if exclusions::load_enabled(&case.conn)?.is_empty() {
        return Ok(Some(counts));
    }
    findings::for_each(&case.conn, hunt, |finding| {
        let flagged = matches!(finding.status.as_deref(), Some("confirmed-malicious" | "needs-review"));
        for rule_id in finding.excluded_by {
            let matches: &mut RuleMatches = counts.entry(rule_id).or_default();
            matches.matched += 1;
            if flagged {
                matches.flagged.push(finding.finding_id.clone());
            }
        }
        Ok(())
    })?;
    Ok(Some(counts))
}

fn list(case: &Case, args: FormatArgs) -> Result<Report> {
    let rules = exclusions::load(&case.conn)?;
    let counts = matches_per_rule(case)?;
    let matched = |rule_id: i64| counts.as_ref().map(|counts| counts.get(&rule_id).map_or(0, |m| m.matched));

    output::to_stdout(|out| match args.format {
        OutputFormat::Json => {
            let rows: Vec<_> = rules
                .iter()
                .map(|r| json!({ "rule": r, "matches_latest_hunt": matched(r.rule_id) }))
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&rows).unwrap_or_default())
        }
        format => {
            let header = ["rule", "state", "conditions", "reason", "by", "created", "matches"];
            let rows: Vec<Vec<String>> = rules
                .iter()
                .map(|r| {
                    vec![
                        r.rule_id.to_string(),
                        r.state(),
                        r.conditions.describe(),
                        r.reason.clone(),
                        r.examiner.clone().unwrap_or_default(),
                        r.created_at.clone(),
                        matched(r.rule_id).map(|n| n.to_string()).unwrap_or_default(),
                    ]
                })
                .collect();
            if format == OutputFormat::Csv {
                output::write_csv(out, &header, &rows)
            } else {
                writeln!(out, "{}", output::table(&header, rows))
            }
        }
    })?;
    // The matches are those of the latest hunt, which may cover fewer uploads than a full hunt.
    if let Ok(hunt) = findings::latest_hunt(&case.conn) {
        if let Some(partial) = super::partial_hunt(case, hunt)? {
            print_note!("note: the matches are counted in hunt {hunt}, the latest, which is {}", partial.description);
        }
    }
    Ok(Report::success(json!({ "rules": rules.len() })))
}
