//! A merge request: a finished task's branch waiting to come home to its target branch, kept
//! as `merge.json` in the commit chain `refs/loom/merges/<task-id>` (one commit per change, so
//! the chain is the request's history).
//!
//! The record holds what the merge engine needs to decide (branch, the tip that was queued,
//! target, when it was queued) and everything it did (every attempt: the candidate commit it
//! built, the tests it ran with their output tails, the paths that conflicted). The rules for
//! moving between states live here, as the task's live in `state`: the engine and the
//! commands ask [`MergeRequest::move_to`], and an illegal move is an error, not a silent change.
//!
//! ```text
//! queued   → testing | conflict | dropped | merged
//! testing  → merged | failed | conflict | queued (the target moved; build again)
//! conflict → queued | dropped
//! failed   → queued | dropped
//! dropped  → queued
//! merged   → (nothing: the work is on the target)
//! ```

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::id::TaskId;

/// The version of the merge request blob layout this build reads and writes.
pub const MERGE_SCHEMA: u32 = 1;

/// How many attempts a request keeps; older ones are dropped from the record (the commit chain
/// still has them).
pub const MAX_KEPT_ATTEMPTS: usize = 20;

/// `merge.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRequest {
    pub schema: u32,
    pub task: TaskId,
    /// The branch holding the work.
    pub branch: String,
    /// The branch's tip when the request was queued: exactly this commit is merged, whatever
    /// the branch holds later.
    pub tip: String,
    /// The branch the work lands on.
    pub target: String,
    pub queued_at: Timestamp,
    pub updated_at: Timestamp,
    pub state: MergeState,
    /// The newest attempts, oldest first.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// Where the work landed, once merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Landed>,
    /// Why the request was dropped, or the last note a person left on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Fields written by another version of git-loom, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Where a request's state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeState {
    Queued,
    Testing,
    Merged,
    Conflict,
    Failed,
    Dropped,
}

impl MergeState {
    pub const ALL: [MergeState; 6] = [
        MergeState::Queued,
        MergeState::Testing,
        MergeState::Merged,
        MergeState::Conflict,
        MergeState::Failed,
        MergeState::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MergeState::Queued => "queued",
            MergeState::Testing => "testing",
            MergeState::Merged => "merged",
            MergeState::Conflict => "conflict",
            MergeState::Failed => "failed",
            MergeState::Dropped => "dropped",
        }
    }

    pub fn parse(input: &str) -> Option<MergeState> {
        MergeState::ALL.into_iter().find(|state| state.as_str() == input)
    }

    /// Whether the engine still has work to do for a request in this state.
    pub fn is_open(self) -> bool {
        matches!(self, MergeState::Queued | MergeState::Testing)
    }
}

impl fmt::Display for MergeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The target commit a request's work landed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Landed {
    pub commit: String,
    pub at: Timestamp,
}

/// One try at landing a request (alone or in a batch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Timestamp,
    /// Who ran the engine.
    pub by: String,
    /// The target tip the candidate was built on.
    pub base: String,
    /// The candidate commit that was tested (the whole stack's head when batched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// The tasks whose requests were stacked into the candidate, this one included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<TaskId>,
    pub outcome: AttemptOutcome,
    /// Paths that conflicted, for a `conflict` outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestRun>,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The candidate passed and the target moved to it.
    Landed,
    /// The candidate passed but the target moved while it was tested; it is built again.
    TargetMoved,
    /// The branch does not merge cleanly onto the target.
    Conflict,
    /// The candidate's tests failed.
    Failed,
    /// A batch containing this request failed; bisection goes on.
    BatchFailed,
}

impl AttemptOutcome {
    /// The name `--json` output uses, which people read too.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Landed => "landed",
            AttemptOutcome::TargetMoved => "target_moved",
            AttemptOutcome::Conflict => "conflict",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::BatchFailed => "batch_failed",
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One test command run against a candidate (or answered from the test cache).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    /// What ran: the repository's test command, or a check's name.
    pub name: String,
    pub passed: bool,
    /// The exit code, when the command exited by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub seconds: f64,
    /// Whether the result came from the test cache instead of a run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// The last lines of its output.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tail: String,
}

/// A state change the rules do not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the merge request of {task} is {from}; it cannot become {to}")]
pub struct MoveError {
    pub task: TaskId,
    pub from: MergeState,
    pub to: MergeState,
}

impl MergeRequest {
    /// A new request to merge `tip` of `branch` into `target`.
    pub fn new(task: TaskId, branch: String, tip: String, target: String, now: Timestamp) -> Self {
        MergeRequest {
            schema: MERGE_SCHEMA,
            task,
            branch,
            tip,
            target,
            queued_at: now,
            updated_at: now,
            state: MergeState::Queued,
            attempts: Vec::new(),
            merged: None,
            note: None,
            extra: BTreeMap::new(),
        }
    }

    /// Whether the rules allow moving from `from` to `to` (staying put is always allowed).
    pub fn allows(from: MergeState, to: MergeState) -> bool {
        use MergeState::*;
        from == to
            || matches!(
                (from, to),
                (Queued, Testing | Conflict | Dropped | Merged)
                    | (Testing, Merged | Failed | Conflict | Queued)
                    | (Conflict | Failed | Dropped, Queued)
                    | (Conflict | Failed, Dropped)
            )
    }

