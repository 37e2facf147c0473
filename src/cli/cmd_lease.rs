//! Taking work back and the dead letter: `sweep`, `recover`, `dead` and `reset`.

use clap::Args;

use git_loom::api::{RecoveryJson, SweepJson};
use git_loom::loom::ListFilter;
use git_loom::model::View;

use super::cmd_update::print_edit;
use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
use super::ui::Ui;

/// Requeue tasks whose lease expired, and failed tasks whose backoff passed
///
/// Each expired claim is removed only if it is still exactly the claim judged expired, so a
/// heartbeat that lands first always wins. Safe to run from many places at once. With a
/// coordination remote, fetches first, so that claims only the remote has are judged too.
#[derive(Debug, Args)]
pub struct SweepArgs {}

/// Classify claims as active, stale or expired, and requeue the stale and expired ones
///
/// A dry run by default: shows what --execute would do.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Requeue the stale and expired claims
    #[arg(long)]
    execute: bool,
}

/// List dead tasks (failed past their retry limit), or give one another round
#[derive(Debug, Args)]
pub struct DeadArgs {
    /// Return this dead task to pending with its retry count reset
    #[arg(long, value_name = "ID")]
    retry: Option<String>,
}

/// Return a failed, dead, cancelled or stuck (claimed) task to pending
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// Also forget the task's output and last failure
    #[arg(long)]
    clear_output: bool,
}

/// Warn about every claim left alone, then say how many there were.
fn report_skipped(ui: &mut Ui, problems: &[git_loom::loom::Problem]) {
    for problem in problems {
        ui.warn(format!("skipping {}: {}", problem.ref_name, problem.problem));
    }
    if !problems.is_empty() {
        ui.warn(format!(
            "skipped {}, each named above, and went on with the rest; `git loom doctor` examines them",
            problems.len()
        ));
    }
}

pub fn run_sweep(_: &SweepArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.sweep(&actor)?;
    report_skipped(ui, &outcome.problems);
    for litter in &outcome.cleaned {
        ui.note(format!("removed {} left by a dead writer", litter.path.display()));
    }
    if ui.json {
        ui.json_value(&SweepJson::from(&outcome))?;
    } else {
        for (id, agent) in &outcome.expired {
            ui.line(format!("{id}  requeued: lease of {agent} expired"))?;
        }
        for (id, agent) in &outcome.void {
            ui.line(format!(
                "{id}  removed the void claim of {agent}: the task had moved on"
            ))?;
        }
        for id in &outcome.revived {
            ui.line(format!("{id}  pending again: retry backoff passed"))?;
        }
        let nothing = outcome.expired.is_empty() && outcome.void.is_empty() && outcome.revived.is_empty();
        if nothing && outcome.cleaned.is_empty() && outcome.problems.is_empty() {
            ui.note("nothing to sweep");
        }
    }
    Ok(Exit::Success)
}

pub fn run_recover(args: &RecoverArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let (recoveries, problems) = loom.recover(args.execute, &actor)?;
    report_skipped(ui, &problems);
    if ui.json {
        let json: Vec<RecoveryJson<'_>> = recoveries.iter().map(RecoveryJson::from).collect();
        ui.json_value(&json)?;
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = recoveries
        .iter()
        .map(|r| {
            let action = match (r.requeue, args.execute, r.requeued) {
                (false, _, _) => "keep",
                (true, false, _) => "would requeue",
                (true, true, true) => "requeued",
                (true, true, false) => "kept: the holder heartbeat first",
            };
            vec![
                r.id.to_string(),
                r.health.to_string(),
                render::claim_line(&r.claim, context.now()),
                action.to_owned(),
            ]
        })
        .collect();
    ui.table(&rows)?;
    if recoveries.is_empty() {
        ui.note("no claims");
    }
    Ok(Exit::Success)
}

pub fn run_dead(args: &DeadArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    if let Some(id) = &args.retry {
        let actor = context.actor(loom.store())?;
        let outcome = loom.retry_dead(id, &actor)?;
        return print_edit(&loom, &outcome, context, ui);
    }
    let snapshot = loom.snapshot(context.now())?;
    render::report_problems(ui, &snapshot);
    let rows = snapshot.list(&ListFilter {
        statuses: vec![View::Dead],
        ..ListFilter::default()
    });
    render::print_tasks(&loom, &snapshot, &rows, ui, |task, _| {
        vec![
            task.id.to_string(),
            format!("{} failures", task.retries),
            task.title.clone(),
            task.last_failure.clone().unwrap_or_default(),
        ]
    })?;
    Ok(Exit::Success)
}

pub fn run_reset(args: &ResetArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.reset(&args.id, args.clear_output, &actor)?;
    print_edit(&loom, &outcome, context, ui)
}
