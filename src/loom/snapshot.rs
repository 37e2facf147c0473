//! A consistent read of every task: the tips of `refs/loom/tasks/*` read once, each parsed.
//!
//! A task whose ref or blob cannot be read is set aside as a [`Problem`] naming its ref; every
//! other task is still there, so listing, ready order and the graph keep working around it.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;

use super::cache::tasks::TaskCache;
use super::read::{TaskEntry, read_claim, read_task};
use super::{Error, Loom, Result, resolve_among};
use crate::graph::TaskGraph;
use crate::model::state::{self, DepFacts, Derived};
use crate::model::{Claim, Gate, IdQuery, Status, Task, TaskId, View};
use crate::store::{self, ObjectId, RefTip};

/// A ref under `refs/loom/tasks/` that could not be read as a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub ref_name: String,
    pub problem: String,
}

impl From<store::Error> for Problem {
    fn from(err: store::Error) -> Self {
        match err {
            store::Error::Corrupt { ref_name, problem } => Problem { ref_name, problem },
            other => Problem {
                ref_name: store::TASKS_PREFIX.to_owned(),
                problem: other.to_string(),
            },
        }
    }
}

/// Every readable task, the claims that exist, and what could not be read, as of one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub tasks: BTreeMap<TaskId, TaskEntry>,
    /// The tip of every `refs/loom/claims/<id>`: a task with an entry here is claimed.
    pub claims: BTreeMap<TaskId, ObjectId>,
    pub problems: Vec<Problem>,
    /// The time the snapshot is judged at (retry times are compared with it).
    pub now: Timestamp,
    /// The `[merge] gate` tasks are judged under: whether a done dependency's work must also
    /// be merged before its dependents are ready.
    pub gate: Gate,
}

/// A ready task and how many open tasks wait on it.
#[derive(Debug, Clone)]
pub struct ReadyTask<'a> {
    pub entry: &'a TaskEntry,
    pub unblocks: usize,
}

/// Which tasks `list` shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only these statuses (as the user sees them); empty means the default set.
    pub statuses: Vec<View>,
    pub label: Option<String>,
    /// Include done, cancelled tasks and ideas when no status is named.
    pub all: bool,
}

impl Loom {
    /// Read every task and which are claimed, judged at `now`.
    pub fn snapshot(&self, now: Timestamp) -> Result<Snapshot> {
        let tasks = self.store.list(store::TASKS_PREFIX)?;
        let claims = self.store.list(store::CLAIMS_PREFIX)?;
        self.snapshot_of(tasks, claims, now)
    }

    /// Read every task from refs already listed: the task refs and the claim refs, each with
    /// the refs that could not be read.
    pub(crate) fn snapshot_of(
        &self,
        (tips, broken): (Vec<RefTip>, Vec<store::Error>),
        (claim_tips, broken_claims): (Vec<RefTip>, Vec<store::Error>),
        now: Timestamp,
    ) -> Result<Snapshot> {
        let mut snapshot = Snapshot {
            problems: broken.into_iter().chain(broken_claims).map(Problem::from).collect(),
            now,
            gate: self.settings().merge.gate(),
            ..Snapshot::default()
        };
        for tip in claim_tips {
            match store::claim_id_from_ref(&tip.name) {
                Some(id) => {
                    snapshot.claims.insert(id, tip.tip);
                }
                None => snapshot.problems.push(Problem {
                    ref_name: tip.name,
                    problem: "the ref name is not a task id".into(),
                }),
            }
        }
        // Entries for unchanged refs come from the cache; the rest are read and cached.
        let mut cache = TaskCache::load(&self.store.local_dir());
        let mut stale = false;
        // Refs come sorted by name, so ids arrive in order and the map is built in bulk.
        let mut tasks = Vec::with_capacity(tips.len());
        for tip in tips {
            let Some(id) = store::task_id_from_ref(&tip.name) else {
                snapshot.problems.push(Problem {
                    ref_name: tip.name,
                    problem: "the ref name is not a task id".into(),
                });
                continue;
            };
            if let Some(entry) = cache.take(&id, tip.tip) {
                tasks.push((id, entry));
                continue;
            }
            match read_task(&self.store, &id, tip.tip) {
                Ok(entry) => {
                    stale = true;
                    tasks.push((id, entry));
                }
                Err(Error::Store(err)) => snapshot.problems.push(Problem::from(err)),
                Err(other) => return Err(other),
            }
        }
        snapshot.tasks = tasks.into_iter().collect();
        if stale || cache.has_leftovers() {
            cache.store(&snapshot.tasks);
        }
        Ok(snapshot)
    }

