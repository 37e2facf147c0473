//! The task record stored as `task.json` in each `refs/loom/tasks/<id>` commit.
//!
//! What a plan stage gave the task is typed, in [`Task::stage_data`]; fields this version does
//! not know are kept in [`Task::extra`]. Both are written back unchanged, in key order after the
//! task's own fields, so a task written by a newer git-loom of the same schema loses nothing
//! when an older one edits it. The status field is private to the model: only the state machine (`model::state`) moves
//! it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::id::TaskId;
use super::stage::StageData;

/// The version of the task blob layout this build reads and writes.
pub const TASK_SCHEMA: u32 = 1;

/// Urgency, `p0` (most urgent) to `p3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P0, Priority::P1, Priority::P2, Priority::P3];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P0 => "p0",
            Priority::P1 => "p1",
            Priority::P2 => "p2",
            Priority::P3 => "p3",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority or status name that is not one of the known values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown {kind} {input:?} (expected one of: {expected})")]
pub struct UnknownName {
    pub kind: &'static str,
    pub input: String,
    pub expected: &'static str,
}

impl FromStr for Priority {
    type Err = UnknownName;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == input)
            .ok_or_else(|| UnknownName {
                kind: "priority",
                input: input.to_owned(),
                expected: "p0, p1, p2, p3",
            })
    }
}

/// The status stored in a task blob. `ready`, `blocked` and `claimed` are never stored: they
/// are derived when a task is viewed (see [`super::state::View`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Idea,
    Pending,
    Epic,
    Done,
    Failed,
    Dead,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Idea,
        Status::Pending,
        Status::Epic,
        Status::Done,
        Status::Failed,
        Status::Dead,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idea => "idea",
            Status::Pending => "pending",
            Status::Epic => "epic",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Dead => "dead",
            Status::Cancelled => "cancelled",
        }
    }

    /// Finished for good (until someone explicitly reopens it): nothing waits on it any more
    /// and it is hidden from default listings.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Done | Status::Cancelled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownName;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str() == input)
            .ok_or_else(|| UnknownName {
                kind: "status",
                input: input.to_owned(),
                expected: "idea, pending, epic, done, failed, dead, cancelled",
            })
    }
}

/// Where a task's work landed, once the merge engine merged its branch into the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedInto {
    /// The target commit that holds the work (the tested candidate).
    pub commit: String,
    pub target: String,
    pub at: Timestamp,
}

/// The field of `task.json` recording [`MergedInto`].
const MERGED_FIELD: &str = "merged";

/// One task, exactly as stored in `task.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Task {
    pub schema: u32,
    pub id: TaskId,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub(in crate::model) status: Status,
    pub priority: Priority,
    /// Tasks that must be done before this one can start.
    #[serde(default)]
    pub deps: BTreeSet<TaskId>,
    /// The epic this task belongs to.
    #[serde(default)]
    pub parent: Option<TaskId>,
    /// For an epic: the tasks that belong to it. Kept on the epic (and written in the same
    /// transaction as each child's `parent`) so closing an epic reads only its children, never
    /// the whole graph.
    #[serde(default)]
    pub children: BTreeSet<TaskId>,
    #[serde(default)]
    pub labels: BTreeSet<String>,
    /// Shell commands that must succeed for the task's work to be accepted.
    #[serde(default)]
    pub acceptance: Vec<String>,
    /// Globs of the files this task is expected to touch.
    #[serde(default)]
    pub files: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Incremented on every write; orders concurrent edits when histories are reconciled.
    #[serde(default)]
    pub lamport: u64,
    /// How many times the task has been claimed (expired and released claims included).
    #[serde(default)]
    pub attempts: u32,
    /// How many times the task has failed since it was last reset.
    #[serde(default)]
    pub retries: u32,
    /// A failed task is not retried before this time.
    #[serde(default)]
    pub retry_after: Option<Timestamp>,
    /// Overrides the repository's retry limit for this task.
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// What the agent that finished (or failed) the task reported: JSON, or text as a string.
    #[serde(default)]
    pub output: Option<serde_json::Value>,
    /// The branch holding the task's work.
    #[serde(default)]
    pub branch: Option<String>,
    /// Why the task last failed.
    #[serde(default)]
    pub last_failure: Option<String>,
    /// What the plan stage the task was imported from gave it (all `None` for other tasks).
    #[serde(flatten)]
    /// Boxed: it is large, and most tasks (those not imported from a plan) leave it empty, so
    /// a task stays cheap to move, clone and cache by the thousand.
    pub stage_data: Box<StageData>,
    /// Fields this version does not know (written by another version of git-loom), kept
    /// verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Written by hand so the stage data and the unknown fields come out as one list in key order
