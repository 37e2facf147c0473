//! `git loom list` and `git loom ready`: tasks as tables or JSON arrays.

use clap::Args;

use git_loom::api::board_json;
use git_loom::loom::{BoardRow, BoardView, JsonListing, ListFilter};
use git_loom::model::View;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
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
    let filter = ListFilter {
        statuses: args.statuses.clone(),
        label: args.label.clone(),
        all: args.all,
    };
    if !ui.json {
        // The human table needs only what the board keeps.
        return loom.with_board(context.now(), |board| {
            report_board_problems(ui, board);
            let table: Vec<Vec<String>> = board
                .list(&filter)
                .map(|row| {
                    let status = match row.awaiting_merge && row.view == View::Blocked {
                        true => "blocked (awaiting merge)".to_owned(),
                        false => row.view.to_string(),
                    };
                    vec![
                        row.id.to_owned(),
                        status,
                        row.priority.to_string(),
                        render::stage_cell(row.plan, row.stage),
                        title_with_labels(row),
                    ]
                })
                .collect();
            ui.table(&without_empty_stage_column(table, 3))?;
            Ok(Exit::Success)
        })?;
    }
    // The JSON of every task is kept with the board: copied, not rendered again.
    loom.with_board_json(context.now(), board_json, JsonListing::List, |board, text| {
        report_board_problems(ui, board);
        for warning in &text.warnings {
            ui.warn(warning);
        }
        ui.json_items(board.list_indices(&filter).map(|index| text.items[index]))?;
        Ok(Exit::Success)
    })?
}

pub fn run_ready(args: &ReadyArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let limit = args.limit.unwrap_or(usize::MAX);
    if !ui.json {
        return loom.with_board(context.now(), |board| {
            report_board_problems(ui, board);
            let table: Vec<Vec<String>> = board
                .ready()
                .take(limit)
                .map(|(row, unblocks)| {
                    vec![
                        row.id.to_owned(),
                        row.priority.to_string(),
                        format!("unblocks {unblocks}"),
                        render::stage_cell(row.plan, row.stage),
                        title_with_labels(row),
                    ]
                })
                .collect();
            ui.table(&without_empty_stage_column(table, 3))?;
            Ok(Exit::Success)
        })?;
    }
    loom.with_board_json(context.now(), board_json, JsonListing::Ready, |board, text| {
        report_board_problems(ui, board);
        ui.json_items(text.items.iter().take(limit).copied())?;
        Ok(Exit::Success)
    })?
}

/// The table without its stage column (at `column`) when no listed task came from a plan, so
/// listings of hand-made tasks look as they always did.
fn without_empty_stage_column(mut table: Vec<Vec<String>>, column: usize) -> Vec<Vec<String>> {
    if table.iter().all(|row| row.get(column).is_none_or(String::is_empty)) {
        for row in &mut table {
            if column < row.len() {
                row.remove(column);
            }
        }
    }
    table
}

fn report_board_problems(ui: &mut Ui, board: &BoardView<'_>) {
    for problem in &board.problems {
        ui.warn(format!("skipping {}: {}", problem.ref_name, problem.problem));
    }
}

/// The title followed by the labels, as every table shows it.
fn title_with_labels(row: &BoardRow<'_>) -> String {
    if row.labels.is_empty() {
        row.title.to_owned()
    } else {
        format!("{}  [{}]", row.title, row.labels.join(", "))
    }
}
