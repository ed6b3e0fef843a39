//! `blobtrail annotate FINDING_ID`: record a status, tags or a note on a finding.

use anyhow::Result;
use serde_json::json;

use super::{Global, Report};
use crate::annotations::{self, Change};
use crate::case::Case;
use crate::cli::AnnotateArgs;

pub fn run(global: &Global, case: &Case, args: AnnotateArgs) -> Result<Report> {
    let examiner = global.examiner_for(case);
    let change = Change {
        finding_id: &args.finding_id,
        status: args.status.as_deref(),
        tags_added: &args.tags,
        tags_removed: &args.untags,
        note: args.note.as_deref(),
        examiner: examiner.as_deref(),
    };
    let annotation_id = annotations::add(&case.conn, &change)?;
    print_note!(
        "recorded annotation {annotation_id} on `{}` by {}",
        args.finding_id,
        examiner.as_deref().unwrap_or("an unnamed examiner (set --examiner or BLOBTRAIL_EXAMINER)")
    );
    Ok(Report::success(json!({ "annotation_id": annotation_id, "finding_id": args.finding_id })))
}
