//! `git loom log`: a task's history from its commit chain.

use clap::Args;
use serde::Serialize;

use git_loom::tasks;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
use super::ui::Ui;

/// Show a task's history, newest first
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// Show what changed in each version as a diff of task.json
    #[arg(long, short = 'p')]
    patch: bool,
}

#[derive(Serialize)]
struct VersionJson<'a> {
    commit: String,
    time: jiff::Timestamp,
    agent: Option<&'a str>,
    op: Option<&'a str>,
    summary: &'a str,
    task: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
}

pub fn run(args: &LogArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let versions = loom.history(&args.id)?;
    // Each version's diff is against the version before it (the next one in this list).
    let patches: Vec<Option<String>> = (0..versions.len())
        .map(|i| {
            args.patch.then(|| {
                let older = versions.get(i + 1).and_then(|v| v.task_json.as_deref());
                tasks::patch(older, versions[i].task_json.as_deref())
            })
        })
        .collect();
    if ui.json {
        let json: Vec<VersionJson<'_>> = versions
            .iter()
            .zip(patches)
            .map(|(version, patch)| VersionJson {
                commit: version.commit_id.to_string(),
                time: version.time,
                agent: version.agent.as_deref(),
                op: version.op.as_deref(),
                summary: &version.summary,
                task: version
                    .task_json
                    .as_deref()
                    .and_then(|text| serde_json::from_str(text).ok()),
                patch,
            })
            .collect();
        ui.json_value(&json)?;
        return Ok(Exit::Success);
    }
    for (i, (version, patch)) in versions.iter().zip(patches).enumerate() {
        if i > 0 {
            ui.line("")?;
        }
        ui.line(format!("commit {}", version.commit_id))?;
        ui.line(format!("Date:   {}", render::time(version.time)))?;
        if let Some(agent) = &version.agent {
            ui.line(format!("Agent:  {agent}"))?;
        }
        if let Some(op) = &version.op {
            ui.line(format!("Op:     {op}"))?;
        }
        ui.line("")?;
        ui.line(format!("    {}", version.summary))?;
        if let Some(patch) = patch.filter(|p| !p.is_empty()) {
            ui.line("")?;
            ui.text(patch)?;
        }
    }
    Ok(Exit::Success)
}