    /// Read one task by what the user typed.
    pub fn task(&self, input: &str) -> Result<TaskEntry> {
        let id = self.resolve(input)?;
        let tip = self
            .store
            .tip(&store::task_ref(&id))?
            .ok_or_else(|| Error::UnknownTask {
                query: input.to_owned(),
            })?;
        read_task(&self.store, &id, tip)
    }

    /// The claim on a task, if one exists: its tip and, when readable, its record.
    pub fn claim_of(&self, id: &TaskId) -> Result<Option<(ObjectId, Result<Claim>)>> {
        Ok(self
            .store
            .tip(&store::claim_ref(id))?
            .map(|tip| (tip, read_claim(&self.store, id, tip))))
    }

    /// The claim on a task if it is live: a claim ref on a task that is no longer pending is
    /// void (left by a writer that died half-way) and does not count.
    pub fn live_claim(&self, id: &TaskId) -> Result<Option<(ObjectId, Result<Claim>)>> {
        let Some(claim) = self.claim_of(id)? else {
            return Ok(None);
        };
        let live = match self.store.tip(&store::task_ref(id))? {
            Some(tip) => state::claim_is_live(read_task(&self.store, id, tip)?.task.status()),
            None => false,
        };
        Ok(live.then_some(claim))
    }

    /// The claim on `task` (already read) if it is live, without reading the task again.
    pub fn live_claim_on(&self, task: &Task) -> Result<Option<(ObjectId, Result<Claim>)>> {
        match state::claim_is_live(task.status()) {
            true => self.claim_of(&task.id),
            false => Ok(None),
        }
    }

    /// Read the claim record a snapshot listed.
    pub fn read_claim(&self, id: &TaskId, tip: ObjectId) -> Result<Claim> {
        read_claim(&self.store, id, tip)
    }

    /// Derive what a user sees of one task at `now`, reading only its dependencies and claim.
    pub fn derive(&self, task: &Task, now: Timestamp) -> Result<Derived> {
        Ok(self.derive_noting(task, now)?.0)
    }

    /// [`Loom::derive`], plus the dependencies that could not be read (their ref is garbage,
    /// symbolic, or points at damaged objects): each counts as not done, and is named here.
    pub fn derive_noting(&self, task: &Task, now: Timestamp) -> Result<(Derived, Vec<Problem>)> {
        let mut facts = BTreeMap::new();
        let mut problems = Vec::new();
        for dep in &task.deps {
            let read = self
                .store
                .tip(&store::task_ref(dep))
                .map_err(Error::from)
                .and_then(|tip| tip.map(|tip| read_task(&self.store, dep, tip)).transpose());
            let dep_facts = match read {
                Ok(entry) => entry.map(|entry| DepFacts::of(&entry.task)),
                Err(Error::Store(store::Error::Corrupt { ref_name, problem })) => {
                    problems.push(Problem { ref_name, problem });
                    None
                }
                Err(err) => return Err(err),
            };
            facts.insert(dep.clone(), dep_facts);
        }
        let claimed = self.store.tip(&store::claim_ref(&task.id))?.is_some();
        let gate = self.settings().merge.gate();
        let derived = state::derive(task, |id| facts.get(id).copied().flatten(), gate, claimed, now);
        Ok((derived, problems))
    }
}

impl Snapshot {
    /// The stored status of a task, if it was readable.
    pub fn status_of(&self, id: &TaskId) -> Option<Status> {
        self.tasks.get(id).map(|entry| entry.task.status())
    }

    /// Whether the claim on `id` counts (see [`state::claim_is_live`]); `false` for a task
    /// this snapshot could not read.
    pub fn claim_is_live(&self, id: &TaskId) -> bool {
        self.status_of(id).is_some_and(state::claim_is_live)
    }

    /// Whether the claim on `id` is void: its task was read and has moved on. A claim on a
    /// task that is missing or unreadable is neither live nor void.
    pub fn claim_is_void(&self, id: &TaskId) -> bool {
        self.status_of(id).is_some_and(|status| !state::claim_is_live(status))
    }

    /// The claims that count: those on tasks that are pending, with their tips.
    pub fn live_claims(&self) -> impl Iterator<Item = (&TaskId, ObjectId)> {
        self.claims
            .iter()
            .filter(|(id, _)| self.claim_is_live(id))
            .map(|(id, tip)| (id, *tip))
    }

    /// What a user sees of `task`, judged against this snapshot.
    pub fn derive(&self, task: &Task) -> Derived {
        state::derive(
            task,
            |id| self.tasks.get(id).map(|entry| DepFacts::of(&entry.task)),
            self.gate,
            self.claims.contains_key(&task.id),
            self.now,
        )
    }