/// after the task's own fields, as they were stored when both were kept as unknown fields: the
/// bytes of `task.json` do not depend on which fields this version knows.
impl Serialize for Task {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Destructured in full, so a new field cannot be forgotten here.
        let Task {
            schema,
            id,
            title,
            description,
            status,
            priority,
            deps,
            parent,
            children,
            labels,
            acceptance,
            files,
            created_at,
            updated_at,
            lamport,
            attempts,
            retries,
            retry_after,
            max_retries,
            output,
            branch,
            last_failure,
            stage_data: _,
            extra: _,
        } = self;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schema", schema)?;
        map.serialize_entry("id", id)?;
        map.serialize_entry("title", title)?;
        map.serialize_entry("description", description)?;
        map.serialize_entry("status", status)?;
        map.serialize_entry("priority", priority)?;
        map.serialize_entry("deps", deps)?;
        map.serialize_entry("parent", parent)?;
        map.serialize_entry("children", children)?;
        map.serialize_entry("labels", labels)?;
        map.serialize_entry("acceptance", acceptance)?;
        map.serialize_entry("files", files)?;
        map.serialize_entry("created_at", created_at)?;
        map.serialize_entry("updated_at", updated_at)?;
        map.serialize_entry("lamport", lamport)?;
        map.serialize_entry("attempts", attempts)?;
        map.serialize_entry("retries", retries)?;
        map.serialize_entry("retry_after", retry_after)?;
        map.serialize_entry("max_retries", max_retries)?;
        map.serialize_entry("output", output)?;
        map.serialize_entry("branch", branch)?;
        map.serialize_entry("last_failure", last_failure)?;
        for (key, value) in self.flat_fields() {
            map.serialize_entry(&key, &value)?;
        }
        map.end()
    }
}

impl Task {
    /// The stage's execution hints stored on the task, if it has readable ones.
    pub fn stage_hints(&self) -> Option<super::StageHints> {
        self.stage_data.hints.as_ref()?.ok().cloned()
    }

    /// The key of the plan the task was imported from (`plan` in `task.json`).
    pub fn plan(&self) -> Option<&str> {
        Some(self.stage_data.plan.as_ref()?.ok()?.as_str())
    }

    /// The id of the plan stage the task was imported from (`stage` in `task.json`).
    pub fn stage(&self) -> Option<&str> {
        Some(self.stage_data.stage.as_ref()?.ok()?.as_str())
    }

    /// Every field stored beside the task's own, in key order: the stage data and the fields
    /// this version does not know. Codecs and the merge handle them as one map, so they treat a
    /// stage field exactly as they treat an unknown one.
    pub fn flat_fields(&self) -> BTreeMap<String, serde_json::Value> {
        if self.stage_data.is_empty() {
            return self.extra.clone();
        }
        let mut fields: BTreeMap<String, serde_json::Value> = self.stage_data.to_map().into_iter().collect();
        fields.extend(self.extra.iter().map(|(key, value)| (key.clone(), value.clone())));
        fields
    }

    /// Replace the fields stored beside the task's own (see [`Task::flat_fields`]).
    pub fn set_flat_fields(&mut self, fields: BTreeMap<String, serde_json::Value>) {
        if fields.is_empty() {
            (self.stage_data, self.extra) = (Box::default(), BTreeMap::new());
            return;
        }
        let (stage_data, extra) = StageData::split(fields.into_iter().collect());
        (self.stage_data, self.extra) = (Box::new(stage_data), extra);
    }

    /// A new task in its initial status. `initial` must be `Idea`, `Pending` or `Epic`; the
    /// state machine checks that via [`super::state::initial_status`].
    pub(in crate::model) fn new(id: TaskId, title: String, status: Status, priority: Priority, now: Timestamp) -> Self {
        Task {
            schema: TASK_SCHEMA,
            id,
            title,
            description: String::new(),
            status,
            priority,
            deps: BTreeSet::new(),
            parent: None,
            children: BTreeSet::new(),
            labels: BTreeSet::new(),
            acceptance: Vec::new(),
            files: Vec::new(),
            created_at: now,
            updated_at: now,
            lamport: 1,
            attempts: 0,
            retries: 0,
            retry_after: None,
            max_retries: None,
            output: None,
            branch: None,
            last_failure: None,
            stage_data: Box::default(),
            extra: BTreeMap::new(),
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Record that the task is being rewritten at `now`.
    /// Where the task's work landed, once merged (see [`MergedInto`]).
    pub fn merged(&self) -> Option<MergedInto> {
        self.extra
            .get(MERGED_FIELD)
            .and_then(|value| serde_json::from_value(value.clone()).ok())
    }

    /// Whether the task's work is on its target: cheaper than [`Task::merged`] for the many
    /// readers that only ask.
    pub fn is_merged(&self) -> bool {
        self.extra.contains_key(MERGED_FIELD)
    }

    /// Record where the task's work landed.
    pub fn set_merged(&mut self, merged: &MergedInto) {
        let value = serde_json::to_value(merged).expect("a merge record serializes because it is plain data");
        self.extra.insert(MERGED_FIELD.to_owned(), value);
    }

    pub fn touch(&mut self, now: Timestamp) {
        self.updated_at = now.max(self.updated_at);
        self.lamport += 1;
    }
}

/// A title or label a task cannot have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("a task title must not be empty")]
    EmptyTitle,
    #[error("a task title must be one line without control characters")]
    UnreadableTitle,
    #[error("invalid label {0:?}: a label is one word without spaces or commas")]
    Label(String),
}

/// The title as stored: trimmed, and refused when it would corrupt a one-line summary or be
/// unreadable.
pub fn clean_title(title: &str) -> Result<String, FieldError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(FieldError::EmptyTitle);
    }
    if super::title_problem(title).is_some() {
        return Err(FieldError::UnreadableTitle);
    }
    Ok(title.to_owned())
}

