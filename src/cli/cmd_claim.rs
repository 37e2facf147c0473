//! The holder's commands: `claim`, `heartbeat`, `release`, `done` and `fail`.

use clap::Args;

use git_loom::api::UncommittedJson;
use git_loom::claims::{ClaimOptions, Credentials, Held, NextFilter};
use git_loom::loom::Loom;
use git_loom::model::Priority;
use git_loom::session::{DoneEvent, DoneOptions, DoneOutcome};

use super::cmd_update::print_edit;
use super::cmd_verify;
use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::{self, TaskJson};
use super::ui::Ui;

/// Claim a ready task: exactly one agent gets it
///
/// Prints the task id and the claim token. With --next, claims the best ready task, moving on
/// to the next one when another agent wins a race; exits 4 when nothing is ready.
#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Task id, or a unique prefix of one
    #[arg(required_unless_present = "next", conflicts_with = "next")]
    id: Option<String>,
    /// Claim the best ready task instead of a named one (with a coordination remote, fetching
    /// first when the last fetch is older than [remote] fetch_after_secs)
    #[arg(long)]
    next: bool,
    /// With --next: only tasks with this label
    #[arg(long, value_name = "L")]
    label: Option<String>,
    /// With --next: only these priorities, `p1` or a range `p0..p1`
    #[arg(long, value_name = "P..", value_parser = parse_priorities)]
    priority: Option<(Priority, Priority)>,
    /// Lease length in seconds [default: claims.ttl_secs from settings, 1800]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=git_loom::model::claim::MAX_DURATION_SECS))]
    ttl: Option<u64>,
}

fn parse_priorities(input: &str) -> Result<(Priority, Priority), String> {
    let (low, high) = input.split_once("..").unwrap_or((input, input));
    let low: Priority = low
        .parse()
        .map_err(|err: git_loom::model::UnknownName| err.to_string())?;
    let high: Priority = high
        .parse()
        .map_err(|err: git_loom::model::UnknownName| err.to_string())?;
    Ok((low.min(high), low.max(high)))
}

/// Options of the commands only the holder may run.
#[derive(Debug, Args)]
pub struct HolderArgs {
    /// The claim token, when acting under another agent name than the claimer
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Act although another agent holds the claim (recorded in the task's history)
    #[arg(long)]
    force: bool,
}

impl HolderArgs {
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            token: self.token.as_deref(),
            force: self.force,
        }
    }
}

/// Extend the lease on a task you hold, optionally reporting progress
#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// What you are doing now
    #[arg(long, value_name = "TEXT")]
    progress: Option<String>,
    /// How far along you are, 0 to 100
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=100))]
    percent: Option<u8>,
    #[command(flatten)]
    holder: HolderArgs,
}

/// Give a task you hold back, ready for someone else
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Task id, or a unique prefix of one
    id: String,
    #[command(flatten)]
    holder: HolderArgs,
}

/// Record a task you hold as done (dependents become ready)
///
/// Runs the task's checks first (as `verify`). In the task's worktree, uncommitted changes are
/// refused with exit 5 unless --allow-dirty, and the worktree's HEAD commit is recorded on the
/// task as `commit`; a worktree with no commits of its own gets a warning.
#[derive(Debug, Args)]
pub struct DoneArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// What the work produced: JSON, or any text (kept as a string)
    #[arg(long, value_name = "JSON|TEXT")]
    output: Option<String>,
    /// The branch holding the work
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,
    /// Do not run the task's checks first
    #[arg(long)]
    skip_verify: bool,
    /// Record the task done although its worktree has uncommitted changes (they are listed on
    /// the task as `done_with_uncommitted`; the checks still judge the committed work)
    #[arg(long)]
    allow_dirty: bool,
    /// Run the checks in this directory (default: the claim's worktree, else the task's, else
    /// the main working tree)
    #[arg(long, value_name = "PATH")]
    worktree: Option<std::path::PathBuf>,
    #[command(flatten)]
    holder: HolderArgs,
}

/// Record that a task you hold failed: it is retried after a backoff, or becomes dead
#[derive(Debug, Args)]
pub struct FailArgs {
    /// Task id, or a unique prefix of one
    id: String,
    /// Why it failed
    #[arg(long, value_name = "TEXT")]
    reason: String,
    #[command(flatten)]
    holder: HolderArgs,
}

