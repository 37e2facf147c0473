//! How tasks look on the way out: the stable `--json` task object, table rows and the detail
//! view. The JSON shape is documented in `doc/cli.md`; change both together.

use jiff::Timestamp;
use serde::Serialize;

use git_loom::model::{Derived, Priority, Task, TaskId, View};
use git_loom::ops::{Snapshot, TaskEntry, Written};

/// A task as `--json` prints it: the stored fields plus the derived `status` and `blocked_by`.
#[derive(Debug, Serialize)]
pub struct TaskJson<'a> {
    pub id: &'a TaskId,
    pub title: &'a str,
    pub description: &'a str,
    pub status: View,
    pub priority: Priority,
    pub deps: Vec<&'a TaskId>,
    pub blocked_by: &'a [TaskId],
    pub parent: Option<&'a TaskId>,
    pub children: Vec<&'a TaskId>,
    pub labels: Vec<&'a str>,
    pub acceptance: &'a [String],
    pub files: &'a [String],
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
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
            parent: task.parent.as_ref(),
            children: task.children.iter().collect(),
            labels: task.labels.iter().map(String::as_str).collect(),
            acceptance: &task.acceptance,
            files: &task.files,
            created_at: task.created_at,
            updated_at: task.updated_at,
            unblocks: None,
        }
    }
}

/// A listing as `--json` prints it: an array of task objects.
pub fn tasks_json<'a>(rows: &'a [(&'a TaskEntry, Derived)]) -> Vec<TaskJson<'a>> {
    rows.iter()
        .map(|(entry, derived)| TaskJson::new(&entry.task, derived))
        .collect()
}

/// The columns of a task in a listing: id, status, priority, title (with labels).
pub fn row(task: &Task, view: View) -> Vec<String> {
    vec![
        task.id.to_string(),
        view.to_string(),
        task.priority.to_string(),
        title_with_labels(task),
    ]
}

pub fn title_with_labels(task: &Task) -> String {
    if task.labels.is_empty() {
        task.title.clone()
    } else {
        let labels: Vec<&str> = task.labels.iter().map(String::as_str).collect();
        format!("{}  [{}]", task.title, labels.join(", "))
    }
}

/// A short, readable time: `2026-11-21 09:41:07 UTC`.
pub fn time(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The detail view of `show`. Dependency statuses come from `status_of` when known.
pub fn detail(task: &Task, derived: &Derived, last_change: Option<(&str, Option<&str>)>) -> Vec<String> {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["status".into(), derived.view.to_string()],
        vec!["priority".into(), task.priority.to_string()],
    ];
    let ids = |ids: &mut dyn Iterator<Item = &TaskId>| ids.map(TaskId::to_string).collect::<Vec<_>>().join(", ");
    if !task.deps.is_empty() {
        rows.push(vec!["deps".into(), ids(&mut task.deps.iter())]);
    }
    if !derived.blocked_by.is_empty() {
        rows.push(vec!["blocked by".into(), ids(&mut derived.blocked_by.iter())]);
    }
    if let Some(parent) = &task.parent {
        rows.push(vec!["parent".into(), parent.to_string()]);
    }
    if !task.children.is_empty() {
        rows.push(vec!["children".into(), ids(&mut task.children.iter())]);
    }
    if !task.labels.is_empty() {
        let labels: Vec<&str> = task.labels.iter().map(String::as_str).collect();
        rows.push(vec!["labels".into(), labels.join(", ")]);
    }
    for command in &task.acceptance {
        rows.push(vec!["acceptance".into(), command.clone()]);
    }
    for glob in &task.files {
        rows.push(vec!["files".into(), glob.clone()]);
    }
    rows.push(vec!["created".into(), time(task.created_at)]);
    rows.push(vec!["updated".into(), time(task.updated_at)]);
    if let Some((summary, agent)) = last_change {
        let by = agent.map(|agent| format!(" (by {agent})")).unwrap_or_default();
        rows.push(vec!["last change".into(), format!("{summary}{by}")]);
    }
    let mut lines = vec![format!("{}  {}", task.id, task.title)];
    lines.extend(super::ui::align(&rows).into_iter().map(|line| format!("  {line}")));
    if !task.description.is_empty() {
        lines.push(String::new());
        lines.extend(task.description.lines().map(|line| format!("    {line}")));
    }
    lines
}

/// One line per written task version: `loom-…  what happened`.
pub fn written(written: &[Written]) -> Vec<String> {
    written
        .iter()
        .map(|w| format!("{}  {}", w.id, w.notes.join("; ")))
        .collect()
}

/// Warn about tasks that could not be read, naming each ref.
pub fn report_problems(ui: &mut super::ui::Ui, snapshot: &Snapshot) {
    for problem in &snapshot.problems {
        ui.warn(format!("skipping {}: {}", problem.ref_name, problem.problem));
    }
}
