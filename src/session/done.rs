//! `done` as one use case: the verify-before-done gate, then the claim's completion.
//!
//! Only the holder's work is judged: a caller who may not act on the claim is refused by the
//! completion itself, without any check running. For the holder, the task's own worktree must
//! hold no uncommitted changes (unless allowed, when they are listed on the task), the task's
//! checks must pass against the committed work (unless skipped), and the commit holding the
//! work is recorded on the task. A refusal is an outcome, not an error: the task stays claimed
//! and nothing is written. The task is read once, and that read is what the completion
//! expects to replace, so a task changed while its checks ran is a lost race, retried afresh.

use std::path::{Path, PathBuf};

use crate::claims::{Credentials, DoneRecord, check_holder};
use crate::loom::{Actor, Loom, Result};
use crate::merge::{QueueRequest, queue_in};
use crate::model::{MergedInto, Task};
use crate::store::ObjectId;
use crate::tasks::EditOutcome;
use crate::verify::{CheckResult, Report};

use super::checks::{Checked, WorkState, has_checks, spec_of};

/// How `done` judges and records the work.
#[derive(Debug, Clone, Default)]
pub struct DoneOptions {
    /// What the work produced, kept as the task's `output`.
    pub output: Option<serde_json::Value>,
    /// The branch holding the work, kept as the task's `branch`.
    pub branch: Option<String>,
    /// Record the task done without running its checks.
    pub skip_verify: bool,
    /// Record the task done although its worktree has uncommitted changes.
    pub allow_dirty: bool,
    /// Judge the work in this directory instead of the claim's or the task's worktree.
    pub worktree: Option<PathBuf>,
}

/// The checks `done` ran, and where.
#[derive(Debug, Clone)]
pub struct ChecksRun {
    pub state: WorkState,
    pub checked: Checked,
    pub report: Report,
}

