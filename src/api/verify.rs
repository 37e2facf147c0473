//! Checks as every front end reports them: the report of a task's checks (`verify`, and `done`
//! when they fail), and `done`'s refusal of a worktree with uncommitted changes. The shapes are
//! interface, documented in `doc/cli.md` (`verify`, `done`).

use serde::Serialize;

use crate::model::Task;
use crate::session::{Checked, WorkState};
use crate::verify::{CheckResult, Report};

/// The report of one run of a task's checks.
#[derive(Debug, Serialize)]
pub struct VerifyReportJson<'a> {
    pub task: &'a str,
    pub worktree: String,
    /// The commit checked in a temporary checkout when the worktree had uncommitted changes;
    /// `null` when the worktree itself was checked.
    pub checked_commit: Option<String>,
    /// The uncommitted changes that were not checked.
    pub uncommitted: &'a [String],
    pub passed: bool,
    pub checks: &'a [CheckResult],
}

impl<'a> VerifyReportJson<'a> {
    /// The report of `task`'s checks, run where `checked` says, in the directory `state` reads.
    pub fn new(task: &'a Task, state: &'a WorkState, checked: &'a Checked, report: &'a Report) -> Self {
        let commit = match checked {
            Checked::Commit(commit) => Some(commit.to_string()),
            Checked::InPlace(_) => None,
        };
        VerifyReportJson {
            task: task.id.as_str(),
            worktree: state.dir.display().to_string(),
            uncommitted: if commit.is_some() { &state.changes } else { &[] },
            checked_commit: commit,
            passed: report.passed(),
            checks: &report.checks,
        }
    }
}

/// `done` refusing a worktree with uncommitted changes: no check ran, so `passed` is false.
#[derive(Debug, Serialize)]
pub struct UncommittedJson<'a> {
    pub task: &'a str,
    pub worktree: String,
    pub uncommitted: &'a [String],
    pub passed: bool,
}

impl<'a> UncommittedJson<'a> {
    pub fn new(task: &'a Task, state: &'a WorkState) -> Self {
        UncommittedJson {
            task: task.id.as_str(),
            worktree: state.dir.display().to_string(),
            uncommitted: &state.changes,
            passed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::new_task;
    use crate::model::{Kind, Priority, TaskId};

    fn task() -> Task {
        let id = TaskId::parse("loom-1a2b3c4d").expect("a valid task id");
        new_task(
            id,
            "Cart API".into(),
            Kind::Task,
            Priority::P2,
            jiff::Timestamp::UNIX_EPOCH,
        )
    }

    fn commit() -> crate::store::ObjectId {
        crate::store::ObjectId::from_hex(b"8d0c1e2f00000000000000000000000000000000").expect("a full hex id")
    }

    fn dirty() -> WorkState {
        WorkState {
            dir: ".loom/worktrees/loom-1a2b3c4d".into(),
            own: true,
            head: Some(commit()),
            changes: vec!["?? notes.txt".into()],
            ahead: Some(1),
        }
    }

    // Guards: `done --json` refusing a dirty worktree printing other bytes than it did when
    // the CLI built the object inline.
    #[test]
    fn the_refusal_of_uncommitted_work_keeps_its_bytes() {
        let (task, state) = (task(), dirty());
        assert_eq!(
            serde_json::to_string_pretty(&UncommittedJson::new(&task, &state)).expect("serializes"),
            r#"{
  "task": "loom-1a2b3c4d",
  "worktree": ".loom/worktrees/loom-1a2b3c4d",
  "uncommitted": [
    "?? notes.txt"
  ],
  "passed": false
}"#
        );
    }

    // Guards: the uncommitted changes shown although the worktree itself was checked, or left
    // out although a commit of it was checked instead.
    #[test]
    fn uncommitted_changes_are_listed_only_when_a_commit_was_checked() {
        let (task, state) = (task(), dirty());
        let report = Report::default();
        let in_commit = Checked::Commit(commit());
        assert_eq!(
            serde_json::to_string(&VerifyReportJson::new(&task, &state, &in_commit, &report)).expect("serializes"),
            r#"{"task":"loom-1a2b3c4d","worktree":".loom/worktrees/loom-1a2b3c4d","checked_commit":"8d0c1e2f00000000000000000000000000000000","uncommitted":["?? notes.txt"],"passed":true,"checks":[]}"#
        );
        let in_place = Checked::InPlace(state.dir.clone());
        let json = VerifyReportJson::new(&task, &state, &in_place, &report);
        assert_eq!(json.checked_commit, None);
        assert!(json.uncommitted.is_empty());
    }
}
