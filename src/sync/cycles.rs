//! Breaking dependency cycles that reconciling closed: one clone added x → y, another y → x,
//! and neither side alone had a cycle. Only tasks a round moves locally can be on such a cycle
//! (the local graph was acyclic, and pushes only send it), so only their edges are followed
//! and only the tasks those edges reach are read. Each cycle loses its greatest dependency edge
//! (by dependent id, then dependency id) in a new version of that task, the same on every
//! clone that sees the same graph.

use std::collections::{BTreeMap, BTreeSet};

use super::{Plan, Reconciler, Result, SyncReport, local_update, push_update, sync_message};
use crate::model::{Entity, Task, TaskId};
use crate::store::{self, Expected, ObjectId, Signature, Store};

impl Reconciler<'_> {
    /// Break every cycle through a task this round moves; see the module comment.
    pub(super) fn break_merged_cycles(
        &self,
        remote: &str,
        plan: &mut Plan,
        actor: &Signature,
        report: &mut SyncReport,
    ) -> Result<()> {
        let moved: BTreeMap<TaskId, ObjectId> = plan
            .local
            .iter()
            .filter_map(|update| Some((store::task_id_from_ref(&update.name)?, update.new?)))
            .collect();
        if moved.is_empty() {
            return Ok(());
        }
        let mut graph = FinalGraph {
            store: self.store,
            moved: &moved,
            tasks: BTreeMap::new(),
        };
        let mut dropped: BTreeMap<TaskId, BTreeSet<TaskId>> = BTreeMap::new();
        for start in moved.keys() {
            // Each pass removes one edge, so this ends; the bound only guards against surprises.
            for _ in 0..MAX_CYCLE_BREAKS {
                let Some(cycle) = graph.cycle_through(start)? else {
                    break;
                };
                let edge = cycle
                    .windows(2)
                    .map(|pair| (pair[0].clone(), pair[1].clone()))
                    .filter(|(from, to)| graph.has_dep(from, to))
                    .max();
                let Some((from, to)) = edge else { break };
                graph.drop_dep(&from, &to);
                dropped.entry(from.clone()).or_default().insert(to.clone());
                report.cycles_broken.push((from, to));
            }
        }
        let tasks = &graph.tasks;
        let mut tips: BTreeMap<TaskId, ObjectId> = BTreeMap::new();
        for id in dropped.keys() {
            let tip = match moved.get(id) {
                Some(tip) => Some(*tip),
                None => self.store.tip(&store::task_ref(id))?,
            };
            if let Some(tip) = tip {
                tips.insert(id.clone(), tip);
            }
        }
        let tasks: BTreeMap<TaskId, Task> = tasks
            .iter()
            .filter_map(|(id, task)| Some((id.clone(), task.clone()?)))
            .collect();
        for (id, deps) in dropped {
            let name = store::task_ref(&id);
            let (Some(task), Some(&parent)) = (tasks.get(&id), tips.get(&id)) else {
                continue;
            };
            let listed: Vec<&str> = deps.iter().map(TaskId::as_str).collect();
            let message = sync_message(
                format!(
                    "drop dependency on {} (it closed a cycle when histories were merged)",
                    listed.join(", ")
                ),
                &id,
                actor,
            );
            let commit = self
                .store
                .write_version(&[("task.json", &task.to_blob())], &[parent], &message, actor)?;
            // Replace this round's move of the ref (or add one) and what is pushed for it.
            let remote_expected = plan
                .push
                .iter()
                .find(|update| update.name == name)
                .map(|update| update.expected);
            let local_expected = match plan.local.iter().position(|update| update.name == name) {
                Some(at) => plan.local.remove(at).expected,
                None => Expected::Tip(parent),
            };
            plan.local.push(local_update(&name, local_expected, Some(commit)));
            plan.push.retain(|update| update.name != name);
            let remote_tip = self.store.tip(&store::tracking_ref(remote, &name))?;
            let expected = remote_expected.unwrap_or(remote_tip.map_or(Expected::Absent, Expected::Tip));
            plan.push.push(push_update(&name, expected, Some(commit)));
        }
        Ok(())
    }
}

/// How many dependency edges one sync may drop to break cycles through one task.
const MAX_CYCLE_BREAKS: usize = 1_000;

/// The task graph as it will be once a round's local moves land, read lazily.
struct FinalGraph<'a> {
    store: &'a Store,
    moved: &'a BTreeMap<TaskId, ObjectId>,
    /// Tasks read so far (`None`: missing or unreadable, so on no cycle).
    tasks: BTreeMap<TaskId, Option<Task>>,
}

impl FinalGraph<'_> {
    fn task(&mut self, id: &TaskId) -> Result<Option<&Task>> {
        if !self.tasks.contains_key(id) {
            let tip = match self.moved.get(id) {
                Some(tip) => Some(*tip),
                None => self.store.tip(&store::task_ref(id))?,
            };
            let task = tip.and_then(|tip| {
                self.store
                    .read_entity::<Task>(&store::task_ref(id), tip, Some(id))
                    .ok()
                    .map(|(task, _)| task)
            });
            self.tasks.insert(id.clone(), task);
        }
        Ok(self.tasks.get(id).and_then(Option::as_ref))
    }

    /// What `id` waits for: its dependencies and, for an epic, its children.
    fn waits_for(&mut self, id: &TaskId) -> Result<Vec<TaskId>> {
        Ok(self
            .task(id)?
            .map(|task| task.deps.iter().chain(&task.children).cloned().collect())
            .unwrap_or_default())
    }

    fn has_dep(&self, from: &TaskId, to: &TaskId) -> bool {
        self.tasks
            .get(from)
            .and_then(Option::as_ref)
            .is_some_and(|task| task.deps.contains(to))
    }

    fn drop_dep(&mut self, from: &TaskId, to: &TaskId) {
        if let Some(Some(task)) = self.tasks.get_mut(from) {
            task.deps.remove(to);
        }
    }

    /// A cycle through `start` (`start → … → start`), found by a depth-first walk from it.
    fn cycle_through(&mut self, start: &TaskId) -> Result<Option<Vec<TaskId>>> {
        let mut path = vec![start.clone()];
        let mut pending = vec![self.waits_for(start)?];
        let mut seen = BTreeSet::from([start.clone()]);
        while let Some(next) = pending.last_mut().and_then(Vec::pop) {
            if &next == start {
                path.push(next);
                return Ok(Some(path));
            }
            if seen.insert(next.clone()) {
                let onward = self.waits_for(&next)?;
                path.push(next);
                pending.push(onward);
            }
            while pending.last().is_some_and(Vec::is_empty) {
                pending.pop();
                path.pop();
            }
        }
        Ok(None)
    }
}
