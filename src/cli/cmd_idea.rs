//! The idea backlog: `git loom idea`, `git loom ideas` and `git loom promote`.

use clap::Args;

use git_loom::loom::ListFilter;
use git_loom::model::View;
use git_loom::model::state::Kind;
use git_loom::tasks::NewTask;

use super::cmd_create::create_and_print;
use super::cmd_update::print_edit;
use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
use super::ui::Ui;

/// Record an idea in the backlog and print its id
#[derive(Debug, Args)]
pub struct IdeaArgs {
    /// One-line title
    title: String,
    /// Longer description
    #[arg(short, long, value_name = "TEXT")]
    description: Option<String>,
    /// A label (repeatable)
    #[arg(long = "label", value_name = "L")]
    labels: Vec<String>,
}

/// List ideas, or drop one from the backlog
#[derive(Debug, Args)]
pub struct IdeasArgs {
    /// Drop this idea (it is kept in history as cancelled)
    #[arg(long, value_name = "ID")]
    drop: Option<String>,
}

/// Turn an idea into a pending task (or an epic)
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Idea id, or a unique prefix of one
    id: String,
    /// Make it an epic instead of a task
    #[arg(long)]
    epic: bool,
}

pub fn run_idea(args: &IdeaArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let new = NewTask {
        description: args.description.clone().unwrap_or_default(),
        labels: args.labels.clone(),
        ..NewTask::titled(args.title.clone(), Kind::Idea)
    };
    create_and_print(&new, context, ui)
}

pub fn run_ideas(args: &IdeasArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    if let Some(id) = &args.drop {
        let actor = context.actor(loom.store())?;
        let outcome = loom.drop_idea(id, &actor)?;
        return print_edit(&loom, &outcome, context, ui);
    }
    let snapshot = loom.snapshot(context.now())?;
    render::report_problems(ui, &snapshot);
    let rows = snapshot.list(&ListFilter {
        statuses: vec![View::Idea],
        ..ListFilter::default()
    });
    render::print_tasks(&loom, &snapshot, &rows, ui, |task, _| {
        vec![task.id.to_string(), render::title_with_labels(task)]
    })?;
    Ok(Exit::Success)
}

pub fn run_promote(args: &PromoteArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.promote(&args.id, args.epic, &actor)?;
    print_edit(&loom, &outcome, context, ui)
}
