//! The merge queue's shapes: a merge request as `merge queue` lists it and `merge show` shows
//! it, and one decision of the engine as `merge --json` prints it (one JSON object per line, as
//! each request is decided).

use jiff::Timestamp;
use serde::Serialize;

use crate::merge::{Decision, MergeEntry};
use crate::model::merge_request::Landed;
use crate::model::{Attempt, MergeState, TaskId, TestRun};

/// One merge request. `attempts` is the whole record in `merge show`, and absent from
/// `merge queue` (which counts them in `tries`).
#[derive(Debug, Serialize)]
pub struct MergeRequestJson<'a> {
    pub task: &'a TaskId,
    pub title: Option<&'a str>,
    pub priority: Option<&'static str>,
    pub branch: &'a str,
    pub tip: &'a str,
    pub target: &'a str,
    pub state: MergeState,
    pub queued_at: Timestamp,
    pub updated_at: Timestamp,
    /// Where the work landed, once merged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<&'a Landed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// How many attempts the record holds.
    pub tries: usize,
    /// The newest attempt's outcome, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<&'a Attempt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<&'a [Attempt]>,
}

impl<'a> MergeRequestJson<'a> {
    /// The row `merge queue` prints.
    pub fn row(entry: &'a MergeEntry) -> Self {
        let request = &entry.request;
        MergeRequestJson {
            task: &request.task,
            title: entry.title.as_deref(),
            priority: entry.priority.map(|priority| priority.as_str()),
            branch: &request.branch,
            tip: &request.tip,
            target: &request.target,
            state: request.state,
            queued_at: request.queued_at,
            updated_at: request.updated_at,
            merged: request.merged.as_ref(),
            note: request.note.as_deref(),
            tries: request.attempts.len(),
            last: request.attempts.last(),
            attempts: None,
        }
    }

    /// The whole request, as `merge show` prints it.
    pub fn whole(entry: &'a MergeEntry) -> Self {
        MergeRequestJson {
            last: None,
            attempts: Some(&entry.request.attempts),
            ..MergeRequestJson::row(entry)
        }
    }
}

/// What the engine decided for one request.
#[derive(Debug, Serialize)]
pub struct DecisionJson<'a> {
    pub task: &'a TaskId,
    pub branch: &'a str,
    pub target: &'a str,
    pub state: MergeState,
    /// The target commit holding the work, once merged.
    pub landed: Option<String>,
    pub candidate: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub conflicts: &'a [String],
    #[serde(skip_serializing_if = "<[TestRun]>::is_empty")]
    pub tests: &'a [TestRun],
    pub note: &'a str,
}

impl<'a> From<&'a Decision> for DecisionJson<'a> {
    fn from(decision: &'a Decision) -> Self {
        DecisionJson {
            task: &decision.task,
            branch: &decision.branch,
            target: &decision.target,
            state: decision.state,
            landed: decision.landed.map(|id| id.to_string()),
            candidate: decision.candidate.map(|id| id.to_string()),
            conflicts: &decision.conflicts,
            tests: &decision.tests,
            note: &decision.note,
        }
    }
}
