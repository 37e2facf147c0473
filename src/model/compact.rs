//! A compact, binary-friendly form of [`Task`] for the local read cache.
//!
//! `task.json` is the stored truth; this form only exists so that a cache of every task can be
//! decoded in a few milliseconds (a binary format without field names, instead of parsing JSON).
//! It round-trips every field, including fields another git-loom version wrote (kept as JSON
//! text), so a task read from the cache is identical to one read from its ref.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::id::TaskId;
use super::task::{Priority, Status, Task};

/// [`Task`] with times as nanoseconds and free-form JSON as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactTask {
    schema: u32,
    id: TaskId,
    title: String,
    description: String,
    status: Status,
    priority: Priority,
    deps: Vec<TaskId>,
    parent: Option<TaskId>,
    children: Vec<TaskId>,
    labels: Vec<String>,
    acceptance: Vec<String>,
    files: Vec<String>,
    created_at: i128,
    updated_at: i128,
    lamport: u64,
    attempts: u32,
    retries: u32,
    retry_after: Option<i128>,
    max_retries: Option<u32>,
    output: Option<String>,
    branch: Option<String>,
    last_failure: Option<String>,
    /// The stage data and the unknown fields as one JSON object (see [`Task::flat_fields`]),
    /// empty when there are none.
    extra: String,
}

/// A cached record that no longer decodes into a task (the cache is then rebuilt).
#[derive(Debug, thiserror::Error)]
#[error("a cached task cannot be rebuilt: {0}")]
pub struct CompactError(String);

impl From<&Task> for CompactTask {
    fn from(task: &Task) -> Self {
        CompactTask {
            schema: task.schema,
            id: task.id.clone(),
            title: task.title.clone(),
            description: task.description.clone(),
            status: task.status,
            priority: task.priority,
            deps: task.deps.iter().cloned().collect(),
            parent: task.parent.clone(),
            children: task.children.iter().cloned().collect(),
            labels: task.labels.iter().cloned().collect(),
            acceptance: task.acceptance.clone(),
            files: task.files.clone(),
            created_at: task.created_at.as_nanosecond(),
            updated_at: task.updated_at.as_nanosecond(),
            lamport: task.lamport,
            attempts: task.attempts,
            retries: task.retries,
            retry_after: task.retry_after.map(Timestamp::as_nanosecond),
            max_retries: task.max_retries,
            output: task.output.as_ref().map(serde_json::Value::to_string),
            branch: task.branch.clone(),
            last_failure: task.last_failure.clone(),
            extra: {
                let fields = task.flat_fields();
                match fields.is_empty() {
                    true => String::new(),
                    false => serde_json::to_string(&fields).expect("JSON values serialize"),
                }
            },
        }
    }
}

impl TryFrom<CompactTask> for Task {
    type Error = CompactError;

    fn try_from(compact: CompactTask) -> Result<Self, Self::Error> {
        let time = |nanos: i128| Timestamp::from_nanosecond(nanos).map_err(|err| CompactError(err.to_string()));
        let json =
            |text: &str| serde_json::from_str::<serde_json::Value>(text).map_err(|err| CompactError(err.to_string()));
        let mut task = Task::new(
            compact.id,
            compact.title,
            compact.status,
            compact.priority,
            time(compact.created_at)?,
        );
        task.schema = compact.schema;
        task.description = compact.description;
        task.deps = compact.deps.into_iter().collect();
        task.parent = compact.parent;
        task.children = compact.children.into_iter().collect();
        task.labels = compact.labels.into_iter().collect();
        task.acceptance = compact.acceptance;
        task.files = compact.files;
        task.updated_at = time(compact.updated_at)?;
        task.lamport = compact.lamport;
        task.attempts = compact.attempts;
        task.retries = compact.retries;
        task.retry_after = compact.retry_after.map(time).transpose()?;
        task.max_retries = compact.max_retries;
        task.output = compact.output.as_deref().map(json).transpose()?;
        task.branch = compact.branch;
        task.last_failure = compact.last_failure;
        task.set_flat_fields(match compact.extra.is_empty() {
            true => BTreeMap::new(),
            false => serde_json::from_str(&compact.extra).map_err(|err| CompactError(err.to_string()))?,
        });
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;

    #[test]
    fn every_field_survives_the_compact_form() {
        let blob = serde_json::json!({
            "schema": 1, "id": "loom-0000abcd", "title": "t", "description": "d", "status": "failed",
            "priority": "p1", "deps": ["loom-00000001"], "parent": "loom-00000002",
            "children": [], "labels": ["x", "y"], "acceptance": ["cargo test"], "files": ["src/**"],
            "created_at": "2026-01-01T00:00:00.123456789Z", "updated_at": "2026-01-02T00:00:00Z",
            "lamport": 7, "attempts": 2, "retries": 1, "retry_after": "2026-01-03T00:00:00Z",
            "max_retries": 5, "output": {"a": [1, 2]}, "branch": "b", "last_failure": "boom",
            "future": {"kept": true}, "plan": "p", "stage": "s", "truths": "unreadable",
            "wiring": [{"source": "a", "pattern": "b"}]
        });
        let id = TaskId::parse("loom-0000abcd").unwrap();
        let task = Task::from_blob(&serde_json::to_vec(&blob).unwrap(), Some(&id)).unwrap();
        let bytes = postcard::to_stdvec(&CompactTask::from(&task)).unwrap();
        let back = Task::try_from(postcard::from_bytes::<CompactTask>(&bytes).unwrap()).unwrap();
        assert_eq!(back, task);
        assert_eq!(back.to_blob(), task.to_blob());
        assert_eq!(back.stage(), Some("s"));
        assert!(back.stage_data.truths.as_ref().unwrap().get().is_err());
        assert_eq!(back.extra.keys().collect::<Vec<_>>(), ["future"]);
    }
}
