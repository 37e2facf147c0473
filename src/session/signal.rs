//! The signal: the markdown prompt an agent session starts from. It says what the task is and
//! how its work will be checked, what the tasks it depends on produced, what the previous
//! session left (the latest handoff), where to work, and exactly how to report back, with the
//! task id filled in everywhere.
//!
//! The default layout can be replaced by a template (`[signal] template` in `loom.toml`, a path
//! relative to the main working tree): its `{{name}}` placeholders are replaced by the sections
//! below, and unknown placeholders are left as they are, so a template never fails to render.

use std::collections::BTreeMap;

use crate::loom::{Error, Loom, Result};
use crate::model::checks::Check;
use crate::model::handoff::Handoff;
use crate::model::{Status, Stored, Task, TaskId};

/// What a signal is made from.
#[derive(Debug, Clone)]
pub struct SignalInput {
    pub task: Task,
    /// Dependencies: id, title, status and output (if any).
    pub dependencies: Vec<(TaskId, String, Option<Status>, Option<serde_json::Value>)>,
    pub handoff: Option<Handoff>,
    pub worktree: Option<String>,
    pub branch: String,
    /// The claim's token, when the signal is for its holder.
    pub token: Option<String>,
}

/// The placeholders a template may use, each a ready markdown section (empty when there is
/// nothing to say).
pub const PLACEHOLDERS: &[&str] = &[
    "id",
    "title",
    "task",
    "acceptance",
    "files",
    "goals",
    "dependencies",
    "handoff",
    "workspace",
    "report",
];

impl Loom {
    /// Gather what the signal of `input` shows.
    pub fn signal_input(&self, input: &str, token: Option<String>) -> Result<SignalInput> {
        let entry = self.task(input)?;
        let task = entry.task;
        let mut dependencies = Vec::new();
        for dep in &task.deps {
            let found = self.task(dep.as_str()).ok();
            dependencies.push((
                dep.clone(),
                found
                    .as_ref()
                    .map(|e| e.task.title.clone())
                    .unwrap_or_else(|| "(unreadable)".into()),
                found.as_ref().map(|e| e.task.status()),
                found.and_then(|e| e.task.output.clone()),
            ));
        }
        let handoff = self.latest_handoff(&task.id)?;
        let claim = self.live_claim_on(&task)?.and_then(|(_, claim)| claim.ok());
        let branch = claim
            .as_ref()
            .and_then(|claim| claim.branch.clone())
            .unwrap_or_else(|| Loom::task_branch(&task));
        let worktree = claim.and_then(|claim| claim.worktree);
        Ok(SignalInput {
            task,
            dependencies,
            handoff,
            worktree,
            branch,
            token,
        })
    }
}

impl Loom {
    /// The whole signal of the task `input` names, with the claim's token filled in when it is
    /// for its holder; also the task as read.
    pub fn signal(&self, input: &str, token: Option<String>) -> Result<(Task, String)> {
        let input = self.signal_input(input, token)?;
        let text = self.signal_text(&input)?;
        Ok((input.task, text))
    }

    /// The signal made from `input`: the configured template (`[signal] template`, relative
    /// to the main working tree), or the built-in layout.
    pub fn signal_text(&self, input: &SignalInput) -> Result<String> {
        let sections = sections(input);
        let settings = self.settings();
        let template = settings.signal.template.trim();
        if template.is_empty() {
            return Ok(render_default(&sections));
        }
        let root = self.store.repo().main_work_dir().unwrap_or_default();
        let path = root.join(template);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::SignalTemplate { path, source })?;
        Ok(render_template(&text, &sections))
    }
}

