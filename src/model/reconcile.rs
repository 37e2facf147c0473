//! The three-way merge of one task record: how two histories of the same task that diverged
//! (two clones edited it without seeing each other's writes) are reconciled. The `task.json` of
//! the commit that joins them is [`merge_tasks`] of the two tips against their merge base.
//!
//! A side *changed* a field when its value differs from the base's; without a base (both
//! histories created the same id) every field counts as changed by both sides. Field by field:
//!
//! - **One side changed it**, or both made the same change: that value.
//! - **Both changed it differently** (`id`, `title`, `description`, `priority`, `parent`,
//!   `acceptance`, `files`, `max_retries`, and each key stored beside them (a plan stage's
//!   data and fields this version does not know, see `Task::flat_fields`), where a key one side lacks
//!   counts as the value "absent"): the **clock rule**. The side with the higher `lamport`
//!   wins; equal clocks go to the greater agent name (byte order); equal clocks and agents go to
//!   the value whose JSON serialization is greater. Ordered lists (`acceptance`, `files`) are one
//!   value each: interleaving two edits of an ordered list has no meaning that can be trusted.
//! - **Sets** (`deps`, `children`, `labels`): the base, minus what either side removed, plus what
//!   either side added. An element one side removed and the other kept is gone.
//! - **`status`** both changed differently goes by precedence, highest first:
//!   `done` > `cancelled` > `dead` > `failed` > `epic` > `pending` > `idea`. Outcomes (something
//!   happened to the task) outrank plans. `done` is final in the state machine and records work
//!   achieved; `cancelled` is an explicit decision to stop; `dead` needs a person and is where
//!   `failed` leads, so a side that gave up is not silently retried; `failed` carries the news of
//!   a failure the other side never saw, and comes back `ready` on its own once its retry time
//!   passes. Among plans the one further along the state machine wins: `pending` may become an
//!   `epic` but not back, and an epic side may have given the task children whose `parent`
//!   (in their own refs) points here; `idea` is where every promotion starts.
//! - **Fields that travel with the status** (`retries`, `retry_after`, `last_failure`, `output`,
//!   `branch`) come all together from the side whose status won when the statuses conflict, so
//!   a `done` keeps its own output and branch and a `failed` its own reason, count and retry time.
//!   Otherwise each is merged on its own like any other field.
//! - **`attempts`** only ever grows, so both changed differently takes the larger count.
//! - **Bookkeeping**, never reported as a conflict: `lamport` is one more than the greater of
//!   the two (the merge is a write), `updated_at` the later and `created_at` the earlier of the
//!   two, `schema` the greater.
//!
//! Guarantees: the result depends only on the three records and the two agent names, never on
//! which side is passed as `ours` (the conflicts list then names the same fields, with the
//! winners swapped), so two clones that reconcile the same pair of histories write the same
//! blob. Merging a record with an identical one returns it with only `lamport` advanced. When one
//! side equals the base the result is the other side, apart from the bookkeeping fields.
//!
//! Each record is merged on its own: invariants that span tasks (an epic's `children` against its
//! children's `parent`, cycles through `deps`) or that the state machine checks on a move (an
//! epic takes no dependencies, a done task's dependencies are done) are for the caller to check
//! on the merged result.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::task::{Status, Task};

/// One side of a merge: its tip's record, and the agent that wrote that tip (which only breaks
/// ties between equal clocks, since the record does not name its writer).
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub task: &'a Task,
    pub agent: &'a str,
}

/// Which side's value a conflicting field took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    Ours,
    Theirs,
}

/// What decided a conflicting field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The side with the higher `lamport`.
    Lamport,
    /// Equal clocks: the side with the greater agent name.
    Agent,
    /// Equal clocks and agent names: the greater serialized value.
    Value,
    /// `status`: the higher precedence.
    StatusPrecedence,
    /// A field that travels with the status, taken from the side whose status won.
    FollowsStatus,
    /// `attempts`: the larger count.
    Larger,
}

/// A field both sides changed to different values, and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The field's name in `task.json` (for an unknown field, its key).
    pub field: String,
    pub winner: Winner,
    pub rule: Rule,
}

/// The merged record and what the merge had to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub task: Task,
    /// In `task.json` field order, the stage data and unknown fields last in key order.
    pub conflicts: Vec<Conflict>,
}

