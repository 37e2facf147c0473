//! Reading one task or one claim from a version of its ref, for every reader in the core
//! (snapshots, the workset's base check, the caches, doctor). A record that cannot be read is
//! [`crate::store::Error::Corrupt`] naming its ref.

use jiff::Timestamp;

use super::Result;
use crate::model::{Claim, Task, TaskId};
use crate::store::{self, ObjectId, Store};

/// One task as read from its ref.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    pub task: Task,
    /// The commit the task's ref pointed at when it was read.
    pub tip: ObjectId,
    /// When that commit was written.
    pub changed_at: Timestamp,
    /// What that commit says happened.
    pub last_change: String,
    /// Who wrote that commit (its `Loom-Agent` trailer).
    pub last_agent: Option<String>,
}

/// Read one task at `tip` from its ref.
pub(crate) fn read_task(store: &Store, id: &TaskId, tip: ObjectId) -> Result<TaskEntry> {
    let (task, version) = store.read_entity::<Task>(&store::task_ref(id), tip, Some(id))?;
    Ok(TaskEntry {
        task,
        tip,
        changed_at: version.time,
        last_change: version.summary().to_owned(),
        last_agent: version.trailer("Loom-Agent").map(str::to_owned),
    })
}

/// Read the claim at `tip` from `refs/loom/claims/<id>`.
pub(crate) fn read_claim(store: &Store, id: &TaskId, tip: ObjectId) -> Result<Claim> {
    let (claim, _) = store.read_entity::<Claim>(&store::claim_ref(id), tip, Some(id))?;
    Ok(claim)
}