/// A handoff as markdown, the way the signal (and `handoffs`) shows it.
pub fn handoff_markdown(handoff: &Handoff) -> String {
    let mut text = format!(
        "### Handoff by {} at {}\n\n{}\n",
        handoff.agent,
        handoff.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        handoff.message.trim_end()
    );
    let mut facts = Vec::new();
    if let Some(attempt) = handoff.attempt {
        facts.push(format!("attempt {attempt}"));
    }
    if let Some(progress) = &handoff.progress {
        facts.push(format!("progress: {progress}"));
    }
    if let Some(percent) = handoff.percent {
        facts.push(format!("{percent}% done"));
    }
    if let Some(percent) = handoff.context_percent {
        facts.push(format!("context {percent}% used"));
    }
    if !facts.is_empty() {
        text.push_str(&format!("\n{}\n", facts.join(" · ")));
    }
    if let Some(work) = &handoff.work {
        text.push_str(&format!(
            "\nBranch `{}` at {} — {} commit{} since its base\n",
            work.branch,
            &work.tip[..work.tip.len().min(12)],
            work.commits_since_base,
            if work.commits_since_base == 1 { "" } else { "s" }
        ));
        for commit in &work.commits {
            text.push_str(&format!(
                "- {} {}\n",
                &commit.id[..commit.id.len().min(12)],
                commit.summary
            ));
        }
        if !work.files.is_empty() {
            text.push_str("\nFiles changed:\n");
            for file in &work.files {
                let counts = match (file.added, file.removed) {
                    (Some(added), Some(removed)) => format!("+{added} -{removed}"),
                    _ => "binary".to_owned(),
                };
                text.push_str(&format!("- {} ({counts})\n", file.path));
            }
        }
    }
    text
}

/// The sections of a signal by placeholder name.
pub fn sections(input: &SignalInput) -> BTreeMap<&'static str, String> {
    let task = &input.task;
    let id = task.id.as_str();
    let mut sections = BTreeMap::new();
    sections.insert("id", id.to_owned());
    sections.insert("title", task.title.clone());
    let mut about = format!("# {id}: {}\n\n", task.title);
    if !task.description.trim().is_empty() {
        about.push_str(task.description.trim_end());
        about.push_str("\n\n");
    }
    about.push_str(&format!(
        "Priority {}, attempt {}.",
        task.priority,
        task.attempts.max(1)
    ));
    if !task.labels.is_empty() {
        let labels: Vec<&str> = task.labels.iter().map(String::as_str).collect();
        about.push_str(&format!(" Labels: {}.", labels.join(", ")));
    }
    if let (Some(plan), Some(stage)) = (task.plan(), task.stage()) {
        about.push_str(&format!("\n\nStage `{stage}` of plan `{plan}`."));
        // Advice for whoever runs the session; git-loom itself does not act on it.
        let hints = task.stage_hints().map(|hints| hints.pairs()).unwrap_or_default();
        if !hints.is_empty() {
            let listed: Vec<String> = hints.iter().map(|(name, value)| format!("{name}: {value}")).collect();
            about.push_str(&format!(" Execution hints: {}.", listed.join("; ")));
        }
    }
    if let Some(failure) = &task.last_failure {
        about.push_str(&format!("\n\nThe last attempt failed: {failure}"));
    }
    about.push('\n');
    sections.insert("task", about);
    let list = |title: &str, items: &[String]| -> String {
        if items.is_empty() {
            return String::new();
        }
        let mut text = format!("## {title}\n\n");
        for item in items {
            text.push_str(&format!("- `{item}`\n"));
        }
        text
    };
    sections.insert(
        "acceptance",
        list(
            "Acceptance (each must succeed; `git loom verify` runs them)",
            &task.acceptance,
        ),
    );
    sections.insert("files", list("Files this task is expected to touch", &task.files));
    sections.insert("goals", goal_checks(task));
    let mut deps = String::new();
    if !input.dependencies.is_empty() {
        deps.push_str("## What it builds on\n\n");
        for (dep, title, status, output) in &input.dependencies {
            let status = status.map_or("unreadable", Status::as_str);
            deps.push_str(&format!("- {dep} ({status}): {title}\n"));
            match output {
                Some(serde_json::Value::String(text)) => deps.push_str(&format!("  Output: {text}\n")),
                Some(value) => deps.push_str(&format!("  Output: `{value}`\n")),
                None => {}
            }
        }
    }
    sections.insert("dependencies", deps);
    let handoff = match &input.handoff {
        Some(handoff) => format!("## Where the last session stopped\n\n{}", handoff_markdown(handoff)),
        None => String::new(),
    };
    sections.insert("handoff", handoff);
    let mut workspace = String::from("## Where to work\n\n");
    match &input.worktree {
        Some(path) => workspace.push_str(&format!("Work in `{path}`, on branch `{}`.\n", input.branch)),
        None => workspace.push_str(&format!(
            "Work on branch `{}` (`git loom worktree add {id}` makes a worktree for it).\n",
            input.branch
        )),
    }
    sections.insert("workspace", workspace);
    let token = input
        .token
        .as_deref()
        .map(|token| format!(" --token {token}"))
        .unwrap_or_default();
    let report = format!(
        "## Reporting back\n\n\
         - Keep the claim alive while you work: `git loom heartbeat {id}{token} --progress \"…\" --percent N`\n\
         - Before your context runs out, leave a handoff: `git loom handoff {id}{token} --message \"what is done, what is left\" --context-percent N`\n\
         - When the work is committed on `{branch}` and the checks pass: `git loom done {id}{token} --branch {branch} --output \"what you produced\"`\n\
         - If it cannot be done: `git loom fail {id}{token} --reason \"why\"`\n",
        branch = input.branch
    );
    sections.insert("report", report);
    sections
}