/// What `done` reports while it works, in order, so a front end can show it as it happens.
#[derive(Debug)]
pub enum DoneEvent<'a> {
    /// The checks are about to run against the work in this state.
    Checking(&'a WorkState),
    /// One check ended.
    Check(&'a CheckResult),
    /// Every check on the task ran; whether they passed decides what happens next.
    Checked(&'a Task, &'a ChecksRun),
    /// The task's own worktree has no commits beyond where it left its target branch: the
    /// work may not be committed. Not a refusal.
    NoCommits(&'a Path),
}

/// How `done` ended.
#[derive(Debug)]
pub enum DoneOutcome {
    /// The task is done; `checks` is what ran first (`None` when nothing was checked).
    Done {
        outcome: EditOutcome,
        checks: Option<ChecksRun>,
    },
    /// Refused, nothing written: the task's own worktree has uncommitted changes.
    Uncommitted { task: Task, state: WorkState },
    /// Refused, nothing written: a check failed.
    ChecksFailed { task: Task, checks: ChecksRun },
}

/// What becomes of finished work on a branch.
enum Landing {
    /// The branch has work the target lacks: it is queued to be merged.
    Queue(QueueRequest),
    /// Everything on the branch is on the target already.
    OnTarget(MergedInto),
}

impl Loom {
    /// Where the work at `commit` goes: queued for the target when it is on a branch of its
    /// own with something the target lacks, recorded as landed when the target has it all,
    /// nothing when there is no branch or no target.
    fn landing_of(&self, task: &Task, options: &DoneOptions, commit: &str, actor: &Actor) -> Result<Option<Landing>> {
        let Some(branch) = options.branch.clone().or_else(|| task.branch.clone()) else {
            return Ok(None);
        };
        let Some(target) = self.target_branch().filter(|target| *target != branch) else {
            return Ok(None);
        };
        let repo = self.store().repo();
        let (Ok(tip), Some(target_tip)) = (commit.parse::<ObjectId>(), repo.branch_tip(&target)?) else {
            return Ok(None);
        };
        if repo.commits_since(target_tip, tip)? == 0 {
            return Ok(Some(Landing::OnTarget(MergedInto {
                commit: target_tip.to_string(),
                target,
                at: actor.now,
            })));
        }
        Ok(Some(Landing::Queue(QueueRequest { branch, tip, target })))
    }

    /// Push the branch holding finished work to the coordination remote, so that the merge
    /// queue can run anywhere (`merge --ci`). The remote's branch may only hold commits the
    /// work has: one with commits of its own is never overwritten.
    fn publish_branch(&self, remote: &str, request: &QueueRequest) -> Result<()> {
        let repo = self.store().repo();
        let there = repo.remote_branch_tip(remote, &request.branch)?;
        if there == Some(request.tip) {
            return Ok(());
        }
        let contained = there.is_none_or(|there| {
            repo.has_commit(there) && repo.commits_since(request.tip, there).is_ok_and(|extra| extra == 0)
        });
        let refused = |why: String| crate::loom::Error::BranchDiverged {
            remote: remote.to_owned(),
            branch: request.branch.clone(),
            why,
        };
        if !contained {
            return Err(refused("its commits would be lost".into()));
        }
        match repo.push_branch(remote, &request.branch, there, request.tip)? {
            crate::repo::BranchPush::Pushed => Ok(()),
            crate::repo::BranchPush::Refused(why) => Err(refused(why)),
        }
    }

    /// Record the task `input` names as done, after judging its work (see the module docs).
    /// `events` sees the checks as they run.
    pub fn done(
        &self,
        input: &str,
        credentials: Credentials<'_>,
        options: &DoneOptions,
        actor: &Actor,
        mut events: impl FnMut(DoneEvent<'_>),
    ) -> Result<DoneOutcome> {
        let entry = self.task(input)?;
        let task = &entry.task;
        let holds = match self.live_claim_on(task)? {
            Some((_, Ok(claim))) => check_holder(&task.id, &claim, credentials, actor).is_ok(),
            _ => false,
        };
        let needs_checks = !options.skip_verify && has_checks(&spec_of(task));
        let worktree = options.worktree.clone();
        let state = match holds {
            // With checks to run, a missing directory is the error `verify` reports.
            true if needs_checks => Some(self.work_state(task, worktree)?),
            true => self.work_state_if_any(task, worktree)?,
            false => None,
        };
        let mut record = DoneRecord::default();
        let mut checks = None;
        if let Some(state) = state {
            if state.own && !state.changes.is_empty() {
                if !options.allow_dirty {
                    return Ok(DoneOutcome::Uncommitted {
                        task: entry.task,
                        state,
                    });
                }
                record.dirty = state.changes.clone();
            }
            if needs_checks {
                events(DoneEvent::Checking(&state));
                let (checked, report) =
                    self.verify_task(task, &state, Vec::new(), |result| events(DoneEvent::Check(result)))?;
                let run = ChecksRun {
                    state: state.clone(),
                    checked,
                    report,
                };
                events(DoneEvent::Checked(task, &run));
                if !run.report.passed() {
                    return Ok(DoneOutcome::ChecksFailed {
                        task: entry.task,
                        checks: run,
                    });
                }
                checks = Some(run);
            }
            if state.own {
                if state.ahead == Some(0) {
                    events(DoneEvent::NoCommits(&state.dir));
                }
                record.commit = state.head.map(|head| head.to_string());
            } else if let Some(branch) = options.branch.as_ref().or(task.branch.as_ref()) {
                // Worked elsewhere: the named branch's tip is the work.
                record.commit = self.store().repo().branch_tip(branch)?.map(|tip| tip.to_string());
            }
        }
        let landing = match &record.commit {
            Some(commit) => self.landing_of(task, options, commit, actor)?,
            None => None,
        };
        if let (Some(Landing::Queue(request)), Some(remote)) = (&landing, self.store().publish_remote()) {
            self.publish_branch(remote, request)?;
        }
        let id = task.id.clone();
        record.output = options.output.clone();
        record.branch = options.branch.clone();
        let outcome = self.record_done(entry, credentials, &record, actor, |workset| match &landing {
            Some(Landing::Queue(request)) => queue_in(workset, &self.store, &id, request, actor),
            Some(Landing::OnTarget(merged)) => {
                workset.get_mut(&id)?.set_merged(merged);
                workset.note(&id, format!("its work is already on {}", merged.target));
                Ok(())
            }
            None => Ok(()),
        })?;
        Ok(DoneOutcome::Done { outcome, checks })
    }
}
