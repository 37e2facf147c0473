//! `git loom init`: start tracking tasks in a repository (idempotent).

use clap::Args;

use git_loom::api::InitJson;
use git_loom::loom::Loom;
use git_loom::project::InitOutcome;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Create refs/loom/meta so this repository can hold tasks
///
/// Safe to run again: an initialised repository is left as it is, except that `--name`
/// renames the project. Refuses (exit 3) when the coordination remote — or, with none set,
/// `origin` — already has git-loom data: join it with `git loom remote <name> && git loom sync`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Project name (default: the working tree's directory name)
    #[arg(long)]
    name: Option<String>,
}

/// The remote a fresh clone fetched from.
const ORIGIN: &str = "origin";

pub fn run(args: &InitArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let actor = context.actor(&store)?;
    // A fresh clone has `origin` but no coordination remote yet: a project there is what the
    // user most likely means to join (the coordination remote itself is checked by `init`).
    if !context.offline()
        && store.publish_remote().is_none()
        && store.has_remote(ORIGIN)
        && store.tip(git_loom::store::META_REF)?.is_none()
        && store
            .remote_tip(ORIGIN, git_loom::store::META_REF)
            .ok()
            .flatten()
            .is_some()
    {
        return Err(git_loom::loom::Error::RemoteHasProject { remote: ORIGIN.into() }.into());
    }
    let (loom, outcome) = Loom::init(store, args.name.as_deref(), &actor)?;
    let project = &loom.meta().project;
    if ui.json {
        ui.json_value(&InitJson::new(&loom.meta(), &outcome))?;
        return Ok(Exit::Success);
    }
    // The message is a confirmation, not a result a script asked for: `-q` silences it, as
    // `git init -q` does.
    if ui.quiet {
        return Ok(Exit::Success);
    }
    let git_dir = loom.store().git_dir().display().to_string();
    match outcome {
        InitOutcome::Created => ui.line(format!("Initialized git-loom project {project:?} in {git_dir}"))?,
        InitOutcome::Renamed { from } => ui.line(format!("Renamed git-loom project {from:?} to {project:?}"))?,
        InitOutcome::AlreadyInitialized => ui.line(format!(
            "git-loom project {project:?} is already initialized in {git_dir}"
        ))?,
    }
    Ok(Exit::Success)
}
