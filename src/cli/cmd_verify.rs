//! `git loom verify`: run a task's checks in its worktree; also the gate `done` passes first.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use git_loom::model::Task;
use git_loom::ops::{Loom, has_checks, spec_of};
use git_loom::verify::{CheckResult, Report};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Run a task's checks (acceptance commands, artifacts, wiring) in its worktree
///
/// Commands run through `sh -c` with LOOM_TASK and LOOM_WORKTREE set, each within
/// `[verify] timeout_secs`. Exit 0 when every check passes, 5 when any fails.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The task
    id: String,
    /// Check this directory (default: the claim's worktree, else the task's, else the main
    /// working tree)
    #[arg(long, value_name = "PATH")]
    worktree: Option<PathBuf>,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    task: &'a str,
    worktree: String,
    passed: bool,
    checks: &'a [CheckResult],
}

pub fn run(args: &VerifyArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let task = loom.task(&args.id)?.task;
    let worktree = args.worktree.as_deref().map(|path| context.user_path(path));
    let passed = check(&loom, &task, worktree, true, ui)?;
    Ok(if passed { Exit::Success } else { Exit::ChecksFailed })
}

/// Run the checks and print the report; returns whether all passed. With `--json` and not
/// `always_report`, a passing report prints nothing (`done` prints its own result instead).
pub fn check(
    loom: &Loom,
    task: &Task,
    worktree: Option<PathBuf>,
    always_report: bool,
    ui: &mut Ui,
) -> Result<bool, CommandError> {
    let json = ui.json;
    let (dir, report) = loom.verify_task(task, worktree, Vec::new(), |result| {
        if !json {
            let _ = ui.line(line(result));
        }
    })?;
    if json && (always_report || !report.passed()) {
        ui.json_value(&ReportJson {
            task: task.id.as_str(),
            worktree: dir.display().to_string(),
            passed: report.passed(),
            checks: &report.checks,
        })?;
    } else if !json {
        summary(ui, task, &dir, &report)?;
    }
    Ok(report.passed())
}

/// Whether `done` has checks to run for this task.
pub fn has_any_checks(task: &Task) -> bool {
    has_checks(&spec_of(task))
}

fn line(result: &CheckResult) -> String {
    let mark = if result.passed { "pass" } else { "FAIL" };
    let kind = serde_json::to_value(result.kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
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

fn summary(ui: &mut Ui, task: &Task, dir: &std::path::Path, report: &Report) -> Result<(), CommandError> {
    let failed = report.checks.iter().filter(|check| !check.passed).count();
    if report.checks.is_empty() {
        ui.note(format!("{} has no checks", task.id));
    } else if failed == 0 {
        ui.line(format!(
            "{}: all {} checks pass in {}",
            task.id,
            report.checks.len(),
            dir.display()
        ))?;
    } else {
        ui.line(format!(
            "{}: {failed} of {} checks failed in {}",
            task.id,
            report.checks.len(),
            dir.display()
        ))?;
    }
    Ok(())
}