    /// Move to `to` at `now`, if the rules allow it.
    pub fn move_to(&mut self, to: MergeState, now: Timestamp) -> Result<(), MoveError> {
        if !MergeRequest::allows(self.state, to) {
            return Err(MoveError {
                task: self.task.clone(),
                from: self.state,
                to,
            });
        }
        self.state = to;
        self.touch(now);
        Ok(())
    }

    /// Queue the request again for new work: a new tip of the branch (after the agent
    /// resolved a conflict, say), with a fresh place in the queue. Only a request that is not
    /// merged may be queued again.
    pub fn requeue(&mut self, branch: String, tip: String, target: String, now: Timestamp) -> Result<(), MoveError> {
        if self.state == MergeState::Merged {
            return Err(MoveError {
                task: self.task.clone(),
                from: self.state,
                to: MergeState::Queued,
            });
        }
        self.branch = branch;
        self.tip = tip;
        self.target = target;
        self.state = MergeState::Queued;
        self.queued_at = now;
        self.merged = None;
        self.note = None;
        self.touch(now);
        Ok(())
    }

    /// Record an attempt, keeping only the newest [`MAX_KEPT_ATTEMPTS`].
    pub fn record(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
        if self.attempts.len() > MAX_KEPT_ATTEMPTS {
            let excess = self.attempts.len() - MAX_KEPT_ATTEMPTS;
            self.attempts.drain(..excess);
        }
    }

    /// The time never moves backwards, whatever the clocks of the clones that wrote it.
    fn touch(&mut self, now: Timestamp) {
        self.updated_at = self.updated_at.max(now);
    }
}

impl super::Entity for MergeRequest {
    const FILE: &'static str = "merge.json";
    const SCHEMA: u32 = MERGE_SCHEMA;

    fn owner(&self) -> Option<&TaskId> {
        Some(&self.task)
    }

    fn problem(&self) -> Option<String> {
        if self.branch.trim().is_empty() {
            return Some("names no branch".into());
        }
        if gix_hash_like(&self.tip).is_none() {
            return Some(format!("has a tip that is not a commit id: {:?}", self.tip));
        }
        None
    }
}

/// `text` when it looks like a full hexadecimal object id.
fn gix_hash_like(text: &str) -> Option<&str> {
    (matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;

    fn request() -> MergeRequest {
        MergeRequest::new(
            TaskId::parse("loom-00000001").unwrap(),
            "loom/loom-00000001".into(),
            "a".repeat(40),
            "main".into(),
            Timestamp::UNIX_EPOCH,
        )
    }

    #[test]
    fn a_request_round_trips_through_its_blob() {
        let mut request = request();
        request.record(Attempt {
            at: Timestamp::UNIX_EPOCH,
            by: "merge".into(),
            base: "b".repeat(40),
            candidate: Some("c".repeat(40)),
            batch: vec![request.task.clone()],
            outcome: AttemptOutcome::Failed,
            conflicts: Vec::new(),
            tests: vec![TestRun {
                name: "test".into(),
                passed: false,
                exit_code: Some(1),
                seconds: 1.5,
                cached: false,
                tail: "boom".into(),
            }],
        });
        let blob = request.to_blob();
        let back = MergeRequest::from_blob(&blob, Some(&request.task)).unwrap();
        assert_eq!(back, request);
    }

    // Guards: a request jumping from merged back into the queue (landing the work twice), or
    // a dropped one being tested.
    #[test]
    fn only_the_allowed_moves_happen() {
        let mut request = request();
        request.move_to(MergeState::Testing, Timestamp::UNIX_EPOCH).unwrap();
        request.move_to(MergeState::Merged, Timestamp::UNIX_EPOCH).unwrap();
        let err = request.move_to(MergeState::Queued, Timestamp::UNIX_EPOCH).unwrap_err();
        assert_eq!(err.from, MergeState::Merged);
        assert!(
            request
                .requeue("b".into(), "d".repeat(40), "main".into(), Timestamp::UNIX_EPOCH)
                .is_err()
        );
        let mut dropped = self::request();
        dropped.move_to(MergeState::Dropped, Timestamp::UNIX_EPOCH).unwrap();
        assert!(dropped.move_to(MergeState::Testing, Timestamp::UNIX_EPOCH).is_err());
        dropped.move_to(MergeState::Queued, Timestamp::UNIX_EPOCH).unwrap();
    }

    #[test]
    fn a_record_without_a_commit_id_tip_is_refused() {
        let mut request = request();
        request.tip = "main".into();
        let err = MergeRequest::from_blob(&request.to_blob(), Some(&request.task)).unwrap_err();
        assert!(err.to_string().contains("not a commit id"), "{err}");
    }

    #[test]
    fn old_attempts_fall_out_of_the_record() {
        let mut request = request();
        for n in 0..(MAX_KEPT_ATTEMPTS + 3) {
            request.record(Attempt {
                at: Timestamp::UNIX_EPOCH,
                by: format!("run {n}"),
                base: "b".repeat(40),
                candidate: None,
                batch: Vec::new(),
                outcome: AttemptOutcome::Conflict,
                conflicts: vec!["f".into()],
                tests: Vec::new(),
            });
        }
        assert_eq!(request.attempts.len(), MAX_KEPT_ATTEMPTS);
        assert_eq!(request.attempts[0].by, "run 3");
    }
}
