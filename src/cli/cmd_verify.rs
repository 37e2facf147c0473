//! `git loom verify`: run a task's checks in its worktree; also the gate `done` passes first.

use std::path::PathBuf;

use clap::Args;

use git_loom::api::VerifyReportJson;
use git_loom::loom::Loom;
use git_loom::model::Task;
use git_loom::session::{Checked, WorkState, short_commit};
use git_loom::verify::{CheckResult, Report};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Run a task's checks (acceptance, truths, before/after-stage, artifacts, wiring, wiring
/// tests, dead code, regression test) against its committed work
///
/// Commands run through `sh -c` with LOOM_TASK and LOOM_WORKTREE set, each within
/// `[verify] timeout_secs`. A task worktree with uncommitted changes is not checked as it
/// stands: its HEAD commit is checked in a temporary checkout instead. Exit 0 when every check passes,
/// 5 when any fails or cannot be run.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The task
    id: String,
    /// Check this directory (default: the claim's worktree, else the task's, else the main
    /// working tree)
    #[arg(long, value_name = "PATH")]
    worktree: Option<PathBuf>,
}

pub fn run(args: &VerifyArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let task = loom.task(&args.id)?.task;
    let worktree = args.worktree.as_deref().map(|path| context.user_path(path));
    let state = loom.work_state(&task, worktree)?;
    let passed = check(&loom, &task, &state, ui)?;
    Ok(if passed { Exit::Success } else { Exit::ChecksFailed })
}

/// Run the checks and print the report; returns whether all passed.
fn check(loom: &Loom, task: &Task, state: &WorkState, ui: &mut Ui) -> Result<bool, CommandError> {
    let json = ui.json;
    announce(state, ui);
    let (checked, report) = loom.verify_task(task, state, Vec::new(), |result| {
        if !json {
            let _ = ui.line(line(result));
        }
    })?;
    print_report(task, state, &checked, &report, true, ui)?;
    Ok(report.passed())
}

/// Say, before checks run, that uncommitted changes are left out of them.
pub fn announce(state: &WorkState, ui: &mut Ui) {
    if let Some(head) = state.head.filter(|_| state.own && !state.changes.is_empty()) {
        ui.note(format!(
            "{} has {} uncommitted change(s), which are not checked: checking commit {} in a temporary checkout",
            state.dir.display(),
            state.changes.len(),
            short_commit(&head.to_string())
        ));
    }
}

/// Print the report of checks that ran. With `--json` and not `always_report`, a passing
/// report prints nothing (`done` prints its own result instead).
pub fn print_report(
    task: &Task,
    state: &WorkState,
    checked: &Checked,
    report: &Report,
    always_report: bool,
    ui: &mut Ui,
) -> Result<(), CommandError> {
    let json = ui.json;
    let commit = match checked {
        Checked::Commit(commit) => Some(commit.to_string()),
        Checked::InPlace(_) => None,
    };
    if json && (always_report || !report.passed()) {
        ui.json_value(&VerifyReportJson::new(task, state, checked, report))?;
    } else if !json {
        let place = match &commit {
            Some(commit) => format!("commit {} of {}", short_commit(commit), state.dir.display()),
            None => state.dir.display().to_string(),
        };
        summary(ui, task, &place, report)?;
    }
    Ok(())
}

/// One check's line, as it ends.
pub fn line(result: &CheckResult) -> String {
    let mark = if result.passed { "pass" } else { "FAIL" };
    let kind = result.kind.as_str();
    let mut text = format!("{mark}  {kind:<10}  {}", result.name);
    if !result.passed && !result.detail.is_empty() {
        text.push_str(&format!("\n      {}", result.detail.replace('\n', "\n      ")));
    }
    if !result.passed && !result.stderr.trim().is_empty() {
        text.push_str(&format!(
            "\n      stderr: {}",
            result.stderr.trim_end().replace('\n', "\n      ")
        ));
    }
    text
}

fn summary(ui: &mut Ui, task: &Task, place: &str, report: &Report) -> Result<(), CommandError> {
    let failed = report.checks.iter().filter(|check| !check.passed).count();
    if report.checks.is_empty() {
        ui.note(format!("{} has no checks", task.id));
    } else if failed == 0 && report.checks.len() == 1 {
        ui.line(format!("{}: its one check passes in {place}", task.id))?;
    } else if failed == 0 {
        ui.line(format!(
            "{}: all {} checks pass in {place}",
            task.id,
            report.checks.len(),
        ))?;
    } else {
        ui.line(format!(
            "{}: {failed} of {} checks failed in {place}",
            task.id,
            report.checks.len(),
        ))?;
    }
    Ok(())
}
