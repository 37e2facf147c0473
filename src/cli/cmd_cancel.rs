//! `git loom cancel`: give up on a task, optionally with everything that waits on it.

use clap::Args;

use super::cmd_update::print_written;
use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Cancel a task
///
/// Tasks that wait on a cancelled task stay blocked; `--cascade` cancels them too (and, for an
/// epic, its children), all in one step.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// Also cancel every open task that waits on this one, and an epic's children
    #[arg(long)]
    cascade: bool,
}

pub fn run(args: &CancelArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.cancel(&args.id, args.cascade, &actor)?;
    print_written(&loom, &outcome.task, &outcome.written, "already cancelled", context, ui)?;
    if !outcome.written.is_empty() && !outcome.stranded.is_empty() {
        let ids: Vec<&str> = outcome.stranded.iter().map(|id| id.as_str()).collect();
        ui.warn(format!(
            "{} still wait on cancelled {}; cancel them too with `git loom cancel {} --cascade`",
            ids.join(", "),
            outcome.task.id,
            outcome.task.id
        ));
    }
    Ok(Exit::Success)
}