    /// Resolve user input against the tasks in this snapshot, unreadable ones included (so
    /// that using one reports what is wrong with it, not that it does not exist).
    ///
    /// A plan's stage id works wherever a task id does, and stage ids may look like hex
    /// (`facade`, `bc579`). So: input spelled `loom-` and hex digits is a task id only; other
    /// input that is the stage id of exactly one task names that task, unless it also names
    /// another task by its id (then it is an error naming both, so no command ever acts on a
    /// task the user did not mean); otherwise it is read as a task id or an abbreviation.
    pub fn resolve(&self, input: &str) -> Result<TaskId> {
        let query = IdQuery::parse(input);
        let unreadable = self
            .problems
            .iter()
            .filter_map(|problem| store::task_id_from_ref(&problem.ref_name));
        let all_ids = || self.tasks.keys().cloned().chain(unreadable.clone());
        let spelled_as_id = input.starts_with(crate::model::id::ID_PREFIX);
        let stage_tasks = match spelled_as_id && query.is_ok() {
            true => Vec::new(),
            false => self.tasks_of_stage(input).unwrap_or_default(),
        };
        if stage_tasks.is_empty() {
            return match query {
                Ok(query) => resolve_among(input, &query, all_ids()).map_err(|err| match err {
                    Error::UnknownTask { query } if !spelled_as_id => Error::UnknownName { query },
                    other => other,
                }),
                Err(crate::model::IdError::Invalid { reason, .. }) if crate::plan::check_stage_id(input).is_ok() => {
                    Err(Error::NotIdOrStage {
                        query: input.to_owned(),
                        reason,
                    })
                }
                Err(err) => Err(err.into()),
            };
        }
        let mut id_tasks: Vec<TaskId> = match &query {
            Ok(query) => all_ids()
                .filter(|id| query.matches(id) && !stage_tasks.contains(id))
                .collect(),
            Err(_) => Vec::new(),
        };
        if !id_tasks.is_empty() {
            id_tasks.sort();
            return Err(Error::StageOrTask {
                query: input.to_owned(),
                stage_tasks,
                id_tasks,
            });
        }
        match <[TaskId; 1]>::try_from(stage_tasks) {
            Ok([id]) => Ok(id),
            Err(candidates) => Err(Error::AmbiguousStage {
                query: input.to_owned(),
                candidates,
            }),
        }
    }

    /// The tasks imported from a plan stage with this id, if any. `PLAN:STAGE` names the
    /// stage of one plan, the plan by its key or its short name (as listings show it).
    pub fn tasks_of_stage(&self, stage: &str) -> Option<Vec<TaskId>> {
        let qualified = stage.rsplit_once(':');
        let found: Vec<TaskId> = self
            .tasks
            .values()
            .filter(|entry| {
                let (task_plan, task_stage) = (entry.task.plan(), entry.task.stage());
                match (qualified, task_plan) {
                    _ if task_stage == Some(stage) => true,
                    (Some((plan, wanted)), Some(key)) => {
                        task_stage == Some(wanted) && (key == plan || crate::plan::short_name(key) == plan)
                    }
                    _ => false,
                }
            })
            .map(|entry| entry.task.id.clone())
            .collect();
        (!found.is_empty()).then_some(found)
    }

    pub fn graph(&self) -> TaskGraph {
        TaskGraph::build(self.tasks.values().map(|entry| &entry.task))
    }

    /// Whether a task still needs work (so finishing what it waits on helps someone).
    fn is_open(&self, id: &TaskId) -> bool {
        self.status_of(id).is_some_and(|status| !status.is_closed())
    }