/// Merge two versions of a task against their merge base (`None` when the histories share
/// none). See the module documentation for the rules; `ours` and `theirs` are expected to hold
/// the same id (a differing id is merged like any other field).
pub fn merge_tasks(base: Option<&Task>, ours: Side<'_>, theirs: Side<'_>) -> Merged {
    let mut merger = Merger {
        base,
        ours,
        theirs,
        conflicts: Vec::new(),
    };
    let status_winner = merger.status_winner();
    let (o, t) = (ours.task, theirs.task);
    // Fields are evaluated in the order written, which is the `task.json` order the conflicts
    // list promises.
    let mut task = Task {
        schema: o.schema.max(t.schema),
        id: merger.scalar("id", |task| &task.id),
        title: merger.scalar("title", |task| &task.title),
        description: merger.scalar("description", |task| &task.description),
        status: merger.with_status(status_winner, "status", |task| &task.status),
        priority: merger.scalar("priority", |task| &task.priority),
        deps: merge_set(base.map(|b| &b.deps), &o.deps, &t.deps),
        parent: merger.scalar("parent", |task| &task.parent),
        children: merge_set(base.map(|b| &b.children), &o.children, &t.children),
        labels: merge_set(base.map(|b| &b.labels), &o.labels, &t.labels),
        acceptance: merger.scalar("acceptance", |task| &task.acceptance),
        files: merger.scalar("files", |task| &task.files),
        created_at: o.created_at.min(t.created_at),
        updated_at: o.updated_at.max(t.updated_at),
        // Saturating keeps the function total; a clock bumped once per write never gets there.
        lamport: o.lamport.max(t.lamport).saturating_add(1),
        attempts: merger.larger("attempts", |task| task.attempts),
        retries: merger.with_status(status_winner, "retries", |task| &task.retries),
        retry_after: merger.with_status(status_winner, "retry_after", |task| &task.retry_after),
        max_retries: merger.scalar("max_retries", |task| &task.max_retries),
        output: merger.with_status(status_winner, "output", |task| &task.output),
        branch: merger.with_status(status_winner, "branch", |task| &task.branch),
        last_failure: merger.with_status(status_winner, "last_failure", |task| &task.last_failure),
        stage_data: Box::default(),
        extra: BTreeMap::new(),
    };
    task.set_flat_fields(merger.flat_fields());
    Merged {
        task,
        conflicts: merger.conflicts,
    }
}

/// Rank in the status precedence (see the module documentation): the higher rank wins.
fn precedence(status: Status) -> u8 {
    match status {
        Status::Done => 6,
        Status::Cancelled => 5,
        Status::Dead => 4,
        Status::Failed => 3,
        Status::Epic => 2,
        Status::Pending => 1,
        Status::Idea => 0,
    }
}

/// The base, minus what either side removed, plus what either side added.
fn merge_set<T: Ord + Clone>(base: Option<&BTreeSet<T>>, ours: &BTreeSet<T>, theirs: &BTreeSet<T>) -> BTreeSet<T> {
    let in_base = |item: &T| base.is_some_and(|set| set.contains(item));
    ours.union(theirs)
        .filter(|item| (ours.contains(*item) && theirs.contains(*item)) || !in_base(item))
        .cloned()
        .collect()
}

/// The canonical text of a value, compared when nothing else separates two sides.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("a task field serializes because every field is plain data")
}

struct Merger<'a> {
    base: Option<&'a Task>,
    ours: Side<'a>,
    theirs: Side<'a>,
    conflicts: Vec<Conflict>,
}

