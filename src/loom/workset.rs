//! The tasks one operation reads and changes, published together.
//!
//! A workset loads each task at most once (from a snapshot when the operation took one, else
//! from its ref), remembers the tip it was read at, and collects a note for each change. On
//! [`Workset::commit`] every changed task gets a new version commit, and all their refs move in
//! one transaction that expects exactly the tips that were read: either every change lands or
//! none does. Claim changes (create, renew, delete) can ride in the same transaction, so a task
//! and its claim never disagree.

use std::collections::BTreeMap;

use super::read::{TaskEntry, read_task};
use super::snapshot::Snapshot;
use super::{Actor, Error, Result};
use crate::model::{Claim, Entity, Status, Task, TaskId};
use crate::store::{self, CommitMessage, Expected, ObjectId, RefUpdate, Store};

struct Slot {
    /// The tip the task was read at; `None` for a task this operation creates.
    base: Option<ObjectId>,
    original: Option<Task>,
    task: Task,
    notes: Vec<String>,
    /// Write a version even if the task is unchanged, so its history records the notes.
    record: bool,
    /// Whether `original` was read from the objects at `base` by this workset; an entry taken
    /// from a snapshot may come from the read cache, which never read them.
    verified: bool,
}

/// A change to a claim ref, published in the same transaction as the task changes.
pub(crate) enum ClaimChange {
    /// Create the claim; fails if one exists (exactly one claimer wins).
    Create(Claim),
    /// Replace the claim at `tip` with a renewed version (a heartbeat).
    Renew { tip: ObjectId, claim: Claim },
    /// Delete the claim, only if it is still the one at `tip`.
    Delete { tip: ObjectId },
    /// Replace a void claim (left on a task that is no longer pending) with a new one.
    Take { orphan: ObjectId, claim: Claim },
}

/// A new version of another record (a merge request, say), written in the same transaction.
struct RecordWrite {
    ref_name: String,
    /// The tip the new version replaces; `None` creates the ref.
    base: Option<ObjectId>,
    file: &'static str,
    blob: Vec<u8>,
    task: Option<TaskId>,
    summary: String,
}

pub(crate) struct Workset<'a> {
    store: &'a Store,
    snapshot: Option<&'a Snapshot>,
    slots: BTreeMap<TaskId, Slot>,
    claims: Vec<(TaskId, ClaimChange, String)>,
    records: Vec<RecordWrite>,
}

/// A task version this operation wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub id: TaskId,
    pub commit: ObjectId,
    pub notes: Vec<String>,
    /// The task exactly as written.
    pub task: Task,
}

