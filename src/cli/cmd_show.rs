//! `git loom show`: one task in full.

use clap::Args;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::{self, TaskJson};
use super::ui::Ui;

/// Show one task: its fields, derived status and latest change
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Task id, or a unique prefix of one
    id: String,
}

pub fn run(args: &ShowArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let entry = loom.task(&args.id)?;
    let (derived, unreadable) = loom.derive_noting(&entry.task, context.now())?;
    for problem in &unreadable {
        ui.warn(format!(
            "dependency {} cannot be read, so it counts as not done: {}",
            problem.ref_name, problem.problem
        ));
    }
    let claim = match loom.live_claim(&entry.task.id)? {
        Some((_, Ok(claim))) => Some(claim),
        Some((_, Err(err))) => {
            ui.warn(err.to_string());
            None
        }
        None => None,
    };
    if ui.json {
        ui.json_value(&TaskJson::new(&entry.task, &derived).with_claim(claim.as_ref()))?;
    } else {
        let last = Some((entry.last_change.as_str(), entry.last_agent.as_deref()));
        let status = derived.view.to_string();
        for (i, line) in render::detail(&entry.task, &derived, claim.as_ref(), context.now(), last)
            .into_iter()
            .enumerate()
        {
            // The second line is the status row (see `render::detail`).
            match i {
                1 => ui.status_line(line, &status)?,
                _ => ui.line(line)?,
            }
        }
    }
    Ok(Exit::Success)
}
