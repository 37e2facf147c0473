//! Claims: granting a ready task to exactly one agent, and everything only its holder may do
//! with it (heartbeat, release, done, fail).
//!
//! A claim is granted by creating `refs/loom/claims/<id>` with a create-only update in the
//! same transaction as a new task version that records it (`claim by <agent> (attempt n)`), so
//! exactly one claimer wins and the task's history shows every grant. Release, done and fail
//! delete the claim with a compare-and-swap on the exact claim commit the holder read, in the
//! same transaction as the task's new version: a task is never done with a claim left behind,
//! and a claim that was swept and re-granted meanwhile cannot be completed by its old holder.

use jiff::Timestamp;

use crate::loom::cache::board::{self, BoardRow};
use crate::loom::workset::{ClaimChange, Workset};
use crate::loom::{Actor, Error, Loom, Result, TaskEntry, with_retries};
use crate::model::claim::{Claim, Holder, retry_delay};
use crate::model::state::DepFacts;
use crate::model::{Priority, Status, Task, TaskId, View, state};
use crate::store::{self, ObjectId};
use crate::tasks::EditOutcome;
use crate::tasks::edit::{change_status, finish};

/// How a new claim is made.
#[derive(Debug, Clone, Default)]
pub struct ClaimOptions {
    /// Lease length; the repository's `claims.ttl_secs` when `None`.
    pub ttl_secs: Option<u64>,
}

/// Which ready tasks `claim --next` may take.
#[derive(Debug, Clone, Default)]
pub struct NextFilter {
    pub label: Option<String>,
    /// Only priorities in this inclusive range (most urgent first).
    pub priorities: Option<(Priority, Priority)>,
}

/// How a caller proves it may act on a claim.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The claim token, for a process that runs under another agent name than the claimer.
    pub token: Option<&'a str>,
    /// Act even though someone else holds the claim; recorded in the task's history.
    pub force: bool,
}

/// A claim its caller may act on, as [`Loom::holder_check`] found it.
#[derive(Debug, Clone)]
pub struct HeldClaim {
    /// The claim commit read, which the caller's change expects to replace or delete.
    pub tip: ObjectId,
    pub claim: Claim,
    /// The history note an action forced on another agent's claim leaves; `None` when the
    /// caller holds the claim.
    pub forced: Option<String>,
}

/// The rule of who may act on `claim` (on task `id`): its holder (the claiming agent, or any
/// agent with its token), or anyone with `force`, which returns the note to record.
pub fn check_holder(id: &TaskId, claim: &Claim, credentials: Credentials<'_>, actor: &Actor) -> Result<Option<String>> {
    let holder = Holder {
        agent: &actor.agent,
        token: credentials.token,
    };
    if claim.is_held_by(&holder) {
        return Ok(None);
    }
    if credentials.force {
        return Ok(Some(format!(
            "forced by {} (claim held by {})",
            actor.agent, claim.agent
        )));
    }
    Err(Error::NotHolder {
        id: id.clone(),
        holder: claim.agent.clone(),
    })
}

/// A task and the claim its caller now holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub task: Task,
    pub claim: Claim,
}

/// How many candidates `claim --next` tries, and how many fresh snapshots it takes, before
/// concluding that nothing is left for it.
const MAX_NEXT_ATTEMPTS: usize = 64;
const MAX_NEXT_ROUNDS: usize = 4;
/// After losing the best candidate, `claim --next` picks among this many of the next ones at
/// random, so that a crowd of racing agents spreads out instead of colliding again. Each further
/// loss doubles the spread (up to 16 times this): losing again means the crowd is larger than
/// the spread, and through a remote every loss costs a push and a fetch.
const SPREAD: usize = 8;

/// What `done` records about the work beyond the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DoneRecord {
    /// What the work produced, kept as the task's `output`.
    pub output: Option<serde_json::Value>,
    /// The branch holding the work, kept as the task's `branch`.
    pub branch: Option<String>,
    /// The commit holding the work (the branch's tip), kept as `commit` on the task so the work
    /// is findable after its branch is gone.
    pub commit: Option<String>,
    /// Uncommitted changes the caller chose to leave behind (`--allow-dirty`), kept as
    /// `done_with_uncommitted`.
    pub dirty: Vec<String>,
}