impl<'a> Workset<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Workset {
            store,
            snapshot: None,
            slots: BTreeMap::new(),
            claims: Vec::new(),
            records: Vec::new(),
        }
    }

    /// A workset that reads tasks from `snapshot`, so the whole operation sees one moment.
    pub(crate) fn on(store: &'a Store, snapshot: &'a Snapshot) -> Self {
        Workset {
            store,
            snapshot: Some(snapshot),
            slots: BTreeMap::new(),
            claims: Vec::new(),
            records: Vec::new(),
        }
    }

    /// A workset whose first read of `entry`'s task is `entry` itself, which the caller read
    /// from its objects a moment ago (so it is not read twice). Its commit still expects
    /// `entry.tip`: a task changed since is a lost race, and the retry reads afresh.
    pub(crate) fn seeded(store: &'a Store, entry: TaskEntry) -> Self {
        let mut workset = Workset::new(store);
        workset.slots.insert(
            entry.task.id.clone(),
            Slot {
                base: Some(entry.tip),
                original: Some(entry.task.clone()),
                task: entry.task,
                notes: Vec::new(),
                record: false,
                verified: true,
            },
        );
        workset
    }

    fn load(&mut self, id: &TaskId) -> Result<&mut Slot> {
        if !self.slots.contains_key(id) {
            let (entry, verified) = match self.snapshot {
                Some(snapshot) => (
                    snapshot.tasks.get(id).cloned().ok_or_else(|| unknown(id, snapshot))?,
                    false,
                ),
                None => {
                    let tip = self
                        .store
                        .tip(&store::task_ref(id))?
                        .ok_or_else(|| Error::UnknownTask { query: id.to_string() })?;
                    (read_task(self.store, id, tip)?, true)
                }
            };
            self.slots.insert(
                id.clone(),
                Slot {
                    base: Some(entry.tip),
                    original: Some(entry.task.clone()),
                    task: entry.task,
                    notes: Vec::new(),
                    record: false,
                    verified,
                },
            );
        }
        Ok(self
            .slots
            .get_mut(id)
            .expect("the slot was inserted above because it was missing"))
    }

    pub(crate) fn get(&mut self, id: &TaskId) -> Result<&Task> {
        Ok(&self.load(id)?.task)
    }

    pub(crate) fn get_mut(&mut self, id: &TaskId) -> Result<&mut Task> {
        Ok(&mut self.load(id)?.task)
    }

    /// The stored status of `id`, or `None` when it does not exist or cannot be read.
    pub(crate) fn status_of(&mut self, id: &TaskId) -> Option<Status> {
        self.get(id).ok().map(Task::status)
    }

    /// Record what happened to `id`, for its commit message. `id` must have been read into
    /// the workset already (every change to a task does that): a note is part of a change, and
    /// a task this workset does not write has no commit to carry it. Use [`Workset::record`] to
    /// write a note on a task that does not change otherwise.
    pub(crate) fn note(&mut self, id: &TaskId, note: impl Into<String>) {
        let slot = self.slots.get_mut(id);
        debug_assert!(
            slot.is_some(),
            "a note on {id}, which this workset never read, would be lost"
        );
        if let Some(slot) = slot {
            slot.notes.push(note.into());
        }
    }

    /// Record `note` in the history of `id` even if nothing else about the task changes.
    pub(crate) fn record(&mut self, id: &TaskId, note: impl Into<String>) -> Result<()> {
        let slot = self.load(id)?;
        slot.notes.push(note.into());
        slot.record = true;
        Ok(())
    }

    pub(crate) fn insert_new(&mut self, task: Task, note: impl Into<String>) {
        self.slots.insert(
            task.id.clone(),
            Slot {
                base: None,
                original: None,
                task,
                notes: vec![note.into()],
                record: true,
                verified: true,
            },
        );
    }

    /// Change the claim on `id` together with this workset's task changes; `summary` becomes
    /// the claim commit's message.
    pub(crate) fn change_claim(&mut self, id: &TaskId, change: ClaimChange, summary: impl Into<String>) {
        self.claims.push((id.clone(), change, summary.into()));
    }

    /// Write a new version of `record` at `ref_name` in the same transaction, replacing the
    /// version at `base` (`None`: the ref must not exist yet); `summary` becomes its commit's
    /// message.
    pub(crate) fn put_record<T: Entity>(
        &mut self,
        ref_name: String,
        base: Option<ObjectId>,
        record: &T,
        summary: impl Into<String>,
    ) {
        self.records.push(RecordWrite {
            ref_name,
            base,
            file: T::FILE,
            blob: record.to_blob(),
            task: record.owner().cloned(),
            summary: summary.into(),
        });
    }

    /// Remove a void claim left on `id` (by a writer that died half-way), so that the task
    /// becoming pending again does not bring it back to life.
    pub(crate) fn drop_void_claim(&mut self, id: &TaskId) -> Result<()> {
        if let Some(tip) = self.store.tip(&store::claim_ref(id))? {
            self.change_claim(id, ClaimChange::Delete { tip }, "removed a void claim");
        }
        Ok(())
    }

    /// Publish every changed task in one transaction; tasks that ended up unchanged are left
    /// alone. Returns what was written, in id order.
    pub(crate) fn commit(self, actor: &Actor, op: &str) -> Result<Vec<Written>> {
        let signature = actor.signature();
        let mut updates = Vec::new();
        let mut written = Vec::new();
        // Granting or renewing a claim never makes another task ready, so a board stays a good
        // starting point for `claim --next`; any other change may, and drops it.
        let keeps_board = !self.claims.is_empty()
            && self
                .claims
                .iter()
                .all(|(_, change, _)| matches!(change, ClaimChange::Create(_) | ClaimChange::Renew { .. }));
        // Claim refs go first: the refs of one transaction are renamed into place one after
        // another (deletions last), so a writer killed half-way leaves a claim without its
        // history record, never a record of a claim that does not exist.
        for (id, change, summary) in self.claims {
            let message = version_message(summary, &id, actor, op);
            // (expected value, parent of the new claim commit, new claim); no claim deletes it.
            let (expected, parent, claim) = match change {
                ClaimChange::Create(claim) => (Expected::Absent, None, Some(claim)),
                ClaimChange::Renew { tip, claim } => (Expected::Tip(tip), Some(tip), Some(claim)),
                ClaimChange::Take { orphan, claim } => (Expected::Tip(orphan), None, Some(claim)),
                ClaimChange::Delete { tip } => (Expected::Tip(tip), None, None),
            };
            let new = match claim {
                Some(claim) => {
                    let parents: Vec<ObjectId> = parent.into_iter().collect();
                    let blob = claim.to_blob();
                    Some(
                        self.store
                            .write_version(&[("claim.json", &blob)], &parents, &message, &signature)?,
                    )
                }
                None => None,
            };
            updates.push(RefUpdate {
                name: store::claim_ref(&id),
                expected,
                new,
            });
        }
        for record in self.records {
            let message = CommitMessage::version(record.summary, record.task.as_ref(), &actor.agent, op);
            let parents: Vec<ObjectId> = record.base.into_iter().collect();
            let commit = self
                .store
                .write_version(&[(record.file, &record.blob)], &parents, &message, &signature)?;
            updates.push(RefUpdate {
                name: record.ref_name,
                expected: record.base.map_or(Expected::Absent, Expected::Tip),
                new: Some(commit),
            });
        }
        for (id, mut slot) in self.slots {
            if slot.original.as_ref() == Some(&slot.task) && !slot.record {
                continue;
            }
            if let (Some(base), false) = (slot.base, slot.verified) {
                verify_base(self.store, &id, base, slot.original.as_ref())?;
            }
            if slot.original.is_some() {
                slot.task.touch(actor.now);
            }
            let summary = match slot.notes.is_empty() {
                true => op.to_owned(),
                false => slot.notes.join("; "),
            };
            let message = version_message(summary, &id, actor, op);
            let blob = slot.task.to_blob();
            let parents: Vec<ObjectId> = slot.base.into_iter().collect();
            let commit = self
                .store
                .write_version(&[("task.json", &blob)], &parents, &message, &signature)?;
            updates.push(RefUpdate {
                name: store::task_ref(&id),
                expected: slot.base.map_or(Expected::Absent, Expected::Tip),
                new: Some(commit),
            });
            written.push(Written {
                id,
                commit,
                notes: slot.notes,
                task: slot.task,
            });
        }
        if !updates.is_empty() {
            super::publish::publish(self.store, &updates, actor)?;
            if !keeps_board {
                super::cache::board::forget(&self.store.local_dir());
            }
        }
        Ok(written)
    }
}

