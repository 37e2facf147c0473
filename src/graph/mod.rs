//! Dependency analysis over a set of tasks, with petgraph.
//!
//! The graph is a *waits-for* graph: an edge `a → b` means `a` cannot finish before `b`. A task
//! waits for each of its dependencies, and an epic waits for each of its children (it is done
//! when they are). A cycle in this graph is a deadlock, so every edit that adds an edge is
//! checked here first, and the cycle is reported as the path that closes it.
//!
//! The same graph orders ready work: a task that more open tasks wait on (transitively) unblocks
//! more when it is done, and is preferred among tasks of equal priority.

pub mod export;

use std::collections::HashMap;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{Task, TaskId};

/// How many sources [`TaskGraph::unblock_counts`] handles per pass over the graph.
const SOURCES_PER_PASS: usize = 1024;

/// Why one task waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// The waiting task lists the other in `deps`.
    Dep,
    /// The waiting task is an epic and the other is one of its children.
    Child,
}

impl std::fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EdgeKind::Dep => "dep",
            EdgeKind::Child => "child",
        })
    }
}

/// A waits-for graph over the tasks it was built from.
pub struct TaskGraph {
    graph: DiGraph<TaskId, EdgeKind>,
    index: HashMap<TaskId, NodeIndex>,
}

/// A dependency cycle, as the ids along it with the first repeated at the end
/// (`a → b → a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<TaskId>);

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.0.iter().map(TaskId::as_str).collect();
        f.write_str(&ids.join(" → "))
    }
}

impl TaskGraph {
    /// Build the graph. Edges to tasks that are not in `tasks` (unknown or unreadable) are left
    /// out: they cannot be part of a cycle among the tasks we know.
    pub fn build<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Self {
        let tasks: Vec<&Task> = tasks.into_iter().collect();
        let mut graph = DiGraph::with_capacity(tasks.len(), tasks.len());
        let mut index = HashMap::with_capacity(tasks.len());
        for task in &tasks {
            index.insert(task.id.clone(), graph.add_node(task.id.clone()));
        }
        for task in &tasks {
            let waiter = index[&task.id];
            let awaited = task
                .deps
                .iter()
                .map(|dep| (dep, EdgeKind::Dep))
                .chain(task.children.iter().map(|child| (child, EdgeKind::Child)));
            for (other, kind) in awaited {
                if let Some(&other) = index.get(other) {
                    graph.add_edge(waiter, other, kind);
                }
            }
        }
        TaskGraph { graph, index }
    }

    /// The cycle that making `waiter` wait for `awaited` would close, if any.
    pub fn cycle_if_added(&self, waiter: &TaskId, awaited: &TaskId) -> Option<Cycle> {
        if waiter == awaited {
            return Some(Cycle(vec![waiter.clone(), waiter.clone()]));
        }
        let (&from, &to) = (self.index.get(awaited)?, self.index.get(waiter)?);
        let (_, path) = petgraph::algo::astar(&self.graph, from, |n| n == to, |_| 1usize, |_| 0)?;
        let mut ids = vec![waiter.clone()];
        ids.extend(path.into_iter().map(|n| self.graph[n].clone()));
        Some(Cycle(ids))
    }

    /// A cycle already present in the graph, if any (possible only in data written outside
    /// git-loom, or merged from diverged histories).
    pub fn find_cycle(&self) -> Option<Cycle> {
        let cycle = petgraph::algo::toposort(&self.graph, None).err()?;
        let start = cycle.node_id();
        let start_id = &self.graph[start];
        self.graph
            .neighbors(start)
            .find_map(|next| self.cycle_if_added(start_id, &self.graph[next]))
    }

