//! `git loom update` and `git loom dep`: change a task's fields, dependencies and status.

use clap::{Args, Subcommand};

use git_loom::loom::Written;
use git_loom::model::{Priority, Status, Task};
use git_loom::tasks::{Changes, EditOutcome};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::{self, TaskJson};
use super::ui::Ui;

/// Change a task's fields, dependencies, epic or status
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// New title
    #[arg(long)]
    title: Option<String>,
    /// New description
    #[arg(short, long, value_name = "TEXT")]
    description: Option<String>,
    /// New priority, p0 to p3
    #[arg(short, long, value_name = "P")]
    priority: Option<Priority>,
    /// Add a dependency (repeatable)
    #[arg(long = "add-dep", value_name = "ID")]
    add_deps: Vec<String>,
    /// Remove a dependency (repeatable)
    #[arg(long = "rm-dep", value_name = "ID")]
    rm_deps: Vec<String>,
    /// Add a label (repeatable)
    #[arg(long = "add-label", value_name = "L")]
    add_labels: Vec<String>,
    /// Remove a label (repeatable)
    #[arg(long = "rm-label", value_name = "L")]
    rm_labels: Vec<String>,
    /// Move the task into this epic
    #[arg(long, value_name = "ID", conflicts_with = "no_parent")]
    parent: Option<String>,
    /// Take the task out of its epic
    #[arg(long)]
    no_parent: bool,
    /// Failures allowed before the task is dead (overrides retry.limit from settings)
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,
    /// New stored status: idea, pending, epic, done, failed, dead, cancelled
    /// (ready and blocked are derived from dependencies)
    #[arg(long, value_name = "S", value_parser = parse_status)]
    status: Option<Status>,
}

fn parse_status(input: &str) -> Result<Status, String> {
    match input {
        "ready" | "blocked" | "claimed" => Err(format!(
            "{input} is derived, not stored: a pending task is ready when its dependencies are done; use --status pending"
        )),
        _ => input.parse::<Status>().map_err(|err| err.to_string()),
    }
}

/// Add or remove a dependency
#[derive(Debug, Args)]
pub struct DepArgs {
    #[command(subcommand)]
    action: DepAction,
}

#[derive(Debug, Subcommand)]
enum DepAction {
    /// Make ID wait for DEP
    Add {
        /// The task that waits
        id: String,
        /// The task it waits for
        dep: String,
    },
    /// Stop ID waiting for DEP
    Rm {
        /// The task that waits
        id: String,
        /// The task it no longer waits for
        dep: String,
    },
}

pub fn run(args: &UpdateArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let changes = Changes {
        title: args.title.clone(),
        description: args.description.clone(),
        priority: args.priority,
        add_deps: args.add_deps.clone(),
        rm_deps: args.rm_deps.clone(),
        add_labels: args.add_labels.clone(),
        rm_labels: args.rm_labels.clone(),
        parent: match (&args.parent, args.no_parent) {
            (Some(parent), _) => Some(Some(parent.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        },
        status: args.status,
        max_retries: args.max_retries,
    };
    apply(&args.id, &changes, context, ui)
}

pub fn run_dep(args: &DepArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let (id, changes) = match &args.action {
        DepAction::Add { id, dep } => (
            id,
            Changes {
                add_deps: vec![dep.clone()],
                ..Changes::default()
            },
        ),
        DepAction::Rm { id, dep } => (
            id,
            Changes {
                rm_deps: vec![dep.clone()],
                ..Changes::default()
            },
        ),
    };
    apply(id, &changes, context, ui)
}

fn apply(id: &str, changes: &Changes, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.update(id, changes, &actor)?;
    print_edit(&loom, &outcome, context, ui)
}

/// Print what an edit did: the task as JSON, or one line per written task.
pub fn print_edit(
    loom: &git_loom::loom::Loom,
    outcome: &EditOutcome,
    context: &Context<'_>,
    ui: &mut Ui,
) -> Result<Exit, CommandError> {
    print_written(loom, &outcome.task, &outcome.written, "nothing to change", context, ui)
}

/// Print the task as JSON, or one line per written version, or `unchanged` as a note when
/// nothing was written.
pub fn print_written(
    loom: &git_loom::loom::Loom,
    task: &Task,
    written: &[Written],
    unchanged: &str,
    context: &Context<'_>,
    ui: &mut Ui,
) -> Result<Exit, CommandError> {
    if ui.json {
        let derived = loom.derive(task, context.now())?;
        let claim = match loom.live_claim(&task.id)? {
            Some((_, Ok(claim))) => Some(claim),
            _ => None,
        };
        ui.json_value(&TaskJson::new(task, &derived).with_claim(claim.as_ref()))?;
    } else if written.is_empty() {
        ui.note(format!("{}: {unchanged}", task.id));
    } else {
        for line in render::written(written) {
            ui.line(line)?;
        }
    }
    Ok(Exit::Success)
}
