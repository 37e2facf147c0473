//! An agent's session as every front end returns it: the session `next` starts or resumes, a
//! task's signal, and the task worktrees (created, listed, removed). The shapes are interface,
//! documented in `doc/cli.md` (`next`, `signal`, `worktree`).

use serde::Serialize;

use super::task::TaskJson;
use crate::model::{Derived, Task};
use crate::session::{Removal, Session, TaskWorktree, WorktreeStatus};

/// The session `next` started or resumed.
#[derive(Debug, Serialize)]
pub struct NextJson<'a> {
    /// Whether the agent already held the task.
    pub resumed: bool,
    pub task: TaskJson<'a>,
    pub worktree: String,
    pub branch: &'a str,
    pub signal: &'a str,
}

impl<'a> NextJson<'a> {
    /// `derived` is what a user sees of the session's task now.
    pub fn new(session: &'a Session, derived: &'a Derived) -> Self {
        NextJson {
            resumed: session.resumed,
            task: TaskJson::new(&session.task, derived).with_claim(session.claim.as_ref()),
            worktree: session.worktree.path.display().to_string(),
            branch: &session.worktree.branch,
            signal: &session.signal,
        }
    }
}

/// A task's signal.
#[derive(Debug, Serialize)]
pub struct SignalJson<'a> {
    pub task: &'a str,
    pub signal: &'a str,
}

impl<'a> SignalJson<'a> {
    pub fn new(task: &'a Task, signal: &'a str) -> Self {
        SignalJson {
            task: task.id.as_str(),
            signal,
        }
    }
}

/// A task's worktree after `worktree add`.
#[derive(Debug, Serialize)]
pub struct WorktreeAddedJson<'a> {
    pub task: &'a str,
    pub path: String,
    pub branch: &'a str,
    /// `false` when it already existed.
    pub created: bool,
    /// The dependencies whose work the new branch started from (merged onto the base, under
    /// `[merge] gate = "done"`), in id order; empty when it started from the base alone.
    pub started_from: &'a [crate::model::TaskId],
}

impl<'a> From<&'a TaskWorktree> for WorktreeAddedJson<'a> {
    fn from(worktree: &'a TaskWorktree) -> Self {
        WorktreeAddedJson {
            task: worktree.task.as_str(),
            path: worktree.path.display().to_string(),
            branch: &worktree.branch,
            created: worktree.created,
            started_from: &worktree.stacked,
        }
    }
}

/// One linked worktree as `worktree list` shows it.
#[derive(Debug, Serialize)]
pub struct WorktreeJson<'a> {
    /// The task it belongs to, `null` for a worktree that is not one of git-loom's.
    pub task: Option<&'a str>,
    pub path: String,
    pub branch: Option<&'a str>,
    pub dirty: bool,
    pub ahead: Option<u32>,
    pub behind: Option<u32>,
}

impl<'a> From<&'a WorktreeStatus> for WorktreeJson<'a> {
    fn from(status: &'a WorktreeStatus) -> Self {
        WorktreeJson {
            task: status.task.as_ref().map(|id| id.as_str()),
            path: status.path.display().to_string(),
            branch: status.branch.as_deref(),
            dirty: status.dirty,
            ahead: status.ahead_behind.map(|(ahead, _)| ahead),
            behind: status.ahead_behind.map(|(_, behind)| behind),
        }
    }
}

/// What `worktree remove` or `prune` did with one worktree.
#[derive(Debug, Serialize)]
pub struct RemovalJson<'a> {
    pub task: &'a str,
    pub path: String,
    pub removed: bool,
    pub branch_deleted: bool,
    /// Why a worktree was kept, `null` when it was removed.
    pub kept_because: Option<&'a str>,
}

impl<'a> From<&'a Removal> for RemovalJson<'a> {
    fn from(removal: &'a Removal) -> Self {
        match removal {
            Removal::Removed {
                task,
                path,
                branch_deleted,
            } => RemovalJson {
                task: task.as_str(),
                path: path.display().to_string(),
                removed: true,
                branch_deleted: *branch_deleted,
                kept_because: None,
            },
            Removal::Kept { task, path, why } => RemovalJson {
                task: task.as_str(),
                path: path.display().to_string(),
                removed: false,
                branch_deleted: false,
                kept_because: Some(why),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskId;
    use crate::model::state::new_task;
    use crate::model::{Kind, Priority};

    fn id() -> TaskId {
        TaskId::parse("loom-1a2b3c4d").expect("a valid task id")
    }

    // Guards: `worktree add --json` and `signal --json` printing other bytes than they did
    // when the CLI built them inline (keys in the order they were written there).
    #[test]
    fn the_objects_once_built_inline_keep_their_bytes() {
        let worktree = TaskWorktree {
            task: id(),
            path: ".loom/worktrees/loom-1a2b3c4d".into(),
            branch: "loom/loom-1a2b3c4d".into(),
            created: true,
            stacked: vec![TaskId::parse("loom-0000aaaa").expect("a valid task id")],
        };
        assert_eq!(
            serde_json::to_string(&WorktreeAddedJson::from(&worktree)).expect("serializes"),
            r#"{"task":"loom-1a2b3c4d","path":".loom/worktrees/loom-1a2b3c4d","branch":"loom/loom-1a2b3c4d","created":true,"started_from":["loom-0000aaaa"]}"#
        );
        let task = new_task(
            id(),
            "Cart API".into(),
            Kind::Task,
            Priority::P2,
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            serde_json::to_string(&SignalJson::new(&task, "# loom-1a2b3c4d: Cart API\n")).expect("serializes"),
            r##"{"task":"loom-1a2b3c4d","signal":"# loom-1a2b3c4d: Cart API\n"}"##
        );
    }

    // Guards: a kept worktree reported as removed, or a removed one without its branch flag.
    #[test]
    fn a_removal_says_whether_the_worktree_went_and_why_it_stayed() {
        let removed = Removal::Removed {
            task: id(),
            path: "wt".into(),
            branch_deleted: true,
        };
        assert_eq!(
            serde_json::to_string(&RemovalJson::from(&removed)).expect("serializes"),
            r#"{"task":"loom-1a2b3c4d","path":"wt","removed":true,"branch_deleted":true,"kept_because":null}"#
        );
        let kept = Removal::Kept {
            task: id(),
            path: "wt".into(),
            why: "it has uncommitted changes".into(),
        };
        assert_eq!(
            serde_json::to_string(&RemovalJson::from(&kept)).expect("serializes"),
            r#"{"task":"loom-1a2b3c4d","path":"wt","removed":false,"branch_deleted":false,"kept_because":"it has uncommitted changes"}"#
        );
    }
}
