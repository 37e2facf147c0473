//! Changing existing tasks: fields, dependencies, parents and statuses.
//!
//! Status changes go through the state machine, and their consequences land in the same
//! transaction: when a task closes, its epic closes too if that was its last open child (and so
//! on up the tree). Edits that add a waits-for edge (a dependency, a parent) read the whole graph
//! first and are refused, with the cycle, if they would close one.

use std::collections::BTreeSet;

use crate::loom::snapshot::Snapshot;
use crate::loom::workset::{Workset, Written};
use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::state::{self, Guards, Transition};
use crate::model::task::{clean_label, clean_title};
use crate::model::{IdQuery, Priority, Status, Task, TaskId};

/// The changes `update` can make. Ids are as the user typed them.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub add_deps: Vec<String>,
    pub rm_deps: Vec<String>,
    pub add_labels: Vec<String>,
    pub rm_labels: Vec<String>,
    /// `Some(None)` removes the task from its epic.
    pub parent: Option<Option<String>>,
    /// Failures allowed before the task is dead (overrides the repository's retry limit).
    pub max_retries: Option<u32>,
    pub status: Option<Status>,
}

impl Changes {
    fn needs_graph(&self) -> bool {
        !self.add_deps.is_empty() || matches!(self.parent, Some(Some(_)))
    }
}

/// What an edit wrote: the task it was about, and every task version written.
#[derive(Debug, Clone)]
pub struct EditOutcome {
    pub task: Task,
    pub written: Vec<Written>,
}

/// A waits-for edge an update added, remembered so it can be taken back.
#[derive(Debug, Clone)]
pub(crate) enum AddedEdge {
    Dep(TaskId),
    Parent { new: TaskId, old: Option<TaskId> },
}

/// What `cancel` did.
#[derive(Debug, Clone)]
pub struct CancelOutcome {
    pub task: Task,
    pub written: Vec<Written>,
    /// Open tasks that still wait on a cancelled task (only without `cascade`).
    pub stranded: Vec<TaskId>,
}

impl Loom {
    /// Apply `changes` to the task `input` names.
    pub fn update(&self, input: &str, changes: &Changes, actor: &Actor) -> Result<EditOutcome> {
        let (mut outcome, added) = self.update_once(input, changes, actor)?;
        if !added.is_empty() {
            self.verify_no_cycle(&outcome.task.id, &added, actor)?;
        }
        self.settle_epics(&mut outcome.written, actor, "update")?;
        Ok(outcome)
    }

