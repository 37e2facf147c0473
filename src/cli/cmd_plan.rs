//! `git loom plan import`: turning a plan document into tasks, and keeping them in step with it.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use git_loom::model::TaskId;
use git_loom::ops::ImportOutcome;
use git_loom::plan::{detect_source, parse_plan};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Work with plans (markdown with a YAML or TOML metadata block, or a TOML file)
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    action: PlanAction,
}

#[derive(Debug, Subcommand)]
enum PlanAction {
    /// Create or update one task per stage of a plan (see doc/plans.md)
    ///
    /// Stage ids become aliases of their tasks. Re-importing is idempotent: unchanged stages
    /// change nothing, changed ones update their task, new ones are added, and stages gone from
    /// the plan are reported (cancelled only with --prune). Done tasks are never reopened. A
    /// plan with any error is refused as a whole, every error listed with its line.
    Import {
        /// The plan file (`.toml` is read as TOML, anything else as markdown)
        file: PathBuf,
        /// Show what would change without writing anything
        #[arg(long)]
        dry_run: bool,
        /// Cancel the open tasks of stages no longer in the plan
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Serialize)]
struct ImportJson<'a> {
    plan: &'a str,
    dry_run: bool,
    created: Vec<StageJson<'a>>,
    updated: Vec<StageJson<'a>>,
    unchanged: Vec<StageJson<'a>>,
    removed: Vec<StageJson<'a>>,
    cancelled: Vec<StageJson<'a>>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct StageJson<'a> {
    stage: &'a str,
    id: &'a str,
}

fn stages(list: &[(String, TaskId)]) -> Vec<StageJson<'_>> {
    list.iter()
        .map(|(stage, id)| StageJson { stage, id: id.as_str() })
        .collect()
}

pub fn run(args: &PlanArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let PlanAction::Import { file, dry_run, prune } = &args.action;
    let file = &context.user_path(file);
    let text = std::fs::read_to_string(file)
        .map_err(|err| CommandError::new(Exit::Error, format!("cannot read {}: {err}", file.display())))?;
    let parsed = match parse_plan(&text, detect_source(file)) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let listed: Vec<String> = errors
                .0
                .iter()
                .map(|error| format!("  {}: {error}", file.display()))
                .collect();
            return Err(CommandError::usage(format!(
                "{} is not a valid plan ({} error{}); nothing was imported:\n{}",
                file.display(),
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" },
                listed.join("\n")
            )));
        }
    };
    let warnings: Vec<String> = parsed
        .warnings
        .iter()
        .map(|warning| format!("{}: {warning}", file.display()))
        .collect();
    for warning in &warnings {
        ui.warn(warning);
    }
    let plan_key = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.import_plan(&parsed.plan, &plan_key, *dry_run, *prune, &actor)?;
    if ui.json {
        ui.json_value(&ImportJson {
            plan: &plan_key,
            dry_run: *dry_run,
            created: stages(&outcome.created),
            updated: stages(&outcome.updated),
            unchanged: stages(&outcome.unchanged),
            removed: stages(&outcome.removed),
            cancelled: stages(&outcome.cancelled),
            warnings,
        })?;
        return Ok(Exit::Success);
    }
    print_outcome(ui, &outcome, *dry_run)?;
    Ok(Exit::Success)
}

fn print_outcome(ui: &mut Ui, outcome: &ImportOutcome, dry_run: bool) -> Result<(), CommandError> {
    let verb = |done: &'static str, would: &'static str| if dry_run { would } else { done };
    for (stage, id) in &outcome.created {
        ui.line(format!("{}  {id}  {stage}", verb("created  ", "would create")))?;
    }
    for (stage, id) in &outcome.updated {
        ui.line(format!("{}  {id}  {stage}", verb("updated  ", "would update")))?;
    }
    for (stage, id) in &outcome.cancelled {
        ui.line(format!("{}  {id}  {stage}", verb("cancelled", "would cancel")))?;
    }
    for (stage, id) in outcome
        .removed
        .iter()
        .filter(|removed| !outcome.cancelled.contains(removed))
    {
        ui.warn(format!(
            "stage {stage} ({id}) is no longer in the plan; its task stays open (--prune cancels it)"
        ));
    }
    ui.line(format!(
        "{} created, {} updated, {} unchanged, {} removed from the plan{}",
        outcome.created.len(),
        outcome.updated.len(),
        outcome.unchanged.len(),
        outcome.removed.len(),
        if dry_run { " (dry run: nothing written)" } else { "" }
    ))?;
    Ok(())
}
