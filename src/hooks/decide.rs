//! What each hook decides, on top of the task store: which task a checkout belongs to, the
//! trailer a commit there gets, whether its claim is heartbeaten, and whether a push of a task
//! branch is allowed.
//!
//! Guarantees: outside a task's worktree or branch every hook is a no-op; `post-commit` only
//! ever renews a claim the committer holds (the one holder check, [`check_holder`]); `pre-push`
//! refuses a `loom/<id>` branch only when a live claim on that task is held by another agent,
//! so unclaimed, finished and unknown tasks push as before.

use std::path::Path;

use crate::claims::{Credentials, check_holder};
use crate::loom::{Actor, Error as LoomError, Loom};
use crate::model::TaskId;
use crate::store;

use super::{Error, Result};

/// The trailer key commits made in a task's worktree carry.
pub const TRAILER_KEY: &str = "Loom-Task";

/// The prefix of the branches git-loom names after tasks.
const TASK_BRANCH_PREFIX: &str = "loom/";

/// The task a checkout belongs to, and how it was recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutTask {
    /// The checkout is the task's worktree (under `[worktrees] dir`).
    Worktree(TaskId),
    /// The checkout has the task's `loom/<id>` branch out.
    Branch(TaskId),
}

impl CheckoutTask {
    pub fn id(&self) -> &TaskId {
        match self {
            CheckoutTask::Worktree(id) | CheckoutTask::Branch(id) => id,
        }
    }
}

/// One pushed ref `pre-push` refused, and who holds the task's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRefusal {
    pub task: TaskId,
    /// The remote ref the push would have written.
    pub remote_ref: String,
    pub holder: String,
}

/// What `pre-push` found: the task branches it checked, and those it refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushCheck {
    pub checked: Vec<TaskId>,
    pub refused: Vec<PushRefusal>,
}

/// Whether two paths name the same directory (git may print either spelling of a path).
fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}

impl Loom {
    /// The existing task `id` names, or `None` when there is none.
    fn existing(&self, id: TaskId) -> Result<Option<TaskId>> {
        match self.store().tip(&store::task_ref(&id)) {
            Ok(Some(_)) => Ok(Some(id)),
            Ok(None) => Ok(None),
            Err(err) => Err(Error::Loom(LoomError::Store(err))),
        }
    }

    /// The task whose branch `branch` (without `refs/heads/`) is by name: `loom/<id>`.
    pub fn task_of_branch(&self, branch: &str) -> Result<Option<TaskId>> {
        let Some(id) = branch
            .strip_prefix(TASK_BRANCH_PREFIX)
            .and_then(|id| TaskId::parse(id).ok())
        else {
            return Ok(None);
        };
        self.existing(id)
    }

    /// The task the checkout git-loom runs in belongs to: its worktree, else the task whose
    /// `loom/<id>` branch it has out; `None` for any other checkout.
    pub fn checkout_task(&self) -> Result<Option<CheckoutTask>> {
        let repo = self.store().repo();
        if let Some(dir) = repo.work_dir() {
            let named = dir
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| TaskId::parse(name).ok());
            if let Some(id) = named
                && self.worktree_path(&id).is_ok_and(|path| same_dir(&path, dir))
                && let Some(id) = self.existing(id)?
            {
                return Ok(Some(CheckoutTask::Worktree(id)));
            }
        }
        match repo.checkout_branch() {
            Some(branch) => Ok(self.task_of_branch(&branch)?.map(CheckoutTask::Branch)),
            None => Ok(None),
        }
    }

    /// `commit-msg`: add `Loom-Task: <id>` to the message in `file` when this checkout is a
    /// task's (and the message has no such trailer yet). Returns the task, if any.
    pub fn hook_commit_msg(&self, file: &Path) -> Result<Option<TaskId>> {
        let Some(task) = self.checkout_task()? else {
            return Ok(None);
        };
        self.store().repo().add_trailer(file, TRAILER_KEY, task.id().as_str())?;
        Ok(Some(task.id().clone()))
    }

    /// `post-commit`: heartbeat the claim on this checkout's task when `actor` holds it.
    /// Returns the task heartbeaten, if any; a claim someone else holds is left alone.
    pub fn hook_post_commit(&self, actor: &Actor) -> Result<Option<TaskId>> {
        let Some(task) = self.checkout_task()? else {
            return Ok(None);
        };
        let entry = self.task(task.id().as_str())?;
        let held = match self.live_claim_on(&entry.task)? {
            Some((_, Ok(claim))) => check_holder(task.id(), &claim, Credentials::default(), actor).is_ok(),
            _ => false,
        };
        if !held {
            return Ok(None);
        }
        self.heartbeat(task.id().as_str(), Credentials::default(), None, None, actor)?;
        Ok(Some(task.id().clone()))
    }

    /// `pre-push`: judge each ref line git gives the hook (`<local ref> <local sha> <remote
    /// ref> <remote sha>`). A push writing (or deleting) `refs/heads/loom/<id>` on the remote
    /// is refused when a live claim on that task is held by an agent other than `actor`.
    pub fn hook_pre_push(&self, lines: &str, actor: &Actor) -> Result<PushCheck> {
        let mut check = PushCheck::default();
        for line in lines.lines().filter(|line| !line.trim().is_empty()) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_, _, remote_ref, _] = fields[..] else {
                return Err(Error::BadRefLine { line: line.to_owned() });
            };
            let Some(branch) = remote_ref.strip_prefix("refs/heads/") else {
                continue;
            };
            let Some(id) = self.task_of_branch(branch)? else {
                continue;
            };
            let entry = self.task(id.as_str())?;
            let claim = match self.live_claim_on(&entry.task)? {
                Some((_, claim)) => Some(claim?),
                None => None,
            };
            if let Some(claim) = claim
                && check_holder(&id, &claim, Credentials::default(), actor).is_err()
            {
                check.refused.push(PushRefusal {
                    task: id.clone(),
                    remote_ref: remote_ref.to_owned(),
                    holder: claim.agent,
                });
            }
            check.checked.push(id);
        }
        Ok(check)
    }
}
