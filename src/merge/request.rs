//! Merge requests as use cases: queueing a finished task's branch (inside `done`'s own
//! transaction), reading the queue in the order the engine serves it, and the commands a
//! person uses on one request (`retry`, `drop`).
//!
//! Guarantees: a request is written only with the tip it replaces as the expected value, so
//! two writers never both win; the queue order is the task's priority, then the time it was
//! queued, then the task id, so a request never waits behind one queued after it at the same
//! priority; a damaged request is reported naming its ref, and the rest of the queue is read.

use crate::loom::workset::Workset;
use crate::loom::{Actor, Error, Loom, Result, with_retries};
use crate::model::{MergeRequest, MergeState, Priority, Task, TaskId};
use crate::store::{self, ObjectId, Store};

/// The work `done` asks to merge: a branch at a tip, to land on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRequest {
    pub branch: String,
    pub tip: ObjectId,
    pub target: String,
}

/// One merge request as read, with the version it was read at.
#[derive(Debug, Clone)]
pub struct MergeEntry {
    pub request: MergeRequest,
    pub tip: ObjectId,
    /// The task's priority when the queue was read (`None` when the task cannot be read).
    pub priority: Option<Priority>,
    /// The task's title, for people reading the queue.
    pub title: Option<String>,
}

/// The queue as read: every readable request, and the refs that could not be read.
#[derive(Debug, Default)]
pub struct Queue {
    pub entries: Vec<MergeEntry>,
    pub problems: Vec<store::Error>,
}

/// Queue (or queue again) the merge of `request` for `task` in `workset`'s transaction. A
/// request that already landed is left alone: the work is on the target.
pub(crate) fn queue_in(
    workset: &mut Workset<'_>,
    store: &Store,
    task: &TaskId,
    request: &QueueRequest,
    actor: &Actor,
) -> Result<()> {
    let name = store::merge_ref(task);
    let tip = store.tip(&name)?;
    let record = match tip {
        None => MergeRequest::new(
            task.clone(),
            request.branch.clone(),
            request.tip.to_string(),
            request.target.clone(),
            actor.now,
        ),
        Some(tip) => {
            let (mut existing, _) = store.read_entity::<MergeRequest>(&name, tip, Some(task))?;
            if existing.state == MergeState::Merged {
                return Ok(());
            }
            existing.requeue(
                request.branch.clone(),
                request.tip.to_string(),
                request.target.clone(),
                actor.now,
            )?;
            existing
        }
    };
    let summary = format!(
        "queued {} at {} for {}",
        request.branch,
        short(&request.tip.to_string()),
        request.target
    );
    workset.put_record(name, tip, &record, summary);
    Ok(())
}

/// The first 12 digits of a commit id, as people read them.
pub(crate) fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

impl Loom {
    /// Every merge request, in the order the engine serves them: open ones first by task
    /// priority, then by when they were queued; then the rest, newest change first.
    pub fn merge_queue(&self) -> Result<Queue> {
        let (tips, mut problems) = self.store.list(store::MERGES_PREFIX)?;
        let mut entries = Vec::with_capacity(tips.len());
        for tip in tips {
            let Some(id) = store::merge_id_from_ref(&tip.name) else {
                problems.push(store::Error::Corrupt {
                    ref_name: tip.name.clone(),
                    problem: "is not named after a task id".into(),
                });
                continue;
            };
            match self.store.read_entity::<MergeRequest>(&tip.name, tip.tip, Some(&id)) {
                Ok((request, _)) => {
                    let task = self.task_if_readable(&id);
                    entries.push(MergeEntry {
                        request,
                        tip: tip.tip,
                        priority: task.as_ref().map(|task| task.priority),
                        title: task.map(|task| task.title),
                    });
                }
                Err(err) => problems.push(err),
            }
        }
        entries.sort_by_key(queue_order);
        Ok(Queue { entries, problems })
    }

