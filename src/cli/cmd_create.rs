//! `git loom create`: add a task, idea or epic to the graph.

use clap::Args;

use git_loom::model::Priority;
use git_loom::model::state::Kind;
use git_loom::tasks::NewTask;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::TaskJson;
use super::ui::Ui;

/// Create a task and print its id
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// One-line title
    title: String,
    /// Longer description: context, approach, constraints
    #[arg(short, long, value_name = "TEXT")]
    description: Option<String>,
    /// Priority, p0 (most urgent) to p3 [default: from settings, p2]
    #[arg(short, long, value_name = "P")]
    priority: Option<Priority>,
    /// A task that must be done first (repeatable)
    #[arg(long = "dep", value_name = "ID")]
    deps: Vec<String>,
    /// The epic this task belongs to
    #[arg(long, value_name = "ID")]
    parent: Option<String>,
    /// A label (repeatable)
    #[arg(long = "label", value_name = "L")]
    labels: Vec<String>,
    /// A command that must succeed for the work to be accepted (repeatable)
    #[arg(long = "accept", value_name = "CMD")]
    acceptance: Vec<String>,
    /// A glob of files the task is expected to touch (repeatable)
    #[arg(long = "files", value_name = "GLOB")]
    files: Vec<String>,
    /// Failures allowed before the task is dead [default: retry.limit from settings, 3]
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,
    /// Create an idea (backlog; not ready until promoted)
    #[arg(long, conflicts_with = "epic")]
    idea: bool,
    /// Create an epic (done when all its children are done)
    #[arg(long)]
    epic: bool,
}

pub fn run(args: &CreateArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let kind = match (args.idea, args.epic) {
        (true, _) => Kind::Idea,
        (_, true) => Kind::Epic,
        _ => Kind::Task,
    };
    let new = NewTask {
        title: args.title.clone(),
        description: args.description.clone().unwrap_or_default(),
        kind,
        priority: args.priority,
        deps: args.deps.clone(),
        parent: args.parent.clone(),
        labels: args.labels.clone(),
        acceptance: args.acceptance.clone(),
        files: args.files.clone(),
        max_retries: args.max_retries,
    };
    create_and_print(&new, context, ui)
}

/// Create `new` and print its id (or, with `--json`, the task).
pub fn create_and_print(new: &NewTask, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let task = loom.create(new, &actor)?;
    if ui.json {
        let derived = loom.derive(&task, context.now())?;
        ui.json_value(&TaskJson::new(&task, &derived))?;
    } else {
        ui.line(task.id.as_str())?;
    }
    Ok(Exit::Success)
}
