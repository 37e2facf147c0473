//! The engine: serve the queue, one target at a time, building candidates, testing exactly
//! them, and moving the target only to a commit that passed.
//!
//! One round takes up to `batch` open requests for the target in queue order and stacks their
//! branches onto the target's tip (`repo::Repo::stack_candidate`, no working tree). A request
//! that conflicts is decided at once (`conflict`, its task reopened with a handoff listing the
//! paths); one whose work the target already holds is `merged` at once. The rest are tested as
//! a stack ([`super::bisect`]): the good prefix lands with a compare-and-swap of the target on
//! the tip the stack was built from, the culprit (if any) fails through the retry rules with a
//! handoff holding its output, and the requests after it wait for the next round. A target
//! that moved while the candidate was tested is never overwritten: the requests go back to the
//! queue and the next round builds on the new tip.
//!
//! Guarantees: the target only ever moves to a commit that passed the repository's test
//! command and the tasks' own checks (or, with neither set, merged cleanly); the user's
//! checkout of the target is updated only when it is clean; every decision is recorded on the
//! request (an attempt with its candidate, tests and conflicts) and on the task, in one
//! transaction per decision.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::bisect;
use super::request::{MergeEntry, short};
use super::testing::{TestOutcome, TestProgress, TestSpec};
use crate::claims::record_failure;
use crate::loom::workset::Workset;
use crate::loom::{Actor, Error, Loom, Result};
use crate::model::handoff::{HANDOFF_SCHEMA, Handoff};
use crate::model::{Attempt, AttemptOutcome, MergeRequest, MergeState, MergedInto, Status, Task, TaskId, TestRun};
use crate::repo::{BranchPush, CandidateSignature, CheckoutUpdate, MoveOutcome, Pick, PickOutcome};
use crate::store::{self, Expected, ObjectId, RefUpdate};
use crate::tasks::edit::reopen_refused;

/// How the engine runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// How many requests one candidate stacks; `None` takes `[merge] batch`.
    pub batch: Option<usize>,
    /// Serve only requests for this target; `None` serves every target in turn.
    pub target: Option<String>,
    /// Work against this remote (a CI job): before each round the local target is made the
    /// remote's and the queued branches' commits are fetched from it, and a candidate that
    /// passed lands on the remote first, with a lease on the tip it was built from.
    pub remote: Option<String>,
    /// The name this run holds the merge lease under (unique to the run: two runs under one
    /// name would both think they hold it); `None`: the acting agent's name with this
    /// process's id.
    pub holder: Option<String>,
}

/// What became of one request in a run.
#[derive(Debug, Clone)]
pub struct Decision {
    pub task: TaskId,
    pub branch: String,
    pub target: String,
    /// `merged`, `conflict`, `failed`, or `queued` (it waits for another round: the target
    /// moved, or a request before it in the batch failed).
    pub state: MergeState,
    /// The target commit holding the work, once merged.
    pub landed: Option<ObjectId>,
    /// The candidate that was tested for it.
    pub candidate: Option<ObjectId>,
    pub conflicts: Vec<String>,
    pub tests: Vec<TestRun>,
    /// What happened, in a sentence.
    pub note: String,
}

