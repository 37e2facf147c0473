//! How tasks look to a person: table rows, the detail view, durations and times. The `--json`
//! shapes are the shared API's ([`git_loom::api`]); they are documented in `doc/cli.md`.

use std::collections::BTreeMap;

use jiff::Timestamp;

pub use git_loom::api::{TaskJson, tasks_json};
use git_loom::loom::{Loom, Snapshot, TaskEntry, Written};
use git_loom::model::{Claim, Derived, Task, TaskId, View};

/// How a listing names a task's stage: `plan:stage`, the plan by its short name (see
/// [`git_loom::plan::short_name`]); this form names the task wherever a task id is accepted.
pub fn stage_cell(plan: Option<&str>, stage: Option<&str>) -> String {
    match (plan, stage) {
        (_, None) => String::new(),
        (None, Some(stage)) => stage.to_owned(),
        (Some(plan), Some(stage)) => format!("{}:{stage}", git_loom::plan::short_name(plan)),
    }
}

/// A short human duration: `42s`, `5m12s`, `3h02m`, `2d04h`.
pub fn duration(span: jiff::SignedDuration) -> String {
    let secs = span.as_secs();
    let (sign, secs) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    let text = match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3_600),
    };
    format!("{sign}{text}")
}

/// One line about a claim at `now`: holder, age, lease left, progress.
pub fn claim_line(claim: &Claim, now: Timestamp) -> String {
    let age = duration(now.duration_since(claim.claimed_at));
    let left = claim.expires_at.duration_since(now);
    let lease = match left.is_negative() || left.is_zero() {
        true => format!("lease expired {} ago", duration(-left)),
        false => format!("lease {} left", duration(left)),
    };
    let mut line = format!("by {} for {age}, {lease}, attempt {}", claim.agent, claim.attempt);
    match (&claim.progress, claim.percent) {
        (Some(text), Some(p)) => line.push_str(&format!(", {p}%: {text}")),
        (Some(text), None) => line.push_str(&format!(": {text}")),
        (None, Some(p)) => line.push_str(&format!(", {p}%")),
        (None, None) => {}
    }
    line
}

/// Print listed tasks: a JSON array of task objects (with their claims), or one table row each.
pub fn print_tasks(
    loom: &Loom,
    snapshot: &Snapshot,
    rows: &[(&TaskEntry, Derived)],
    ui: &mut super::ui::Ui,
    row: impl Fn(&Task, &Derived) -> Vec<String>,
) -> std::io::Result<()> {
    if ui.json {
        let claims = read_claims(loom, snapshot, ui);
        ui.json_value(&tasks_json(rows, &claims))
    } else {
        let table: Vec<Vec<String>> = rows.iter().map(|(entry, derived)| row(&entry.task, derived)).collect();
        ui.table(&table)
    }
}

/// Read the claim records a snapshot lists, warning about (and leaving out) unreadable ones.
pub fn read_claims(loom: &Loom, snapshot: &Snapshot, ui: &mut super::ui::Ui) -> BTreeMap<TaskId, Claim> {
    let mut claims = BTreeMap::new();
    // A void claim is not shown.
    for (id, tip) in snapshot.live_claims() {
        match loom.read_claim(id, tip) {
            Ok(claim) => {
                claims.insert(id.clone(), claim);
            }
            Err(err) => ui.warn(format!("skipping claim: {err}")),
        }
    }
    claims
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

/// The detail view of `show`.
pub fn detail(
    task: &Task,
    derived: &Derived,
    claim: Option<&Claim>,
    now: Timestamp,
    last_change: Option<(&str, Option<&str>)>,
) -> Vec<String> {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["status".into(), derived.view.to_string()],
        vec!["priority".into(), task.priority.to_string()],
    ];
    if let Some(claim) = claim {
        rows.push(vec!["claimed".into(), claim_line(claim, now)]);
    }
    if task.retries > 0 {
        let due = match task.retry_after {
            Some(at) if at > now => format!(", next try in {}", duration(at.duration_since(now))),
            _ => String::new(),
        };
        rows.push(vec!["failures".into(), format!("{}{due}", task.retries)]);
    }
    if let Some(reason) = &task.last_failure {
        rows.push(vec!["last failure".into(), reason.clone()]);
    }
    if let Some(branch) = &task.branch {
        rows.push(vec!["branch".into(), branch.clone()]);
    }
    if let Some(output) = &task.output {
        let text = match output {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        rows.push(vec!["output".into(), text]);
    }
    let ids = |ids: &mut dyn Iterator<Item = &TaskId>| ids.map(TaskId::to_string).collect::<Vec<_>>().join(", ");
    if !task.deps.is_empty() {
        rows.push(vec!["deps".into(), ids(&mut task.deps.iter())]);
    }
    if !derived.blocked_by.is_empty() {
        rows.push(vec!["blocked by".into(), ids(&mut derived.blocked_by.iter())]);
    }
    if !derived.awaiting_merge.is_empty() {
        let waiting = ids(&mut derived.awaiting_merge.iter());
        rows.push(vec!["blocked".into(), format!("waiting for {waiting} to be merged")]);
    }
    if let Some(merged) = task.merged() {
        let short = merged.commit.get(..12).unwrap_or(&merged.commit);
        rows.push(vec![
            "merged".into(),
            format!("into {} at {short}, {}", merged.target, time(merged.at)),
        ]);
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
    if let Some(plan) = task.plan() {
        rows.push(vec!["plan".into(), plan.to_owned()]);
    }
    if let Some(stage) = task.stage() {
        rows.push(vec!["stage".into(), stage.to_owned()]);
    }
    for (name, value) in task.stage_hints().map(|hints| hints.pairs()).unwrap_or_default() {
        rows.push(vec![name.into(), value]);
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
