//! Taking work back: the sweeper (expired leases, failed tasks whose backoff passed),
//! `recover` (classify every claim and requeue the stale and expired ones), and the manual
//! ways out of the dead letter (`reset`, `dead --retry`).
//!
//! A claim is only ever removed with a compare-and-swap on the exact claim commit that was
//! judged: if the holder's heartbeat lands first, the claim moved and is left alone. So any
//! number of sweepers can run at once, anywhere, beside working holders.

use crate::loom::workset::{ClaimChange, Workset};
use crate::loom::{Actor, Error, Loom, Problem, Result, with_retries};
use crate::model::claim::{Claim, Health};
use crate::model::{Status, TaskId};
use crate::store::{self, ObjectId};
use crate::tasks::EditOutcome;
use crate::tasks::edit::{change_status, finish};

/// What a sweep did.
#[derive(Debug, Clone, Default)]
pub struct SweepOutcome {
    /// Tasks whose expired claim was removed, with the agent that held it.
    pub expired: Vec<(TaskId, String)>,
    /// Claims removed because their task had already moved on (done, failed, …).
    pub void: Vec<(TaskId, String)>,
    /// Failed tasks whose backoff passed, now pending again.
    pub revived: Vec<TaskId>,
    /// Claims left alone: unreadable ones, and ones a live writer holds locked.
    pub problems: Vec<Problem>,
    /// Files dead writers left behind (stale locks, temporary files), now removed.
    pub cleaned: Vec<store::Litter>,
}

/// How `recover` judged one claim.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub id: TaskId,
    pub claim: Claim,
    pub health: Health,
    /// Whether the claim was (with `execute`) or would be removed.
    pub requeue: bool,
    /// With `execute`: whether this run removed it (false when a heartbeat got there first).
    pub requeued: bool,
}