pub fn run_claim(args: &ClaimArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    if args.id.is_some() && (args.label.is_some() || args.priority.is_some()) {
        return Err(CommandError::usage(
            "--label and --priority choose among ready tasks: use them with --next",
        ));
    }
    let options = ClaimOptions { ttl_secs: args.ttl };
    let held = match &args.id {
        Some(id) => loom.claim(id, &options, &actor)?,
        None => {
            let filter = NextFilter {
                label: args.label.clone(),
                priorities: args.priority,
            };
            match loom.claim_next(&filter, &options, &actor)? {
                Some(held) => held,
                None => {
                    ui.note("nothing is ready to claim");
                    // A JSON reader gets a value to parse either way.
                    if ui.json {
                        ui.json_value(&serde_json::Value::Null)?;
                    }
                    return Ok(Exit::NothingToDo);
                }
            }
        }
    };
    print_held(&loom, &held, context, ui)?;
    if let Some(remote) = loom.unpublished_remote() {
        ui.note(format!(
            "claimed offline: {remote} does not know yet, and another clone may claim {} meanwhile; `git loom sync` offers it",
            held.task.id
        ));
    }
    Ok(Exit::Success)
}

/// Print a held task: its id, token and lease, or with `--json` the task with its claim.
pub fn print_held(loom: &Loom, held: &Held, context: &Context<'_>, ui: &mut Ui) -> Result<(), CommandError> {
    if ui.json {
        let derived = loom.derive(&held.task, context.now())?;
        ui.json_value(&TaskJson::new(&held.task, &derived).with_claim(Some(&held.claim)))?;
    } else {
        let lease = render::duration(held.claim.expires_at.duration_since(context.now()));
        ui.line(format!(
            "{}  token {}  lease {lease}  {}",
            held.task.id, held.claim.token, held.task.title
        ))?;
    }
    Ok(())
}

pub fn run_heartbeat(args: &HeartbeatArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let claim = loom.heartbeat(
        &args.id,
        args.holder.credentials(),
        args.progress.clone(),
        args.percent,
        &actor,
    )?;
    if ui.json {
        let task = loom.task(claim.task.as_str())?.task;
        print_held(&loom, &Held { task, claim }, context, ui)?;
    } else {
        ui.line(format!("{}  {}", claim.task, render::claim_line(&claim, context.now())))?;
    }
    Ok(Exit::Success)
}

pub fn run_release(args: &ReleaseArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.release(&args.id, args.holder.credentials(), &actor)?;
    print_edit(&loom, &outcome, context, ui)
}

pub fn run_done(args: &DoneArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let options = DoneOptions {
        output: args
            .output
            .as_ref()
            .map(|text| serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.clone()))),
        branch: args.branch.clone(),
        skip_verify: args.skip_verify,
        allow_dirty: args.allow_dirty,
        worktree: args.worktree.as_deref().map(|path| context.user_path(path)),
    };
    // Output fails while the checks run are reported once they are over.
    let mut failed_output = None;
    let outcome = loom.done(&args.id, args.holder.credentials(), &options, &actor, |event| {
        let printed = match event {
            DoneEvent::Checking(state) => {
                cmd_verify::announce(state, ui);
                Ok(())
            }
            DoneEvent::Check(result) if !ui.json => ui.line(cmd_verify::line(result)).map_err(CommandError::from),
            DoneEvent::Check(_) => Ok(()),
            DoneEvent::Checked(task, run) => {
                cmd_verify::print_report(task, &run.state, &run.checked, &run.report, false, ui)
            }
            DoneEvent::NoCommits(dir) => {
                ui.warn(format!(
                    "{} has no commits beyond where it left its target branch: is the work committed?",
                    dir.display()
                ));
                Ok(())
            }
        };
        if let Err(err) = printed {
            failed_output.get_or_insert(err);
        }
    })?;
    if let Some(err) = failed_output {
        return Err(err);
    }
    match outcome {
        DoneOutcome::Done { outcome, .. } => print_edit(&loom, &outcome, context, ui),
        DoneOutcome::Uncommitted { task, state } => {
            // The refusal is the command's result, so it goes to stdout like a failed check.
            if ui.json {
                ui.json_value(&UncommittedJson::new(&task, &state))?;
            } else {
                ui.line(format!(
                    "{}: uncommitted changes in {}:\n  {}",
                    task.id,
                    state.dir.display(),
                    state.changes.join("\n  ")
                ))?;
            }
            ui.note(format!(
                "{} stays claimed: commit the work (or remove the stray files) and run `git loom done` again, or pass --allow-dirty",
                task.id
            ));
            Ok(Exit::ChecksFailed)
        }
        DoneOutcome::ChecksFailed { task, .. } => {
            ui.note(format!(
                "{} stays claimed: fix the failing checks and run `git loom done` again (or pass --skip-verify)",
                task.id
            ));
            Ok(Exit::ChecksFailed)
        }
    }
}

pub fn run_fail(args: &FailArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let outcome = loom.fail(&args.id, args.holder.credentials(), &args.reason, &actor)?;
    print_edit(&loom, &outcome, context, ui)
}
