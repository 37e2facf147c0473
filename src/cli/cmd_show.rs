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
    // Only the human view lists them: a damaged session record of another task is no concern
    // of this one, so problems are left to `sessions`.
    let sessions = match ui.json {
        true => Default::default(),
        false => loom.task_sessions(&entry.task.id)?,
    };
    if ui.json {
        // The task object is the same everywhere (`create --json` prints it too); sessions
        // have their own listing, `sessions --all --json`.
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
        if !sessions.sessions.is_empty() {
            ui.line("sessions:")?;
            let rows: Vec<Vec<String>> = sessions
                .sessions
                .iter()
                .map(|session| {
                    let mut row = super::cmd_sessions::row(session, context.now());
                    // The task is the one shown.
                    row.remove(1);
                    row[0].insert_str(0, "  ");
                    row
                })
                .collect();
            ui.table(&rows)?;
        }
    }
    Ok(Exit::Success)
}