impl Loom {
    /// Remove every expired claim and make failed tasks whose backoff passed pending again.
    pub fn sweep(&self, actor: &Actor) -> Result<SweepOutcome> {
        // Claims only the remote has (void ones left there included) are judged too.
        self.refresh(std::time::Duration::ZERO, actor)?;
        // Litter first: a lock a dead writer left must not keep a claim from being taken back.
        let mut outcome = SweepOutcome {
            cleaned: self.store.remove_litter(&self.store.find_litter()),
            ..SweepOutcome::default()
        };
        let snapshot = self.snapshot(actor.now)?;
        for (id, &tip) in &snapshot.claims {
            let Some(claim) = self.judgeable_claim(id, tip, &mut outcome.problems)? else {
                continue;
            };
            let (note, list) = if snapshot.claim_is_void(id) {
                // Left by a writer that died between the task's update and this claim's
                // deletion.
                let status = snapshot.status_of(id).map_or(String::new(), |s| s.to_string());
                let note = format!("removed the void claim of {} on a {status} task", claim.agent);
                (note, &mut outcome.void)
            } else if claim.is_expired(actor.now) {
                let note = format!("lease of {} expired (attempt {})", claim.agent, claim.attempt);
                (note, &mut outcome.expired)
            } else {
                continue;
            };
            if let Some(problem) = self.locked(id) {
                outcome.problems.push(problem);
                continue;
            }
            match self.requeue(id, tip, &note, "sweep", actor) {
                Ok(true) => list.push((id.clone(), claim.agent)),
                Ok(false) => {}
                Err(err) => outcome.problems.push(skipped(id, err)?),
            }
        }
        for entry in snapshot.tasks.values() {
            let task = &entry.task;
            let due = task.retry_after.is_none_or(|at| at <= actor.now);
            // Any claim on a failed task is void; reviving the task removes it.
            if task.status() == Status::Failed && due {
                let revived = with_retries(|| {
                    let mut workset = Workset::new(&self.store);
                    if workset.get(&task.id)?.status() != Status::Failed {
                        return Ok(false);
                    }
                    change_status(&mut workset, &task.id, Status::Pending)?;
                    workset.get_mut(&task.id)?.retry_after = None;
                    workset.drop_void_claim(&task.id)?;
                    workset.note(&task.id, "retry: backoff passed");
                    Ok(!workset.commit(actor, "sweep")?.is_empty())
                });
                match revived {
                    Ok(true) => outcome.revived.push(task.id.clone()),
                    Ok(false) => {}
                    // Someone else moved the task meanwhile (claimed it, reset it): theirs wins.
                    Err(Error::Transition(_) | Error::EpicDone { .. }) => {}
                    // Its ref stayed locked or busy through every retry: the next sweep tries
                    // again, and this one goes on with the others.
                    Err(err) if err.is_conflict() => outcome.problems.push(Problem {
                        ref_name: store::task_ref(&task.id),
                        problem: format!("still busy after every retry ({err}); left for the next sweep"),
                    }),
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(outcome)
    }

    /// Remove the claim on `id` if it is still the commit `tip`, noting why in the task's
    /// history. Returns false when the claim moved or vanished first (a heartbeat won).
    fn requeue(&self, id: &TaskId, tip: ObjectId, note: &str, op: &str, actor: &Actor) -> Result<bool> {
        with_retries(|| {
            if self.store.tip(&store::claim_ref(id))? != Some(tip) {
                return Ok(false);
            }
            let mut workset = Workset::new(&self.store);
            match workset.record(id, note) {
                // A claim on a task that is gone or unreadable is removed all the same.
                Ok(()) | Err(Error::UnknownTask { .. } | Error::Store(store::Error::Corrupt { .. })) => {}
                Err(err) => return Err(err),
            }
            workset.change_claim(id, ClaimChange::Delete { tip }, note);
            workset.commit(actor, op)?;
            Ok(true)
        })
    }

    /// The claim at `tip`, or `None` (with the reason added to `problems`) when its objects
    /// cannot be read.
    fn judgeable_claim(&self, id: &TaskId, tip: ObjectId, problems: &mut Vec<Problem>) -> Result<Option<Claim>> {
        match self.read_claim(id, tip) {
            Ok(claim) => Ok(Some(claim)),
            Err(Error::Store(store::Error::Corrupt { ref_name, problem })) => {
                problems.push(Problem { ref_name, problem });
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Why the claim on `id` cannot be taken back now, if a live writer holds its claim or
    /// task ref locked (a lock younger than the stale-lock age): trying would only spend every
    /// retry on it. An older lock is a dead writer's, removed by the write that meets it.
    fn locked(&self, id: &TaskId) -> Option<Problem> {
        let stale_after = self.store.stale_lock_after();
        let (age, name) = [store::claim_ref(id), store::task_ref(id)]
            .into_iter()
            .find_map(|name| Some((self.store.lock_age(&name).filter(|age| *age < stale_after)?, name)))?;
        Some(Problem {
            ref_name: store::claim_ref(id),
            problem: format!(
                "{name} is locked by another writer ({}s old lock); left for the next sweep",
                age.as_secs()
            ),
        })
    }

    /// Judge every claim: active, stale (no heartbeat for three intervals) or expired. With
    /// `execute`, requeue the stale and expired ones.
    pub fn recover(&self, execute: bool, actor: &Actor) -> Result<(Vec<Recovery>, Vec<Problem>)> {
        let snapshot = self.snapshot(actor.now)?;
        let heartbeat_secs = self.settings().claims.heartbeat_secs;
        let mut recoveries = Vec::new();
        let mut problems = Vec::new();
        for (id, &tip) in &snapshot.claims {
            let Some(claim) = self.judgeable_claim(id, tip, &mut problems)? else {
                continue;
            };
            if !snapshot.claim_is_live(id) {
                // Not a lease to judge: `sweep` removes a void claim.
                continue;
            }
            let health = claim.health(actor.now, heartbeat_secs);
            let requeue = health != Health::Active;
            if execute
                && requeue
                && let Some(problem) = self.locked(id)
            {
                problems.push(problem);
                continue;
            }
            let requeued = match execute && requeue {
                true => {
                    let note = format!("recovered from {} ({health} claim)", claim.agent);
                    match self.requeue(id, tip, &note, "recover", actor) {
                        Ok(requeued) => requeued,
                        Err(err) => {
                            problems.push(skipped(id, err)?);
                            false
                        }
                    }
                }
                false => false,
            };
            recoveries.push(Recovery {
                id: id.clone(),
                claim,
                health,
                requeue,
                requeued,
            });
        }
        Ok((recoveries, problems))
    }

    /// Return a failed, dead, cancelled or stuck (claimed) task to pending, with its retry
    /// count reset; with `clear_output`, forget what it reported.
    pub fn reset(&self, input: &str, clear_output: bool, actor: &Actor) -> Result<EditOutcome> {
        let id = self.resolve(input)?;
        with_retries(|| {
            let mut workset = Workset::new(&self.store);
            let status = workset.get(&id)?.status();
            if let Some(tip) = self.store.tip(&store::claim_ref(&id))? {
                workset.record(&id, "claim removed by reset")?;
                workset.change_claim(&id, ClaimChange::Delete { tip }, format!("reset by {}", actor.agent));
            }
            if matches!(status, Status::Failed | Status::Dead | Status::Cancelled | Status::Done) {
                change_status(&mut workset, &id, Status::Pending)?;
            }
            let task = workset.get_mut(&id)?;
            task.retries = 0;
            task.retry_after = None;
            if clear_output {
                task.output = None;
                task.last_failure = None;
            }
            finish(workset, &id, actor, "reset")
        })
    }

    /// Give a dead task another round of retries.
    pub fn retry_dead(&self, input: &str, actor: &Actor) -> Result<EditOutcome> {
        let id = self.resolve(input)?;
        with_retries(|| {
            let mut workset = Workset::new(&self.store);
            let status = workset.get(&id)?.status();
            if status != Status::Dead {
                return Err(Error::NotDead { id: id.clone(), status });
            }
            change_status(&mut workset, &id, Status::Pending)?;
            workset.drop_void_claim(&id)?;
            let task = workset.get_mut(&id)?;
            task.retries = 0;
            task.retry_after = None;
            finish(workset, &id, actor, "retry")
        })
    }
}

/// A claim whose requeue failed in a way that concerns it alone (its refs stayed busy through
/// every retry, or its objects became unreadable), as a problem to report; any other error
/// stops the whole operation.
fn skipped(id: &TaskId, err: Error) -> Result<Problem> {
    let ref_name = store::claim_ref(id);
    match err {
        err if err.is_conflict() => Ok(Problem {
            ref_name,
            problem: format!("still busy after every retry ({err}); left for the next sweep"),
        }),
        Error::Store(store::Error::Corrupt { ref_name, problem }) => Ok(Problem { ref_name, problem }),
        err => Err(err),
    }
}
