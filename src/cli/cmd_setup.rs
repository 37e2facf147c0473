//! `git loom setup`: wire a coding agent to git-loom in the current working tree, or take the
//! wiring out again; and `git loom agent-hook`, the command the installed Claude Code hooks run.

use std::io::{IsTerminal, Read};

use clap::{Args, ValueEnum};

use git_loom::api::{HookContextJson, SetupJson};
use git_loom::claims::Credentials;
use git_loom::loom;
use git_loom::project::{self, AgentKind, CODEX_MCP, FileAction, SetupPlace};
use git_loom::session::HandoffNote;

use super::context::Context;
use super::error::{CommandError, Exit};
use super::ui::Ui;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AgentArg {
    /// Claude Code: .mcp.json, CLAUDE.md, and hooks in .claude/settings.json
    Claude,
    /// OpenAI Codex: AGENTS.md and .codex/config.toml
    Codex,
    /// Any other agent: AGENTS.md and .mcp.json
    Generic,
}

/// Wire a coding agent to git-loom: its MCP server entry, an instructions block, and its hooks
///
/// Edits only git-loom's own part of each file (a `loom` MCP server, a block between
/// `<!-- git-loom:begin -->` and `<!-- git-loom:end -->`, hooks running `git loom`), keeps the
/// rest as written, and changes nothing when run again. `--remove` takes out exactly what
/// setup added: a file it created is deleted, a file it changed gets its original bytes back
/// (kept under the git dir in `loom/setup/`), or only git-loom's part is taken out when the
/// file has changed since.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The agent to wire
    #[arg(value_enum, value_name = "AGENT")]
    kind: AgentArg,
    /// Take out what setup added
    #[arg(long)]
    remove: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum HookEvent {
    /// Print the signal of the task the agent holds, as Claude Code's additionalContext
    SessionStart,
    /// Record a handoff on the task the agent holds
    PreCompact,
}

/// Run by an agent's hooks (installed by `git loom setup claude`): act for the agent's claim
///
/// Reads the hook's JSON from standard input. `session-start` prints the signal of the task the
/// agent holds in Claude Code's `hookSpecificOutput` envelope; `pre-compact` records a handoff
/// on it. Either does nothing, and exits 0, when the agent holds no claim or the repository
/// has no git-loom data.
#[derive(Debug, Args)]
pub struct AgentHookArgs {
    /// The hook event
    #[arg(value_enum)]
    event: HookEvent,
}

pub fn run_setup(args: &SetupArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let store = context.store()?;
    let repo = store.repo();
    let Some(root) = repo.work_dir() else {
        return Err(CommandError::new(
            Exit::Error,
            "setup needs a working tree: this repository is bare",
        ));
    };
    let place = SetupPlace {
        root: root.to_path_buf(),
        originals: store.git_dir().join("loom").join("setup"),
    };
    let agent = match args.kind {
        AgentArg::Claude => AgentKind::Claude,
        AgentArg::Codex => AgentKind::Codex,
        AgentArg::Generic => AgentKind::Generic,
    };
    let report = match args.remove {
        false => project::setup(&place, agent)?,
        true => project::setup_remove(&place, agent)?,
    };
    // The git hooks come with the agent's files, and go with them.
    let hooks_dir = repo.hooks_dir()?;
    let hook_changes = match args.remove {
        false => git_loom::hooks::install(&hooks_dir)?,
        true => git_loom::hooks::uninstall(&hooks_dir)?,
    };
    let changed = report.files.iter().any(|file| file.action.wrote())
        || hook_changes
            .iter()
            .any(|change| !matches!(change, git_loom::hooks::HookChange::Unchanged { .. }));
    if ui.json {
        ui.json_value(&SetupJson::new(&report).with_hooks(&hook_changes))?;
    } else {
        for file in &report.files {
            let line = match &file.note {
                Some(note) => format!("{:<9}  {}  ({note})", file.action.name(), file.path),
                None => format!("{:<9}  {}", file.action.name(), file.path),
            };
            ui.line(line)?;
        }
        for change in &hook_changes {
            ui.line(format!("hook       {}", super::cmd_hooks::change_line(change)))?;
        }
    }
    if !changed {
        ui.note(match args.remove {
            true => "nothing to remove: setup had added nothing here",
            false => "already set up: nothing changed",
        });
    }
    if agent == AgentKind::Codex && !args.remove {
        ui.note(format!(
            "Codex reads .codex/config.toml only in a project it trusts; otherwise add to \
             ~/.codex/config.toml:\n{}",
            CODEX_MCP.trim_end()
        ));
    }
    if agent == AgentKind::Claude
        && !args.remove
        && report
            .files
            .iter()
            .any(|file| file.action == FileAction::Created && file.path == ".mcp.json")
    {
        ui.note("Claude Code asks once before it starts a server from .mcp.json");
    }
    Ok(Exit::Success)
}

/// The hook input fields git-loom reads; anything else Claude Code sends is ignored.
#[derive(Debug, Default, serde::Deserialize)]
struct HookInput {
    #[serde(default)]
    trigger: Option<String>,
}

pub fn run_agent_hook(args: &AgentHookArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let input = read_hook_input();
    // A hook in a repository without git-loom data stays quiet: the agent works without it.
    let loom = match loom::Loom::load(context.store()?) {
        Ok(loom) => loom,
        Err(loom::Error::NotInitialized) => return Ok(Exit::Success),
        Err(err) => return Err(err.into()),
    };
    let actor = context.actor(loom.store())?;
    let Some(held) = loom.claim_held_by(&actor.agent)? else {
        return Ok(Exit::Success);
    };
    match args.event {
        HookEvent::SessionStart => {
            let (_, signal) = loom.signal(held.task.id.as_str(), Some(held.claim.token.clone()))?;
            ui.json_value(&HookContextJson::new("SessionStart", &signal))?;
        }
        HookEvent::PreCompact => {
            let trigger = input.trigger.as_deref().unwrap_or("auto");
            let note = HandoffNote {
                message: format!(
                    "Automatic handoff before context compaction ({trigger}). The work so far is \
                     in the commits and files listed below; the session goes on after compaction."
                ),
                context_percent: None,
            };
            let credentials = Credentials {
                token: Some(&held.claim.token),
                force: false,
            };
            let handoff = loom.handoff(held.task.id.as_str(), &note, credentials, &actor)?;
            ui.line(format!("handoff recorded on {}", handoff.task))?;
        }
    }
    Ok(Exit::Success)
}

/// The hook's JSON on standard input; a terminal, or input that is not the expected JSON,
/// gives the defaults.
fn read_hook_input() -> HookInput {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return HookInput::default();
    }
    let mut text = String::new();
    // The input is a small JSON object; a hook must never hang on a stdin left open.
    let _ = stdin.lock().take(1 << 20).read_to_string(&mut text);
    serde_json::from_str(&text).unwrap_or_default()
}