impl Merger<'_> {
    fn report(&mut self, field: &str, winner: Winner, rule: Rule) {
        self.conflicts.push(Conflict {
            field: field.to_owned(),
            winner,
            rule,
        });
    }

    /// The side whose status wins when both sides moved the status to different places; `None`
    /// when they did not, and the fields travelling with it are merged one by one.
    fn status_winner(&self) -> Option<Winner> {
        let (ours, theirs) = (self.ours.task.status, self.theirs.task.status);
        let base = self.base.map(|task| task.status);
        if ours == theirs || base == Some(ours) || base == Some(theirs) {
            return None;
        }
        // Ranks are distinct, so differing statuses always order strictly.
        Some(if precedence(ours) > precedence(theirs) {
            Winner::Ours
        } else {
            Winner::Theirs
        })
    }

    /// A field of the status group: from the status winner when the statuses conflict, else
    /// merged on its own.
    fn with_status<T: Clone + PartialEq + Serialize>(
        &mut self,
        winner: Option<Winner>,
        field: &str,
        get: impl Fn(&Task) -> &T,
    ) -> T {
        let Some(winner) = winner else {
            return self.scalar(field, get);
        };
        let (won, lost) = match winner {
            Winner::Ours => (get(self.ours.task), get(self.theirs.task)),
            Winner::Theirs => (get(self.theirs.task), get(self.ours.task)),
        };
        // Only a change the losing side made and the result drops is worth reporting; a field
        // the loser left alone was not in conflict.
        if lost != won && self.base.map(&get) != Some(lost) {
            let rule = if field == "status" {
                Rule::StatusPrecedence
            } else {
                Rule::FollowsStatus
            };
            self.report(field, winner, rule);
        }
        won.clone()
    }

    fn scalar<T: Clone + PartialEq + Serialize>(&mut self, field: &str, get: impl Fn(&Task) -> &T) -> T {
        let base = self.base.map(&get);
        self.decide(field, base, get(self.ours.task), get(self.theirs.task))
            .clone()
    }

    /// One field by the clock rule: an unchanged side yields to a changed one, and two
    /// different changes go to the higher clock, then the greater agent, then the greater value.
    fn decide<'v, T: PartialEq + Serialize>(
        &mut self,
        field: &str,
        base: Option<&T>,
        ours: &'v T,
        theirs: &'v T,
    ) -> &'v T {
        if ours == theirs || base == Some(theirs) {
            return ours;
        }
        if base == Some(ours) {
            return theirs;
        }
        let (order, rule) = match self.ours.task.lamport.cmp(&self.theirs.task.lamport) {
            Ordering::Equal => match self.ours.agent.cmp(self.theirs.agent) {
                Ordering::Equal => (json(ours).cmp(&json(theirs)), Rule::Value),
                order => (order, Rule::Agent),
            },
            order => (order, Rule::Lamport),
        };
        // `Equal` here means two unequal values with the same JSON, which write the same blob, so
        // taking ours cannot make the stored result depend on the argument order.
        let winner = if order == Ordering::Less {
            Winner::Theirs
        } else {
            Winner::Ours
        };
        self.report(field, winner, rule);
        match winner {
            Winner::Ours => ours,
            Winner::Theirs => theirs,
        }
    }

    /// A count that only grows: two different changes keep the larger.
    fn larger(&mut self, field: &str, get: impl Fn(&Task) -> u32) -> u32 {
        let (ours, theirs) = (get(self.ours.task), get(self.theirs.task));
        let base = self.base.map(&get);
        if ours != theirs && base != Some(ours) && base != Some(theirs) {
            let winner = if ours > theirs { Winner::Ours } else { Winner::Theirs };
            self.report(field, winner, Rule::Larger);
            return ours.max(theirs);
        }
        if base == Some(ours) { theirs } else { ours }
    }

    /// The fields stored beside the task's own (the stage data and the unknown fields, see
    /// [`Task::flat_fields`]), key by key, with a missing key as a value of its own.
    fn flat_fields(&mut self) -> BTreeMap<String, serde_json::Value> {
        let (ours, theirs) = (&self.ours.task.flat_fields(), &self.theirs.task.flat_fields());
        let base = self.base.map(Task::flat_fields);
        let base = base.as_ref();
        let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
        let mut merged = BTreeMap::new();
        for key in keys {
            let (base_slot, ours_slot, theirs_slot) =
                (base.map(|map| slot(map, key)), slot(ours, key), slot(theirs, key));
            if let Some(value) = self.decide(key, base_slot.as_ref(), &ours_slot, &theirs_slot).first() {
                merged.insert(key.clone(), (*value).clone());
            }
        }
        merged
    }
}

/// An unknown field as zero or one values rather than an `Option`, so that a missing key and a
/// `null` one serialize differently for the tie-break.
fn slot<'m>(map: &'m BTreeMap<String, serde_json::Value>, key: &str) -> Vec<&'m serde_json::Value> {
    map.get(key).into_iter().collect()
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
