//! The task state machine: the one place that decides which status changes are legal, and the
//! one place that derives what a user sees (`ready`, `blocked`) from what is stored.
//!
//! Stored statuses and the moves between them:
//!
//! ```text
//! idea      → pending | epic | cancelled
//! pending   → done | failed | dead | cancelled | epic
//! epic      → done | cancelled
//! failed    → pending | dead | cancelled
//! dead      → pending | cancelled
//! cancelled → pending
//! done      → pending | failed | dead, only when its work did not land: the merge engine
//!             found a conflict or failing tests, and the work goes back to the agents
//! ```
//!
//! A pending task may become `done` only when all its dependencies are done; an epic only when
//! none of its children is still open. A task with dependencies cannot become an epic: an epic
//! waits only for its children. Asking for the status a task already has is not an
//! error and changes nothing.
//!
//! Starting is stricter than finishing under the `[merge] gate` setting: with gate `merged` a
//! task is `ready` only once the work of each done dependency is also merged into the target
//! ([`dependency_standing`] is that rule, in one place).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::id::TaskId;
use super::meta::Gate;
use super::task::{Priority, Status, Task};

/// The status a user sees: the stored status, with `pending` split into `ready` and `blocked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    Idea,
    Epic,
    Blocked,
    Ready,
    Claimed,
    Done,
    Failed,
    Dead,
    Cancelled,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Idea,
        View::Epic,
        View::Blocked,
        View::Ready,
        View::Claimed,
        View::Done,
        View::Failed,
        View::Dead,
        View::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            View::Idea => "idea",
            View::Epic => "epic",
            View::Blocked => "blocked",
            View::Ready => "ready",
            View::Claimed => "claimed",
            View::Done => "done",
            View::Failed => "failed",
            View::Dead => "dead",
            View::Cancelled => "cancelled",
        }
    }

    pub fn parse(input: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.as_str() == input)
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's derived state: what the user sees, and what it is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub view: View,
    /// Dependencies that are not met (see [`dependency_standing`]; unknown or unreadable ones
    /// included), in id order.
    pub blocked_by: Vec<TaskId>,
    /// Those of `blocked_by` that are done and wait only for their work to be merged into the
    /// target (gate `merged`), in id order.
    pub awaiting_merge: Vec<TaskId>,
}

/// Whether a claim on a task whose stored status is `status` counts. Only a pending task can
/// be held: a claim left on a task that has moved on (by a writer that died between its two
/// ref updates) is void, held by nobody, and swept. Every reader of claims judges them by this
/// rule alone.
pub fn claim_is_live(status: Status) -> bool {
    status == Status::Pending
}

/// What a dependent needs to know of one of its dependencies to judge whether it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepFacts {
    pub status: Status,
    /// Its work is on the target ([`Task::is_merged`]).
    pub merged: bool,
    /// It has a branch holding work ([`Task::branch`]); a task finished without one has
    /// nothing to merge.
    pub has_branch: bool,
}

impl DepFacts {
    pub fn of(task: &Task) -> DepFacts {
        DepFacts {
            status: task.status(),
            merged: task.is_merged(),
            has_branch: task.branch.is_some(),
        }
    }
}

/// How one dependency stands for a task that waits on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepStanding {
    /// The dependent may start as far as this dependency goes.
    Met,
    /// Not done (or unknown, or unreadable).
    Open,
    /// Done, but under gate `merged` its work is not on the target yet.
    AwaitingMerge,
}

/// The one rule for when a dependency lets its dependent start, under `gate`: it must be done;
/// under [`Gate::Merged`] its work must also be merged, unless it has no branch (no work to
/// merge, so waiting for one would block the dependent forever). `None` (a dependency that
/// does not exist or cannot be read) is never met.
///
/// Finishing is another matter: a task may become done once its dependencies are done
/// ([`transition`]); the gate only decides when work may start.
pub fn dependency_standing(dep: Option<DepFacts>, gate: Gate) -> DepStanding {
    match dep {
        Some(dep) if dep.status != Status::Done => DepStanding::Open,
        None => DepStanding::Open,
        Some(dep) if gate == Gate::Merged && dep.has_branch && !dep.merged => DepStanding::AwaitingMerge,
        Some(_) => DepStanding::Met,
    }
}

/// Whether `dep` lets its dependent start under `gate` (see [`dependency_standing`]).
pub fn dependency_met(dep: Option<DepFacts>, gate: Gate) -> bool {
    dependency_standing(dep, gate) == DepStanding::Met
}

