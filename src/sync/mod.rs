//! Coordination through a git remote: fetch the remote's `refs/loom/*`, reconcile every entity
//! with its local version, and push what the remote lacks, until both sides agree.
//!
//! Reconciling one task: the same tip on both sides needs nothing; when one side descends from
//! the other the other is fast-forwarded; diverged histories are joined by a merge commit (both
//! tips as parents) whose `task.json` is the field-by-field merge of the two tips against their
//! merge base ([`crate::model::reconcile`]). The merge depends only on the two histories, so two
//! clones reconciling the same pair write the same tree, and the next round fast-forwards one
//! to the other.
//!
//! Claims are never merged: the remote decides. A claim only the remote has is mirrored
//! locally; one the remote deleted (swept, released elsewhere) is deleted locally — but only
//! what a fetch proved gone: a claim missing from a listing made before another command of this
//! clone published it is not "deleted" (see [`Store::fetch_loom`]). One only this clone has
//! (taken offline) is offered to the remote as a create-only update, together with a lease on
//! its task, and dropped locally when the remote refuses it or when the task is no longer
//! pending on either side; a claim both have at different commits takes the remote's unless the
//! local one descends from it (heartbeats not pushed yet), which is then pushed.
//! `refs/loom/meta` fast-forwards either way; when diverged the remote's is taken.
//!
//! Every local ref move states the tip it replaces; every push carries a lease on the value the
//! remote was last seen to hold, so a remote that moved meanwhile refuses the push and the next
//! round starts from a new fetch.

use std::collections::BTreeMap;

mod cycles;
mod records;
mod sessions;

use crate::model::reconcile::{Conflict, Side, merge_tasks};
use crate::model::{Entity, Handoff, Task, TaskId};
use crate::store::{self, CommitMessage, Expected, ObjectId, PushOutcome, PushUpdate, RefUpdate, Signature, Store};

/// Why a sync, fetch or push did not finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The remote moved again before every round could agree with it.
    #[error("remote {remote:?} kept changing: no agreement after {rounds} rounds of sync")]
    NoAgreement { remote: String, rounds: u32 },
    /// A push that would need a fetch first: the remote has versions this clone has not joined.
    #[error("the remote {remote:?} has changes this clone does not ({}): run `git loom sync {remote}`", .refs.join(", "))]
    Diverged { remote: String, refs: Vec<String> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many fetch–reconcile–push rounds a sync makes before giving up on a remote that keeps
/// moving.
const MAX_ROUNDS: u32 = 8;

/// What a fetch, push or sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Remote-tracking refs the fetches changed.
    pub fetched: usize,
    /// Local refs moved forward to the remote's version.
    pub fast_forwarded: Vec<String>,
    /// Tasks whose diverged histories were joined, with the fields both sides changed.
    pub merged: Vec<(TaskId, Vec<Conflict>)>,
    /// Dependencies dropped because the merged graph would have had a cycle.
    pub cycles_broken: Vec<(TaskId, TaskId)>,
    /// Local claims the remote did not have or refused, removed locally.
    pub claims_dropped: Vec<TaskId>,
    /// Local versions replaced by the remote's (claims and meta decided by the remote).
    pub taken_from_remote: Vec<String>,
    /// Refs the pushes set on the remote.
    pub pushed: Vec<String>,
    /// Refs that could not be reconciled (unreadable on one side), named with the reason.
    pub skipped: Vec<(String, String)>,
    /// Rounds made.
    pub rounds: u32,
    /// Whether any local ref under `refs/loom/` moved (so caches of them are out of date).
    pub moved_local: bool,
}

/// One ref's tips on the two sides.
struct Pair {
    local: Option<ObjectId>,
    remote: Option<ObjectId>,
}

/// What one reconcile round decided.
#[derive(Default)]
struct Plan {
    local: Vec<RefUpdate>,
    push: Vec<PushUpdate>,
    /// Tasks whose claim is offered to the remote (their refs), to be leased with it.
    offered_for: Vec<String>,
}

/// Claims a fetch proved gone from the remote: local ref name → the version the mirror held.
type Pruned = BTreeMap<String, ObjectId>;

/// Reconciles this clone's loom refs with a remote's. Works on any repository, initialised or
/// not: a fresh clone's first sync brings everything, `refs/loom/meta` included.
pub struct Reconciler<'a> {
    store: &'a Store,
}