/// The goal checks a plan gave the task: what must exist, what must be wired, what must be
/// observably true, and the context budget. A stored field that cannot be read is listed as
/// such (verify fails it), never left out as if the plan had not set it.
fn goal_checks(task: &Task) -> String {
    let data = &task.stage_data;
    let mut lines = Vec::new();
    let command = |check: &Check| format!("`{}`", check.command);
    goal_lines(&mut lines, &data.acceptance_checks, "acceptance_checks", |placed| {
        format!(
            "- acceptance: {} (with the expected output or exit code)",
            command(&placed.check)
        )
    });
    goal_lines(&mut lines, &data.artifacts, "artifacts", |artifact| {
        format!("- must exist with a real implementation: `{artifact}`")
    });
    goal_lines(&mut lines, &data.wiring, "wiring", |wiring| {
        let rule = format!(
            "`{}` must match /{}/ {}",
            wiring.source,
            wiring.pattern,
            wiring.description.as_deref().unwrap_or_default()
        );
        format!("- wiring: {}", rule.trim_end())
    });
    goal_lines(&mut lines, &data.truths, "truths", |check| {
        format!("- must hold: {}", command(check))
    });
    goal_lines(&mut lines, &data.before_stage, "before_stage", |check| {
        format!(
            "- held before the work (checked on the commit it starts from): {}",
            command(check)
        )
    });
    goal_lines(&mut lines, &data.after_stage, "after_stage", |check| {
        format!("- must hold after the work: {}", command(check))
    });
    goal_lines(&mut lines, &data.wiring_tests, "wiring_tests", |test| {
        format!("- wiring test: {}", command(&test.check))
    });
    match data.context_budget.as_ref().map(Stored::get) {
        Some(Ok(Some(budget))) => lines.push(format!("- leave a handoff before {budget}% of your context is used")),
        Some(Err(err)) => lines.push(unreadable("context_budget", err)),
        Some(Ok(None)) | None => {}
    }
    match lines.is_empty() {
        true => String::new(),
        false => format!("## Goal checks\n\n{}\n", lines.join("\n")),
    }
}

/// One line per item of a stored list, or one saying the list cannot be read.
fn goal_lines<T: serde::de::DeserializeOwned>(
    lines: &mut Vec<String>,
    field: &Option<Stored<Vec<T>>>,
    name: &str,
    line: impl Fn(&T) -> String,
) {
    match field.as_ref().map(Stored::get) {
        Some(Ok(items)) => lines.extend(items.iter().map(line)),
        Some(Err(err)) => lines.push(unreadable(name, err)),
        None => {}
    }
}

fn unreadable(name: &str, err: &str) -> String {
    format!("- the task's `{name}` cannot be read: {err}")
}

/// The default signal: every section in order.
pub fn render_default(sections: &BTreeMap<&'static str, String>) -> String {
    [
        "task",
        "acceptance",
        "goals",
        "files",
        "dependencies",
        "handoff",
        "workspace",
        "report",
    ]
    .iter()
    .filter_map(|name| sections.get(name))
    .filter(|section| !section.is_empty())
    .map(|section| section.trim_end().to_owned())
    .collect::<Vec<_>>()
    .join("\n\n")
        + "\n"
}

