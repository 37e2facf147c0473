//! The agent sessions' shapes: one session as `git loom sessions --json` lists it (and `status`
//! and `show` include it), and the answer of `sessions kill --json`.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::model::TaskId;
use crate::model::agent_session::{AgentSession, Ended, KillRequest, SessionId};
use crate::run::Signalled;

/// One session. `state` is `running` or `ended`; `elapsed_secs` runs from the start to the
/// end, or to the moment of the listing while it runs.
#[derive(Debug, Serialize)]
pub struct AgentSessionJson<'a> {
    pub id: &'a SessionId,
    pub task: &'a TaskId,
    pub agent: &'a str,
    pub runner: &'a str,
    pub attempt: u32,
    pub host: &'a str,
    pub pid: Option<u32>,
    pub command: &'a str,
    pub worktree: &'a str,
    pub log: &'a str,
    pub started: Timestamp,
    pub last_seen: Option<Timestamp>,
    pub elapsed_secs: i64,
    pub state: &'static str,
    /// `{at, reason, code | signal, summary}` once ended.
    pub ended: Option<&'a Ended>,
    /// `{at, by}` once someone asked for it to be killed.
    pub kill_requested: Option<&'a KillRequest>,
}

impl<'a> AgentSessionJson<'a> {
    pub fn new(session: &'a AgentSession, now: Timestamp) -> Self {
        AgentSessionJson {
            id: &session.id,
            task: &session.task,
            agent: &session.agent,
            runner: &session.runner,
            attempt: session.attempt,
            host: &session.host,
            pid: session.pid,
            command: &session.command,
            worktree: &session.worktree,
            log: &session.log,
            started: session.started,
            last_seen: session.last_seen,
            elapsed_secs: elapsed(session, now).as_secs(),
            state: match session.is_running() {
                true => "running",
                false => "ended",
            },
            ended: session.ended.as_ref(),
            kill_requested: session.kill_requested.as_ref(),
        }
    }
}

/// How long the session ran (to its end), or has run so far (to `now`); never negative.
pub fn elapsed(session: &AgentSession, now: Timestamp) -> SignedDuration {
    let until = session.ended.as_ref().map_or(now, |ended| ended.at);
    until.duration_since(session.started).max(SignedDuration::ZERO)
}

/// `sessions kill --json`: the session with its kill request, and whether its process group
/// was signalled from here.
#[derive(Debug, Serialize)]
pub struct SessionKillJson<'a> {
    pub session: AgentSessionJson<'a>,
    /// `sent`, `other_host`, `no_process`, `gone` or `not_the_agent`.
    pub signal: &'static str,
}

/// The name `--json` gives a [`Signalled`].
pub fn signalled_name(signalled: Signalled) -> &'static str {
    match signalled {
        Signalled::Sent => "sent",
        Signalled::OtherHost => "other_host",
        Signalled::NoProcess => "no_process",
        Signalled::Gone => "gone",
        Signalled::NotTheAgent => "not_the_agent",
    }
}
