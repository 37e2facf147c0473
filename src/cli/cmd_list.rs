//! `git loom list` and `git loom ready`: tasks as tables or JSON arrays.

use clap::Args;

use git_loom::model::View;
use git_loom::ops::ListFilter;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::{self, TaskJson};
use super::ui::Ui;

/// List tasks (by default the open ones: not done, cancelled or ideas)
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tasks in this status as shown (repeatable): idea, epic, blocked, ready, claimed,
    /// done, failed, dead, cancelled
    #[arg(long = "status", value_name = "S", value_parser = parse_view)]
    statuses: Vec<View>,
    /// Only tasks with this label
    #[arg(long, value_name = "L")]
    label: Option<String>,
    /// Include done and cancelled tasks and ideas
    #[arg(long)]
    all: bool,
}

fn parse_view(input: &str) -> Result<View, String> {
    View::parse(input).ok_or_else(|| {
        format!("unknown status {input:?} (expected one of: idea, epic, blocked, ready, claimed, done, failed, dead, cancelled)")
    })
}

/// List ready tasks, best first
///
/// Order: priority, then how many open tasks wait on the task (directly or through others),
/// then age, then id.
#[derive(Debug, Args)]
pub struct ReadyArgs {
    /// Show at most N tasks
    #[arg(long, short = 'n', value_name = "N")]
    limit: Option<usize>,
}

pub fn run_list(args: &ListArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let snapshot = loom.snapshot(context.now())?;
    render::report_problems(ui, &snapshot);
    let filter = ListFilter {
        statuses: args.statuses.clone(),
        label: args.label.clone(),
        all: args.all,
    };
    let rows = snapshot.list(&filter);
    render::print_tasks(&loom, &snapshot, &rows, ui, |task, derived| {
        render::row(task, derived.view)
    })?;
    Ok(Exit::Success)
}

pub fn run_ready(args: &ReadyArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let snapshot = loom.snapshot(context.now())?;
    render::report_problems(ui, &snapshot);
    let mut ready = snapshot.ready();
    if let Some(limit) = args.limit {
        ready.truncate(limit);
    }
    if ui.json {
        let derived: Vec<_> = ready.iter().map(|r| snapshot.derive(&r.entry.task)).collect();
        let tasks: Vec<TaskJson<'_>> = ready
            .iter()
            .zip(&derived)
            .map(|(r, derived)| TaskJson {
                unblocks: Some(r.unblocks),
                ..TaskJson::new(&r.entry.task, derived)
            })
            .collect();
        ui.json_value(&tasks)?;
    } else {
        let table: Vec<Vec<String>> = ready
            .iter()
            .map(|r| {
                vec![
                    r.entry.task.id.to_string(),
                    r.entry.task.priority.to_string(),
                    format!("unblocks {}", r.unblocks),
                    render::title_with_labels(&r.entry.task),
                ]
            })
            .collect();
        ui.table(&table)?;
    }
    Ok(Exit::Success)
}
