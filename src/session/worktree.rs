//! Task worktrees: one linked git worktree per task, on the task's own branch, in a directory
//! git ignores (through `.git/info/exclude`, never the user's tracked files).
//!
//! Creating one records its branch on the task (and the worktree and branch on the claim, when
//! the caller holds it). Removing one never loses work: a worktree with uncommitted changes, or
//! whose branch is not merged into the target, stays unless forced.

use std::path::PathBuf;

use crate::claims::{Credentials, check_holder};
use crate::loom::workset::{ClaimChange, Workset};
use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::{Status, TaskId};

/// A task's worktree as created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskWorktree {
    pub task: TaskId,
    pub path: PathBuf,
    pub branch: String,
    /// `false` when it already existed.
    pub created: bool,
    /// The dependencies whose work (their branches, under `[merge] gate = "done"`) the new
    /// branch started from, merged onto the base; empty when it started from the base alone
    /// or already existed.
    pub stacked: Vec<TaskId>,
}

/// One linked worktree, as `worktree list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeStatus {
    /// The task it belongs to, when it is one of git-loom's.
    pub task: Option<TaskId>,
    pub path: PathBuf,
    pub branch: Option<String>,
    pub dirty: bool,
    /// Commits the branch has that the target lacks, and the other way round.
    pub ahead_behind: Option<(u32, u32)>,
}

/// What `worktree remove` or `prune` did with one worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Removed {
        task: TaskId,
        path: PathBuf,
        branch_deleted: bool,
    },
    Kept {
        task: TaskId,
        path: PathBuf,
        why: String,
    },
}

impl Loom {
    /// Where a task's worktree lives.
    pub fn worktree_path(&self, id: &TaskId) -> Result<PathBuf> {
        let root = self.store.repo().main_work_dir().ok_or(Error::BareRepository)?;
        Ok(root.join(&self.settings().worktrees.dir).join(id.as_str()))
    }

    /// Check that a task worktree could be made now: a working tree to put it next to, and a
    /// target branch with a commit to start from. `next` asks before it claims, so a repository
    /// that cannot hold worktrees never leaves a claim behind.
    pub fn worktree_preflight(&self) -> Result<()> {
        self.store.repo().main_work_dir().ok_or(Error::BareRepository)?;
        let branch = self.target_branch().ok_or(Error::NoTargetBranch)?;
        if self.store.repo().branch_tip(&branch)?.is_none() {
            return Err(Error::UnbornTarget { branch });
        }
        Ok(())
    }

    /// Create (or find) the worktree of a task, on its branch, started from `base` (default:
    /// the target branch) with, under `[merge] gate = "done"`, the work of its done
    /// dependencies merged on top (see [`Loom::start_point`]); dependencies whose work
    /// conflicts fail it before any branch or worktree is made.
    pub fn worktree_add(&self, input: &str, base: Option<&str>, actor: &Actor) -> Result<TaskWorktree> {
        let entry = self.task(input)?;
        let id = entry.task.id.clone();
        let branch = Loom::task_branch(&entry.task);
        let path = self.worktree_path(&id)?;
        let existing = self
            .store
            .repo()
            .worktrees()?
            .into_iter()
            .find(|worktree| same_path(&worktree.path, &path));
        let created = existing.is_none();
        let mut stacked = Vec::new();
        if created {
            let base = match base {
                Some(base) => base.to_owned(),
                None => self.target_branch().ok_or(Error::NoTargetBranch)?,
            };
            if self.store.repo().branch_tip(&base)?.is_none() && self.store.repo().branch_tip(&branch)?.is_none() {
                return Err(Error::Invalid(format!("the base branch {base:?} does not exist")));
            }
            if let Some(dir) = self
                .settings()
                .worktrees
                .dir
                .split('/')
                .next()
                .filter(|dir| !dir.is_empty())
            {
                self.store.repo().exclude_locally(dir)?;
            }
            let start = match self.store.repo().branch_tip(&branch)? {
                // A branch that exists holds the task's work already: the worktree checks it out.
                Some(_) => base,
                None => match self.start_point(&entry.task, &base, actor)? {
                    Some(start) => {
                        stacked = start.stacked;
                        start.commit.to_string()
                    }
                    None => base,
                },
            };
            self.store.repo().add_worktree(&path, &branch, &start)?;
        }
        self.record_worktree(&id, &path, &branch, actor)?;
        Ok(TaskWorktree {
            task: id,
            path,
            branch,
            created,
            stacked,
        })
    }