impl Loom {
    /// Claim the task `input` names; it must be ready.
    pub fn claim(&self, input: &str, options: &ClaimOptions, actor: &Actor) -> Result<Held> {
        let id = self.resolve(input)?;
        self.claim_id(&id, options, actor)
    }

    /// Claim the best ready task that `filter` allows; `None` when nothing is left to claim.
    /// A candidate another agent wins first is skipped, and the next one tried.
    pub fn claim_next(&self, filter: &NextFilter, options: &ClaimOptions, actor: &Actor) -> Result<Option<Held>> {
        // Work created or released in other clones is only seen here once fetched.
        self.refresh(self.settings().remote.fetch_after(), actor)?;
        let keep = |row: &BoardRow<'_>| {
            filter.label.as_deref().is_none_or(|label| row.labels.contains(&label))
                && filter
                    .priorities
                    .is_none_or(|(low, high)| (low..=high).contains(&row.priority))
        };
        let mut attempts = 0;
        // The first round may start from a recent board without listing refs; once that runs
        // dry, every later round reads the refs afresh, so "nothing ready" is always checked.
        let mut fresh = false;
        for _ in 0..MAX_NEXT_ROUNDS {
            let (mut candidates, was_fresh) = self.next_candidates(actor.now, fresh, keep)?;
            if candidates.is_empty() {
                if was_fresh {
                    return Ok(None);
                }
                fresh = true;
                continue;
            }
            let mut first = true;
            while !candidates.is_empty() && attempts < MAX_NEXT_ATTEMPTS {
                let pick = match first {
                    true => 0,
                    false => {
                        let losses = attempts.saturating_sub(1).min(4);
                        random_below(candidates.len().min(SPREAD << losses))
                    }
                };
                first = false;
                let Ok(id) = TaskId::parse(&candidates.remove(pick)) else {
                    continue;
                };
                // Taken since the board was built: one ref read says so.
                if self.store.tip(&store::claim_ref(&id))?.is_some() {
                    continue;
                }
                attempts += 1;
                // Noted before trying, so that claimers starting meanwhile go elsewhere instead
                // of racing for it. Should the attempt fail for another reason than a rival's
                // claim, the task is only hidden from this board's readers until it is rebuilt.
                board::note_taken(&self.store.local_dir(), id.as_str());
                match self.try_claim(&id, options, actor) {
                    Ok(held) => return Ok(Some(held)),
                    // Taken, no longer ready, deleted or damaged since the candidates were
                    // listed: move on to the next one.
                    Err(
                        Error::Claimed { .. }
                        | Error::NotReady { .. }
                        | Error::AwaitingMerge { .. }
                        | Error::UnknownTask { .. }
                        | Error::Store(store::Error::Corrupt { .. }),
                    ) => continue,
                    Err(err) if err.is_conflict() => continue,
                    Err(err) => return Err(err),
                }
            }
            fresh = true;
        }
        Ok(None)
    }

    /// A live claim `agent` holds, if any (the oldest, when it holds several).
    pub fn claim_held_by(&self, agent: &str) -> Result<Option<Held>> {
        let (claims, _) = self.store.list(store::CLAIMS_PREFIX)?;
        let mut held = Vec::new();
        for tip in claims {
            let Some(id) = store::claim_id_from_ref(&tip.name) else {
                continue;
            };
            let Ok(claim) = self.read_claim(&id, tip.tip) else {
                continue;
            };
            if claim.agent != agent {
                continue;
            }
            let Ok(entry) = self.task(id.as_str()) else { continue };
            if state::claim_is_live(entry.task.status()) {
                held.push(Held {
                    task: entry.task,
                    claim,
                });
            }
        }
        held.sort_by_key(|held| held.claim.claimed_at);
        Ok(held.into_iter().next())
    }

    fn claim_id(&self, id: &TaskId, options: &ClaimOptions, actor: &Actor) -> Result<Held> {
        with_retries(|| self.try_claim(id, options, actor))
    }

    /// One attempt at claiming `id`: a lost race is returned as a conflict, not retried (for
    /// `claim --next`, another candidate is a better next step than waiting for this one).
    fn try_claim(&self, id: &TaskId, options: &ClaimOptions, actor: &Actor) -> Result<Held> {
        let ttl_secs = options.ttl_secs.unwrap_or(self.settings().claims.ttl_secs);
        let mut workset = Workset::new(&self.store);
        let task = workset.get(id)?.clone();
        // A void claim (its writer died between the task's update and the claim's deletion)
        // is replaced by the new one.
        let orphan = match self.claim_of(id)? {
            Some((tip, _)) if !state::claim_is_live(task.status()) => Some(tip),
            Some((_, claim)) => {
                let agent = claim.map(|c| c.agent).unwrap_or_else(|_| "an unreadable claim".into());
                return Err(Error::Claimed { id: id.clone(), agent });
            }
            None => None,
        };
        let facts: Vec<(TaskId, Option<DepFacts>)> = task
            .deps
            .iter()
            .map(|dep| (dep.clone(), workset.get(dep).ok().map(DepFacts::of)))
            .collect();
        let dep_of = |dep: &TaskId| facts.iter().find(|(d, _)| d == dep).and_then(|(_, f)| *f);
        let derived = state::derive(&task, dep_of, self.settings().merge.gate(), false, actor.now);
        if derived.view != View::Ready {
            // Blocked by nothing but merges still to land: say so, rather than only "blocked".
            if !derived.awaiting_merge.is_empty() && derived.awaiting_merge == derived.blocked_by {
                return Err(Error::AwaitingMerge {
                    id: id.clone(),
                    deps: derived.awaiting_merge,
                });
            }
            return Err(Error::NotReady {
                id: id.clone(),
                view: derived.view,
            });
        }
        if task.status() == Status::Failed {
            change_status(&mut workset, id, Status::Pending)?;
            workset.get_mut(id)?.retry_after = None;
        }
        let attempt = {
            let task = workset.get_mut(id)?;
            task.attempts += 1;
            task.attempts
        };
        let claim = Claim::new(
            id.clone(),
            actor.agent.clone(),
            new_token()?,
            ttl_secs,
            attempt,
            actor.now,
        );
        workset.record(id, format!("claim by {} (attempt {attempt})", actor.agent))?;
        let change = match orphan {
            Some(orphan) => ClaimChange::Take {
                orphan,
                claim: claim.clone(),
            },
            None => ClaimChange::Create(claim.clone()),
        };
        workset.change_claim(id, change, format!("claim by {}", actor.agent));
        let written = workset.commit(actor, "claim")?;
        let task = written
            .into_iter()
            .find(|w| &w.id == id)
            .map(|w| w.task)
            .expect("the claimed task is written because the claim is recorded in its history");
        Ok(Held { task, claim })
    }

    /// The one holder check: the live claim on `task` (a void claim is held by nobody), and
    /// whether the caller may act on it. Every command only a holder may run asks this.
    pub fn holder_check(&self, task: &Task, credentials: Credentials<'_>, actor: &Actor) -> Result<HeldClaim> {
        let (tip, claim) = self
            .live_claim_on(task)?
            .ok_or_else(|| Error::NotClaimed { id: task.id.clone() })?;
        let claim = claim?;
        let forced = check_holder(&task.id, &claim, credentials, actor)?;
        Ok(HeldClaim { tip, claim, forced })
    }

    /// [`Loom::holder_check`] on the task as `workset` reads it, so that it is read only once
    /// by the operation that writes it.
    fn held_claim(
        &self,
        workset: &mut Workset<'_>,
        id: &TaskId,
        credentials: Credentials<'_>,
        actor: &Actor,
    ) -> Result<HeldClaim> {
        let task = workset.get(id)?;
        self.holder_check(task, credentials, actor)
    }

    /// The shape of `release`, `done` and `fail`: check the holder, let `apply` change the
    /// task and say what happened, then record that in the task's history and delete the
    /// claim in the same transaction, retrying from a fresh read after a lost race.
    /// `seed` is the task as the caller already read it, used by the first attempt.
    fn finish_claim(
        &self,
        id: &TaskId,
        seed: Option<TaskEntry>,
        credentials: Credentials<'_>,
        actor: &Actor,
        op: &str,
        apply: impl Fn(&mut Workset<'_>, &HeldClaim) -> Result<String>,
    ) -> Result<EditOutcome> {
        let mut seed = seed;
        with_retries(|| {
            let mut workset = match seed.take() {
                Some(entry) => Workset::seeded(&self.store, entry),
                None => Workset::new(&self.store),
            };
            let held = self.held_claim(&mut workset, id, credentials, actor)?;
            let note = apply(&mut workset, &held)?;
            workset.record(id, note.clone())?;
            workset.change_claim(id, ClaimChange::Delete { tip: held.tip }, note);
            finish(workset, id, actor, op)
        })
    }

    /// Extend the lease on a claim the caller holds, recording progress.
    pub fn heartbeat(
        &self,
        input: &str,
        credentials: Credentials<'_>,
        progress: Option<String>,
        percent: Option<u8>,
        actor: &Actor,
    ) -> Result<Claim> {
        let id = self.resolve(input)?;
        with_retries(|| {
            let mut workset = Workset::new(&self.store);
            let HeldClaim { tip, mut claim, forced } = self.held_claim(&mut workset, &id, credentials, actor)?;
            claim.renew(actor.now, progress.clone(), percent);
            if let Some(note) = forced {
                workset.record(&id, format!("heartbeat {note}"))?;
            }
            let summary = match (&claim.progress, claim.percent) {
                (Some(text), Some(p)) => format!("heartbeat: {text} ({p}%)"),
                (Some(text), None) => format!("heartbeat: {text}"),
                (None, Some(p)) => format!("heartbeat ({p}%)"),
                (None, None) => "heartbeat".to_owned(),
            };
            workset.change_claim(
                &id,
                ClaimChange::Renew {
                    tip,
                    claim: claim.clone(),
                },
                summary,
            );
            workset.commit(actor, "heartbeat")?;
            Ok(claim)
        })
    }

    /// Give a claimed task back, ready for someone else.
    pub fn release(&self, input: &str, credentials: Credentials<'_>, actor: &Actor) -> Result<EditOutcome> {
        let id = self.resolve(input)?;
        self.finish_claim(&id, None, credentials, actor, "release", |_, held| {
            Ok(match &held.forced {
                Some(note) => format!("released, {note}"),
                None => format!("released by {}", held.claim.agent),
            })
        })
    }

    /// Record a claimed task, as `entry` was just read, as done: the task's new version and
    /// the claim's deletion land together, and an epic whose last open child this was closes
    /// with them, and so does whatever `also` adds to the transaction (the merge request of the
    /// work). The checks that come first are `session`'s (`Loom::done`).
    pub(crate) fn record_done(
        &self,
        entry: TaskEntry,
        credentials: Credentials<'_>,
        record: &DoneRecord,
        actor: &Actor,
        also: impl Fn(&mut Workset<'_>) -> Result<()>,
    ) -> Result<EditOutcome> {
        let id = entry.task.id.clone();
        let mut outcome = self.finish_claim(&id, Some(entry), credentials, actor, "done", |workset, held| {
            change_status(workset, &id, Status::Done)?;
            also(workset)?;
            let task = workset.get_mut(&id)?;
            if record.output.is_some() {
                task.output = record.output.clone();
            }
            if record.branch.is_some() {
                task.branch = record.branch.clone();
            }
            if let Some(commit) = &record.commit {
                task.extra
                    .insert("commit".into(), serde_json::Value::from(commit.as_str()));
            }
            if !record.dirty.is_empty() {
                task.extra.insert(
                    "done_with_uncommitted".into(),
                    serde_json::Value::from(record.dirty.clone()),
                );
            }
            let mut note = match &held.forced {
                Some(note) => format!("done, {note}"),
                None => format!("done by {}", held.claim.agent),
            };
            if let Some(commit) = &record.commit {
                note.push_str(&format!(" at commit {commit}"));
            }
            if !record.dirty.is_empty() {
                note.push_str(&format!(", allowing {} uncommitted changes", record.dirty.len()));
            }
            Ok(note)
        })?;
        self.settle_epics(&mut outcome.written, actor, "done")?;
        Ok(outcome)
    }

    /// Record that a claimed task failed: it is retried after a backoff, or becomes dead once
    /// it has failed more often than its retry limit allows.
    pub fn fail(&self, input: &str, credentials: Credentials<'_>, reason: &str, actor: &Actor) -> Result<EditOutcome> {
        let id = self.resolve(input)?;
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            return Err(Error::Invalid("a failure needs a reason".into()));
        }
        let retry = self.settings().retry.clone();
        let mut outcome = self.finish_claim(&id, None, credentials, actor, "fail", |workset, held| {
            let (retries, limit) = record_failure(workset, &id, &reason, &retry, actor, change_status)?;
            let by = match &held.forced {
                Some(note) => note.clone(),
                None => format!("by {}", held.claim.agent),
            };
            Ok(format!("failure {retries} (retry limit {limit}) {by}: {reason}"))
        })?;
        self.settle_epics(&mut outcome.written, actor, "fail")?;
        Ok(outcome)
    }
}