/// Derive the user-visible state of `task` at `now` under `gate`, given what is known of any
/// task by id (`None` when the task does not exist or cannot be read: such a dependency never
/// counts as met) and whether a claim on it exists.
///
/// A pending task is `claimed` while a claim exists, else `ready` when every dependency is
/// met ([`dependency_standing`]), else `blocked`. A failed task whose retry time has passed is
/// `ready` again on the same terms.
pub fn derive(
    task: &Task,
    dep_of: impl Fn(&TaskId) -> Option<DepFacts>,
    gate: Gate,
    claimed: bool,
    now: Timestamp,
) -> Derived {
    let mut blocked_by = Vec::new();
    let mut awaiting_merge = Vec::new();
    for dep in &task.deps {
        match dependency_standing(dep_of(dep), gate) {
            DepStanding::Met => {}
            DepStanding::Open => blocked_by.push(dep.clone()),
            DepStanding::AwaitingMerge => {
                blocked_by.push(dep.clone());
                awaiting_merge.push(dep.clone());
            }
        }
    }
    let retry_due = task.retry_after.is_none_or(|at| at <= now);
    let view = match task.status {
        status if claimed && claim_is_live(status) => View::Claimed,
        Status::Pending if blocked_by.is_empty() => View::Ready,
        Status::Pending => View::Blocked,
        Status::Failed if blocked_by.is_empty() && retry_due => View::Ready,
        Status::Idea => View::Idea,
        Status::Epic => View::Epic,
        Status::Done => View::Done,
        Status::Failed => View::Failed,
        Status::Dead => View::Dead,
        Status::Cancelled => View::Cancelled,
    };
    Derived {
        view,
        blocked_by,
        awaiting_merge,
    }
}

/// How a new task starts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Task,
    Idea,
    Epic,
}

/// Build a new task in the initial status for its kind.
pub fn new_task(id: TaskId, title: String, kind: Kind, priority: Priority, now: Timestamp) -> Task {
    let status = match kind {
        Kind::Task => Status::Pending,
        Kind::Idea => Status::Idea,
        Kind::Epic => Status::Epic,
    };
    Task::new(id, title, status, priority, now)
}

/// A status change the state machine refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransitionError {
    #[error("cannot move {id} from {from} to {to}")]
    Illegal { id: TaskId, from: Status, to: Status },
    #[error("cannot move {id} from blocked to {to}: it waits on {}", join(.waiting_on))]
    Blocked {
        id: TaskId,
        to: Status,
        waiting_on: Vec<TaskId>,
    },
    #[error("cannot move epic {id} to done: {} still open", join(.open_children))]
    OpenChildren { id: TaskId, open_children: Vec<TaskId> },
    #[error("cannot make {id} an epic: it has dependencies, and an epic waits only for its children")]
    EpicWithDeps { id: TaskId },
}

fn join(ids: &[TaskId]) -> String {
    ids.iter().map(TaskId::as_str).collect::<Vec<_>>().join(", ")
}

/// What the guards of a transition need to know about the task's neighbours.
#[derive(Debug, Default, Clone)]
pub struct Guards {
    /// Dependencies that are not done.
    pub open_deps: Vec<TaskId>,
    /// Children (for an epic) that are neither done nor cancelled.
    pub open_children: Vec<TaskId>,
    /// The merge engine is sending a done task's work back (a conflict, failing tests).
    pub merge_refused: bool,
}

/// The outcome of a legal transition request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Unchanged,
    Moved { from: Status, to: Status },
}

fn is_allowed(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Idea, Pending | Epic | Cancelled)
            | (Pending, Done | Failed | Dead | Cancelled | Epic)
            | (Epic, Done | Cancelled)
            | (Failed, Pending | Dead | Cancelled)
            | (Dead, Pending | Cancelled)
            | (Cancelled, Pending)
    )
}

/// Move `task` to `to` if the state machine allows it; the only way a status changes.
pub fn transition(task: &mut Task, to: Status, guards: &Guards) -> Result<Transition, TransitionError> {
    let from = task.status;
    if from == to {
        return Ok(Transition::Unchanged);
    }
    let reopened = from == Status::Done
        && matches!(to, Status::Pending | Status::Failed | Status::Dead)
        && guards.merge_refused
        && !task.is_merged();
    if !is_allowed(from, to) && !reopened {
        return Err(TransitionError::Illegal {
            id: task.id.clone(),
            from,
            to,
        });
    }
    if from == Status::Pending && to == Status::Done && !guards.open_deps.is_empty() {
        return Err(TransitionError::Blocked {
            id: task.id.clone(),
            to,
            waiting_on: guards.open_deps.clone(),
        });
    }
    if to == Status::Epic && !task.deps.is_empty() {
        return Err(TransitionError::EpicWithDeps { id: task.id.clone() });
    }
    if from == Status::Epic && to == Status::Done && !guards.open_children.is_empty() {
        return Err(TransitionError::OpenChildren {
            id: task.id.clone(),
            open_children: guards.open_children.clone(),
        });
    }
    task.status = to;
    Ok(Transition::Moved { from, to })
}