    /// Ready tasks, best first: priority, then how many open tasks wait on each
    /// (transitively), then age, then id.
    pub fn ready(&self) -> Vec<ReadyTask<'_>> {
        let ready: Vec<&TaskEntry> = self
            .tasks
            .values()
            .filter(|entry| self.derive(&entry.task).view == View::Ready)
            .collect();
        let graph = self.graph();
        let counts = graph.unblock_counts(ready.iter().map(|entry| &entry.task.id), |id| self.is_open(id));
        let mut ready: Vec<ReadyTask<'_>> = ready
            .into_iter()
            .map(|entry| ReadyTask {
                unblocks: counts.get(&entry.task.id).copied().unwrap_or(0),
                entry,
            })
            .collect();
        ready.sort_by(|a, b| {
            let (a_task, b_task) = (&a.entry.task, &b.entry.task);
            a_task
                .priority
                .cmp(&b_task.priority)
                .then(b.unblocks.cmp(&a.unblocks))
                .then(a_task.created_at.cmp(&b_task.created_at))
                .then(a_task.id.cmp(&b_task.id))
        });
        ready
    }

    /// The tasks `filter` selects, ordered by priority, then age, then id.
    pub fn list(&self, filter: &ListFilter) -> Vec<(&TaskEntry, Derived)> {
        let default_hidden = [View::Done, View::Cancelled, View::Idea];
        let mut rows: Vec<(&TaskEntry, Derived)> = self
            .tasks
            .values()
            .filter(|entry| {
                filter
                    .label
                    .as_ref()
                    .is_none_or(|label| entry.task.labels.contains(label))
            })
            .map(|entry| (entry, self.derive(&entry.task)))
            .filter(|(_, derived)| {
                if !filter.statuses.is_empty() {
                    filter.statuses.contains(&derived.view)
                } else {
                    filter.all || !default_hidden.contains(&derived.view)
                }
            })
            .collect();
        rows.sort_by(|(a, _), (b, _)| {
            (a.task.priority, a.task.created_at, &a.task.id).cmp(&(b.task.priority, b.task.created_at, &b.task.id))
        });
        rows
    }

    /// How many tasks a user sees in each status.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&'static str, usize> = View::ALL.iter().map(|v| (v.as_str(), 0)).collect();
        for entry in self.tasks.values() {
            *counts.entry(self.derive(&entry.task).view.as_str()).or_default() += 1;
        }
        counts
    }

    /// The `limit` most recently changed tasks, newest first.
    pub fn recent(&self, limit: usize) -> Vec<&TaskEntry> {
        let mut entries: Vec<&TaskEntry> = self.tasks.values().collect();
        entries.sort_by(|a, b| {
            (b.changed_at, b.task.updated_at)
                .cmp(&(a.changed_at, a.task.updated_at))
                .then(a.task.id.cmp(&b.task.id))
        });
        entries.truncate(limit);
        entries
    }

    /// Every open task that waits, directly or through other tasks, on any of `roots`; with
    /// `through_children`, an epic's children count as waiting on it too (used to cascade a
    /// cancellation into an epic's work).
    pub fn waiting_on(&self, roots: &[TaskId], through_children: bool) -> Vec<TaskId> {
        let mut dependents: BTreeMap<&TaskId, Vec<&TaskId>> = BTreeMap::new();
        for entry in self.tasks.values() {
            for dep in &entry.task.deps {
                dependents.entry(dep).or_default().push(&entry.task.id);
            }
            if through_children {
                for child in &entry.task.children {
                    dependents.entry(&entry.task.id).or_default().push(child);
                }
            }
        }
        let mut seen: HashSet<&TaskId> = roots.iter().collect();
        let mut queue: Vec<&TaskId> = roots.iter().collect();
        let mut found = Vec::new();
        while let Some(id) = queue.pop() {
            for &next in dependents.get(id).into_iter().flatten() {
                if seen.insert(next) && self.is_open(next) {
                    found.push(next.clone());
                    queue.push(next);
                }
            }
        }
        found.sort();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;
    use crate::model::state::{Kind, new_task};

    fn entry(id: &str, status: Status) -> (TaskId, TaskEntry) {
        let id = TaskId::parse(id).unwrap();
        let mut task = new_task(id.clone(), "t".into(), Kind::Task, Priority::P2, Timestamp::UNIX_EPOCH);
        if status != Status::Pending {
            state::transition(&mut task, status, &state::Guards::default()).unwrap();
        }
        let entry = TaskEntry {
            task,
            tip: ObjectId::null(gix::hash::Kind::Sha1),
            changed_at: Timestamp::UNIX_EPOCH,
            last_change: String::new(),
            last_agent: None,
        };
        (id, entry)
    }

    #[test]
    fn only_claims_on_pending_tasks_are_live() {
        // Guards: a void claim (on a done task) listed as held, or a claim on an unreadable
        // task taken for void and swept as such.
        let tip = ObjectId::null(gix::hash::Kind::Sha1);
        let (pending, done, missing) = (
            entry("loom-00000001", Status::Pending),
            entry("loom-00000002", Status::Done),
            TaskId::parse("loom-00000003").unwrap(),
        );
        let snapshot = Snapshot {
            claims: [(pending.0.clone(), tip), (done.0.clone(), tip), (missing.clone(), tip)].into(),
            tasks: [pending.clone(), done.clone()].into(),
            ..Snapshot::default()
        };
        let live: Vec<&TaskId> = snapshot.live_claims().map(|(id, _)| id).collect();
        assert_eq!(live, [&pending.0]);
        assert!(snapshot.claim_is_void(&done.0));
        assert!(!snapshot.claim_is_void(&missing) && !snapshot.claim_is_live(&missing));
        assert_eq!(snapshot.derive(&done.1.task).view, View::Done);
        assert_eq!(snapshot.derive(&pending.1.task).view, View::Claimed);
    }
}
