//! The tasks one operation reads and changes, published together.
//!
//! A workset loads each task at most once (from a snapshot when the operation took one, else
//! from its ref), remembers the tip it was read at, and collects a note for each change. On
//! [`Workset::commit`] every changed task gets a new version commit, and all their refs move in
//! one transaction that expects exactly the tips that were read: either every change lands or
//! none does.

use std::collections::BTreeMap;

use super::snapshot::{Snapshot, read_task};
use super::{Actor, Error, Result};
use crate::model::{Status, Task, TaskId};
use crate::store::{self, CommitMessage, Expected, ObjectId, RefUpdate, Store};

struct Slot {
    /// The tip the task was read at; `None` for a task this operation creates.
    base: Option<ObjectId>,
    original: Option<Task>,
    task: Task,
    notes: Vec<String>,
}

pub(super) struct Workset<'a> {
    store: &'a Store,
    snapshot: Option<&'a Snapshot>,
    slots: BTreeMap<TaskId, Slot>,
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
    pub(super) fn new(store: &'a Store) -> Self {
        Workset {
            store,
            snapshot: None,
            slots: BTreeMap::new(),
        }
    }

    /// A workset that reads tasks from `snapshot`, so the whole operation sees one moment.
    pub(super) fn on(store: &'a Store, snapshot: &'a Snapshot) -> Self {
        Workset {
            store,
            snapshot: Some(snapshot),
            slots: BTreeMap::new(),
        }
    }

    fn load(&mut self, id: &TaskId) -> Result<&mut Slot> {
        if !self.slots.contains_key(id) {
            let entry = match self.snapshot {
                Some(snapshot) => snapshot.tasks.get(id).cloned().ok_or_else(|| unknown(id, snapshot))?,
                None => {
                    let tip = self
                        .store
                        .tip(&store::task_ref(id))?
                        .ok_or_else(|| Error::UnknownTask { query: id.to_string() })?;
                    read_task(self.store, id, tip)?
                }
            };
            self.slots.insert(
                id.clone(),
                Slot {
                    base: Some(entry.tip),
                    original: Some(entry.task.clone()),
                    task: entry.task,
                    notes: Vec::new(),
                },
            );
        }
        Ok(self
            .slots
            .get_mut(id)
            .expect("the slot was inserted above because it was missing"))
    }

    pub(super) fn get(&mut self, id: &TaskId) -> Result<&Task> {
        Ok(&self.load(id)?.task)
    }

    pub(super) fn get_mut(&mut self, id: &TaskId) -> Result<&mut Task> {
        Ok(&mut self.load(id)?.task)
    }

    /// The stored status of `id`, or `None` when it does not exist or cannot be read.
    pub(super) fn status_of(&mut self, id: &TaskId) -> Option<Status> {
        self.get(id).ok().map(Task::status)
    }

    /// Record what happened to `id`, for its commit message.
    pub(super) fn note(&mut self, id: &TaskId, note: impl Into<String>) {
        if let Some(slot) = self.slots.get_mut(id) {
            slot.notes.push(note.into());
        }
    }

    pub(super) fn insert_new(&mut self, task: Task, note: impl Into<String>) {
        self.slots.insert(
            task.id.clone(),
            Slot {
                base: None,
                original: None,
                task,
                notes: vec![note.into()],
            },
        );
    }

    /// Publish every changed task in one transaction; tasks that ended up unchanged are left
    /// alone. Returns what was written, in id order.
    pub(super) fn commit(self, actor: &Actor, op: &str) -> Result<Vec<Written>> {
        let signature = actor.signature();
        let mut updates = Vec::new();
        let mut written = Vec::new();
        for (id, mut slot) in self.slots {
            if slot.original.as_ref() == Some(&slot.task) {
                continue;
            }
            if slot.original.is_some() {
                slot.task.touch(actor.now);
            }
            let summary = match slot.notes.is_empty() {
                true => op.to_owned(),
                false => slot.notes.join("; "),
            };
            let message = CommitMessage {
                summary,
                body: None,
                trailers: vec![
                    ("Loom-Task", id.to_string()),
                    ("Loom-Agent", actor.agent.clone()),
                    ("Loom-Op", op.to_owned()),
                ],
            };
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
            self.store.apply(&updates, &signature)?;
        }
        Ok(written)
    }
}

fn unknown(id: &TaskId, snapshot: &Snapshot) -> Error {
    let ref_name = store::task_ref(id);
    match snapshot.problems.iter().find(|p| p.ref_name == ref_name) {
        Some(problem) => Error::CorruptTask {
            ref_name,
            problem: problem.problem.clone(),
        },
        None => Error::UnknownTask { query: id.to_string() },
    }
}
