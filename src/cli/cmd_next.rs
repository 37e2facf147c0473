//! `git loom signal` and `git loom next`: the prompt an agent session starts from, and the one
//! command that gets a session going (resume or claim, worktree, signal).

use clap::Args;

use git_loom::api::{NextJson, SignalJson};
use git_loom::session::NextOptions;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Print the markdown prompt an agent starts from for a task
///
/// The task and its acceptance checks, what its dependencies produced, the latest handoff,
/// where to work, and how to report back. `[signal] template` in loom.toml replaces the
/// layout (placeholders: {{id}}, {{title}}, {{task}}, {{acceptance}}, {{goals}}, {{files}},
/// {{dependencies}}, {{handoff}}, {{workspace}}, {{report}}).
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The task
    id: String,
}

/// Start or resume an agent session: the task it holds, or the best ready one, with its
/// worktree and signal
///
/// If the agent already holds a claim, that task is resumed; otherwise the best ready task is
/// claimed (as `claim --next`). Its worktree is created if needed and its signal printed.
#[derive(Debug, Args)]
pub struct NextArgs {
    /// Only tasks with this label (when claiming)
    #[arg(long, value_name = "L")]
    label: Option<String>,
    /// Lease length in seconds for a new claim
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=git_loom::model::claim::MAX_DURATION_SECS))]
    ttl: Option<u64>,
}

pub fn run_signal(args: &SignalArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let (task, text) = loom.signal(&args.id, None)?;
    if ui.json {
        ui.json_value(&SignalJson::new(&task, &text))?;
    } else {
        ui.text(text)?;
    }
    Ok(Exit::Success)
}

pub fn run_next(args: &NextArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let options = NextOptions {
        label: args.label.clone(),
        ttl_secs: args.ttl,
    };
    let Some(session) = loom.next_session(&options, &actor)? else {
        ui.note("nothing is ready to claim");
        if ui.json {
            ui.json_value(&serde_json::Value::Null)?;
        }
        return Ok(Exit::NothingToDo);
    };
    if session.resumed {
        ui.note(format!(
            "resuming {}, which {} already holds",
            session.task.id, actor.agent
        ));
    }
    if ui.json {
        let derived = loom.derive(&session.task, context.now())?;
        ui.json_value(&NextJson::new(&session, &derived))?;
    } else {
        ui.text(session.signal)?;
    }
    Ok(Exit::Success)
}
