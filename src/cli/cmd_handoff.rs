//! `git loom handoff` and `git loom handoffs`: leaving and reading accounts of work in progress.

use std::path::PathBuf;

use clap::Args;

use git_loom::session::{HandoffNote, handoff_markdown};

use super::cmd_claim::HolderArgs;
use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Leave an account of your work on a task you hold, for whoever continues it
///
/// git-loom records with it the claim's progress and the state of the task's branch: its tip,
/// the commits since it left the target branch, and the files it changed.
#[derive(Debug, Args)]
pub struct HandoffArgs {
    /// The task
    id: String,
    /// The account, as text (markdown is fine)
    #[arg(long, short = 'm', value_name = "TEXT", conflicts_with = "file")]
    message: Option<String>,
    /// Read the account from a file (`-` for standard input)
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// How much of its context window the session has used (0–100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=100))]
    context_percent: Option<u8>,
    #[command(flatten)]
    holder: HolderArgs,
}

/// Show a task's latest handoff, or all of them
#[derive(Debug, Args)]
pub struct HandoffsArgs {
    /// The task
    id: String,
    /// Every handoff, newest first
    #[arg(long)]
    all: bool,
}

pub fn run_handoff(args: &HandoffArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let message = match (&args.message, &args.file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            std::io::read_to_string(std::io::stdin()).map_err(CommandError::from)?
        }
        (None, Some(path)) => std::fs::read_to_string(context.user_path(path))
            .map_err(|err| CommandError::new(Exit::Error, format!("cannot read {}: {err}", path.display())))?,
        (None, None) => return Err(CommandError::usage("a handoff needs --message TEXT or --file FILE")),
    };
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let note = HandoffNote {
        message,
        context_percent: args.context_percent,
    };
    let handoff = loom.handoff(&args.id, &note, args.holder.credentials(), &actor)?;
    if ui.json {
        ui.json_value(&handoff)?;
    } else {
        ui.line(format!("handoff recorded on {}", handoff.task))?;
    }
    Ok(Exit::Success)
}

pub fn run_handoffs(args: &HandoffsArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let (id, handoffs) = loom.handoffs(&args.id, args.all)?;
    if ui.json {
        ui.json_value(&handoffs)?;
        return Ok(Exit::Success);
    }
    if handoffs.is_empty() {
        ui.note(format!("{id} has no handoffs"));
    }
    for (index, handoff) in handoffs.iter().enumerate() {
        if index > 0 {
            ui.line("")?;
        }
        ui.text(handoff_markdown(handoff))?;
    }
    Ok(Exit::Success)
}