    /// Apply `changes`, returning what was written and the waits-for edges it added.
    fn update_once(&self, input: &str, changes: &Changes, actor: &Actor) -> Result<(EditOutcome, Vec<AddedEdge>)> {
        let title = changes.title.as_deref().map(clean_title).transpose()?;
        let add_labels = changes
            .add_labels
            .iter()
            .map(|l| clean_label(l))
            .collect::<Result<Vec<_>, _>>()?;
        with_retries(|| {
            let snapshot = changes.needs_graph().then(|| self.snapshot(actor.now)).transpose()?;
            let resolve = |input: &str| match &snapshot {
                Some(snapshot) => snapshot.resolve(input),
                None => self.resolve(input),
            };
            let id = resolve(input)?;
            let add_deps = changes
                .add_deps
                .iter()
                .map(|d| resolve(d))
                .collect::<Result<Vec<_>>>()?;
            let parent = match &changes.parent {
                None => None,
                Some(None) => Some(None),
                Some(Some(parent)) => Some(Some(resolve(parent)?)),
            };
            let mut workset = match &snapshot {
                Some(snapshot) => Workset::on(&self.store, snapshot),
                None => Workset::new(&self.store),
            };
            // A dependency that does not resolve (its task vanished or became unreadable, or
            // its abbreviation is ambiguous) is looked up among the task's own, so it can still
            // be removed. Resolving first keeps a stage id that looks like hex its stage's.
            let own_deps = workset.get(&id)?.deps.clone();
            let rm_deps = changes
                .rm_deps
                .iter()
                .map(|input| {
                    resolve(input).or_else(|err| {
                        let Ok(query) = IdQuery::parse(input) else {
                            return Err(err);
                        };
                        let mut own = own_deps.iter().filter(|dep| query.matches(dep));
                        match (own.next(), own.next()) {
                            (Some(dep), None) => Ok(dep.clone()),
                            _ => Err(err),
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let task = workset.get_mut(&id)?;
            let mut notes = Vec::new();
            if let Some(title) = &title
                && &task.title != title
            {
                task.title = title.clone();
                notes.push("title".to_owned());
            }
            if let Some(description) = &changes.description
                && &task.description != description
            {
                task.description = description.clone();
                notes.push("description".to_owned());
            }
            if let Some(limit) = changes.max_retries
                && task.max_retries != Some(limit)
            {
                task.max_retries = Some(limit);
                notes.push(format!("retry limit {limit}"));
            }
            if let Some(priority) = changes.priority
                && task.priority != priority
            {
                notes.push(format!("priority {} -> {priority}", task.priority));
                task.priority = priority;
            }
            for label in &add_labels {
                if task.labels.insert(label.clone()) {
                    notes.push(format!("add label {label}"));
                }
            }
            for label in &changes.rm_labels {
                if task.labels.remove(label.trim()) {
                    notes.push(format!("remove label {}", label.trim()));
                }
            }
            for dep in &rm_deps {
                if task.deps.remove(dep) {
                    notes.push(format!("remove dep {dep}"));
                }
            }
            for note in notes {
                workset.note(&id, note);
            }
            let mut added = Vec::new();
            if let Some(snapshot) = &snapshot {
                for dep in &add_deps {
                    if add_dep(&mut workset, snapshot, &id, dep)? {
                        added.push(AddedEdge::Dep(dep.clone()));
                    }
                }
            }
            if let Some(parent) = &parent {
                let old = set_parent(&mut workset, snapshot.as_ref(), &id, parent.as_ref())?;
                if let (Some(old), Some(new)) = (old, parent) {
                    added.push(AddedEdge::Parent { new: new.clone(), old });
                }
            }
            if let Some(status) = changes.status {
                refuse_if_claimed(self, &id)?;
                let reopened = change_status(&mut workset, &id, status)? != Transition::Unchanged;
                if reopened && status == Status::Pending {
                    workset.drop_void_claim(&id)?;
                }
            }
            Ok((finish(workset, &id, actor, "update")?, added))
        })
    }

    /// Check, after publishing, that no edge this edit added closed a cycle together with a
    /// concurrent edit elsewhere (each edit was checked against the graph it read, but two
    /// edits can each be fine alone). If one did, take the edge back out and report the cycle:
    /// of two such racing edits at least one sees the other, so the graph is left acyclic.
    pub(crate) fn verify_no_cycle(&self, id: &TaskId, added: &[AddedEdge], actor: &Actor) -> Result<()> {
        let snapshot = self.snapshot(actor.now)?;
        let graph = snapshot.graph();
        let cycle = added.iter().find_map(|edge| match edge {
            AddedEdge::Dep(dep) => graph.cycle_if_added(id, dep),
            AddedEdge::Parent { new, .. } => graph.cycle_if_added(new, id),
        });
        let Some(cycle) = cycle else { return Ok(()) };
        with_retries(|| {
            let mut workset = Workset::new(&self.store);
            for edge in added {
                match edge {
                    AddedEdge::Dep(dep) => {
                        if workset.get_mut(id)?.deps.remove(dep) {
                            workset.note(id, format!("remove dep {dep} (it closed a cycle)"));
                        }
                    }
                    AddedEdge::Parent { new, old } => {
                        if workset.get(id)?.parent.as_ref() == Some(new) {
                            let restore = old.as_ref().filter(|old| {
                                workset
                                    .get(old)
                                    .is_ok_and(|epic| state::accepts_children(epic.status()))
                            });
                            set_parent(&mut workset, None, id, restore.cloned().as_ref())?;
                        }
                    }
                }
            }
            workset.commit(actor, "update")
        })?;
        Err(Error::Cycle(cycle))
    }

    /// Turn an idea into a pending task or an epic.
    pub fn promote(&self, input: &str, to_epic: bool, actor: &Actor) -> Result<EditOutcome> {
        with_retries(|| {
            let id = self.resolve(input)?;
            let mut workset = Workset::new(&self.store);
            let status = workset.get(&id)?.status();
            if status != Status::Idea {
                return Err(Error::NotAnIdea { id, status });
            }
            let to = if to_epic { Status::Epic } else { Status::Pending };
            change_status(&mut workset, &id, to)?;
            finish(workset, &id, actor, "promote")
        })
    }

    /// Drop an idea from the backlog (it stays in history as cancelled).
    pub fn drop_idea(&self, input: &str, actor: &Actor) -> Result<EditOutcome> {
        with_retries(|| {
            let id = self.resolve(input)?;
            let mut workset = Workset::new(&self.store);
            let status = workset.get(&id)?.status();
            if status != Status::Idea {
                return Err(Error::NotAnIdea { id, status });
            }
            change_status(&mut workset, &id, Status::Cancelled)?;
            finish(workset, &id, actor, "drop")
        })
        .and_then(|mut outcome| {
            self.settle_epics(&mut outcome.written, actor, "drop")?;
            Ok(outcome)
        })
    }

    /// Cancel a task; with `cascade`, also every open task that waits on it and, for an epic,
    /// its children, all in one transaction.
    pub fn cancel(&self, input: &str, cascade: bool, actor: &Actor) -> Result<CancelOutcome> {
        with_retries(|| {
            let snapshot = self.snapshot(actor.now)?;
            let id = snapshot.resolve(input)?;
            let mut workset = Workset::on(&self.store, &snapshot);
            let affected = snapshot.waiting_on(std::slice::from_ref(&id), cascade);
            for target in std::iter::once(&id).chain(if cascade { &affected[..] } else { &[] }) {
                if snapshot.claims.contains_key(target) {
                    refuse_if_claimed(self, target)?;
                }
            }
            change_status(&mut workset, &id, Status::Cancelled)?;
            let stranded = if cascade {
                for other in &affected {
                    if workset.status_of(other).is_some_and(|s| !s.is_closed()) {
                        change_status(&mut workset, other, Status::Cancelled)?;
                        workset.note(other, format!("cascade from {id}"));
                    }
                }
                Vec::new()
            } else {
                affected
            };
            let outcome = finish(workset, &id, actor, "cancel")?;
            Ok(CancelOutcome {
                task: outcome.task,
                written: outcome.written,
                stranded,
            })
        })
        .and_then(|mut outcome| {
            self.settle_epics(&mut outcome.written, actor, "cancel")?;
            Ok(outcome)
        })
    }

    /// After publishing, close any epic whose last open child a concurrent writer closed at
    /// the same moment. Each writer judged the epic against the siblings it read, and sibling
    /// statuses are not part of the transaction, so two children finishing together could both
    /// see the other still open; the later of them sees both done here and closes the epic.
    pub(crate) fn settle_epics(&self, written: &mut Vec<Written>, actor: &Actor, op: &str) -> Result<()> {
        let closed_here =
            |epic: &TaskId, written: &[Written]| written.iter().any(|w| &w.id == epic && w.task.status().is_closed());
        let epics: BTreeSet<TaskId> = written
            .iter()
            .filter(|w| w.task.status().is_closed())
            .filter_map(|w| w.task.parent.clone())
            .filter(|epic| !closed_here(epic, written))
            .collect();
        for epic in epics {
            let more = with_retries(|| {
                let mut workset = Workset::new(&self.store);
                close_finished_epics(&mut workset, Some(epic.clone()))?;
                workset.commit(actor, op)
            })?;
            written.extend(more);
        }
        Ok(())
    }
}

/// Commit the workset and report the main task as it now stands.
pub(crate) fn finish(mut workset: Workset<'_>, id: &TaskId, actor: &Actor, op: &str) -> Result<EditOutcome> {
    let unchanged = workset.get(id)?.clone();
    let written = workset.commit(actor, op)?;
    let task = written
        .iter()
        .find(|w| &w.id == id)
        .map_or(unchanged, |w| w.task.clone());
    Ok(EditOutcome { task, written })
}

/// Make `id` wait for `dep`; returns whether the edge is new.
fn add_dep(workset: &mut Workset<'_>, snapshot: &Snapshot, id: &TaskId, dep: &TaskId) -> Result<bool> {
    let task = workset.get(id)?;
    if task.deps.contains(dep) {
        return Ok(false);
    }
    if task.status() == Status::Epic {
        return Err(Error::EpicWithDeps { id: id.clone() });
    }
    workset.get(dep)?;
    if let Some(cycle) = snapshot.graph().cycle_if_added(id, dep) {
        return Err(Error::Cycle(cycle));
    }
    workset.get_mut(id)?.deps.insert(dep.clone());
    workset.note(id, format!("add dep {dep}"));
    Ok(true)
}

/// Move `id` into the epic `parent` (or out of any). Returns `Some(previous parent)` when the
/// parent changed, `None` when it already was `parent`.
fn set_parent(
    workset: &mut Workset<'_>,
    snapshot: Option<&Snapshot>,
    id: &TaskId,
    parent: Option<&TaskId>,
) -> Result<Option<Option<TaskId>>> {
    let old = workset.get(id)?.parent.clone();
    if old.as_ref() == parent {
        return Ok(None);
    }
    if let Some(new) = parent {
        let epic = workset.get(new)?;
        if !state::accepts_children(epic.status()) {
            return Err(Error::NotAnEpic {
                id: new.clone(),
                status: epic.status(),
            });
        }
        // Without a snapshot this is an undo, restoring an edge that was already there.
        if let Some(cycle) = snapshot.and_then(|snapshot| snapshot.graph().cycle_if_added(new, id)) {
            return Err(Error::Cycle(cycle));
        }
        workset.get_mut(new)?.children.insert(id.clone());
        workset.note(new, format!("add child {id}"));
    }
    if let Some(old) = &old {
        // The old epic may be unreadable or gone; the child is still moved out of it.
        if let Ok(epic) = workset.get_mut(old) {
            epic.children.remove(id);
            workset.note(old, format!("remove child {id}"));
        }
    }
    workset.get_mut(id)?.parent = parent.cloned();
    match parent {
        Some(parent) => workset.note(id, format!("parent {parent}")),
        None => workset.note(id, "no parent"),
    }
    if let Some(old) = &old {
        close_finished_epics(workset, Some(old.clone()))?;
    }
    Ok(Some(old))
}

/// A claimed task's status belongs to its holder: it changes through `done`, `fail` or
/// `release`, never behind the holder's back.
fn refuse_if_claimed(loom: &Loom, id: &TaskId) -> Result<()> {
    match loom.live_claim(id)? {
        None => Ok(()),
        Some((_, claim)) => Err(Error::Claimed {
            id: id.clone(),
            agent: claim.map(|c| c.agent).unwrap_or_else(|_| "an unreadable claim".into()),
        }),
    }
}

/// Move `id` to `to` through the state machine and close any epic that thereby finished.
pub(crate) fn change_status(workset: &mut Workset<'_>, id: &TaskId, to: Status) -> Result<Transition> {
    let task = workset.get(id)?.clone();
    let mut guards = Guards::default();
    if to == Status::Done {
        for dep in &task.deps {
            if workset.status_of(dep) != Some(Status::Done) {
                guards.open_deps.push(dep.clone());
            }
        }
        for child in &task.children {
            if workset.status_of(child).is_none_or(|s| !s.is_closed()) {
                guards.open_children.push(child.clone());
            }
        }
    }
    // Only a move the table allows can be a reopening (done is final and says so itself).
    if task.status() == Status::Cancelled
        && !to.is_closed()
        && let Some(epic) = &task.parent
        && workset.status_of(epic) == Some(Status::Done)
    {
        return Err(Error::EpicDone {
            id: id.clone(),
            epic: epic.clone(),
        });
    }
    let transition = state::transition(workset.get_mut(id)?, to, &guards)?;
    if let Transition::Moved { from, to } = transition {
        workset.note(id, format!("status {from} -> {to}"));
        if to.is_closed() {
            close_finished_epics(workset, task.parent)?;
        }
    }
    Ok(transition)
}

/// Send a done task whose work the merge engine refused (a conflict, failing tests) back to
/// `to` (`pending`, `failed` or `dead`); a task whose work landed stays done.
pub(crate) fn reopen_refused(workset: &mut Workset<'_>, id: &TaskId, to: Status) -> Result<Transition> {
    let guards = Guards {
        merge_refused: true,
        ..Guards::default()
    };
    let transition = state::transition(workset.get_mut(id)?, to, &guards)?;
    if let Transition::Moved { from, to } = transition {
        workset.note(id, format!("status {from} -> {to}"));
    }
    Ok(transition)
}

/// Walk up from `epic`, closing each epic whose children are now all closed.
fn close_finished_epics(workset: &mut Workset<'_>, mut epic: Option<TaskId>) -> Result<()> {
    // Parent chains are acyclic (every parent edit is cycle-checked), but bound the walk anyway
    // in case data written elsewhere is not.
    for _ in 0..1_000 {
        let Some(id) = epic else { return Ok(()) };
        let Ok(task) = workset.get(&id).cloned() else {
            return Ok(());
        };
        if task.status() != Status::Epic {
            return Ok(());
        }
        let children: Vec<Status> = task
            .children
            .iter()
            .map(|child| workset.status_of(child).unwrap_or(Status::Pending))
            .collect();
        if !state::epic_finished(children) {
            return Ok(());
        }
        state::transition(workset.get_mut(&id)?, Status::Done, &Guards::default())?;
        workset.note(&id, "status epic -> done (all children closed)");
        epic = task.parent;
    }
    Ok(())
}
