//! A handoff: what one agent session leaves for the next one working on the same task, kept as
//! `handoff.json` in the commit chain `refs/loom/handoffs/<id>` (one commit per handoff, so the
//! chain is the task's handoff history).
//!
//! The agent's own words come with what git-loom records itself at that moment: the claim's
//! progress and attempt, and the state of the task's branch (its tip, the commits since it left
//! its base, and the files it changed). Pure values: gathering them is the caller's job.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::id::TaskId;

/// The version of the handoff blob layout this build reads and writes.
pub const HANDOFF_SCHEMA: u32 = 1;

/// `handoff.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub schema: u32,
    pub task: TaskId,
    /// The agent that wrote it (the claim's holder).
    pub agent: String,
    pub at: Timestamp,
    /// The agent's own account: what is done, what is left, what to watch out for.
    pub message: String,
    /// How much of its context window the session had used, as it reported (0–100).
    #[serde(default)]
    pub context_percent: Option<u8>,
    /// The claim's progress note and percentage at the time.
    #[serde(default)]
    pub progress: Option<String>,
    #[serde(default)]
    pub percent: Option<u8>,
    /// Which claim of the task the session held (1 for the first).
    #[serde(default)]
    pub attempt: Option<u32>,
    /// The task's branch, when it has one.
    #[serde(default)]
    pub work: Option<WorkState>,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The state of a task's branch when a handoff was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkState {
    pub branch: String,
    /// The branch's tip commit.
    pub tip: String,
    /// Where the branch left its target (their merge base), when the target exists.
    #[serde(default)]
    pub base: Option<String>,
    /// How many commits the branch has that its base does not.
    pub commits_since_base: u32,
    /// The newest of those commits (at most [`MAX_LISTED_COMMITS`]), newest first.
    #[serde(default)]
    pub commits: Vec<CommitLine>,
    /// Files changed between the base and the tip, with lines added and removed (`None` for
    /// binary files).
    #[serde(default)]
    pub files: Vec<FileChange>,
}

/// How many commits a handoff lists by name.
pub const MAX_LISTED_COMMITS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitLine {
    pub id: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    pub added: Option<u32>,
    pub removed: Option<u32>,
}

impl super::Entity for Handoff {
    const FILE: &'static str = "handoff.json";
    const SCHEMA: u32 = HANDOFF_SCHEMA;

    fn owner(&self) -> Option<&TaskId> {
        Some(&self.task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlobError, Entity};

    fn sample() -> Handoff {
        Handoff {
            schema: HANDOFF_SCHEMA,
            task: TaskId::parse("loom-0000abcd").expect("a valid id"),
            agent: "alice".into(),
            at: Timestamp::UNIX_EPOCH,
            message: "tests pass; docs left".into(),
            context_percent: Some(70),
            progress: Some("halfway".into()),
            percent: Some(50),
            attempt: Some(1),
            work: Some(WorkState {
                branch: "loom/loom-0000abcd".into(),
                tip: "a".repeat(40),
                base: Some("b".repeat(40)),
                commits_since_base: 1,
                commits: vec![CommitLine {
                    id: "a".repeat(40),
                    summary: "add parser".into(),
                }],
                files: vec![FileChange {
                    path: "src/lib.rs".into(),
                    added: Some(10),
                    removed: Some(2),
                }],
            }),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn a_handoff_round_trips_and_keeps_unknown_fields() {
        let handoff = sample();
        let id = handoff.task.clone();
        assert_eq!(
            Handoff::from_blob(&handoff.to_blob(), Some(&id)).expect("reads back"),
            handoff
        );
        let mut value: serde_json::Value = serde_json::from_slice(&handoff.to_blob()).expect("json");
        value["future"] = serde_json::json!({"x": 1});
        let read = Handoff::from_blob(value.to_string().as_bytes(), Some(&id)).expect("reads");
        assert_eq!(read.extra["future"], serde_json::json!({"x": 1}));
        assert!(String::from_utf8(read.to_blob()).expect("utf8").contains("future"));
    }

    #[test]
    fn a_newer_schema_or_another_task_is_refused() {
        let handoff = sample();
        let mut value: serde_json::Value = serde_json::from_slice(&handoff.to_blob()).expect("json");
        value["schema"] = serde_json::json!(HANDOFF_SCHEMA + 1);
        let other = TaskId::parse("loom-0000ffff").expect("a valid id");
        assert!(matches!(
            Handoff::from_blob(value.to_string().as_bytes(), Some(&handoff.task)),
            Err(BlobError::NewerSchema { .. })
        ));
        assert!(matches!(
            Handoff::from_blob(&handoff.to_blob(), Some(&other)),
            Err(BlobError::WrongOwner { .. })
        ));
    }
}