/// The message of a version commit: what happened, and the trailers naming task, agent and op.
fn version_message(summary: String, id: &TaskId, actor: &Actor, op: &str) -> CommitMessage {
    CommitMessage::version(summary, Some(id), &actor.agent, op)
}

/// Read the version a new one is built on, at `base`, from its objects: a write never extends
/// a commit that cannot be read (its history would have a broken link) nor trusts a cached copy
/// for what the version holds. A cached copy that differs from the objects is dropped, and the
/// write reported as a conflict, so that its retry reads the task afresh.
fn verify_base(store: &Store, id: &TaskId, base: ObjectId, cached: Option<&Task>) -> Result<()> {
    let stored = read_task(store, id, base)?;
    if cached.is_some_and(|cached| *cached != stored.task) {
        super::cache::tasks::forget(&store.local_dir());
        return Err(Error::Store(store::Error::Conflict {
            ref_name: store::task_ref(id),
        }));
    }
    Ok(())
}

fn unknown(id: &TaskId, snapshot: &Snapshot) -> Error {
    let ref_name = store::task_ref(id);
    match snapshot.problems.iter().find(|p| p.ref_name == ref_name) {
        Some(problem) => Error::corrupt(ref_name, problem.problem.clone()),
        None => Error::UnknownTask { query: id.to_string() },
    }
}
