//! `git loom worktree add|list|remove|prune`: one linked worktree per task.

use clap::{Args, Subcommand};

use git_loom::api::{RemovalJson, WorktreeAddedJson, WorktreeJson};
use git_loom::session::Removal;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Manage task worktrees (one linked git worktree per task, on branch loom/<id>)
#[derive(Debug, Args)]
pub struct WorktreeArgs {
    #[command(subcommand)]
    action: WorktreeAction,
}

#[derive(Debug, Subcommand)]
enum WorktreeAction {
    /// Create the worktree of a task (or show the existing one)
    ///
    /// The worktree goes to `[worktrees] dir` (default `.loom/worktrees/<id>`), which is added
    /// to .git/info/exclude; the branch is the task's (default `loom/<id>`), created from
    /// --base or the target branch. Under `[merge] gate = "done"` a new branch also starts
    /// from the work of the task's done dependencies that is not merged yet (their branches
    /// merged onto the base in id order); if those conflict, nothing is created (exit 3).
    Add {
        /// The task
        id: String,
        /// Start the branch from this branch (default: `[worktrees] target`, else the branch
        /// checked out in the main working tree)
        #[arg(long, value_name = "BRANCH")]
        base: Option<String>,
    },
    /// List linked worktrees: task, branch, path, uncommitted changes, ahead/behind the target
    List,
    /// Remove a task's worktree (kept if it has uncommitted changes or an unmerged branch)
    Remove {
        /// The task
        id: String,
        /// Remove it anyway, and delete its branch even if unmerged
        #[arg(long)]
        force: bool,
    },
    /// Remove the worktrees of done and cancelled tasks whose branches are merged
    Prune,
}

pub fn run(args: &WorktreeArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    match &args.action {
        WorktreeAction::Add { id, base } => {
            let actor = context.actor(loom.store())?;
            let worktree = loom.worktree_add(id, base.as_deref(), &actor)?;
            if ui.json {
                ui.json_value(&WorktreeAddedJson::from(&worktree))?;
            } else {
                ui.line(format!(
                    "{}  {}  {}",
                    worktree.task,
                    worktree.branch,
                    worktree.path.display()
                ))?;
                if !worktree.stacked.is_empty() {
                    let deps: Vec<&str> = worktree.stacked.iter().map(|id| id.as_str()).collect();
                    ui.note(format!(
                        "{} starts from the work of {}",
                        worktree.branch,
                        deps.join(", ")
                    ));
                }
            }
            Ok(Exit::Success)
        }
        WorktreeAction::List => {
            let list = loom.worktree_list()?;
            if ui.json {
                let rows: Vec<WorktreeJson<'_>> = list.iter().map(WorktreeJson::from).collect();
                ui.json_value(&rows)?;
            } else {
                let table: Vec<Vec<String>> = list
                    .iter()
                    .map(|status| {
                        vec![
                            status.task.as_ref().map_or("-".to_owned(), ToString::to_string),
                            status.branch.clone().unwrap_or_else(|| "(detached)".into()),
                            status.path.display().to_string(),
                            if status.dirty { "dirty".into() } else { "clean".into() },
                            status
                                .ahead_behind
                                .map_or(String::new(), |(ahead, behind)| format!("+{ahead} -{behind}")),
                        ]
                    })
                    .collect();
                ui.table(&table)?;
            }
            Ok(Exit::Success)
        }
        WorktreeAction::Remove { id, force } => {
            let removal = loom.worktree_remove(id, *force)?;
            let kept = matches!(removal, Removal::Kept { .. });
            print_removals(ui, &[removal])?;
            Ok(if kept { Exit::Conflict } else { Exit::Success })
        }
        WorktreeAction::Prune => {
            let removals = loom.worktree_prune()?;
            print_removals(ui, &removals)?;
            Ok(Exit::Success)
        }
    }
}

fn print_removals(ui: &mut Ui, removals: &[Removal]) -> Result<(), CommandError> {
    if ui.json {
        let rows: Vec<RemovalJson<'_>> = removals.iter().map(RemovalJson::from).collect();
        ui.json_value(&rows)?;
        return Ok(());
    }
    for removal in removals {
        match removal {
            Removal::Removed {
                task,
                path,
                branch_deleted,
            } => ui.line(format!(
                "removed {task}'s worktree {}{}",
                path.display(),
                if *branch_deleted { " and its branch" } else { "" }
            ))?,
            Removal::Kept { task, path, why } => ui.warn(format!(
                "kept {task}'s worktree {}: {why} (use --force to remove it anyway)",
                path.display()
            )),
        }
    }
    Ok(())
}