/// Whether an epic whose children have these statuses has finished: every child is closed and
/// at least one of them is done (cancelled children do not hold an epic open, but an epic whose
/// work was all cancelled has not been achieved).
pub fn epic_finished(children: impl IntoIterator<Item = Status>) -> bool {
    let mut any_done = false;
    for status in children {
        match status {
            Status::Done => any_done = true,
            Status::Cancelled => {}
            _ => return false,
        }
    }
    any_done
}

/// Whether a task in this status may take new children.
pub fn accepts_children(status: Status) -> bool {
    status == Status::Epic
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dependency in `status` with a branch that is not merged.
    fn facts(status: Status) -> Option<DepFacts> {
        Some(DepFacts {
            status,
            merged: false,
            has_branch: true,
        })
    }

    fn task(status: Status) -> Task {
        let id = TaskId::parse("loom-00000001").unwrap();
        let mut task = new_task(id, "t".into(), Kind::Task, Priority::P2, Timestamp::UNIX_EPOCH);
        task.status = status;
        task
    }

    #[test]
    fn only_a_claim_on_a_pending_task_makes_it_claimed() {
        // Guards: a void claim (left on a task that moved on) showing the task as claimed.
        let now = Timestamp::UNIX_EPOCH;
        for status in Status::ALL {
            let view = derive(&task(status), |_| facts(Status::Done), Gate::Done, true, now).view;
            assert_eq!(view == View::Claimed, claim_is_live(status), "{status}");
        }
        assert!(claim_is_live(Status::Pending));
    }

    #[test]
    fn every_pair_follows_the_table() {
        let allowed: &[(Status, Status)] = &[
            (Status::Idea, Status::Pending),
            (Status::Idea, Status::Epic),
            (Status::Idea, Status::Cancelled),
            (Status::Pending, Status::Done),
            (Status::Pending, Status::Failed),
            (Status::Pending, Status::Dead),
            (Status::Pending, Status::Cancelled),
            (Status::Pending, Status::Epic),
            (Status::Epic, Status::Done),
            (Status::Epic, Status::Cancelled),
            (Status::Failed, Status::Pending),
            (Status::Failed, Status::Dead),
            (Status::Failed, Status::Cancelled),
            (Status::Dead, Status::Pending),
            (Status::Dead, Status::Cancelled),
            (Status::Cancelled, Status::Pending),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let mut t = task(from);
                let result = transition(&mut t, to, &Guards::default());
                if from == to {
                    assert_eq!(result, Ok(Transition::Unchanged));
                } else if allowed.contains(&(from, to)) {
                    assert_eq!(result, Ok(Transition::Moved { from, to }), "{from} -> {to}");
                    assert_eq!(t.status(), to);
                } else {
                    assert!(matches!(result, Err(TransitionError::Illegal { .. })), "{from} -> {to}");
                    assert_eq!(t.status(), from, "a refused move changes nothing");
                }
            }
        }
    }

    #[test]
    fn done_is_final_and_the_message_names_both_states() {
        let mut t = task(Status::Done);
        let err = transition(&mut t, Status::Pending, &Guards::default()).unwrap_err();
        assert_eq!(err.to_string(), "cannot move loom-00000001 from done to pending");
    }

    #[test]
    fn blocked_task_cannot_finish() {
        let mut t = task(Status::Pending);
        let dep = TaskId::parse("loom-00000002").unwrap();
        let guards = Guards {
            open_deps: vec![dep],
            ..Guards::default()
        };
        let err = transition(&mut t, Status::Done, &guards).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot move loom-00000001 from blocked to done: it waits on loom-00000002"
        );
        // Giving up on a blocked task is fine.
        assert!(transition(&mut t, Status::Cancelled, &guards).is_ok());
    }

    #[test]
    fn epic_with_open_children_cannot_finish() {
        let mut t = task(Status::Epic);
        let guards = Guards {
            open_children: vec![TaskId::parse("loom-00000003").unwrap()],
            ..Guards::default()
        };
        assert!(matches!(
            transition(&mut t, Status::Done, &guards),
            Err(TransitionError::OpenChildren { .. })
        ));
    }

    #[test]
    fn epic_finishes_when_children_are_closed_and_one_is_done() {
        assert!(epic_finished([Status::Done, Status::Cancelled]));
        assert!(!epic_finished([Status::Done, Status::Pending]));
        assert!(!epic_finished([Status::Cancelled]));
        assert!(!epic_finished([]));
    }

    #[test]
    fn derived_view_splits_pending() {
        let mut t = task(Status::Pending);
        let dep = TaskId::parse("loom-00000002").unwrap();
        t.deps.insert(dep.clone());
        let now = Timestamp::UNIX_EPOCH;
        let blocked = derive(&t, |_| facts(Status::Pending), Gate::Done, false, now);
        assert_eq!(blocked.view, View::Blocked);
        assert_eq!(blocked.blocked_by, vec![dep]);
        assert_eq!(
            derive(&t, |_| facts(Status::Done), Gate::Done, false, now).view,
            View::Ready
        );
        assert_eq!(
            derive(&t, |_| facts(Status::Done), Gate::Done, true, now).view,
            View::Claimed
        );
        assert_eq!(
            derive(&t, |_| None, Gate::Done, false, now).view,
            View::Blocked,
            "a missing dependency blocks"
        );
    }

    #[test]
    fn a_failed_task_is_ready_again_when_its_retry_time_has_passed() {
        let mut t = task(Status::Failed);
        let later = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(60);
        t.retry_after = Some(later);
        assert_eq!(
            derive(&t, |_| None, Gate::Done, false, Timestamp::UNIX_EPOCH).view,
            View::Failed
        );
        assert_eq!(derive(&t, |_| None, Gate::Done, false, later).view, View::Ready);
    }

    #[test]
    fn the_gate_decides_whether_done_work_must_also_be_merged() {
        // Guards: a dependent starting under gate `merged` before its dependency's work is on
        // the target, or one blocked forever by a dependency that has no work to merge.
        let made = |status, merged, has_branch| {
            Some(DepFacts {
                status,
                merged,
                has_branch,
            })
        };
        let cases = [
            // (dependency, gate, standing)
            (
                made(Status::Done, false, true),
                Gate::Merged,
                DepStanding::AwaitingMerge,
            ),
            (made(Status::Done, false, true), Gate::Done, DepStanding::Met),
            (made(Status::Done, true, true), Gate::Merged, DepStanding::Met),
            (made(Status::Done, true, true), Gate::Done, DepStanding::Met),
            (made(Status::Done, false, false), Gate::Merged, DepStanding::Met),
            (made(Status::Done, false, false), Gate::Done, DepStanding::Met),
            (made(Status::Pending, true, true), Gate::Merged, DepStanding::Open),
            (made(Status::Pending, false, false), Gate::Done, DepStanding::Open),
            (made(Status::Cancelled, false, false), Gate::Done, DepStanding::Open),
            (None, Gate::Merged, DepStanding::Open),
            (None, Gate::Done, DepStanding::Open),
        ];
        for (dep, gate, standing) in cases {
            assert_eq!(dependency_standing(dep, gate), standing, "{dep:?} under {gate:?}");
            assert_eq!(dependency_met(dep, gate), standing == DepStanding::Met);
        }
    }

    #[test]
    fn a_dependent_of_unmerged_work_is_blocked_under_gate_merged_and_says_so() {
        // Guards: `blocked_by` leaving out a dependency that waits only for its merge, or
        // `awaiting_merge` naming one that is not even done.
        let mut t = task(Status::Pending);
        let (done, open, merged) = (
            TaskId::parse("loom-00000002").unwrap(),
            TaskId::parse("loom-00000003").unwrap(),
            TaskId::parse("loom-00000004").unwrap(),
        );
        t.deps.extend([done.clone(), open.clone(), merged.clone()]);
        let dep_of = |id: &TaskId| match id.as_str() {
            "loom-00000002" => facts(Status::Done),
            "loom-00000003" => facts(Status::Pending),
            _ => Some(DepFacts {
                status: Status::Done,
                merged: true,
                has_branch: true,
            }),
        };
        let now = Timestamp::UNIX_EPOCH;
        let derived = derive(&t, dep_of, Gate::Merged, false, now);
        assert_eq!(derived.view, View::Blocked);
        assert_eq!(derived.blocked_by, vec![done.clone(), open.clone()]);
        assert_eq!(derived.awaiting_merge, vec![done.clone()]);
        let derived = derive(&t, dep_of, Gate::Done, false, now);
        assert_eq!((derived.blocked_by, derived.awaiting_merge), (vec![open], vec![]));

        t.deps.remove(&TaskId::parse("loom-00000003").unwrap());
        assert_eq!(derive(&t, dep_of, Gate::Merged, false, now).view, View::Blocked);
        assert_eq!(derive(&t, dep_of, Gate::Done, false, now).view, View::Ready);
        // A failed task due for a retry waits for the merge the same way.
        t.status = Status::Failed;
        assert_eq!(derive(&t, dep_of, Gate::Merged, false, now).view, View::Failed);
        assert_eq!(derive(&t, dep_of, Gate::Done, false, now).view, View::Ready);
    }
}
