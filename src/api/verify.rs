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
    pub checked_commit: Option<&'a str>,
    /// The uncommitted changes that were not checked.
    pub uncommitted: &'a [String],
    pub passed: bool,
    pub checks: &'a [CheckResult],
}

impl<'a> VerifyReportJson<'a> {
    /// The report of `task`'s checks, run where `checked` says, in the directory `state` reads.
    pub fn new(task: &'a Task, state: &'a WorkState, checked: &'a Checked, report: &'a Report) -> Self {
        let commit = match checked {
            Checked::Commit(commit) => Some(commit.as_str()),
            Checked::InPlace(_) => None,
        };
        VerifyReportJson {
            task: task.id.as_str(),
            worktree: state.dir.display().to_string(),
            checked_commit: commit,
            uncommitted: if commit.is_some() { &state.changes } else { &[] },
            passed: report.passed(),
            checks: &report.checks,
        }
    }
}

/// `done` refusing a worktree with uncommitted changes: no check ran, so `passed` is false.
/// The keys are in name order, as this object has always been printed.
#[derive(Debug, Serialize)]
pub struct UncommittedJson<'a> {
    pub passed: bool,
    pub task: &'a str,
    pub uncommitted: &'a [String],
    pub worktree: String,
}

impl<'a> UncommittedJson<'a> {
    pub fn new(task: &'a Task, state: &'a WorkState) -> Self {
        UncommittedJson {
            passed: false,
            task: task.id.as_str(),
            uncommitted: &state.changes,
            worktree: state.dir.display().to_string(),
        }
    }
}