    /// The merge request of the task `input` names.
    pub fn merge_request(&self, input: &str) -> Result<MergeEntry> {
        let id = self.resolve(input)?;
        let name = store::merge_ref(&id);
        let tip = self.store.tip(&name)?.ok_or(Error::NoMergeRequest { id: id.clone() })?;
        let (request, _) = self.store.read_entity::<MergeRequest>(&name, tip, Some(&id))?;
        let task = self.task_if_readable(&id);
        Ok(MergeEntry {
            request,
            tip,
            priority: task.as_ref().map(|task| task.priority),
            title: task.map(|task| task.title),
        })
    }

    /// Put a request that conflicted, failed or was dropped back in the queue, at the back of
    /// its priority. The branch tip it merges stays the one `done` recorded, unless the branch
    /// has moved on since (the agent fixed the work), when the new tip is taken.
    pub fn merge_retry(&self, input: &str, actor: &Actor) -> Result<MergeRequest> {
        let id = self.resolve(input)?;
        self.change_request(&id, actor, "retry", |request, store| {
            let tip = store
                .repo()
                .branch_tip(&request.branch)?
                .map(|tip| tip.to_string())
                .unwrap_or_else(|| request.tip.clone());
            let (branch, target) = (request.branch.clone(), request.target.clone());
            if request.state.is_open() {
                return Ok(None);
            }
            request.requeue(branch, tip.clone(), target, actor.now)?;
            Ok(Some(format!("queued again at {}", short(&tip))))
        })
    }

    /// Take a request out of the queue; `retry` puts it back.
    pub fn merge_drop(&self, input: &str, reason: Option<&str>, actor: &Actor) -> Result<MergeRequest> {
        let id = self.resolve(input)?;
        self.change_request(&id, actor, "drop", |request, _| {
            if request.state == MergeState::Dropped {
                return Ok(None);
            }
            // Testing: an engine is on it; dropping it from under a run would be undone by the
            // run's own record, so it must be asked of a queued (or finished) request.
            if request.state == MergeState::Testing {
                request.move_to(MergeState::Queued, actor.now)?;
            }
            request.move_to(MergeState::Dropped, actor.now)?;
            request.note = reason.map(str::to_owned);
            Ok(Some(match reason {
                Some(reason) => format!("dropped by {}: {reason}", actor.agent),
                None => format!("dropped by {}", actor.agent),
            }))
        })
    }

    /// Read the request of `id`, let `edit` change it (returning its history note, or `None`
    /// when nothing changes), and write it with compare-and-swap, retrying a lost race.
    fn change_request(
        &self,
        id: &TaskId,
        actor: &Actor,
        op: &str,
        edit: impl Fn(&mut MergeRequest, &Store) -> Result<Option<String>>,
    ) -> Result<MergeRequest> {
        let name = store::merge_ref(id);
        with_retries(|| {
            let tip = self.store.tip(&name)?.ok_or(Error::NoMergeRequest { id: id.clone() })?;
            let (mut request, _) = self.store.read_entity::<MergeRequest>(&name, tip, Some(id))?;
            let Some(note) = edit(&mut request, &self.store)? else {
                return Ok(request);
            };
            let mut workset = Workset::new(&self.store);
            workset.put_record(name.clone(), Some(tip), &request, note);
            workset.commit(actor, op)?;
            Ok(request)
        })
    }

    /// The task `id` as stored, or `None` when it cannot be read (the queue still lists its
    /// request).
    pub(crate) fn task_if_readable(&self, id: &TaskId) -> Option<Task> {
        let tip = self.store.tip(&store::task_ref(id)).ok()??;
        crate::loom::read::read_task(&self.store, id, tip)
            .ok()
            .map(|entry| entry.task)
    }
}

/// Open requests first, by priority then age; the rest after, newest change first.
fn queue_order(entry: &MergeEntry) -> (bool, Priority, i128, std::cmp::Reverse<i128>, TaskId) {
    let request = &entry.request;
    let open = request.state.is_open();
    (
        !open,
        match open {
            true => entry.priority.unwrap_or(Priority::P3),
            false => Priority::P0,
        },
        match open {
            true => request.queued_at.as_nanosecond(),
            false => 0,
        },
        std::cmp::Reverse(match open {
            true => 0,
            false => request.updated_at.as_nanosecond(),
        }),
        request.task.clone(),
    )
}
