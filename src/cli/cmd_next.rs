//! `git loom signal` and `git loom next`: the prompt an agent session starts from, and the one
//! command that gets a session going (resume or claim, worktree, signal).

use clap::Args;
use serde::Serialize;

use git_loom::ops::{
    Actor, ClaimOptions, Credentials, Held, Loom, NextFilter, SignalInput, render_default, render_template, sections,
};

use super::cmd_handoff;
use super::context::Context;
use super::error::{CommandError, Exit};
use super::render::TaskJson;
use super::ui::Ui;

/// Print the markdown prompt an agent starts from for a task
///
/// The task and its acceptance checks, what its dependencies produced, the latest handoff,
/// where to work, and how to report back. `[signal] template` in loom.toml replaces the
/// layout (placeholders: {{id}}, {{title}}, {{task}}, {{acceptance}}, {{goals}}, {{files}},
/// {{dependencies}}, {{handoff}}, {{workspace}}, {{report}}).
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The task
    id: String,
}

/// Start or resume an agent session: the task it holds, or the best ready one, with its
/// worktree and signal
///
/// If the agent already holds a claim, that task is resumed; otherwise the best ready task is
/// claimed (as `claim --next`). Its worktree is created if needed and its signal printed.
#[derive(Debug, Args)]
pub struct NextArgs {
    /// Only tasks with this label (when claiming)
    #[arg(long, value_name = "L")]
    label: Option<String>,
    /// Lease length in seconds for a new claim
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=git_loom::model::claim::MAX_DURATION_SECS))]
    ttl: Option<u64>,
}

pub fn run_signal(args: &SignalArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let input = loom.signal_input(&args.id, None)?;
    let text = signal_text(&loom, &input)?;
    if ui.json {
        ui.json_value(&serde_json::json!({ "task": input.task.id.as_str(), "signal": text }))?;
    } else {
        ui.text(text)?;
    }
    Ok(Exit::Success)
}

#[derive(Serialize)]
struct NextJson<'a> {
    resumed: bool,
    task: TaskJson<'a>,
    worktree: String,
    branch: &'a str,
    signal: &'a str,
}

pub fn run_next(args: &NextArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let actor = context.actor(loom.store())?;
    let (held, resumed): (Held, bool) = match loom.claim_held_by(&actor.agent)? {
        Some(held) => (held, true),
        None => {
            // What can be known before claiming is checked first: a repository that cannot
            // hold a worktree must not take a task away from agents that can.
            loom.worktree_preflight()?;
            let filter = NextFilter {
                label: args.label.clone(),
                priorities: None,
            };
            let options = ClaimOptions { ttl_secs: args.ttl };
            match loom.claim_next(&filter, &options, &actor)? {
                Some(held) => (held, false),
                None => {
                    ui.note("nothing is ready to claim");
                    if ui.json {
                        ui.json_value(&serde_json::Value::Null)?;
                    }
                    return Ok(Exit::NothingToDo);
                }
            }
        }
    };
    match start_session(&loom, &held, resumed, &actor, context, ui) {
        Ok(exit) => Ok(exit),
        Err(err) if !resumed => {
            // The claim was taken for this session only: give it back so the task is not
            // stranded until its lease runs out.
            let credentials = Credentials {
                token: Some(&held.claim.token),
                force: false,
            };
            match loom.release(held.task.id.as_str(), credentials, &actor) {
                Ok(_) => Err(err.hint(format!("the claim on {} was released", held.task.id))),
                Err(release_err) => Err(err.hint(format!(
                    "the claim on {} could not be released ({release_err}); run `git loom release {}`",
                    held.task.id, held.task.id
                ))),
            }
        }
        Err(err) => Err(err),
    }
}

/// Make (or find) the worktree of the held task and print its signal.
fn start_session(
    loom: &Loom,
    held: &Held,
    resumed: bool,
    actor: &Actor,
    context: &Context<'_>,
    ui: &mut Ui,
) -> Result<Exit, CommandError> {
    let worktree = loom.worktree_add(held.task.id.as_str(), None, actor)?;
    let input = loom.signal_input(held.task.id.as_str(), Some(held.claim.token.clone()))?;
    let text = signal_text(loom, &input)?;
    if resumed {
        ui.note(format!(
            "resuming {}, which {} already holds",
            held.task.id, actor.agent
        ));
    }
    if ui.json {
        let derived = loom.derive(&input.task, context.now())?;
        // Re-read: recording the worktree renewed the claim.
        let claim = loom.live_claim(&held.task.id)?.and_then(|(_, claim)| claim.ok());
        ui.json_value(&NextJson {
            resumed,
            task: TaskJson::new(&input.task, &derived).with_claim(claim.as_ref()),
            worktree: worktree.path.display().to_string(),
            branch: &worktree.branch,
            signal: &text,
        })?;
    } else {
        ui.text(text)?;
    }
    Ok(Exit::Success)
}

/// The signal of a task: the configured template, or the built-in layout.
fn signal_text(loom: &Loom, input: &SignalInput) -> Result<String, CommandError> {
    let sections = sections(input, cmd_handoff::markdown);
    let template = loom.settings().signal.template.trim();
    if template.is_empty() {
        return Ok(render_default(&sections));
    }
    let root = loom.store().repo().main_work_dir().unwrap_or_default();
    let path = root.join(template);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        CommandError::new(
            Exit::Error,
            format!("cannot read the signal template {}: {err}", path.display()),
        )
        .hint("fix or clear `[signal] template` in loom.toml")
    })?;
    Ok(render_template(&text, &sections))
}
