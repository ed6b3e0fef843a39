//! Annotations: the examiner's status, tags and notes on findings, kept as an append-only
//! history. The current state of a finding is folded from its history in order.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, Result};
use duckdb::{params, Connection};
use serde::Serialize;

pub const STATUSES: &[&str] = &["open", "needs-review", "confirmed-malicious", "benign", "false-positive"];

/// One recorded change.
#[derive(Clone, Debug, Serialize)]
pub struct Annotation {
    pub annotation_id: i64,
    pub status: Option<String>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
    pub note: Option<String>,
    pub examiner: Option<String>,
    pub created_at: String,
}

/// The state of a finding after its whole history.
#[derive(Clone, Debug, Default, Serialize)]
pub struct State {
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub notes: Vec<String>,
    pub history: Vec<Annotation>,
}

/// A change to record.
pub struct Change<'a> {
    pub finding_id: &'a str,
    pub status: Option<&'a str>,
    pub tags_added: &'a [String],
    pub tags_removed: &'a [String],
    pub note: Option<&'a str>,
    pub examiner: Option<&'a str>,
}

/// Records a change; fails for an unknown finding, an unknown status or an empty change.
pub fn add(conn: &Connection, change: &Change) -> Result<i64> {
    if let Some(status) = change.status {
        if !STATUSES.contains(&status) {
            bail!("invalid status `{status}`; choose one of: {}", STATUSES.join(", "));
        }
    }
    for tag in change.tags_added.iter().chain(change.tags_removed) {
        // CSV, xlsx and the report join tags with `; `, so a tag containing one would read as two.
        if tag.trim().is_empty() || tag.contains(';') || tag.chars().any(char::is_control) {
            bail!("invalid tag `{}`: a tag is a word or phrase without `;` or line breaks", crate::output::terminal_safe(tag));
        }
        // ` incident-42` would be a tag of its own beside `incident-42`, and an invisible or
        // reordering character would make two tags look alike.
        if tag.trim() != tag || tag.chars().any(crate::output::is_bidi_control) {
            bail!(
                "invalid tag `{}`: remove the spaces around it and any invisible or direction-changing characters",
                crate::output::terminal_safe(tag)
            );
        }
    }
    if change.note.is_some_and(|note| note.trim().is_empty()) {
        bail!("the note is empty; give the text to record with `--note`");
    }
    if change.status.is_none() && change.tags_added.is_empty() && change.tags_removed.is_empty() && change.note.is_none() {
        bail!("nothing to record: give `--status`, `--tag`, `--untag` or `--note`");
    }
    let known: i64 = conn.query_row("SELECT count(*) FROM findings WHERE finding_id = ?", [change.finding_id], |r| r.get(0))?;
    if known == 0 {
        return Err(crate::findings::not_found(conn, change.finding_id));
    }
    if !change.tags_removed.is_empty() {
        let current = load_states(conn)?.remove(change.finding_id).unwrap_or_default().tags;
        if let Some(absent) = change.tags_removed.iter().find(|tag| !current.contains(tag)) {
            bail!(
                "finding `{}` has no tag `{}` to remove; its tags: {}",
                change.finding_id,
                crate::output::terminal_safe(absent),
                if current.is_empty() { "none".to_string() } else { crate::output::terminal_safe(&current.join(", ")) }
            );
        }
    }
    Ok(conn.query_row(
        "INSERT INTO annotations (finding_id, status, tags_added, tags_removed, note, examiner, created_at)
         VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP) RETURNING annotation_id",
        params![
            change.finding_id,
            change.status,
            serde_json::to_string(change.tags_added)?,
            serde_json::to_string(change.tags_removed)?,
            change.note,
            change.examiner,
        ],
        |r| r.get(0),
    )?)
}

/// Folds every finding's history into its current state.
pub fn load_states(conn: &Connection) -> Result<HashMap<String, State>> {
    let mut stmt = conn.prepare(
        "SELECT finding_id, annotation_id, status, tags_added, tags_removed, note, examiner,
                strftime(created_at, '%Y-%m-%dT%H:%M:%SZ')
         FROM annotations ORDER BY annotation_id",
    )?;
    let rows = stmt.query_map([], |r| {
        let added: String = r.get(3)?;
        let removed: String = r.get(4)?;
        Ok((
            r.get::<_, String>(0)?,
            Annotation {
                annotation_id: r.get(1)?,
                status: r.get(2)?,
                tags_added: serde_json::from_str(&added).unwrap_or_default(),
                tags_removed: serde_json::from_str(&removed).unwrap_or_default(),
                note: r.get(5)?,
                examiner: r.get(6)?,
                created_at: r.get(7)?,
            },
        ))
    })?;
    let mut states: HashMap<String, State> = HashMap::new();
    let mut tag_sets: HashMap<String, BTreeSet<String>> = HashMap::new();
    for row in rows {
        let (finding_id, annotation) = row?;
        let state = states.entry(finding_id.clone()).or_default();
        let tags = tag_sets.entry(finding_id).or_default();
        if annotation.status.is_some() {
            state.status = annotation.status.clone();
        }
        tags.extend(annotation.tags_added.iter().cloned());
        for tag in &annotation.tags_removed {
            tags.remove(tag);
        }
        state.tags = tags.iter().cloned().collect();
        state.notes.extend(annotation.note.clone());
        state.history.push(annotation);
    }
    Ok(states)
}
