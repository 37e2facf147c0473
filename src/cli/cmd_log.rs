//! `git loom log`: a task's history from its commit chain.

use clap::Args;

use git_loom::api::VersionJson;
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
            .map(|(version, patch)| VersionJson::new(version, patch))
            .collect();
        ui.json_value(&json)?;
        return Ok(Exit::Success);
    }
    context.page(ui)?;
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