/// What the engine reports while it works.
#[derive(Debug)]
pub enum MergeEvent<'a> {
    /// A candidate is being built for these tasks on the target's tip.
    Building {
        target: &'a str,
        base: ObjectId,
        tasks: &'a [TaskId],
    },
    /// The candidate holding these tasks' work is being tested.
    Testing {
        tasks: &'a [TaskId],
        candidate: ObjectId,
        retest: bool,
    },
    /// A test is running.
    Progress(TestProgress<'a>),
    /// A request was decided (or sent back to the queue).
    Decided(&'a Decision),
    /// The target moved; what happened to the user's checkout of it.
    Checkout(&'a CheckoutUpdate),
}

/// A whole run of the engine.
#[derive(Debug, Default)]
pub struct RunReport {
    pub decisions: Vec<Decision>,
    /// Test runs that executed (the test command and checks of one candidate count once).
    pub test_runs: u32,
    /// Candidates answered from the test cache.
    pub cache_hits: u32,
    /// Candidate-building rounds.
    pub rounds: u32,
    /// Damaged requests that were skipped, naming their refs.
    pub problems: Vec<String>,
}

/// The most rounds one run makes: each round decides at least one request or finds that the
/// target moved; a target that keeps moving under the engine for this long is left for the
/// next run.
const MAX_ROUNDS_PER_REQUEST: usize = 4;

impl Loom {
    /// Serve the queue until no open request is left (or every one left waits on a target
    /// that keeps moving). `events` sees the work as it happens.
    pub fn merge_run(
        &self,
        options: &RunOptions,
        actor: &Actor,
        mut events: impl FnMut(MergeEvent<'_>),
    ) -> Result<RunReport> {
        let _engine = self.engine_lock()?;
        let mut report = RunReport::default();
        let queue = self.merge_queue()?;
        report.problems = queue.problems.iter().map(ToString::to_string).collect();
        let open = queue
            .entries
            .iter()
            .filter(|entry| entry.request.state.is_open())
            .count();
        if open == 0 {
            // Nothing to serve: no lease to take, and no write to publish.
            return Ok(report);
        }
        let holder = options
            .holder
            .clone()
            .unwrap_or_else(|| format!("{} (process {})", actor.agent, std::process::id()));
        self.holding_merge_lease(&holder, actor, |lost| {
            self.serve_queue(options, actor, open, report, lost, &mut events)
        })
    }

    /// Serve the queue while this engine holds the merge lease; a lease `lost` to another
    /// engine stops the run before its next round.
    fn serve_queue(
        &self,
        options: &RunOptions,
        actor: &Actor,
        open: usize,
        mut report: RunReport,
        lost: &std::sync::atomic::AtomicBool,
        mut events: impl FnMut(MergeEvent<'_>),
    ) -> Result<RunReport> {
        let max_rounds = (open * MAX_ROUNDS_PER_REQUEST).max(1);
        let settings = self.settings();
        let batch = options
            .batch
            .unwrap_or(settings.merge.batch as usize)
            .clamp(1, crate::model::meta::MergeSettings::MAX_BATCH as usize);
        // Requests whose work is not in this repository: left queued for a run that has it.
        let mut missing: BTreeSet<TaskId> = BTreeSet::new();
        for _ in 0..max_rounds {
            if lost.load(std::sync::atomic::Ordering::SeqCst) {
                report.problems.push(
                    "the merge lease ran out and another engine took it: the rest of the queue is left to it".into(),
                );
                break;
            }
            let queue = self.merge_queue()?;
            let mut open: Vec<MergeEntry> = queue
                .entries
                .into_iter()
                .filter(|entry| entry.request.state.is_open() && !missing.contains(&entry.request.task))
                .filter(|entry| {
                    options
                        .target
                        .as_ref()
                        .is_none_or(|target| *target == entry.request.target)
                })
                .collect();
            let Some(first) = open.first() else { break };
            let target = first.request.target.clone();
            open.retain(|entry| entry.request.target == target);
            open.truncate(batch);
            report.rounds += 1;
            let base = self.round_base(&target, &open, options, &mut events)?;
            let (present, absent): (Vec<MergeEntry>, Vec<MergeEntry>) =
                open.into_iter().partition(|entry| self.has_work(entry));
            for entry in absent {
                report.problems.push(format!(
                    "{}: the commit {} of {} is not in this repository; push the branch (it stays queued)",
                    entry.request.task,
                    short(&entry.request.tip),
                    entry.request.branch
                ));
                missing.insert(entry.request.task);
            }
            if !present.is_empty() {
                self.round(&target, base, present, options, actor, &mut report, &mut events)?;
            }
        }
        Ok(report)
    }

    /// Hold the repository's engine lock for the run: two engines would fight over the merge
    /// worktree and land each other's rounds out of order. The operating system releases it
    /// when the process ends, however it ends, so a crashed run leaves nothing to clean up.
    fn engine_lock(&self) -> Result<std::fs::File> {
        let dir = self.store.local_dir();
        let io = |source: std::io::Error| {
            Error::Internal(format!("cannot take the merge lock in {}: {source}", dir.display()))
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("merge.lock"))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::MergeBusy),
            Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
        }
    }

    /// The target's tip a round builds on. Against a remote, the local target is made the
    /// remote's first (and its clean checkout brought along), and the batch's branches are
    /// fetched.
    fn round_base(
        &self,
        target: &str,
        batch: &[MergeEntry],
        options: &RunOptions,
        events: &mut impl FnMut(MergeEvent<'_>),
    ) -> Result<ObjectId> {
        let repo = self.store.repo();
        let missing_target = || Error::MissingTarget {
            branch: target.to_owned(),
        };
        let Some(remote) = &options.remote else {
            return repo.branch_tip(target)?.ok_or_else(missing_target);
        };
        let before = repo.branch_tip(target)?;
        let base = repo.follow_remote_branch(remote, target)?.ok_or_else(missing_target)?;
        if let Some(before) = before.filter(|before| *before != base) {
            let update = repo.update_checkout(target, before, base)?;
            events(MergeEvent::Checkout(&update));
        }
        let lacking: Vec<String> = batch
            .iter()
            .filter(|entry| !self.has_work(entry))
            .map(|entry| entry.request.branch.clone())
            .collect();
        if !lacking.is_empty() {
            repo.fetch_branch_commits(remote, &lacking)?;
        }
        Ok(base)
    }

    /// Whether the commit a request merges is in this repository.
    fn has_work(&self, entry: &MergeEntry) -> bool {
        entry
            .request
            .tip
            .parse::<ObjectId>()
            .is_ok_and(|tip| self.store.repo().has_commit(tip))
    }

    /// One round: build, test and decide a batch of requests for `target` on `base`.
    #[allow(clippy::too_many_arguments, reason = "one round's inputs and the run's outputs")]
    fn round(
        &self,
        target: &str,
        base: ObjectId,
        batch: Vec<MergeEntry>,
        options: &RunOptions,
        actor: &Actor,
        report: &mut RunReport,
        events: &mut impl FnMut(MergeEvent<'_>),
    ) -> Result<()> {
        let repo = self.store.repo();
        let tasks: Vec<TaskId> = batch.iter().map(|entry| entry.request.task.clone()).collect();
        events(MergeEvent::Building {
            target,
            base,
            tasks: &tasks,
        });
        let picks: Vec<Pick> = batch
            .iter()
            .map(|entry| {
                let tip = entry.request.tip.parse::<ObjectId>().map_err(|_| {
                    Error::corrupt(
                        store::merge_ref(&entry.request.task),
                        format!("tip {:?} is not a commit id", entry.request.tip),
                    )
                })?;
                Ok(Pick {
                    tip,
                    message: merge_message(entry),
                })
            })
            .collect::<Result<_>>()?;
        let email = repo.config_string("user.email").unwrap_or_default();
        let stack = repo.stack_candidate(base, &picks, &candidate_signature(actor, email))?;
        // Requests whose branch merges cleanly, with the stack commit that ends with them.
        let mut stacked: Vec<(MergeEntry, ObjectId, ObjectId)> = Vec::new();
        for (entry, outcome) in batch.into_iter().zip(stack.outcomes) {
            match outcome {
                PickOutcome::Merged { commit, tree } => stacked.push((entry, commit, tree)),
                PickOutcome::AlreadyMerged => {
                    let decision = self.decide_landed(&entry, Tried::new(base, None, Vec::new(), &[]), base, actor)?;
                    events(MergeEvent::Decided(&decision));
                    report.decisions.push(decision);
                }
                PickOutcome::Conflict { paths } => {
                    let decision = self.decide_conflict(&entry, base, paths, actor)?;
                    events(MergeEvent::Decided(&decision));
                    report.decisions.push(decision);
                }
            }
        }
        if stacked.is_empty() {
            return Ok(());
        }
        self.mark_testing(&stacked, actor)?;
        let spec_for = |prefix: usize| -> TestSpec {
            TestSpec {
                command: self.settings().merge.test.clone(),
                tasks: stacked[..prefix]
                    .iter()
                    .filter_map(|(entry, _, _)| self.task_if_readable(&entry.request.task))
                    .collect(),
                timeout: Duration::from_secs(self.settings().merge.test_timeout_secs),
            }
        };
        let stacked_ids: Vec<TaskId> = stacked.iter().map(|(entry, _, _)| entry.request.task.clone()).collect();
        let mut results: BTreeMap<usize, TestOutcome> = BTreeMap::new();
        let verdict = bisect::decide(stacked.len(), |prefix, retest| {
            let (_, candidate, tree) = &stacked[prefix - 1];
            events(MergeEvent::Testing {
                tasks: &stacked_ids[..prefix],
                candidate: *candidate,
                retest,
            });
            let outcome = self.test_candidate(*candidate, *tree, &spec_for(prefix), retest, actor, |progress| {
                events(MergeEvent::Progress(progress))
            })?;
            match outcome.cached {
                true => report.cache_hits += 1,
                false if !outcome.runs.is_empty() => report.test_runs += 1,
                false => {}
            }
            report.problems.extend(outcome.warnings.iter().map(ToString::to_string));
            let passed = outcome.passed;
            results.insert(prefix, outcome);
            Ok::<_, Error>(passed)
        })?;
        let good = verdict.good;
        let mut landed_at = None;
        if good > 0 {
            let (_, candidate, _) = &stacked[good - 1];
            // Against a remote, the remote's target moves first: it is the one that counts.
            let published = match &options.remote {
                Some(remote) => repo.push_branch(remote, target, Some(base), *candidate)? == BranchPush::Pushed,
                None => true,
            };
            if published {
                match repo.move_branch(target, base, *candidate)? {
                    MoveOutcome::Updated => {
                        landed_at = Some(*candidate);
                        let update = repo.update_checkout(target, base, *candidate)?;
                        events(MergeEvent::Checkout(&update));
                    }
                    // Only against a remote, which accepted it: the local target follows later.
                    MoveOutcome::Moved(_) if options.remote.is_some() => landed_at = Some(*candidate),
                    MoveOutcome::Moved(_) => {}
                }
            }
        }
        let tests_of = |prefix: usize| {
            results
                .get(&prefix)
                .map(|outcome| outcome.runs.clone())
                .unwrap_or_default()
        };
        for (index, (entry, candidate, _)) in stacked.iter().enumerate() {
            let decision = if index < good {
                match landed_at {
                    Some(landed) => self.decide_landed(
                        entry,
                        Tried::new(base, Some(*candidate), tests_of(good), &stacked_ids),
                        landed,
                        actor,
                    )?,
                    None => self.send_back(
                        entry,
                        Tried::new(base, Some(*candidate), tests_of(good), &stacked_ids),
                        AttemptOutcome::TargetMoved,
                        actor,
                    )?,
                }
            } else if Some(index) == verdict.culprit {
                self.decide_failed(
                    entry,
                    Tried::new(base, Some(*candidate), tests_of(index + 1), &stacked_ids),
                    actor,
                )?
            } else {
                self.send_back(
                    entry,
                    Tried::new(base, Some(*candidate), Vec::new(), &stacked_ids),
                    AttemptOutcome::BatchFailed,
                    actor,
                )?
            };
            events(MergeEvent::Decided(&decision));
            report.decisions.push(decision);
        }
        Ok(())
    }

    /// Record that the requests of a round are being tested, so the queue shows it.
    fn mark_testing(&self, stacked: &[(MergeEntry, ObjectId, ObjectId)], actor: &Actor) -> Result<()> {
        let mut workset = Workset::new(&self.store);
        for (entry, _, _) in stacked {
            let mut request = entry.request.clone();
            request.move_to(MergeState::Testing, actor.now)?;
            workset.put_record(store::merge_ref(&request.task), Some(entry.tip), &request, "testing");
        }
        workset.commit(actor, "merge")?;
        Ok(())
    }

    /// The request's work is on the target at `landed`.
    fn decide_landed(&self, entry: &MergeEntry, tried: Tried<'_>, landed: ObjectId, actor: &Actor) -> Result<Decision> {
        let id = &entry.request.task;
        let (candidate, tests) = (tried.candidate, tried.tests.clone());
        let note = match candidate {
            Some(_) => format!("merged into {} at {}", entry.request.target, short(&landed.to_string())),
            None => format!("already on {}", entry.request.target),
        };
        let attempt = tried.attempt(actor, AttemptOutcome::Landed, Vec::new());
        self.write_decision(entry, MergeState::Merged, attempt, &note, actor, |workset, request| {
            request.merged = Some(crate::model::merge_request::Landed {
                commit: landed.to_string(),
                at: actor.now,
            });
            if let Ok(task) = workset.get_mut(id) {
                task.set_merged(&MergedInto {
                    commit: landed.to_string(),
                    target: request.target.clone(),
                    at: actor.now,
                });
                workset.note(
                    id,
                    format!("merged into {} at {}", request.target, short(&landed.to_string())),
                );
            }
            Ok(())
        })?;
        if let Some(candidate) = candidate {
            self.keep_candidate(id, candidate, actor);
        }
        if self.settings().merge.cleanup {
            self.clean_up_branch(&entry.request);
        }
        Ok(Decision {
            task: id.clone(),
            branch: entry.request.branch.clone(),
            target: entry.request.target.clone(),
            state: MergeState::Merged,
            landed: Some(landed),
            candidate,
            conflicts: Vec::new(),
            tests,
            note,
        })
    }

    /// The branch does not merge onto the target: the task goes back to its agents.
    fn decide_conflict(
        &self,
        entry: &MergeEntry,
        base: ObjectId,
        paths: Vec<String>,
        actor: &Actor,
    ) -> Result<Decision> {
        let request = &entry.request;
        let note = format!("conflicts with {} in {}", request.target, paths.join(", "));
        let message = format!(
            "The merge of {branch} (at {tip}) into {target} conflicts in:\n{list}\n\nRebase onto {target} and \
             resolve: in the task's worktree run `git rebase {target}`, fix the conflicts, commit, and finish \
             the task again with `git loom done`; that queues the new tip.",
            branch = request.branch,
            tip = short(&request.tip),
            target = request.target,
            list = paths
                .iter()
                .map(|path| format!("- {path}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let attempt = Tried::new(base, None, Vec::new(), &[]).attempt(actor, AttemptOutcome::Conflict, paths.clone());
        self.write_decision(entry, MergeState::Conflict, attempt, &note, actor, |workset, _| {
            self.send_task_back(workset, &request.task, Status::Pending, &note, &message, actor)
        })?;
        Ok(Decision {
            task: request.task.clone(),
            branch: request.branch.clone(),
            target: request.target.clone(),
            state: MergeState::Conflict,
            landed: None,
            candidate: None,
            conflicts: paths,
            tests: Vec::new(),
            note,
        })
    }

    /// The candidate with this request's work failed its tests.
    fn decide_failed(&self, entry: &MergeEntry, tried: Tried<'_>, actor: &Actor) -> Result<Decision> {
        let request = &entry.request;
        let tests = tried.tests.clone();
        let candidate = tried
            .candidate
            .expect("a failed request was tested, so it has a candidate because tests run on one");
        let failing = tests.iter().find(|run| !run.passed);
        let what = failing.map_or_else(|| "its tests".to_owned(), |run| run.name.clone());
        let note = format!("failed {what} on a candidate with {}", request.target);
        let mut message = format!(
            "The merge candidate {candidate} of {branch} (at {tip}) with {target} failed {what}.",
            candidate = short(&candidate.to_string()),
            branch = request.branch,
            tip = short(&request.tip),
            target = request.target,
        );
        if let Some(run) = failing
            && !run.tail.is_empty()
        {
            message.push_str(&format!(
                "\n\nThe end of its output:\n```\n{}\n```",
                run.tail.trim_end()
            ));
        }
        message.push_str(&format!(
            "\n\nFix the work on {} and finish the task again with `git loom done`; that queues the new tip. \
             `git loom merge show {}` has every attempt.",
            request.branch, request.task
        ));
        let attempt = tried.attempt(actor, AttemptOutcome::Failed, Vec::new());
        let retry = self.settings().retry.clone();
        self.write_decision(entry, MergeState::Failed, attempt, &note, actor, |workset, _| {
            if workset
                .get(&request.task)
                .is_ok_and(|task| task.status() == Status::Done)
            {
                record_failure(workset, &request.task, &note, &retry, actor, reopen_refused)?;
                write_handoff(workset, &self.store, &request.task, &message, actor)?;
            }
            Ok(())
        })?;
        self.keep_candidate(&request.task, candidate, actor);
        Ok(Decision {
            task: request.task.clone(),
            branch: request.branch.clone(),
            target: request.target.clone(),
            state: MergeState::Failed,
            landed: None,
            candidate: Some(candidate),
            conflicts: Vec::new(),
            tests,
            note,
        })
    }

    /// Back to the queue for another round, nobody blamed.
    fn send_back(
        &self,
        entry: &MergeEntry,
        tried: Tried<'_>,
        outcome: AttemptOutcome,
        actor: &Actor,
    ) -> Result<Decision> {
        let (candidate, tests) = (tried.candidate, tried.tests.clone());
        let note = match outcome {
            AttemptOutcome::TargetMoved => format!("passed, but {} moved meanwhile: built again", entry.request.target),
            _ => "waits: a request before it in the batch failed".to_owned(),
        };
        let attempt = tried.attempt(actor, outcome, Vec::new());
        self.write_decision(entry, MergeState::Queued, attempt, &note, actor, |_, _| Ok(()))?;
        Ok(Decision {
            task: entry.request.task.clone(),
            branch: entry.request.branch.clone(),
            target: entry.request.target.clone(),
            state: MergeState::Queued,
            landed: None,
            candidate,
            conflicts: Vec::new(),
            tests,
            note,
        })
    }

    /// Write the request's new state with its attempt, and whatever `also` changes (the task,
    /// a handoff), in one transaction on the request as this run last wrote it.
    fn write_decision(
        &self,
        entry: &MergeEntry,
        state: MergeState,
        attempt: Attempt,
        note: &str,
        actor: &Actor,
        also: impl Fn(&mut Workset<'_>, &mut MergeRequest) -> Result<()>,
    ) -> Result<()> {
        let id = &entry.request.task;
        let name = store::merge_ref(id);
        crate::loom::with_retries(|| {
            let tip = self.store.tip(&name)?.ok_or(Error::NoMergeRequest { id: id.clone() })?;
            let (mut request, _) = self.store.read_entity::<MergeRequest>(&name, tip, Some(id))?;
            // Someone dropped or requeued it meanwhile: their word stands over this run's.
            if request.tip != entry.request.tip || !request.state.is_open() {
                return Ok(());
            }
            if request.state == MergeState::Queued && state != MergeState::Queued {
                request.move_to(MergeState::Testing, actor.now)?;
            }
            request.move_to(state, actor.now)?;
            request.record(attempt.clone());
            let mut workset = Workset::new(&self.store);
            also(&mut workset, &mut request)?;
            workset.put_record(name.clone(), Some(tip), &request, note);
            workset.commit(actor, "merge")?;
            Ok(())
        })
    }

    /// Send a done task back to `to` with a handoff holding `message`.
    fn send_task_back(
        &self,
        workset: &mut Workset<'_>,
        id: &TaskId,
        to: Status,
        note: &str,
        message: &str,
        actor: &Actor,
    ) -> Result<()> {
        let is_done = workset.get(id).is_ok_and(|task: &Task| task.status() == Status::Done);
        if !is_done {
            return Ok(());
        }
        reopen_refused(workset, id, to)?;
        workset.record(id, format!("merge refused: {note}"))?;
        write_handoff(workset, &self.store, id, message, actor)
    }

    /// Keep the tested candidate at `refs/loom/candidates/<id>` so people and CI can fetch it.
    /// Best effort: a candidate that cannot be kept changes no decision.
    fn keep_candidate(&self, id: &TaskId, candidate: ObjectId, actor: &Actor) {
        let name = store::candidate_ref(id);
        let Ok(current) = self.store.tip(&name) else { return };
        let update = RefUpdate {
            name,
            expected: current.map_or(Expected::Absent, Expected::Tip),
            new: Some(candidate),
        };
        let _ = self.store.apply(&[update], &actor.signature());
    }

    /// Remove a merged task's worktree (when clean) and its branch (when its tip is the one
    /// that landed). Best effort: anything that stays is for `worktree prune`.
    fn clean_up_branch(&self, request: &MergeRequest) {
        let repo = self.store.repo();
        if let Ok(worktrees) = repo.worktrees() {
            for worktree in worktrees {
                if worktree.branch.as_deref() != Some(request.branch.as_str()) {
                    continue;
                }
                if repo.worktree_is_dirty(&worktree.path).unwrap_or(true) {
                    return;
                }
                if repo.remove_worktree(&worktree.path, false).is_err() {
                    return;
                }
            }
        }
        let tip_landed = repo
            .branch_tip(&request.branch)
            .ok()
            .flatten()
            .is_some_and(|tip| request.tip.parse::<ObjectId>().is_ok_and(|queued| queued == tip));
        if tip_landed {
            let _ = repo.delete_branch(&request.branch, true);
        }
    }
}

/// A handoff from the engine to whoever takes the task next, in `workset`'s transaction.
fn write_handoff(
    workset: &mut Workset<'_>,
    store: &store::Store,
    id: &TaskId,
    message: &str,
    actor: &Actor,
) -> Result<()> {
    let name = store::handoff_ref(id);
    let tip = store.tip(&name)?;
    if let Some(tip) = tip {
        // Never extend a chain whose tip is missing or damaged.
        store.read_entity::<Handoff>(&name, tip, Some(id))?;
    }
    let handoff = Handoff {
        schema: HANDOFF_SCHEMA,
        task: id.clone(),
        agent: actor.agent.clone(),
        at: actor.now,
        message: message.to_owned(),
        context_percent: None,
        progress: None,
        percent: None,
        attempt: None,
        work: None,
        extra: Default::default(),
    };
    workset.put_record(name, tip, &handoff, format!("handoff by {} on {id}", actor.agent));
    Ok(())
}

/// What one attempt tried: the base it built on, the candidate and its tests, and the batch
/// it was part of.
struct Tried<'a> {
    base: ObjectId,
    candidate: Option<ObjectId>,
    tests: Vec<TestRun>,
    batch: &'a [TaskId],
}

impl<'a> Tried<'a> {
    fn new(base: ObjectId, candidate: Option<ObjectId>, tests: Vec<TestRun>, batch: &'a [TaskId]) -> Self {
        Tried {
            base,
            candidate,
            tests,
            batch,
        }
    }

    fn attempt(&self, actor: &Actor, outcome: AttemptOutcome, conflicts: Vec<String>) -> Attempt {
        Attempt {
            at: actor.now,
            by: actor.agent.clone(),
            base: self.base.to_string(),
            candidate: self.candidate.map(|candidate| candidate.to_string()),
            batch: self.batch.to_vec(),
            outcome,
            conflicts,
            tests: self.tests.clone(),
        }
    }
}

/// The message of the merge commit that brings one request's branch in.
fn merge_message(entry: &MergeEntry) -> String {
    let request = &entry.request;
    let title = entry.title.as_deref().unwrap_or("");
    format!(
        "Merge {branch} into {target}\n\n{task}: {title}\n\nLoom-Task: {task}\nLoom-Op: merge\n",
        branch = request.branch,
        target = request.target,
        task = request.task,
    )
}

/// Who a merge commit is by: the engine's agent, with the repository's configured e-mail.
fn candidate_signature(actor: &Actor, email: String) -> CandidateSignature {
    CandidateSignature {
        name: actor.agent.clone(),
        email,
        time: actor.now,
    }
}
