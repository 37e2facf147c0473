//! `git loom plan import`: turning a plan document into tasks, and keeping them in step with it.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use git_loom::api::PlanImportJson;
use git_loom::plan::{detect_source, earlier_keys, parse_plan, plan_key};
use git_loom::tasks::{ImportOutcome, PlanKeys};

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
    /// Stage ids become aliases of their tasks. A plan is known by its `plan_id`, or else by its
    /// path in the repository without the IN_PROGRESS-/DONE- prefixes of its file name.
    /// Re-importing is idempotent: unchanged stages change nothing, changed ones update their
    /// task, new ones are added, and stages gone from the plan are reported (cancelled only
    /// with --prune). Done tasks are never changed (changed stages of done tasks are reported as
    /// skipped). A plan with any error is refused as a whole, every error listed with its line.
    Import {
        /// The plan file (`.toml` is read as TOML, anything else as markdown)
        file: PathBuf,
        /// Show what would change without writing anything (new tasks are listed by stage id:
        /// their task ids are drawn when they are written)
        #[arg(long)]
        dry_run: bool,
        /// Cancel the open tasks of stages no longer in the plan
        #[arg(long)]
        prune: bool,
    },
}

/// The plan file's path relative to the root of the working tree, `/`-separated; a file
/// outside it is named by its absolute path.
fn repository_path(file: &Path, root: Option<&Path>) -> String {
    let absolute = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    let relative = root
        .and_then(|root| root.canonicalize().ok())
        .and_then(|root| absolute.strip_prefix(root).ok().map(Path::to_path_buf));
    let path = relative.unwrap_or(absolute);
    path.components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .filter(|part| part != "/")
        .collect::<Vec<_>>()
        .join("/")
}

pub fn run(args: &PlanArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let PlanAction::Import { file, dry_run, prune } = &args.action;
    let (plan_key, outcome, warnings) = import(file, *dry_run, *prune, context, ui)?;
    if ui.json {
        ui.json_value(&PlanImportJson::new(&plan_key, *dry_run, &outcome, &warnings))?;
        return Ok(Exit::Success);
    }
    print_outcome(ui, &outcome, *dry_run)?;
    Ok(Exit::Success)
}

/// Import the plan in `file` (as `plan import` does; `run --plan` too): its key, what the
/// import did, and the plan's warnings (already shown).
pub fn import(
    file: &std::path::Path,
    dry_run: bool,
    prune: bool,
    context: &Context<'_>,
    ui: &mut Ui,
) -> Result<(String, ImportOutcome, Vec<String>), CommandError> {
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
    let loom = context.loom()?;
    let path = repository_path(file, loom.store().repo().work_dir());
    let plan_key = plan_key(&parsed.plan, &path);
    let earlier = earlier_keys(&path, &plan_key);
    let actor = context.actor(loom.store())?;
    let keys = PlanKeys {
        key: &plan_key,
        earlier: &earlier,
    };
    let outcome = loom.import_plan(&parsed.plan, &keys, dry_run, prune, &actor)?;
    Ok((plan_key, outcome, warnings))
}

fn print_outcome(ui: &mut Ui, outcome: &ImportOutcome, dry_run: bool) -> Result<(), CommandError> {
    let verb = |done: &'static str, would: &'static str| if dry_run { would } else { done };
    for (stage, id) in &outcome.created {
        match dry_run {
            // The id a real import draws is not known yet, so none is shown.
            true => ui.line(format!("would create  (new task)     {stage}"))?,
            false => ui.line(format!("created    {id}  {stage}"))?,
        }
    }
    for (stage, id) in &outcome.updated {
        ui.line(format!("{}  {id}  {stage}", verb("updated  ", "would update")))?;
    }
    for (stage, id) in &outcome.skipped {
        ui.warn(format!(
            "stage {stage} changed in the plan but {id} is done; it was left as it is"
        ));
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
        "{} created, {} updated, {} unchanged, {}{} removed from the plan{}",
        outcome.created.len(),
        outcome.updated.len(),
        outcome.unchanged.len(),
        match outcome.skipped.len() {
            0 => String::new(),
            skipped => format!("{skipped} skipped (done), "),
        },
        outcome.removed.len(),
        if dry_run { " (dry run: nothing written)" } else { "" }
    ))?;
    Ok(())
}
