//! Changing existing tasks: fields, dependencies, parents and statuses.
//!
//! Status changes go through the state machine, and their consequences land in the same
//! transaction: when a task closes, its epic closes too if that was its last open child (and so
//! on up the tree). Edits that add a waits-for edge (a dependency, a parent) read the whole graph
//! first and are refused, with the cycle, if they would close one.

use super::create::{check_label, check_title};
use super::snapshot::Snapshot;
use super::workset::{Workset, Written};
use super::{Actor, Error, Loom, Result, with_retries};
use crate::model::state::{self, Guards, Transition};
use crate::model::{Priority, Status, Task, TaskId};

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
        let title = changes.title.as_deref().map(check_title).transpose()?;
        let add_labels = changes
            .add_labels
            .iter()
            .map(|l| check_label(l))
            .collect::<Result<Vec<_>>>()?;
        with_retries(|| {
            let snapshot = changes.needs_graph().then(|| self.snapshot()).transpose()?;
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
            let rm_deps = changes.rm_deps.iter().map(|d| resolve(d)).collect::<Result<Vec<_>>>()?;
            let parent = match &changes.parent {
                None => None,
                Some(None) => Some(None),
                Some(Some(parent)) => Some(Some(resolve(parent)?)),
            };
            let mut workset = match &snapshot {
                Some(snapshot) => Workset::on(&self.store, snapshot),
                None => Workset::new(&self.store),
            };
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
                if !task.deps.remove(dep) {
                    return Err(Error::NotADependency {
                        id: id.clone(),
                        dep: dep.clone(),
                    });
                }
                notes.push(format!("remove dep {dep}"));
            }
            for note in notes {
                workset.note(&id, note);
            }
            if let Some(snapshot) = &snapshot {
                for dep in &add_deps {
                    add_dep(&mut workset, snapshot, &id, dep)?;
                }
            }
            if let Some(parent) = &parent {
                set_parent(&mut workset, snapshot.as_ref(), &id, parent.as_ref())?;
            }
            if let Some(status) = changes.status {
                change_status(&mut workset, &id, status)?;
            }
            finish(workset, &id, actor, "update")
        })
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
    }

    /// Cancel a task; with `cascade`, also every open task that waits on it and, for an epic,
    /// its children, all in one transaction.
    pub fn cancel(&self, input: &str, cascade: bool, actor: &Actor) -> Result<CancelOutcome> {
        with_retries(|| {
            let snapshot = self.snapshot()?;
            let id = snapshot.resolve(input)?;
            let mut workset = Workset::on(&self.store, &snapshot);
            change_status(&mut workset, &id, Status::Cancelled)?;
            let affected = snapshot.waiting_on(std::slice::from_ref(&id), cascade);
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
    }
}

/// Commit the workset and report the main task as it now stands.
fn finish(mut workset: Workset<'_>, id: &TaskId, actor: &Actor, op: &str) -> Result<EditOutcome> {
    let unchanged = workset.get(id)?.clone();
    let written = workset.commit(actor, op)?;
    let task = written
        .iter()
        .find(|w| &w.id == id)
        .map_or(unchanged, |w| w.task.clone());
    Ok(EditOutcome { task, written })
}

fn add_dep(workset: &mut Workset<'_>, snapshot: &Snapshot, id: &TaskId, dep: &TaskId) -> Result<()> {
    if workset.get(id)?.deps.contains(dep) {
        return Ok(());
    }
    workset.get(dep)?;
    if let Some(cycle) = snapshot.graph().cycle_if_added(id, dep) {
        return Err(Error::Cycle(cycle));
    }
    workset.get_mut(id)?.deps.insert(dep.clone());
    workset.note(id, format!("add dep {dep}"));
    Ok(())
}

fn set_parent(
    workset: &mut Workset<'_>,
    snapshot: Option<&Snapshot>,
    id: &TaskId,
    parent: Option<&TaskId>,
) -> Result<()> {
    let old = workset.get(id)?.parent.clone();
    if old.as_ref() == parent {
        return Ok(());
    }
    if let Some(new) = parent {
        let epic = workset.get(new)?;
        if !state::accepts_children(epic.status()) {
            return Err(Error::NotAnEpic {
                id: new.clone(),
                status: epic.status(),
            });
        }
        let snapshot = snapshot.expect("a parent edit loads a snapshot because it adds a waits-for edge");
        if let Some(cycle) = snapshot.graph().cycle_if_added(new, id) {
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
    if let Some(old) = old {
        close_finished_epics(workset, Some(old))?;
    }
    Ok(())
}

/// Move `id` to `to` through the state machine and close any epic that thereby finished.
fn change_status(workset: &mut Workset<'_>, id: &TaskId, to: Status) -> Result<Transition> {
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
    let transition = state::transition(workset.get_mut(id)?, to, &guards)?;
    if let Transition::Moved { from, to } = transition {
        workset.note(id, format!("status {from} -> {to}"));
        if to.is_closed() {
            close_finished_epics(workset, task.parent)?;
        }
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