impl<'a> Reconciler<'a> {
    pub fn new(store: &'a Store) -> Self {
        Reconciler { store }
    }

    /// Fetch `remote`'s refs and reconcile them into the local ones, pushing nothing.
    pub fn fetch(&self, remote: &str, actor: &Signature) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let pruned = self.fetch_round(remote, actor, &mut report)?;
        let plan = self.reconcile(remote, &pruned, actor, &mut report)?;
        report.moved_local |= self.apply_local(&plan, actor)?;
        report.rounds = 1;
        Ok(report)
    }

    /// Fetch, reconcile and push until the remote and this clone agree on every loom ref.
    pub fn sync(&self, remote: &str, actor: &Signature) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        for round in 1..=MAX_ROUNDS {
            report.rounds = round;
            let pruned = self.fetch_round(remote, actor, &mut report)?;
            let plan = self.reconcile(remote, &pruned, actor, &mut report)?;
            report.moved_local |= self.apply_local(&plan, actor)?;
            if plan.push.is_empty() {
                return Ok(report);
            }
            match self.store.push_loom(remote, &plan.push, actor)? {
                PushOutcome::Accepted => {
                    report
                        .pushed
                        .extend(plan.push.iter().filter(|u| changes_remote(u)).map(|u| u.name.clone()));
                    return Ok(report);
                }
                // Another clone pushed meanwhile: the next round starts from a new fetch, where a
                // claim the remote now holds for one of ours replaces it (the remote decides).
                PushOutcome::Rejected(_) => {}
            }
        }
        Err(Error::NoAgreement {
            remote: remote.to_owned(),
            rounds: MAX_ROUNDS,
        })
    }

    /// Push what the remote lacks without fetching first: only refs the remote-tracking state
    /// shows the remote can fast-forward to are sent; diverged ones wait for a sync.
    pub fn push(&self, remote: &str, actor: &Signature) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let plan = self.reconcile(remote, &Pruned::new(), actor, &mut report)?;
        report.rounds = 1;
        let diverged: Vec<String> = plan.local.iter().map(|update| update.name.clone()).collect();
        if !diverged.is_empty() {
            return Err(Error::Diverged {
                remote: remote.to_owned(),
                refs: diverged,
            });
        }
        match self.store.push_loom(remote, &plan.push, actor)? {
            PushOutcome::Accepted => {
                report
                    .pushed
                    .extend(plan.push.iter().filter(|u| changes_remote(u)).map(|u| u.name.clone()));
                Ok(report)
            }
            PushOutcome::Rejected(refused) => Err(Error::Store(store::Error::Conflict {
                ref_name: refused
                    .iter()
                    .map(|(name, why)| format!("{name} ({why})"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })),
        }
    }

    /// Fetch once; returns the local names of the claims the fetch proved gone from the remote,
    /// each with the version the mirror held.
    fn fetch_round(&self, remote: &str, actor: &Signature, report: &mut SyncReport) -> Result<Pruned> {
        let fetched = self.store.fetch_loom(remote, actor)?;
        report.fetched += fetched.len();
        let prefix = store::tracking_prefix(remote);
        Ok(fetched
            .into_iter()
            .filter(|change| change.new.is_none())
            .filter_map(|change| {
                let rest = change.tracking_ref.strip_prefix(&prefix)?;
                Some((format!("refs/loom/{rest}"), change.old?))
            })
            .collect())
    }

    /// Compare every loom ref with the remote's and decide what moves where. `pruned` names the
    /// claims the last fetch proved gone from the remote.
    fn reconcile(&self, remote: &str, pruned: &Pruned, actor: &Signature, report: &mut SyncReport) -> Result<Plan> {
        let mut plan = Plan::default();
        let tracking = store::tracking_prefix(remote);
        let kinds = [
            (store::TASKS_PREFIX, Kind::Task),
            (store::CLAIMS_PREFIX, Kind::Claim),
            (store::HANDOFFS_PREFIX, Kind::Handoffs),
            (store::MERGES_PREFIX, Kind::Merge),
            (store::TESTS_PREFIX, Kind::TestResult),
            (store::CANDIDATES_PREFIX, Kind::Candidate),
            (store::SESSIONS_PREFIX, Kind::Session),
            (store::LEASES_PREFIX, Kind::Lease),
        ];
        for (prefix, kind) in kinds {
            let remote_prefix = store::tracking_ref(remote, prefix);
            let pairs = self.pairs(prefix, &remote_prefix, report)?;
            for (name, pair) in pairs {
                match kind {
                    Kind::Task => self.reconcile_task(&name, pair, actor, &mut plan, report)?,
                    Kind::Claim => self.reconcile_claim(remote, &name, pair, pruned, &mut plan, report)?,
                    Kind::Handoffs => self.reconcile_handoffs(&name, pair, actor, &mut plan, report)?,
                    Kind::Merge => self.reconcile_merge(&name, pair, actor, &mut plan, report)?,
                    Kind::TestResult => self.reconcile_test_result(&name, pair, actor, &mut plan, report)?,
                    Kind::Candidate => self.reconcile_candidate(&name, pair, &mut plan, report)?,
                    Kind::Session => self.reconcile_session(&name, pair, actor, &mut plan, report)?,
                    Kind::Lease => self.reconcile_lease(&name, pair, &mut plan, report)?,
                }
            }
        }
        let meta = Pair {
            local: self.store.tip(store::META_REF)?,
            remote: self.store.tip(&format!("{tracking}meta"))?,
        };
        self.reconcile_meta(meta, &mut plan, report)?;
        self.break_merged_cycles(remote, &mut plan, actor, report)?;
        // An offered claim goes with a lease on its task as the mirror shows it: should the task
        // have moved on the remote (finished, claimed and released elsewhere), the push is
        // refused instead of leaving a claim on a task that no longer wants one.
        for task in std::mem::take(&mut plan.offered_for) {
            if plan.push.iter().any(|update| update.name == task) {
                continue;
            }
            if let Some(tip) = self.store.tip(&store::tracking_ref(remote, &task))? {
                plan.push.push(push_update(&task, Expected::Tip(tip), Some(tip)));
            }
        }
        Ok(plan)
    }

    /// Every ref under `prefix` locally and under `remote_prefix` in the mirror, by local name.
    fn pairs(&self, prefix: &str, remote_prefix: &str, report: &mut SyncReport) -> Result<BTreeMap<String, Pair>> {
        let (local, broken) = self.store.list(prefix)?;
        let (remote, broken_remote) = self.store.list(remote_prefix)?;
        for err in broken.into_iter().chain(broken_remote) {
            report.skipped.push((prefix.to_owned(), err.to_string()));
        }
        let mut pairs: BTreeMap<String, Pair> = BTreeMap::new();
        for tip in local {
            pairs
                .entry(tip.name)
                .or_insert(Pair {
                    local: None,
                    remote: None,
                })
                .local = Some(tip.tip);
        }
        for tip in remote {
            let Some(rest) = tip.name.strip_prefix(remote_prefix) else {
                continue;
            };
            pairs
                .entry(format!("{prefix}{rest}"))
                .or_insert(Pair {
                    local: None,
                    remote: None,
                })
                .remote = Some(tip.tip);
        }
        Ok(pairs)
    }

    /// Settle every case a history can be settled in without joining it: absent or equal on
    /// both sides, on one side only, or one side descending from the other. Returns the two
    /// tips when they diverged, for the caller to join.
    fn follow(
        &self,
        name: &str,
        pair: &Pair,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<Option<(ObjectId, ObjectId)>> {
        match (pair.local, pair.remote) {
            (None, None) => {}
            (Some(local), None) => plan.push.push(push_update(name, Expected::Absent, Some(local))),
            (None, Some(remote)) => {
                plan.local.push(local_update(name, Expected::Absent, Some(remote)));
                report.fast_forwarded.push(name.to_owned());
            }
            (Some(local), Some(remote)) if local == remote => {}
            (Some(local), Some(remote)) => {
                if self.store.is_ancestor(name, local, remote)? {
                    plan.local.push(local_update(name, Expected::Tip(local), Some(remote)));
                    report.fast_forwarded.push(name.to_owned());
                } else if self.store.is_ancestor(name, remote, local)? {
                    plan.push.push(push_update(name, Expected::Tip(remote), Some(local)));
                } else {
                    return Ok(Some((local, remote)));
                }
            }
        }
        Ok(None)
    }

    fn reconcile_task(
        &self,
        name: &str,
        pair: Pair,
        actor: &Signature,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some(id) = store::task_id_from_ref(name) else {
            report
                .skipped
                .push((name.to_owned(), "the ref name is not a task id".into()));
            return Ok(());
        };
        let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? else {
            return Ok(());
        };
        match self.merge_task(&id, local_tip, remote_tip, actor) {
            Ok((merged_tip, conflicts)) => {
                plan.local
                    .push(local_update(name, Expected::Tip(local_tip), Some(merged_tip)));
                plan.push
                    .push(push_update(name, Expected::Tip(remote_tip), Some(merged_tip)));
                report.merged.push((id, conflicts));
            }
            Err(Error::Store(store::Error::Corrupt { ref_name, problem })) => report.skipped.push((ref_name, problem)),
            Err(other) => return Err(other),
        }
        Ok(())
    }

    /// A handoff chain is a log: diverged chains are joined by a commit with both tips as
    /// parents (so every handoff stays in the history) whose `handoff.json` is the later of the
    /// two tips' (by time, then agent, then content), the same on every clone.
    fn reconcile_handoffs(
        &self,
        name: &str,
        pair: Pair,
        actor: &Signature,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let Some(id) = store::handoff_id_from_ref(name) else {
            report
                .skipped
                .push((name.to_owned(), "the ref name is not a task id".into()));
            return Ok(());
        };
        let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? else {
            return Ok(());
        };
        let read = |tip| -> Result<Vec<u8>> {
            let version = self.store.read_version(name, tip)?;
            Ok(store::entity_file(name, &version, Handoff::FILE)?.to_vec())
        };
        let (ours, theirs) = (read(local_tip)?, read(remote_tip)?);
        let key = |bytes: &[u8]| {
            let handoff = Handoff::from_blob(bytes, Some(&id)).ok();
            (handoff.as_ref().map(|h| h.at), handoff.map(|h| h.agent), bytes.to_vec())
        };
        let later = if key(&ours) >= key(&theirs) { ours } else { theirs };
        let message = sync_message(format!("merge handoffs of {id}"), &id, actor);
        let commit =
            self.store
                .write_version(&[("handoff.json", &later)], &[local_tip, remote_tip], &message, actor)?;
        plan.local
            .push(local_update(name, Expected::Tip(local_tip), Some(commit)));
        plan.push
            .push(push_update(name, Expected::Tip(remote_tip), Some(commit)));
        Ok(())
    }

    /// Write the commit joining two diverged histories of a task; returns it and the fields
    /// both sides changed.
    fn merge_task(
        &self,
        id: &TaskId,
        local: ObjectId,
        remote: ObjectId,
        actor: &Signature,
    ) -> Result<(ObjectId, Vec<Conflict>)> {
        let name = store::task_ref(id);
        let base = self.store.merge_base(&name, local, remote)?;
        let read = |tip: ObjectId| self.store.read_entity::<Task>(&name, tip, Some(id));
        let base_task = base.map(read).transpose()?.map(|(task, _)| task);
        let (ours, ours_version) = read(local)?;
        let (theirs, theirs_version) = read(remote)?;
        let agent_of = |version: &store::EntityVersion| version.trailer("Loom-Agent").unwrap_or_default().to_owned();
        let (ours_agent, theirs_agent) = (agent_of(&ours_version), agent_of(&theirs_version));
        let merged = merge_tasks(
            base_task.as_ref(),
            Side {
                task: &ours,
                agent: &ours_agent,
            },
            Side {
                task: &theirs,
                agent: &theirs_agent,
            },
        );
        let fields: Vec<&str> = merged.conflicts.iter().map(|c| c.field.as_str()).collect();
        let summary = match fields.is_empty() {
            true => format!("merge {id}"),
            false => format!("merge {id} (both changed: {})", fields.join(", ")),
        };
        let message = sync_message(summary, id, actor);
        let blob = merged.task.to_blob();
        let commit = self
            .store
            .write_version(&[(Task::FILE, &blob)], &[local, remote], &message, actor)?;
        Ok((commit, merged.conflicts))
    }

    fn reconcile_meta(&self, pair: Pair, plan: &mut Plan, report: &mut SyncReport) -> Result<()> {
        let name = store::META_REF;
        if let Some((local_tip, remote_tip)) = self.follow(name, &pair, plan, report)? {
            plan.local
                .push(local_update(name, Expected::Tip(local_tip), Some(remote_tip)));
            report.taken_from_remote.push(name.to_owned());
        }
        Ok(())
    }

    /// Move the local refs as planned. A ref another command of this clone moved since it was
    /// read is left as that command set it: every such command published its change to the
    /// remote first, so the next fetch brings whatever the two still disagree on.
    fn apply_local(&self, plan: &Plan, actor: &Signature) -> Result<bool> {
        if plan.local.is_empty() {
            return Ok(false);
        }
        self.store.apply_each(&plan.local, actor)?;
        Ok(true)
    }

    /// A claim: the remote decides. See the module comment.
    fn reconcile_claim(
        &self,
        remote: &str,
        name: &str,
        pair: Pair,
        pruned: &Pruned,
        plan: &mut Plan,
        report: &mut SyncReport,
    ) -> Result<()> {
        let store = self.store;
        let Some(id) = store::claim_id_from_ref(name) else {
            report
                .skipped
                .push((name.to_owned(), "the ref name is not a task id".into()));
            return Ok(());
        };
        match (pair.local, pair.remote) {
            (None, None) => {}
            (None, Some(remote)) => {
                plan.local.push(local_update(name, Expected::Absent, Some(remote)));
                report.taken_from_remote.push(name.to_owned());
            }
            (Some(local_tip), None) => {
                // Gone from the remote since this clone saw it (swept, finished elsewhere): the
                // version the remote deleted, or a heartbeat of it not pushed yet, goes too.
                let gone = match pruned.get(name) {
                    Some(&old) => old == local_tip || store.is_ancestor(name, old, local_tip)?,
                    None => false,
                };
                if gone || !self.task_wants_claim(remote, &id)? {
                    plan.local.push(local_update(name, Expected::Tip(local_tip), None));
                    report.claims_dropped.push(id);
                } else {
                    // Never seen there: taken offline, offered now (the remote refuses it if
                    // another clone holds the task, and the next round takes that claim).
                    plan.push.push(push_update(name, Expected::Absent, Some(local_tip)));
                    plan.offered_for.push(store::task_ref(&id));
                }
            }
            (Some(local), Some(remote)) if local == remote => {}
            (Some(local_tip), Some(remote_tip)) => {
                if store.is_ancestor(name, remote_tip, local_tip)? {
                    plan.push
                        .push(push_update(name, Expected::Tip(remote_tip), Some(local_tip)));
                } else {
                    plan.local
                        .push(local_update(name, Expected::Tip(local_tip), Some(remote_tip)));
                    report.taken_from_remote.push(name.to_owned());
                    // A heartbeat of the same claim is the same holder's: nothing was lost.
                    if !store.is_ancestor(name, local_tip, remote_tip)? {
                        report.claims_dropped.push(id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the task `id` is pending both here and in the mirror (where the mirror has it),
    /// so that a claim on it means something. An unreadable version counts as not pending.
    fn task_wants_claim(&self, remote: &str, id: &TaskId) -> Result<bool> {
        let name = store::task_ref(id);
        for tip in [
            self.store.tip(&name)?,
            self.store.tip(&store::tracking_ref(remote, &name))?,
        ]
        .into_iter()
        .flatten()
        {
            match self.store.read_entity::<Task>(&name, tip, Some(id)) {
                Ok((task, _)) if crate::model::state::claim_is_live(task.status()) => {}
                Ok(_) | Err(store::Error::Corrupt { .. }) => {
                    return Ok(false);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Ok(true)
    }
}

enum Kind {
    Task,
    Claim,
    Handoffs,
    Merge,
    TestResult,
    Candidate,
    Session,
    Lease,
}

fn local_update(name: &str, expected: Expected, new: Option<ObjectId>) -> RefUpdate {
    RefUpdate {
        name: name.to_owned(),
        expected,
        new,
    }
}

/// Whether a push update moves its ref, rather than only leasing it (an offered claim's task).
fn changes_remote(update: &PushUpdate) -> bool {
    update.new.is_none_or(|new| update.expected != Expected::Tip(new))
}

fn push_update(name: &str, expected: Expected, new: Option<ObjectId>) -> PushUpdate {
    PushUpdate {
        name: name.to_owned(),
        expected,
        new,
    }
}

fn sync_message(summary: String, id: &TaskId, by: &Signature) -> CommitMessage {
    CommitMessage::version(summary, Some(id), &by.name, "sync")
}