    /// Note the branch on the task, and worktree and branch on the caller's claim.
    fn record_worktree(&self, id: &TaskId, path: &std::path::Path, branch: &str, actor: &Actor) -> Result<()> {
        let path_text = path.to_string_lossy().into_owned();
        with_retries(|| {
            let mut workset = Workset::new(&self.store);
            let task = workset.get(id)?.clone();
            if task.branch.as_deref() != Some(branch) {
                workset.get_mut(id)?.branch = Some(branch.to_owned());
                workset.note(id, format!("branch {branch}"));
            }
            // Only the caller's own claim (no token, no force) records where it works.
            let held = match self.live_claim_on(&task)? {
                Some((tip, Ok(claim))) if check_holder(id, &claim, Credentials::default(), actor).is_ok() => {
                    Some((tip, claim))
                }
                _ => None,
            };
            if let Some((tip, mut claim)) = held
                && (claim.worktree.as_deref() != Some(path_text.as_str()) || claim.branch.as_deref() != Some(branch))
            {
                claim.worktree = Some(path_text.clone());
                claim.branch = Some(branch.to_owned());
                workset.change_claim(id, ClaimChange::Renew { tip, claim }, format!("worktree {path_text}"));
            }
            workset.commit(actor, "worktree")?;
            Ok(())
        })
    }

    /// Every linked worktree, with its task when it is one of git-loom's.
    pub fn worktree_list(&self) -> Result<Vec<WorktreeStatus>> {
        let target = self.target_branch();
        let mut found = Vec::new();
        for worktree in self.store.repo().worktrees()? {
            let task = worktree
                .path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| TaskId::parse(name).ok())
                .filter(|id| {
                    self.worktree_path(id)
                        .is_ok_and(|path| same_path(&path, &worktree.path))
                });
            let dirty = worktree.path.exists() && self.store.repo().worktree_is_dirty(&worktree.path)?;
            let ahead_behind = match (&worktree.branch, &target) {
                (Some(branch), Some(target)) if branch != target => self.store.repo().ahead_behind(branch, target)?,
                _ => None,
            };
            found.push(WorktreeStatus {
                task,
                path: worktree.path,
                branch: worktree.branch,
                dirty,
                ahead_behind,
            });
        }
        Ok(found)
    }

    /// Remove a task's worktree: only when it has no uncommitted changes and its branch is
    /// merged into the target, unless `force`. A merged branch is deleted with it.
    pub fn worktree_remove(&self, input: &str, force: bool) -> Result<Removal> {
        let id = self.resolve(input)?;
        let path = self.worktree_path(&id)?;
        let Some(worktree) = self
            .store
            .repo()
            .worktrees()?
            .into_iter()
            .find(|w| same_path(&w.path, &path))
        else {
            return Err(Error::Invalid(format!("{id} has no worktree")));
        };
        self.remove_one(id, worktree, force)
    }

    /// Remove the worktrees of done or cancelled tasks whose branches are merged.
    pub fn worktree_prune(&self) -> Result<Vec<Removal>> {
        let mut removals = Vec::new();
        for status in self.worktree_list()? {
            let Some(id) = status.task.clone() else { continue };
            let closed = self
                .task(id.as_str())
                .is_ok_and(|entry| matches!(entry.task.status(), Status::Done | Status::Cancelled));
            if !closed {
                continue;
            }
            let worktree = crate::repo::Worktree {
                path: status.path,
                branch: status.branch,
            };
            removals.push(self.remove_one(id, worktree, false)?);
        }
        Ok(removals)
    }

    fn remove_one(&self, task: TaskId, worktree: crate::repo::Worktree, force: bool) -> Result<Removal> {
        let path = worktree.path.clone();
        let merged = match (&worktree.branch, self.target_branch()) {
            (Some(branch), Some(target)) => self
                .store
                .repo()
                .ahead_behind(branch, &target)?
                .is_some_and(|(ahead, _)| ahead == 0),
            _ => false,
        };
        if !force {
            if path.exists() && self.store.repo().worktree_is_dirty(&path)? {
                return Ok(Removal::Kept {
                    task,
                    path,
                    why: "it has uncommitted changes".into(),
                });
            }
            if !merged {
                return Ok(Removal::Kept {
                    task,
                    path,
                    why: "its branch is not merged into the target branch".into(),
                });
            }
        }
        self.store.repo().remove_worktree(&path, force)?;
        let branch_deleted = match &worktree.branch {
            Some(branch) if merged || force => self.store.repo().delete_branch(branch, force).is_ok(),
            _ => false,
        };
        Ok(Removal::Removed {
            task,
            path,
            branch_deleted,
        })
    }
}

/// Whether two paths name the same directory (git prints worktree paths canonicalised).
fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    let canonical = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}