/// A template with its `{{name}}` placeholders replaced.
pub fn render_template(template: &str, sections: &BTreeMap<&'static str, String>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match sections.get(name) {
                    Some(section) => out.push_str(section.trim_end()),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;
    use crate::model::state::{Kind, new_task};

    fn task_with(fields: serde_json::Value) -> Task {
        let id = TaskId::parse("loom-1a2b3c4d").unwrap();
        let mut task = new_task(id, "t".into(), Kind::Task, Priority::P2, jiff::Timestamp::UNIX_EPOCH);
        let fields = fields
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        task.set_flat_fields(fields);
        task
    }

    #[test]
    fn goal_checks_list_every_stored_goal() {
        let task = task_with(serde_json::json!({
            "acceptance_checks": [{"command": "make", "exit_code": 2, "position": 0}],
            "artifacts": ["src/lib.rs"],
            "wiring": [{"source": "a.rs", "pattern": "fn b", "description": null},
                       {"source": "c.rs", "pattern": "d", "description": "wired"}],
            "truths": [{"command": "true"}],
            "before_stage": [{"command": "test ! -e x"}],
            "after_stage": [{"command": "test -e x"}],
            "wiring_tests": [{"name": "n", "command": "./run"}],
            "context_budget": 40,
        }));
        assert_eq!(
            goal_checks(&task),
            "## Goal checks\n\n\
             - acceptance: `make` (with the expected output or exit code)\n\
             - must exist with a real implementation: `src/lib.rs`\n\
             - wiring: `a.rs` must match /fn b/\n\
             - wiring: `c.rs` must match /d/ wired\n\
             - must hold: `true`\n\
             - held before the work (checked on the commit it starts from): `test ! -e x`\n\
             - must hold after the work: `test -e x`\n\
             - wiring test: `./run`\n\
             - leave a handoff before 40% of your context is used\n"
        );
    }

    #[test]
    fn a_goal_field_that_cannot_be_read_is_listed_not_dropped() {
        // Guards: the signal read stored goal fields with `.ok()`, so a malformed one vanished
        // and the agent never learnt of checks that verify would then fail.
        let task = task_with(serde_json::json!({"truths": "false", "artifacts": ["x"]}));
        let goals = goal_checks(&task);
        assert!(
            goals.contains("- must exist with a real implementation: `x`"),
            "{goals}"
        );
        assert!(
            goals.contains("- the task's `truths` cannot be read: invalid type"),
            "{goals}"
        );
    }

    #[test]
    fn the_library_writes_the_whole_signal_handoff_included() {
        // Guards: the signal assembled across two layers, its handoff section written by a
        // renderer the caller had to pass in.
        use crate::model::handoff::HANDOFF_SCHEMA;
        use crate::model::state::{Kind, new_task};
        let id = TaskId::parse("loom-0000abcd").unwrap();
        let task = new_task(
            id.clone(),
            "Title".into(),
            Kind::Task,
            crate::model::Priority::P1,
            jiff::Timestamp::UNIX_EPOCH,
        );
        let handoff = Handoff {
            schema: HANDOFF_SCHEMA,
            task: id,
            agent: "ann".into(),
            at: jiff::Timestamp::UNIX_EPOCH,
            message: "half done".into(),
            context_percent: Some(40),
            progress: None,
            percent: Some(50),
            attempt: Some(2),
            work: None,
            extra: Default::default(),
        };
        let input = SignalInput {
            task,
            dependencies: Vec::new(),
            handoff: Some(handoff.clone()),
            worktree: None,
            branch: "loom/loom-0000abcd".into(),
            token: Some("0123abcd".into()),
        };
        let text = render_default(&sections(&input));
        let markdown = handoff_markdown(&handoff);
        assert_eq!(
            markdown,
            "### Handoff by ann at 1970-01-01 00:00:00 UTC\n\nhalf done\n\nattempt 2 · 50% done · context 40% used\n"
        );
        assert!(text.contains(&format!("## Where the last session stopped\n\n{}", markdown.trim_end())));
        assert!(text.contains("git loom done loom-0000abcd --token 0123abcd"));
    }

    #[test]
    fn a_template_replaces_known_placeholders_and_keeps_the_rest() {
        let mut sections = BTreeMap::new();
        sections.insert("id", "loom-0000abcd".to_owned());
        sections.insert("report", "## Reporting back\n\n- done\n".to_owned());
        let text = render_template("Task {{ id }}.\n{{report}}\n{{unknown}} {{ unclosed", &sections);
        assert_eq!(
            text,
            "Task loom-0000abcd.\n## Reporting back\n\n- done\n{{unknown}} {{ unclosed"
        );
    }
}
