//! Creating tasks, ideas and epics.
//!
//! A new task is written with a create-only ref update. When it names a parent epic, the epic's
//! list of children changes in the same transaction, so neither half can land without the other.
//! Creation reads the whole graph only when the task has both a parent and dependencies: a task
//! nobody waits on yet cannot close a cycle, unless its epic starts waiting on it.

use std::collections::BTreeSet;

use super::edit::AddedEdge;
use crate::graph::Cycle;
use crate::loom::workset::Workset;
use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::state::{self, Kind};
use crate::model::{Priority, Task, TaskId};
use crate::store;

/// Everything a new task can start with. Ids are as the user typed them.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    pub kind: Kind,
    /// `None` takes the repository's default priority.
    pub priority: Option<Priority>,
    pub deps: Vec<String>,
    pub parent: Option<String>,
    pub labels: Vec<String>,
    pub acceptance: Vec<String>,
    pub files: Vec<String>,
    /// Failures allowed before the task is dead; the repository's `retry.limit` when `None`.
    pub max_retries: Option<u32>,
}

impl NewTask {
    pub fn titled(title: impl Into<String>, kind: Kind) -> Self {
        NewTask {
            title: title.into(),
            description: String::new(),
            kind,
            priority: None,
            deps: Vec::new(),
            parent: None,
            labels: Vec::new(),
            acceptance: Vec::new(),
            files: Vec::new(),
            max_retries: None,
        }
    }
}

/// How many fresh ids to draw before concluding something is wrong with the id space.
const MAX_ID_DRAWS: usize = 16;

impl Loom {
    /// Create a task and return it as written.
    pub fn create(&self, new: &NewTask, actor: &Actor) -> Result<Task> {
        let title = crate::model::task::clean_title(&new.title)?;
        if new.kind == Kind::Epic && !new.deps.is_empty() {
            return Err(Error::Invalid(
                "an epic waits for its children, so it cannot have dependencies; give them to its children".into(),
            ));
        }
        let labels = new
            .labels
            .iter()
            .map(|label| crate::model::task::clean_label(label))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let deps = new
            .deps
            .iter()
            .map(|dep| self.resolve(dep))
            .collect::<Result<BTreeSet<_>>>()?;
        let parent = new.parent.as_deref().map(|parent| self.resolve(parent)).transpose()?;
        let acceptance: Vec<String> = new.acceptance.iter().map(|c| c.trim().to_owned()).collect();
        if acceptance.iter().any(String::is_empty) {
            return Err(Error::Invalid("an acceptance command must not be empty".into()));
        }
        let priority = new.priority.unwrap_or(self.settings().tasks.default_priority);

        let (task, added) = with_retries(|| {
            // With both a parent and dependencies, the epic waits (through the new task) on each
            // dependency: one that already waits on the epic would close a cycle.
            let snapshot = match (&parent, deps.is_empty()) {
                (Some(_), false) => Some(self.snapshot(actor.now)?),
                _ => None,
            };
            let id = self.fresh_id(&title, actor)?;
            if let (Some(snapshot), Some(parent)) = (&snapshot, &parent) {
                let graph = snapshot.graph();
                if let Some(Cycle(mut path)) = deps.iter().find_map(|dep| graph.cycle_if_added(parent, dep)) {
                    path.insert(1, id.clone());
                    return Err(Error::Cycle(Cycle(path)));
                }
            }
            let mut task = state::new_task(id.clone(), title.clone(), new.kind, priority, actor.now);
            task.description = new.description.clone();
            task.deps = deps.clone();
            task.labels = labels.clone();
            task.acceptance = acceptance.clone();
            task.files = new.files.clone();
            task.max_retries = new.max_retries;
            task.parent = parent.clone();

            let mut workset = Workset::new(&self.store);
            for dep in &deps {
                workset.get(dep)?;
            }
            if let Some(parent) = &parent {
                let epic = workset.get_mut(parent)?;
                if !state::accepts_children(epic.status()) {
                    return Err(Error::NotAnEpic {
                        id: parent.clone(),
                        status: epic.status(),
                    });
                }
                epic.children.insert(id.clone());
                workset.note(parent, format!("add child {id}"));
            }
            let kind = match new.kind {
                Kind::Task => "task",
                Kind::Idea => "idea",
                Kind::Epic => "epic",
            };
            workset.insert_new(task.clone(), format!("create {kind} {title:?}"));
            workset.commit(actor, "create")?;
            let mut added: Vec<AddedEdge> = Vec::new();
            if let Some(parent) = &parent
                && !deps.is_empty()
            {
                added.extend(deps.iter().cloned().map(AddedEdge::Dep));
                added.push(AddedEdge::Parent {
                    new: parent.clone(),
                    old: None,
                });
            }
            Ok((task, added))
        })?;
        if !added.is_empty() {
            self.verify_no_cycle(&task.id, &added, actor)?;
        }
        Ok(task)
    }

    /// Draw an id no task has yet. The create-only ref update still guards the moment between
    /// this check and the write.
    pub(crate) fn fresh_id(&self, title: &str, actor: &Actor) -> Result<TaskId> {
        let nanos = actor.now.as_nanosecond();
        for _ in 0..MAX_ID_DRAWS {
            let nonce = getrandom::u64().map_err(|err| Error::Internal(format!("cannot draw a random id: {err}")))?;
            let id = TaskId::generate(title, nanos, nonce);
            if self.store.tip(&store::task_ref(&id))?.is_none() {
                return Ok(id);
            }
        }
        Err(Error::Internal(format!(
            "could not find a free task id in {MAX_ID_DRAWS} draws"
        )))
    }
}