    /// For each of `sources`, how many distinct open tasks wait on it, directly or through
    /// other open tasks: the work its completion moves closer to starting. Closed tasks neither
    /// count nor pass the wait on (a task blocked behind a cancelled one gains nothing).
    ///
    /// Computed in one pass over the graph in dependency order, carrying for each task the set
    /// of sources it waits on as a bitset, in chunks of [`SOURCES_PER_PASS`] sources: time
    /// grows with (tasks + edges) × sources / 64, memory with tasks × chunk size / 64.
    pub fn unblock_counts<'a>(
        &self,
        sources: impl IntoIterator<Item = &'a TaskId>,
        is_open: impl Fn(&TaskId) -> bool,
    ) -> HashMap<TaskId, usize> {
        let sources: Vec<&TaskId> = sources.into_iter().collect();
        let mut counts: HashMap<TaskId, usize> = sources.iter().map(|id| ((*id).clone(), 0)).collect();
        let open: Vec<bool> = self.graph.node_indices().map(|n| is_open(&self.graph[n])).collect();
        let Ok(order) = petgraph::algo::toposort(&self.graph, None) else {
            // A cycle (only possible in data written outside git-loom): nothing to rank by.
            return counts;
        };
        let known: Vec<(&TaskId, NodeIndex)> = sources
            .iter()
            .filter_map(|id| self.index.get(*id).map(|&n| (*id, n)))
            .collect();
        for chunk in known.chunks(SOURCES_PER_PASS) {
            let words = chunk.len().div_ceil(64);
            let mut bits = vec![0u64; self.graph.node_count() * words];
            for (i, &(_, node)) in chunk.iter().enumerate() {
                bits[node.index() * words + i / 64] |= 1 << (i % 64);
            }
            // Toposort lists waiters before what they wait for; walk it backwards so every
            // awaited task's set is final before a waiter takes it over.
            for &node in order.iter().rev() {
                if !open[node.index()] {
                    continue;
                }
                let base = node.index() * words;
                for awaited in self.graph.neighbors_directed(node, Direction::Outgoing) {
                    if !open[awaited.index()] {
                        continue;
                    }
                    let from = awaited.index() * words;
                    for w in 0..words {
                        bits[base + w] |= bits[from + w];
                    }
                }
            }
            let mut chunk_counts = vec![0usize; chunk.len()];
            for node in self.graph.node_indices() {
                if !open[node.index()] {
                    continue;
                }
                for w in 0..words {
                    let mut word = bits[node.index() * words + w];
                    while word != 0 {
                        let i = w * 64 + word.trailing_zeros() as usize;
                        word &= word - 1;
                        if chunk[i].1 != node {
                            chunk_counts[i] += 1;
                        }
                    }
                }
            }
            for (&(id, _), count) in chunk.iter().zip(chunk_counts) {
                counts.insert(id.clone(), count);
            }
        }
        counts
    }

    /// The longest chain of open tasks, each waiting for the next: the order in which the
    /// remaining work must at least happen, from the task that finishes last to the one that
    /// must start first. Empty when nothing is open or the graph has a cycle.
    pub fn critical_path(&self, is_open: impl Fn(&TaskId) -> bool) -> Vec<TaskId> {
        let Ok(order) = petgraph::algo::toposort(&self.graph, None) else {
            return Vec::new();
        };
        // Toposort puts every waiter before what it waits for; walking it backwards settles each
        // awaited task before any task that waits for it.
        let mut length: HashMap<NodeIndex, (usize, Option<NodeIndex>)> = HashMap::new();
        for &node in order.iter().rev() {
            if !is_open(&self.graph[node]) {
                continue;
            }
            let best = self
                .graph
                .neighbors_directed(node, Direction::Outgoing)
                .filter_map(|next| length.get(&next).map(|&(len, _)| (len, next)))
                .max_by(|a, b| a.0.cmp(&b.0).then_with(|| self.graph[b.1].cmp(&self.graph[a.1])));
            let entry = match best {
                Some((len, next)) => (len + 1, Some(next)),
                None => (1, None),
            };
            length.insert(node, entry);
        }
        let Some((&head, _)) = length
            .iter()
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| self.graph[*b.0].cmp(&self.graph[*a.0])))
        else {
            return Vec::new();
        };
        let mut path = vec![self.graph[head].clone()];
        let mut cursor = length[&head].1;
        while let Some(node) = cursor {
            path.push(self.graph[node].clone());
            cursor = length[&node].1;
        }
        path
    }

    /// Every task after everything it waits for (ties broken by the order tasks were given);
    /// `None` when the graph has a cycle.
    pub fn work_order(&self) -> Option<Vec<TaskId>> {
        let order = petgraph::algo::toposort(&self.graph, None).ok()?;
        Some(order.into_iter().rev().map(|n| self.graph[n].clone()).collect())
    }

    /// Every edge as `(waiter, awaited, kind)`, in a deterministic order.
    pub fn edges(&self) -> Vec<(TaskId, TaskId, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .edge_indices()
            .map(|edge| {
                let (from, to) = self
                    .graph
                    .edge_endpoints(edge)
                    .expect("an edge index from this graph has endpoints because edges are never removed");
                (self.graph[from].clone(), self.graph[to].clone(), self.graph[edge])
            })
            .collect();
        edges.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        edges
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;
    use crate::model::state::{Kind, new_task};
    use jiff::Timestamp;

    fn id(n: u32) -> TaskId {
        TaskId::parse(&format!("loom-{n:08x}")).unwrap()
    }

    fn task(n: u32, deps: &[u32]) -> Task {
        let mut t = new_task(id(n), format!("t{n}"), Kind::Task, Priority::P2, Timestamp::UNIX_EPOCH);
        t.deps = deps.iter().map(|d| id(*d)).collect();
        t
    }

    #[test]
    fn adding_a_back_edge_reports_the_cycle() {
        // 3 waits for 2 waits for 1.
        let tasks = [task(1, &[]), task(2, &[1]), task(3, &[2])];
        let graph = TaskGraph::build(&tasks);
        let cycle = graph.cycle_if_added(&id(1), &id(3)).unwrap();
        assert_eq!(
            cycle.to_string(),
            "loom-00000001 → loom-00000003 → loom-00000002 → loom-00000001"
        );
        assert_eq!(graph.cycle_if_added(&id(3), &id(1)), None);
        assert_eq!(graph.cycle_if_added(&id(2), &id(2)).unwrap().0.len(), 2);
    }

    #[test]
    fn epics_wait_for_their_children() {
        let mut epic = task(10, &[]);
        epic.children.insert(id(1));
        let tasks = [epic, task(1, &[])];
        let graph = TaskGraph::build(&tasks);
        // A child may not depend on its own epic.
        assert!(graph.cycle_if_added(&id(1), &id(10)).is_some());
    }

    #[test]
    fn unblock_counts_are_transitive_and_skip_closed_tasks() {
        // 2 and 3 wait for 1; 4 waits for 3 and 2; 5 waits for 4 but is closed; 6 waits for 5.
        let tasks = [
            task(1, &[]),
            task(2, &[1]),
            task(3, &[1]),
            task(4, &[3, 2]),
            task(5, &[4]),
            task(6, &[5]),
            task(7, &[]),
        ];
        let graph = TaskGraph::build(&tasks);
        let counts = graph.unblock_counts([&id(1), &id(3), &id(7)], |t| *t != id(5));
        assert_eq!(counts[&id(1)], 3, "2, 3 and 4, each once");
        assert_eq!(counts[&id(3)], 1);
        assert_eq!(counts[&id(7)], 0);
    }

    #[test]
    fn unblock_counts_agree_with_a_plain_search_on_many_sources() {
        // More sources than one pass holds, each with a private chain of waiters.
        let n = (SOURCES_PER_PASS + 10) as u32;
        let mut tasks = Vec::new();
        for i in 0..n {
            tasks.push(task(i, &[]));
            tasks.push(task(100_000 + i, &[i]));
            tasks.push(task(200_000 + i, &[100_000 + i, 0]));
        }
        let graph = TaskGraph::build(&tasks);
        let sources: Vec<TaskId> = (0..n).map(id).collect();
        let counts = graph.unblock_counts(&sources, |_| true);
        assert_eq!(
            counts[&id(0)],
            2 + (n as usize - 1),
            "its own chain plus every third task"
        );
        assert_eq!(counts[&id(n - 1)], 2);
    }

    #[test]
    fn critical_path_is_the_longest_open_chain() {
        let tasks = [task(1, &[]), task(2, &[1]), task(3, &[2]), task(4, &[1])];
        let graph = TaskGraph::build(&tasks);
        assert_eq!(graph.critical_path(|_| true), vec![id(3), id(2), id(1)]);
        assert_eq!(graph.critical_path(|t| *t != id(3)), vec![id(2), id(1)]);
    }

    #[test]
    fn existing_cycles_are_found() {
        let tasks = [task(1, &[2]), task(2, &[1])];
        let cycle = TaskGraph::build(&tasks).find_cycle().unwrap();
        assert_eq!(cycle.0.first(), cycle.0.last());
        assert_eq!(cycle.0.len(), 3);
    }
}