/// The label as stored: trimmed, one word without spaces or commas.
pub fn clean_label(label: &str) -> Result<String, FieldError> {
    let label = label.trim();
    if label.is_empty() || label.chars().any(|c| c.is_control() || c.is_whitespace() || c == ',') {
        return Err(FieldError::Label(label.to_owned()));
    }
    Ok(label.to_owned())
}

impl super::Entity for Task {
    const FILE: &'static str = "task.json";
    const SCHEMA: u32 = TASK_SCHEMA;

    fn owner(&self) -> Option<&TaskId> {
        Some(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlobError, Entity};

    fn sample() -> Task {
        let id = TaskId::parse("loom-0000abcd").unwrap();
        let mut task = Task::new(id, "Title".into(), Status::Pending, Priority::P1, Timestamp::UNIX_EPOCH);
        task.labels.insert("x".into());
        task
    }

    #[test]
    fn blob_round_trip_keeps_unknown_fields() {
        let task = sample();
        let mut value: serde_json::Value = serde_json::from_slice(&task.to_blob()).unwrap();
        value["future_field"] = serde_json::json!({"a": 1});
        let bytes = serde_json::to_vec(&value).unwrap();
        let read = Task::from_blob(&bytes, Some(&task.id)).unwrap();
        assert_eq!(read.extra["future_field"], serde_json::json!({"a": 1}));
        let again: serde_json::Value = serde_json::from_slice(&read.to_blob()).unwrap();
        assert_eq!(again, value);
    }

    #[test]
    fn a_stored_task_with_stage_fields_of_any_shape_is_written_back_unchanged() {
        // Guards: typed stage fields normalising (or dropping) what an earlier version or a
        // person stored, so rewriting a task (a claim, an edit) changed or lost its checks.
        let stored = include_bytes!("../../fixtures/plans/stored/hand-written.task.json");
        let id = TaskId::parse("loom-0000abcd").unwrap();
        let task = Task::from_blob(stored, Some(&id)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&task.to_blob()),
            String::from_utf8_lossy(stored)
        );
        assert_eq!(task.plan(), Some("hand"));
        assert_eq!(task.stage(), Some("by-hand"));
        let cached = crate::model::compact::CompactTask::from(&task);
        let back = Task::try_from(
            postcard::from_bytes::<crate::model::compact::CompactTask>(&postcard::to_stdvec(&cached).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(back, task);
        assert_eq!(back.to_blob(), stored.to_vec());
    }

    #[test]
    fn newer_schema_is_refused() {
        let task = sample();
        let mut value: serde_json::Value = serde_json::from_slice(&task.to_blob()).unwrap();
        value["schema"] = serde_json::json!(TASK_SCHEMA + 1);
        let err = Task::from_blob(&serde_json::to_vec(&value).unwrap(), Some(&task.id)).unwrap_err();
        assert!(matches!(err, BlobError::NewerSchema { .. }));
    }

    #[test]
    fn blob_must_name_its_own_ref() {
        let task = sample();
        let other = TaskId::parse("loom-ffffffff").unwrap();
        assert!(matches!(
            Task::from_blob(&task.to_blob(), Some(&other)),
            Err(BlobError::WrongOwner { .. })
        ));
    }

    #[test]
    fn names_parse() {
        assert_eq!("p0".parse::<Priority>(), Ok(Priority::P0));
        assert!("p4".parse::<Priority>().is_err());
        assert_eq!("dead".parse::<Status>(), Ok(Status::Dead));
        assert!("ready".parse::<Status>().is_err());
    }
}