/// Apply the retry rules to a failure of `id` in `workset`: the task is retried after a
/// backoff, or becomes dead once it has failed more often than its retry limit allows.
/// Returns the failure count and the limit. Both a holder's `fail` and a merge that failed its
/// tests come through here, so a task's work is retried by one rule whoever found it wanting.
pub(crate) fn record_failure(
    workset: &mut Workset<'_>,
    id: &TaskId,
    reason: &str,
    retry: &crate::model::meta::RetrySettings,
    actor: &Actor,
    move_to: impl Fn(&mut Workset<'_>, &TaskId, Status) -> Result<crate::model::Transition>,
) -> Result<(u32, u32)> {
    let jitter = f64::from(random_below(2_001) as u32) / 1_000.0 - 1.0;
    let (retries, limit) = {
        let task = workset.get_mut(id)?;
        task.retries += 1;
        task.last_failure = Some(reason.to_owned());
        (task.retries, task.max_retries.unwrap_or(retry.limit))
    };
    if retries > limit {
        move_to(workset, id, Status::Dead)?;
        workset.get_mut(id)?.retry_after = None;
    } else {
        move_to(workset, id, Status::Failed)?;
        let after = actor
            .now
            .checked_add(retry_delay(retries, retry.base_secs, retry.max_secs, jitter))
            .unwrap_or(Timestamp::MAX);
        workset.get_mut(id)?.retry_after = Some(after);
    }
    Ok((retries, limit))
}

/// A fresh claim token: 16 random hex digits.
fn new_token() -> Result<String> {
    let value = getrandom::u64().map_err(|err| Error::Internal(format!("cannot draw a claim token: {err}")))?;
    Ok(format!("{value:016x}"))
}

/// A random index below `bound` (which must be positive); 0 if randomness is unavailable.
fn random_below(bound: usize) -> usize {
    getrandom::u64().map_or(0, |value| (value % bound.max(1) as u64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(agent: &str) -> Actor {
        Actor {
            agent: agent.into(),
            now: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn only_the_holder_its_token_or_force_may_act_on_a_claim() {
        // Guards: the holder rule diverging between the commands only a holder may run
        // (heartbeat, release, done, fail, handoff, worktree).
        let id = TaskId::parse("loom-00000001").unwrap();
        let claim = Claim::new(
            id.clone(),
            "ann".into(),
            "0123abcd".into(),
            60,
            1,
            Timestamp::UNIX_EPOCH,
        );
        let none = Credentials::default();
        assert_eq!(check_holder(&id, &claim, none, &actor("ann")).unwrap(), None);
        let token = Credentials {
            token: Some("0123abcd"),
            force: false,
        };
        assert_eq!(check_holder(&id, &claim, token, &actor("bob")).unwrap(), None);
        let wrong = Credentials {
            token: Some("ffffffff"),
            force: false,
        };
        match check_holder(&id, &claim, wrong, &actor("bob")) {
            Err(Error::NotHolder { holder, .. }) => assert_eq!(holder, "ann"),
            other => panic!("expected NotHolder, got {other:?}"),
        }
        let force = Credentials {
            token: None,
            force: true,
        };
        assert_eq!(
            check_holder(&id, &claim, force, &actor("bob")).unwrap().as_deref(),
            Some("forced by bob (claim held by ann)")
        );
    }
}
