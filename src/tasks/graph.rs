//! The dependency graph as `graph` shows it: which tasks are in it, in what order, their
//! edges, the critical path and any cycle, all judged against one snapshot.
//!
//! Without `all`, ideas and cancelled tasks are left out (with their edges); nodes come in
//! work order (what to do first, first), or in id order when a cycle leaves no such order.
//! The critical path is the longest chain of open tasks, listed first to last.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::graph::export::Node;
use crate::graph::{Cycle, EdgeKind};
use crate::loom::{Loom, Result, Snapshot, TaskEntry};
use crate::model::{Derived, TaskId, View};

/// The graph of the tasks a snapshot holds.
#[derive(Debug, Clone)]
pub struct GraphView {
    /// The snapshot the graph was judged against, holding only the tasks shown.
    pub snapshot: Snapshot,
    /// What a user sees of every task shown.
    pub derived: BTreeMap<TaskId, Derived>,
    /// The tasks shown, in work order (id order when there is a cycle).
    pub order: Vec<TaskId>,
    /// Every edge `(waiter, awaited, kind)` between tasks shown.
    pub edges: Vec<(TaskId, TaskId, EdgeKind)>,
    /// The longest chain of open tasks, first to last.
    pub critical_path: Vec<TaskId>,
    pub cycle: Option<Cycle>,
}

impl Loom {
    /// The graph of every task at `now`; with `all`, ideas and cancelled tasks too.
    pub fn graph_view(&self, now: Timestamp, all: bool) -> Result<GraphView> {
        Ok(GraphView::of(self.snapshot(now)?, all))
    }
}

impl GraphView {
    /// The graph of `snapshot`'s tasks; with `all`, ideas and cancelled tasks too.
    pub fn of(mut snapshot: Snapshot, all: bool) -> GraphView {
        // Judged before filtering: a task's view depends on the tasks it waits on, shown or not.
        let mut derived: BTreeMap<TaskId, Derived> = snapshot
            .tasks
            .values()
            .map(|entry| (entry.task.id.clone(), snapshot.derive(&entry.task)))
            .collect();
        if !all {
            derived.retain(|_, derived| !matches!(derived.view, View::Idea | View::Cancelled));
            snapshot.tasks.retain(|id, _| derived.contains_key(id));
        }
        let graph = snapshot.graph();
        let is_open = |id: &TaskId| snapshot.status_of(id).is_some_and(|s| !s.is_closed());
        let mut critical_path = graph.critical_path(is_open);
        critical_path.reverse();
        let order = match graph.work_order() {
            Some(order) => order.into_iter().filter(|id| snapshot.tasks.contains_key(id)).collect(),
            None => snapshot.tasks.keys().cloned().collect(),
        };
        GraphView {
            edges: graph.edges(),
            cycle: graph.find_cycle(),
            critical_path,
            order,
            derived,
            snapshot,
        }
    }

    /// The tasks shown, in [`GraphView::order`], each with what a user sees of it.
    pub fn rows(&self) -> Vec<(&TaskEntry, &Derived)> {
        self.order
            .iter()
            .filter_map(|id| Some((self.snapshot.tasks.get(id)?, self.derived.get(id)?)))
            .collect()
    }

    /// The tasks shown as export nodes, in order.
    pub fn nodes(&self) -> Vec<Node> {
        self.rows()
            .iter()
            .map(|(entry, derived)| Node {
                id: entry.task.id.clone(),
                title: entry.task.title.clone(),
                view: derived.view,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::{Kind, new_task};
    use crate::model::{Priority, Task};
    use crate::store::ObjectId;

    fn entry(task: Task) -> (TaskId, TaskEntry) {
        let entry = TaskEntry {
            task,
            tip: ObjectId::null(gix::hash::Kind::Sha1),
            changed_at: Timestamp::UNIX_EPOCH,
            last_change: String::new(),
            last_agent: None,
        };
        (entry.task.id.clone(), entry)
    }

    #[test]
    fn ideas_are_left_out_unless_all_and_the_critical_path_runs_first_to_last() {
        // Guards: the graph's filtering and critical path living only in the CLI, out of
        // reach of any other front end.
        let id = |n: &str| TaskId::parse(&format!("loom-0000000{n}")).unwrap();
        let at = Timestamp::UNIX_EPOCH;
        let first = new_task(id("1"), "first".into(), Kind::Task, Priority::P2, at);
        let mut second = new_task(id("2"), "second".into(), Kind::Task, Priority::P2, at);
        second.deps = [id("1")].into();
        let idea = new_task(id("3"), "idea".into(), Kind::Idea, Priority::P2, at);
        let snapshot = Snapshot {
            tasks: [entry(first), entry(second), entry(idea)].into(),
            ..Snapshot::default()
        };
        let view = GraphView::of(snapshot.clone(), false);
        assert_eq!(view.order, [id("1"), id("2")]);
        assert_eq!(view.critical_path, [id("1"), id("2")]);
        assert_eq!(view.edges, [(id("2"), id("1"), EdgeKind::Dep)]);
        assert!(view.cycle.is_none());
        let views: Vec<View> = view.rows().iter().map(|(_, derived)| derived.view).collect();
        assert_eq!(views, [View::Ready, View::Blocked]);
        let all = GraphView::of(snapshot, true);
        assert_eq!(all.rows().len(), 3);
        assert_eq!(all.nodes().len(), 3);
    }
}
