//! `git loom sessions`: the agent sessions runners started, on any clone, and
//! `sessions kill ID` to end one.
//!
//! A kill is a request recorded on the session, which its runner (wherever it runs) sees and
//! carries out, ending the session as `killed`. When the agent runs on this machine and the
//! process under the recorded id is still the agent, its process group also gets SIGTERM at
//! once, so the kill does not wait for the runner to look.

use clap::{Args, Subcommand};

use git_loom::api::{AgentSessionJson, SessionKillJson, elapsed, signalled_name};
use git_loom::model::AgentSession;
use git_loom::run::{Signalled, signal_session};

use super::context::Context;
use super::error::{CommandError, Exit};
use super::render;
use super::ui::Ui;

/// List agent sessions: running ones, or every one with --all
///
/// Each session is one start of an agent on a task by `git loom run`, recorded in
/// `refs/loom/sessions/<id>` and synced through the coordination remote, so every clone lists
/// them. Columns: id, task, agent, host, process id, elapsed time, state (or how it ended).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SessionsArgs {
    #[command(subcommand)]
    action: Option<SessionsAction>,
    /// Also list sessions that ended
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// Ask the runner of a session to kill its agent (and signal it directly on this machine)
    ///
    /// Records the request on the session; the runner that owns it kills the agent's process
    /// group and ends the session as `killed`. When the agent runs on this machine and is still
    /// the recorded process, its process group gets SIGTERM right away too. Exits 3 when the
    /// session already ended.
    Kill {
        /// Session id, or a unique prefix of at least four digits
        id: String,
    },
}

pub fn run(args: &SessionsArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let now = context.now();
    if let Some(SessionsAction::Kill { id }) = &args.action {
        let actor = context.actor(loom.store())?;
        let session = loom.session_kill_request(id, &actor)?;
        let signalled = signal_session(&session, &this_host());
        if ui.json {
            ui.json_value(&SessionKillJson {
                session: AgentSessionJson::new(&session, now),
                signal: signalled_name(signalled),
            })?;
            return Ok(Exit::Success);
        }
        ui.line(format!(
            "{}  kill requested ({} on {})",
            session.id, session.task, session.host
        ))?;
        match signalled {
            Signalled::Sent => ui.note(format!(
                "sent SIGTERM to process group {}",
                session.pid.unwrap_or_default()
            )),
            Signalled::NotTheAgent => ui.warn(format!(
                "process {} is no longer the session's agent: left alone; its runner ends the session",
                session.pid.unwrap_or_default()
            )),
            Signalled::OtherHost => ui.note(format!(
                "the agent runs on {}: its runner kills it when it sees the request",
                session.host
            )),
            Signalled::NoProcess | Signalled::Gone => ui.note("its runner ends the session when it sees the request"),
        }
        return Ok(Exit::Success);
    }
    let list = loom.session_list(args.all)?;
    for problem in &list.problems {
        ui.warn(format!("skipping {problem}"));
    }
    if ui.json {
        let rows: Vec<AgentSessionJson<'_>> = list
            .sessions
            .iter()
            .map(|session| AgentSessionJson::new(session, now))
            .collect();
        ui.json_value(&rows)?;
        return Ok(Exit::Success);
    }
    if list.sessions.is_empty() {
        ui.note(match args.all {
            true => "no sessions",
            false => "no running sessions",
        });
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = list.sessions.iter().map(|session| row(session, now)).collect();
    ui.table(&rows)?;
    Ok(Exit::Success)
}

/// One table row: id, task, agent, host, pid, elapsed, state.
pub fn row(session: &AgentSession, now: jiff::Timestamp) -> Vec<String> {
    vec![
        session.id.to_string(),
        session.task.to_string(),
        session.agent.clone(),
        session.host.clone(),
        session.pid.map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
        render::duration(elapsed(session, now)),
        state(session),
    ]
}

/// `running`, `running, kill requested by NAME`, or how it ended.
pub fn state(session: &AgentSession) -> String {
    match (&session.ended, &session.kill_requested) {
        (Some(ended), _) => match &ended.end.summary {
            Some(summary) => format!("{}: {summary}", ended.end.reason),
            None => ended.end.reason.to_string(),
        },
        (None, Some(kill)) => format!("running, kill requested by {}", kill.by),
        (None, None) => "running".to_owned(),
    }
}

/// The name of this machine, as runners record it on their sessions.
pub fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
