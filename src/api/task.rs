//! A task and its claim as every front end returns them: `--json` of the CLI, and the tools
//! and pages of the servers to come. The shape is interface, documented in `doc/cli.md`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::loom::{ReadyTask, Snapshot, TaskEntry};
use crate::model::{Claim, Derived, Priority, StageHints, Task, TaskId, View};

/// A task as `--json` prints it: the stored fields plus the derived `status`, `blocked_by` and
/// `awaiting_merge`.
#[derive(Debug, Serialize)]
pub struct TaskJson<'a> {
    pub id: &'a TaskId,
    pub title: &'a str,
    pub description: &'a str,
    pub status: View,
    pub priority: Priority,
    pub deps: Vec<&'a TaskId>,
    pub blocked_by: &'a [TaskId],
    /// Those of `blocked_by` that are done and wait only for their work to be merged into the
    /// target (`[merge] gate = "merged"`).
    pub awaiting_merge: &'a [TaskId],
    pub parent: Option<&'a TaskId>,
    pub children: Vec<&'a TaskId>,
    pub labels: Vec<&'a str>,
    pub acceptance: &'a [String],
    pub files: &'a [String],
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub attempts: u32,
    pub retries: u32,
    pub max_retries: Option<u32>,
    pub retry_after: Option<Timestamp>,
    pub output: Option<&'a serde_json::Value>,
    pub branch: Option<&'a str>,
    pub last_failure: Option<&'a str>,
    /// The commit holding the work, recorded by `done`.
    pub commit: Option<&'a str>,
    /// Where the work landed (`{commit, target, at}`), once the merge engine merged it.
    pub merged: Option<&'a serde_json::Value>,
    /// The key of the plan the task was imported from, `null` for a task not from a plan.
    pub plan: Option<&'a str>,
    /// The id of the plan stage the task was imported from.
    pub stage: Option<&'a str>,
    /// The stage's execution hints, `null` when it has none.
    pub stage_hints: Option<StageHints>,
    /// Every other field of `task.json`, kept without being interpreted here: a plan stage's
    /// checks, working_dir, plan settings and unknown fields, and fields another version wrote.
    pub extra: BTreeMap<Cow<'a, str>, Cow<'a, serde_json::Value>>,
    /// The claim on the task, `null` when it is not claimed.
    pub claim: Option<ClaimJson<'a>>,
    /// Only in `ready`: how many open tasks wait on this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unblocks: Option<usize>,
}

impl<'a> TaskJson<'a> {
    pub fn new(task: &'a Task, derived: &'a Derived) -> Self {
        TaskJson {
            id: &task.id,
            title: &task.title,
            description: &task.description,
            status: derived.view,
            priority: task.priority,
            deps: task.deps.iter().collect(),
            blocked_by: &derived.blocked_by,
            awaiting_merge: &derived.awaiting_merge,
            parent: task.parent.as_ref(),
            children: task.children.iter().collect(),
            labels: task.labels.iter().map(String::as_str).collect(),
            acceptance: &task.acceptance,
            files: &task.files,
            created_at: task.created_at,
            updated_at: task.updated_at,
            attempts: task.attempts,
            retries: task.retries,
            max_retries: task.max_retries,
            retry_after: task.retry_after,
            output: task.output.as_ref(),
            branch: task.branch.as_deref(),
            last_failure: task.last_failure.as_deref(),
            commit: task.extra.get("commit").and_then(serde_json::Value::as_str),
            merged: task.extra.get("merged"),
            plan: task.plan(),
            stage: task.stage(),
            stage_hints: task.stage_hints(),
            extra: match task.stage_data.is_empty() {
                // The common case, borrowed: a listing builds this for every task.
                true => task
                    .extra
                    .iter()
                    .filter(|(key, _)| !SHOWN_APART.contains(&key.as_str()))
                    .map(|(key, value)| (Cow::Borrowed(key.as_str()), Cow::Borrowed(value)))
                    .collect(),
                false => task
                    .flat_fields()
                    .into_iter()
                    .filter(|(key, _)| !SHOWN_APART.contains(&key.as_str()))
                    .map(|(key, value)| (Cow::Owned(key), Cow::Owned(value)))
                    .collect(),
            },
            claim: None,
            unblocks: None,
        }
    }

    pub fn with_claim(self, claim: Option<&'a Claim>) -> Self {
        TaskJson {
            claim: claim.map(ClaimJson::new),
            ..self
        }
    }
}

/// The `task.json` fields the task object shows under their own keys rather than in `extra`.
const SHOWN_APART: &[&str] = &["plan", "stage", "commit", "merged", crate::model::stage::HINTS_KEY];

/// A claim as `--json` prints it inside a task.
#[derive(Debug, Serialize)]
pub struct ClaimJson<'a> {
    pub agent: &'a str,
    pub token: &'a str,
    pub claimed_at: Timestamp,
    pub expires_at: Timestamp,
    pub heartbeat_at: Timestamp,
    pub progress: Option<&'a str>,
    pub percent: Option<u8>,
    pub attempt: u32,
}

impl<'a> ClaimJson<'a> {
    pub fn new(claim: &'a Claim) -> Self {
        ClaimJson {
            agent: &claim.agent,
            token: &claim.token,
            claimed_at: claim.claimed_at,
            expires_at: claim.expires_at,
            heartbeat_at: claim.heartbeat_at,
            progress: claim.progress.as_deref(),
            percent: claim.percent,
            attempt: claim.attempt,
        }
    }
}

/// A listing as `--json` prints it: an array of task objects.
/// The `ready` listing as JSON: each ready task with how many open tasks it unblocks, handed to
/// `show` (the derived states it borrows live only for the call). The CLI and the MCP server
/// print the same shape.
pub fn with_ready_json<R>(snapshot: &Snapshot, ready: &[ReadyTask<'_>], show: impl FnOnce(&[TaskJson<'_>]) -> R) -> R {
    let derived: Vec<Derived> = ready.iter().map(|r| snapshot.derive(&r.entry.task)).collect();
    let tasks: Vec<TaskJson<'_>> = ready
        .iter()
        .zip(&derived)
        .map(|(r, derived)| TaskJson {
            unblocks: Some(r.unblocks),
            ..TaskJson::new(&r.entry.task, derived)
        })
        .collect();
    show(&tasks)
}

/// The board's `--json` text (see [`crate::loom::JsonRenderer`]): each listed task as
/// `list --json` prints it and each ready task as `ready --json` prints it, so that a listing
/// served from the board is byte for byte the listing rendered here.
pub fn board_json(
    snapshot: &Snapshot,
    rows: &[(&TaskEntry, Derived)],
    ready: &[ReadyTask<'_>],
    claims: &BTreeMap<TaskId, Claim>,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let listed = tasks_json(rows, claims)
        .iter()
        .map(crate::loom::array_element)
        .collect();
    let ready = with_ready_json(snapshot, ready, |tasks| {
        tasks.iter().map(crate::loom::array_element).collect()
    });
    (listed, ready)
}

pub fn tasks_json<'a>(rows: &'a [(&'a TaskEntry, Derived)], claims: &'a BTreeMap<TaskId, Claim>) -> Vec<TaskJson<'a>> {
    rows.iter()
        .map(|(entry, derived)| TaskJson::new(&entry.task, derived).with_claim(claims.get(&entry.task.id)))
        .collect()
}
