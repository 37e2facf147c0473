//! `git loom hooks install|uninstall|status` (git-loom's scripts in the repository's hooks
//! directory, beside the user's own) and `git loom hook <name>`, which those scripts run.
//!
//! The `hook` commands never get in the way of the user's git outside a git-loom project:
//! in a repository without git-loom data each is a no-op, and `post-commit` never fails.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use git_loom::api::{HookChangeJson, HookStatusJson};
use git_loom::hooks::{self, HookChange, HookState};
use git_loom::loom::{self, Loom};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Install, remove or inspect git-loom's git hooks (commit-msg, post-commit, pre-push)
///
/// The hooks go to the directory git runs hooks from (`core.hooksPath` when set). A hook the
/// user already has is moved aside to `<name>.pre-loom` and still runs: git-loom's script
/// chains to it, with the same arguments and input, and its failure still fails the commit or
/// push. `uninstall` removes only git-loom's scripts and puts the user's hooks back.
#[derive(Debug, Args)]
pub struct HooksArgs {
    #[command(subcommand)]
    action: HooksAction,
}

#[derive(Debug, Subcommand)]
enum HooksAction {
    /// Install the hooks, chaining to any hook already there (safe to run again)
    Install,
    /// Remove git-loom's hooks and put back the hooks they chained to
    Uninstall,
    /// Show each hook: installed, chained (to the user's hook), absent or foreign
    Status,
}

/// Run one git-loom hook (the installed hook scripts call this)
#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    hook: HookRun,
}

#[derive(Debug, Subcommand)]
enum HookRun {
    /// In a task's worktree (or on its loom/<id> branch), add a `Loom-Task: <id>` trailer
    CommitMsg {
        /// The file holding the commit message, as git passes it
        file: PathBuf,
    },
    /// Heartbeat the claim of this worktree's task if you hold it; never fails
    PostCommit,
    /// Refuse to push a loom/<id> branch whose claim another agent holds (ref lines on stdin)
    PrePush {
        /// The remote's name, as git passes it
        remote: String,
        /// The remote's URL, as git passes it
        url: Option<String>,
    },
}

pub fn run_hooks(args: &HooksArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let dir = store.repo().hooks_dir()?;
    let changes = match args.action {
        HooksAction::Status => return print_status(&dir, ui),
        HooksAction::Install => hooks::install(&dir)?,
        HooksAction::Uninstall => hooks::uninstall(&dir)?,
    };
    if ui.json {
        let json: Vec<HookChangeJson> = changes.iter().map(HookChangeJson::from).collect();
        ui.json_value(&json)?;
        return Ok(Exit::Success);
    }
    for change in &changes {
        ui.line(change_line(change))?;
    }
    Ok(Exit::Success)
}

/// One line of human output for what `install` or `uninstall` did to a hook.
pub(super) fn change_line(change: &HookChange) -> String {
    match change {
        HookChange::Installed { hook, path } => format!("{hook}  installed  {}", path.display()),
        HookChange::Chained { hook, path, aside } => format!(
            "{hook}  installed  {}  (chains to the hook that was there, now {})",
            path.display(),
            aside.display()
        ),
        HookChange::Updated { hook, path } => format!("{hook}  updated  {}", path.display()),
        HookChange::Removed { hook, path, restored } => match restored {
            true => format!("{hook}  removed  {}  (the hook it chained to is back)", path.display()),
            false => format!("{hook}  removed  {}", path.display()),
        },
        HookChange::Unchanged { hook, path, state } => match state {
            HookState::Foreign => format!("{hook}  left alone (not git-loom's)  {}", path.display()),
            HookState::Absent => format!("{hook}  not installed"),
            HookState::Installed | HookState::Chained => {
                format!("{hook}  already installed  {}", path.display())
            }
        },
    }
}

fn print_status(dir: &std::path::Path, ui: &mut Ui) -> Result<Exit, CommandError> {
    let statuses = hooks::status(dir)?;
    if ui.json {
        let json: Vec<HookStatusJson> = statuses.iter().map(HookStatusJson::from).collect();
        ui.json_value(&json)?;
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|status| {
            let state = match (status.state, status.current) {
                (HookState::Installed | HookState::Chained, false) => {
                    format!("{} (outdated: run `git loom hooks install`)", status.state.as_str())
                }
                (state, _) => state.as_str().to_owned(),
            };
            vec![status.hook.to_string(), state, status.path.display().to_string()]
        })
        .collect();
    ui.table(&rows)?;
    Ok(Exit::Success)
}

/// The project, or `None` where a hook has nothing to do: outside a repository with git-loom
/// data.
fn project(context: &Context<'_>) -> Result<Option<Loom>, CommandError> {
    let store = match context.store() {
        Ok(store) => store,
        Err(_) => return Ok(None),
    };
    match Loom::load(store) {
        Ok(loom) => Ok(Some(loom)),
        Err(loom::Error::NotInitialized) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

pub fn run_hook(args: &HookArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    match &args.hook {
        HookRun::CommitMsg { file } => {
            let Some(loom) = project(context)? else {
                return Ok(Exit::Success);
            };
            // git passes the file relative to the directory the hook runs in.
            let file = std::path::absolute(context.user_path(file))?;
            loom.hook_commit_msg(&file)?;
            Ok(Exit::Success)
        }
        HookRun::PostCommit => {
            // A commit has happened already: a heartbeat that cannot be made is worth a
            // warning, never a failure.
            let heartbeat = project(context).and_then(|loom| match loom {
                Some(loom) => {
                    let actor = context.actor(loom.store())?;
                    Ok(loom.hook_post_commit(&actor)?)
                }
                None => Ok(None),
            });
            // Quiet when it works: this runs on every commit.
            if let Err(err) = heartbeat {
                ui.warn(format!("git-loom post-commit: no heartbeat: {}", err.message));
            }
            Ok(Exit::Success)
        }
        HookRun::PrePush { remote, .. } => {
            let mut lines = String::new();
            std::io::stdin().read_to_string(&mut lines)?;
            let Some(loom) = project(context)? else {
                return Ok(Exit::Success);
            };
            let actor = context.actor(loom.store())?;
            let check = loom.hook_pre_push(&lines, &actor)?;
            let Some(first) = check.refused.first() else {
                return Ok(Exit::Success);
            };
            for refused in &check.refused[1..] {
                ui.warn(format!(
                    "{} ({}) is claimed by {}",
                    refused.remote_ref, refused.task, refused.holder
                ));
            }
            let branch = first
                .remote_ref
                .strip_prefix("refs/heads/")
                .unwrap_or(&first.remote_ref);
            let mut err = CommandError::new(
                Exit::Error,
                format!(
                    "refusing to push {branch} to {remote}: task {} is claimed by {}, not {}",
                    first.task, first.holder, actor.agent
                ),
            );
            err.hints.push(format!(
                "ask {} to release it (`git loom release {}`), or push your work to another branch",
                first.holder, first.task
            ));
            Err(err)
        }
    }
}
